//! Performing one action inside the sandbox: the only code in nsdojo that
//! makes namespace, mount, chroot and pivot_root system calls.
//!
//! Every call is recorded in the step's [`Trace`] as strace would print it,
//! and the well-known failures carry the explanation the lab found (EINVAL
//! from pivot_root under shared propagation, EBUSY when new_root is not a
//! mount point, ...). Two guards keep the host sacred whatever a lesson says:
//! mounts are refused while the sandbox still shares the host's mount
//! namespace, and a new mount namespace is made private before anything is
//! mounted in it, as `unshare(1)` does by default.

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::unistd::{chdir, chroot, pivot_root, sethostname, ForkResult};

use super::protocol::Outcome;
use super::shell;
use crate::lesson::action::Propagation;
use crate::lesson::{Action, Ns};
use crate::trace::{quote, Syscall, Trace};

/// What the agent knows about itself. The agent is the only process that
/// changes its own namespaces, so tracking them here is exact, and it works
/// after chroot or pivot_root when /proc/self may no longer be reachable.
#[derive(Debug, Default)]
pub struct Origin {
    /// This sandbox created /run/netns (so `netns delete` removes it again).
    pub made_netns_dir: bool,
    /// The CPU burner started by `burn`, stopped by the host's `BurnStop`.
    pub burner: Option<crate::cgroup::Burner>,
    /// Or `stress -c 1`, when the lesson asked for it and the sandbox has it.
    pub stress: Option<std::process::Child>,
    /// Namespaces this sandbox has left the host's copy of.
    pub unshared: Vec<Ns>,
    /// Debug switch for the propagation test: do not make / private after unshare(mnt).
    pub keep_propagation: bool,
    /// Programs started with `spawn` (servers); they die with the agent (parent-death signal).
    pub spawned: Vec<std::process::Child>,
    /// /dev/null, opened when the agent started: a chroot or new root may have none.
    pub devnull: Option<std::fs::File>,
}

pub enum Performed {
    Done(Outcome),
    /// unshare(pid) forked: the child continues as agent, the parent must become its reaper.
    Forked {
        child: nix::unistd::Pid,
    },
}

/// The clone(2)/unshare(2)/setns(2) flag of a namespace type, and its name for the trace.
pub fn clone_flag(ns: Ns) -> (CloneFlags, &'static str) {
    match ns {
        Ns::Mnt => (CloneFlags::CLONE_NEWNS, "CLONE_NEWNS"),
        Ns::Uts => (CloneFlags::CLONE_NEWUTS, "CLONE_NEWUTS"),
        Ns::Ipc => (CloneFlags::CLONE_NEWIPC, "CLONE_NEWIPC"),
        Ns::Pid => (CloneFlags::CLONE_NEWPID, "CLONE_NEWPID"),
        Ns::Net => (CloneFlags::CLONE_NEWNET, "CLONE_NEWNET"),
        Ns::User => (CloneFlags::CLONE_NEWUSER, "CLONE_NEWUSER"),
        Ns::Cgroup => (CloneFlags::CLONE_NEWCGROUP, "CLONE_NEWCGROUP"),
        Ns::Time => (CloneFlags::from_bits_retain(libc::CLONE_NEWTIME), "CLONE_NEWTIME"),
    }
}

fn mount_flags_text(f: MsFlags) -> String {
    let names = [
        (MsFlags::MS_BIND, "MS_BIND"),
        (MsFlags::MS_REC, "MS_REC"),
        (MsFlags::MS_PRIVATE, "MS_PRIVATE"),
        (MsFlags::MS_SHARED, "MS_SHARED"),
        (MsFlags::MS_SLAVE, "MS_SLAVE"),
    ];
    let set: Vec<&str> = names.iter().filter(|(b, _)| f.contains(*b)).map(|(_, n)| *n).collect();
    if set.is_empty() {
        "0".into()
    } else {
        set.join("|")
    }
}

fn opt_quote(s: Option<&str>) -> String {
    s.map(quote).unwrap_or_else(|| "NULL".into())
}

fn do_mount(
    trace: &mut Trace,
    source: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), Errno> {
    let call = format!(
        "mount({}, {}, {}, {}, {})",
        opt_quote(source),
        quote(target),
        opt_quote(fstype),
        mount_flags_text(flags),
        opt_quote(data)
    );
    let res = mount(source, target, fstype, flags, data);
    let mut sc = Syscall::from_result(call, &res, 0);
    if res == Err(Errno::ENOENT) {
        sc = sc.with_note(format!("{target} does not exist here: mkdir it first"));
    }
    trace.push(sc);
    res
}

fn explain_pivot(e: Errno) -> Option<&'static str> {
    match e {
        Errno::EINVAL => Some(
            "new_root or the mount it sits on has shared propagation, or new_root is not a mount point: \
             run make-rprivate / first (mount --make-rprivate /)",
        ),
        Errno::EBUSY => Some(
            "new_root is not a mount point (it sits on the same mount as the current root): \
             bind-mount it onto itself first (mount --bind DIR DIR)",
        ),
        Errno::ENOTDIR => Some("new_root or put_old is not a directory"),
        Errno::ENOENT => Some("new_root or put_old does not exist"),
        _ => None,
    }
}

/// Refuse to change the host: mount-type actions need our own mount namespace.
fn guard(origin: &Origin, ns: Ns, what: &str) -> Result<(), String> {
    // Without a single capability (an ordinary user, after `setuid`), the kernel itself refuses
    // what needs CAP_SYS_ADMIN or CAP_NET_ADMIN with EPERM: let those calls go to the kernel, so
    // the lesson shows the real answer. (Not IPC: any user may make a message queue.)
    let kernel_refuses = ns != Ns::Ipc && powerless();
    if !origin.unshared.contains(&ns) && !kernel_refuses {
        return Err(format!(
            "refusing to {what} in the host's {ns} namespace (it would change the host): `unshare {ns}` first"
        ));
    }
    Ok(())
}

/// Not root and no capability left: nothing this process asks can change the host.
fn powerless() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    !nix::unistd::geteuid().is_root() && crate::observe::procfs::parse_cap_eff(&status) == Some(0)
}

/// Perform one action; errors are in the outcome (one line), never a panic.
pub fn perform(action: &Action, origin: &mut Origin) -> Performed {
    let mut out = Outcome::default();
    let res = perform_into(action, origin, &mut out);
    match res {
        Ok(Some(child)) => return Performed::Forked { child },
        Ok(None) => {}
        Err(msg) => out.error = Some(msg),
    }
    Performed::Done(out)
}

fn errno_line(call: &str, e: Errno) -> String {
    format!("{call} failed: {} ({:?})", e.desc(), e)
}

fn perform_into(action: &Action, origin: &mut Origin, out: &mut Outcome) -> Result<Option<nix::unistd::Pid>, String> {
    let trace = &mut out.trace;
    match action {
        Action::Unshare(set) => {
            let mut flags = CloneFlags::empty();
            let mut names = Vec::new();
            for ns in set {
                let (f, n) = clone_flag(*ns);
                flags |= f;
                names.push(n);
            }
            let res = trace.record(format!("unshare({})", names.join("|")), unshare(flags));
            if res == Err(Errno::EPERM) && set.contains(&Ns::User) {
                if let (Some(why), Some(last)) = (crate::host::userns_restriction(), trace.calls.last_mut()) {
                    last.note = Some(why.clone());
                    return Err(why);
                }
            }
            res.map_err(|e| errno_line("unshare", e))?;
            // The mount namespace counts as ours (mounts allowed) only once `/` is private in it.
            for ns in set.iter().filter(|n| **n != Ns::Mnt) {
                if !origin.unshared.contains(ns) {
                    origin.unshared.push(*ns);
                }
            }
            if set.contains(&Ns::Mnt) {
                if origin.keep_propagation {
                    trace.push(Syscall::ok("/* NSDOJO_DEBUG_KEEP_PROPAGATION: / left as it was */", 0));
                } else {
                    do_mount(trace, None, "/", None, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None)
                        .map_err(|e| errno_line("making / private", e))?;
                    if let Some(last) = trace.calls.last_mut() {
                        last.note = Some(
                            "as unshare(1) does by default: nothing mounted here can propagate to the host".into(),
                        );
                    }
                }
                if !origin.unshared.contains(&Ns::Mnt) {
                    origin.unshared.push(Ns::Mnt);
                }
            }
            if set.contains(&Ns::Pid) {
                // A new PID namespace applies to children only: fork, and the child becomes the agent.
                // The agent is single-threaded; the child continues with plain Rust code.
                match crate::process::fork() {
                    Ok(ForkResult::Parent { child }) => return Ok(Some(child)),
                    Ok(ForkResult::Child) => {
                        super::agent::become_child_agent();
                        trace.push(
                            Syscall::ok("fork()", 0)
                                .with_note("the child is PID 1 of the new PID namespace and carries on as terminal #1; its parent waits as reaper"),
                        );
                        out.forked_agent = true;
                    }
                    Err(crate::process::ForkError::Fork(e)) => {
                        trace.push(Syscall::failed("fork()", e));
                        return Err(errno_line("fork", e));
                    }
                    Err(threaded) => return Err(threaded.to_string()),
                }
            }
        }
        Action::Mkdir(p) => {
            let res = nix::unistd::mkdir(p.as_str(), nix::sys::stat::Mode::from_bits_truncate(0o755));
            trace
                .record(format!("mkdir({}, 0755)", quote(p)), res)
                .map_err(|e| errno_line(&format!("mkdir {p}"), e))?;
        }
        Action::Rmdir(p) => {
            let res = std::fs::remove_dir(p).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)));
            trace.record(format!("rmdir({})", quote(p)), res).map_err(|e| errno_line(&format!("rmdir {p}"), e))?;
        }
        Action::MountTmpfs { target, options } => {
            guard(origin, Ns::Mnt, "mount")?;
            do_mount(trace, Some("tmpfs"), target, Some("tmpfs"), MsFlags::empty(), options.as_deref())
                .map_err(|e| errno_line("mount", e))?;
        }
        Action::MountProc { target } => {
            guard(origin, Ns::Mnt, "mount")?;
            do_mount(trace, Some("proc"), target, Some("proc"), MsFlags::empty(), None)
                .map_err(|e| errno_line("mount", e))?;
        }
        Action::MountBind { source, target, recursive } => {
            guard(origin, Ns::Mnt, "mount")?;
            let mut f = MsFlags::MS_BIND;
            if *recursive {
                f |= MsFlags::MS_REC;
            }
            do_mount(trace, Some(source), target, None, f, None).map_err(|e| errno_line("mount", e))?;
        }
        Action::Umount { target, lazy } => {
            guard(origin, Ns::Mnt, "unmount")?;
            let (flags, text) = if *lazy { (MntFlags::MNT_DETACH, "MNT_DETACH") } else { (MntFlags::empty(), "0") };
            trace
                .record(format!("umount2({}, {text})", quote(target)), umount2(target.as_str(), flags))
                .map_err(|e| errno_line(&format!("umount {target}"), e))?;
        }
        Action::MakePropagation { target, kind, recursive } => {
            guard(origin, Ns::Mnt, "change mount propagation")?;
            let mut f = match kind {
                Propagation::Private => MsFlags::MS_PRIVATE,
                Propagation::Shared => MsFlags::MS_SHARED,
                Propagation::Slave => MsFlags::MS_SLAVE,
            };
            if *recursive {
                f |= MsFlags::MS_REC;
            }
            do_mount(trace, None, target, None, f, None).map_err(|e| errno_line("mount", e))?;
        }
        Action::Sethostname(h) => {
            guard(origin, Ns::Uts, "set the hostname")?;
            trace
                .record(format!("sethostname({}, {})", quote(h), h.len()), sethostname(h))
                .map_err(|e| errno_line("sethostname", e))?;
        }
        Action::Chroot(p) => {
            trace.record(format!("chroot({})", quote(p)), chroot(p.as_str())).map_err(|e| errno_line("chroot", e))?;
        }
        Action::Chdir(p) => {
            trace.record(format!("chdir({})", quote(p)), chdir(p.as_str())).map_err(|e| errno_line("chdir", e))?;
        }
        Action::PivotRoot { new_root, put_old } => {
            guard(origin, Ns::Mnt, "pivot_root")?;
            let res = pivot_root(new_root.as_str(), put_old.as_str());
            let mut sc = Syscall::from_result(format!("pivot_root({}, {})", quote(new_root), quote(put_old)), &res, 0);
            if let Err(e) = res {
                if let Some(why) = explain_pivot(e) {
                    sc = sc.with_note(why);
                }
            }
            trace.push(sc);
            res.map_err(|e| errno_line("pivot_root", e))?;
        }
        Action::Msgget => {
            guard(origin, Ns::Ipc, "create a message queue")?;
            // SAFETY: msgget takes plain integers.
            let id = unsafe { libc::msgget(libc::IPC_PRIVATE, libc::IPC_CREAT | 0o644) };
            if id < 0 {
                let e = Errno::last();
                trace.push(Syscall::failed("msgget(IPC_PRIVATE, IPC_CREAT|0644)", e));
                return Err(errno_line("msgget", e));
            }
            trace.push(Syscall::ok("msgget(IPC_PRIVATE, IPC_CREAT|0644)", id as i64));
        }
        Action::Write { path, text } => {
            let res = write_file(path, text);
            let n = text.len() as i64;
            let mut sc = Syscall::from_result(format!("write({}, {})", quote(path), quote(text)), &res, n);
            if res == Err(Errno::EPERM) && path.ends_with("_map") {
                sc = sc.with_note("an id map can be written once, by a process with CAP_SETUID over the namespace (usually the parent)");
            }
            trace.push(sc);
            res.map_err(|e| errno_line(&format!("write {path}"), e))?;
        }
        Action::Sh(cmd) | Action::HostSh(cmd) => {
            let (sc, output) = shell::run(cmd, shell::timeout());
            trace.push(sc);
            out.output = Some(output);
        }
        Action::Burn { secs, stress } => {
            let stress_path = if *stress { crate::host::which("stress") } else { None };
            if let Some(path) = stress_path {
                // As the deck: `stress -c 1`. Its worker (a child) burns; it stops by itself
                // shortly after the measurement if nothing else stops it first.
                let limit = (secs + 2).to_string();
                let argv = ["-c", "1", "-t", limit.as_str()];
                let call = format!(
                    "execve({}, [\"stress\", \"-c\", \"1\", \"-t\", {}])",
                    quote(&path.display().to_string()),
                    quote(&limit)
                );
                // Its own process group, so stopping it stops its worker too; PDEATHSIG so it
                // does not outlive the agent.
                let mut cmd = std::process::Command::new(&path);
                // SAFETY: the hook only calls prctl, which is async-signal-safe.
                unsafe {
                    std::os::unix::process::CommandExt::pre_exec(&mut cmd, crate::process::die_with_parent);
                }
                let child = std::os::unix::process::CommandExt::process_group(&mut cmd, 0)
                    .args(argv)
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .map_err(|e| format!("could not start stress: {e}"))?;
                trace.push(
                    Syscall::ok(call, child.id() as i64)
                        .with_note("stress forks one worker that spins; the meter follows the worker"),
                );
                out.burner_pid = Some(child.id() as i32);
                out.burner_is_stress = true;
                origin.stress = Some(child);
            } else {
                if *stress {
                    trace.push(Syscall::ok("/* stress is not installed here: nsdojo's own busy loop instead */", 0));
                }
                let mut b =
                    crate::cgroup::Burner::spawn_held().map_err(|e| format!("could not start the burner: {e}"))?;
                let pid = b.pid();
                trace.push(
                    Syscall::ok("fork()", pid as i64).with_note("a busy loop, in whatever cgroup terminal #1 is in"),
                );
                b.release().map_err(|e| format!("could not start the burner: {e}"))?;
                out.burner_pid = Some(pid);
                origin.burner = Some(b);
            }
        }
        Action::BurnStop => {
            if let Some(b) = origin.burner.take() {
                let pid = b.pid();
                let _ = b.stop();
                trace.push(Syscall::ok(format!("kill({pid}, SIGKILL)"), 0));
            }
            if let Some(mut child) = origin.stress.take() {
                // The host has stopped the worker; now the stress parent, which would wait for it.
                // The worker, if still there, comes back to the agent (a subreaper) and is reaped.
                crate::process::kill_group_of_unreaped_child(child.id() as i32);
                let _ = child.wait();
                trace.push(Syscall::ok(format!("kill({}, SIGKILL)", child.id()), 0));
            }
        }
        Action::Hog { bytes } => return super::pressure::hog(*bytes, out).map(|_| None),
        Action::Forks { count } => return super::pressure::forks(*count, out).map(|_| None),
        Action::CopyTree { src, dst } => {
            let stats = crate::rootfs::copy_tree(std::path::Path::new(src), std::path::Path::new(dst), trace)
                .map_err(|e| e.to_string())?;
            out.output = Some(super::ShellOutput {
                stdout: format!(
                    "copied {} files, {} symlinks, {} directories, {} KiB\n",
                    stats.files,
                    stats.symlinks,
                    stats.dirs,
                    stats.bytes / 1024
                ),
                ..Default::default()
            });
        }
        Action::ExecAs { argv0, path } => {
            let (sc, output) = shell::run_as(argv0, path, shell::timeout());
            trace.push(sc);
            out.output = Some(output);
        }
        Action::Setuid(id) => {
            let (u, g) = (nix::unistd::Uid::from_raw(*id), nix::unistd::Gid::from_raw(*id));
            trace.record("setgroups(0, [])", nix::unistd::setgroups(&[])).map_err(|e| errno_line("setgroups", e))?;
            trace
                .record(format!("setresgid({id}, {id}, {id})"), nix::unistd::setresgid(g, g, g))
                .map_err(|e| errno_line("setresgid", e))?;
            trace
                .record(format!("setresuid({id}, {id}, {id})"), nix::unistd::setresuid(u, u, u))
                .map_err(|e| errno_line("setresuid", e))?;
            // The kernel clears the parent-death signal when credentials change: arm it again.
            crate::process::die_with_parent().map_err(|e| format!("prctl(PR_SET_PDEATHSIG): {e}"))?;
        }
        Action::DropCaps(caps) => super::caps::drop(caps, trace)?,
        Action::NoNewPrivs => super::caps::no_new_privs(trace)?,
        Action::LinkUp(name) => {
            guard(origin, Ns::Net, "change a network interface")?;
            super::netdev::link_up(name, out)?;
        }
        Action::NetnsAdd(name) => super::netdev::add(name, origin, out)?,
        Action::NetnsDelete(name) => super::netdev::delete(name, origin, out)?,
        Action::AddrAdd { cidr, iface } => {
            guard(origin, Ns::Net, "change a network interface")?;
            if !crate::netlink::valid_ifname(iface) {
                return Err(format!("{iface:?} is not an interface name (1 to 15 characters, no / or :)"));
            }
            let (addr, prefix) =
                crate::lesson::action::cidr(cidr).ok_or_else(|| format!("`{cidr}` is not ADDR/PREFIX"))?;
            let (sc, res) = crate::netlink::add_address(iface, addr, prefix);
            trace.push(sc);
            res.map_err(|e| format!("addr-add {addr}/{prefix} {iface}: {}", e.desc()))?;
        }
        Action::Spawn(cmd) => {
            let (sc, child) = shell::spawn(cmd, origin.devnull.as_ref());
            trace.push(sc);
            origin.spawned.push(child?);
        }
        Action::CgroupCreate(_)
        | Action::CgroupLimit { .. }
        | Action::CgroupJoin
        | Action::MapIds { .. }
        | Action::VethAdd { .. }
        | Action::VethMove { .. }
        | Action::VethDelete(_)
        | Action::HostLinkUp(_)
        | Action::HostAddrAdd { .. }
        | Action::Fetch(_) => {
            return Err("this action runs on the host, not in the sandbox".into());
        }
        Action::Try(inner) => {
            // The failure stays in the trace (and in step.errno); the step goes on.
            return match perform_into(inner, origin, out) {
                Err(msg) => {
                    // Keep the one-line reason next to the failed call.
                    if let Some(last) = out.trace.calls.last_mut() {
                        if last.note.is_none() {
                            last.note = Some(msg);
                        }
                    }
                    Ok(None)
                }
                ok => ok,
            };
        }
    }
    Ok(None)
}

fn write_file(path: &str, text: &str) -> Result<(), Errno> {
    use std::io::Write;
    // `echo TEXT > PATH`: creates and truncates an ordinary file; kernel files (id maps,
    // cgroupfs, sysctls) are only opened, as the shell's O_TRUNC means nothing to them.
    let ordinary = !["/proc/", "/sys/"].iter().any(|k| path.starts_with(k));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(ordinary)
        .truncate(ordinary)
        .open(path)
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    f.write_all(text.as_bytes()).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
}
