//! Performing one action inside the sandbox: the only code in nsdojo that
//! asks for namespace, mount, chroot and pivot_root system calls, through the
//! `Kernel` seam (`sandbox::kernel`: the real kernel in the agent, a recording one in tests).
//!
//! Every call is recorded in the step's [`Trace`] as strace would print it,
//! and the well-known failures carry the explanation the lab found (EINVAL
//! from pivot_root under shared propagation, EBUSY when new_root is not a
//! mount point, ...). Two guards keep the host sacred whatever a lesson says:
//! mounts are refused while the sandbox still shares the host's mount
//! namespace, and a new mount namespace is made private before anything is
//! mounted in it, as `unshare(1)` does by default.

use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::unistd::Pid;

use super::caps::CapsError;
use super::kernel::{Kernel, Mount};
use super::netdev::NetError;
use super::rpc::{Outcome, SandboxOp};
use super::shell;
use crate::lesson::action::Propagation;
use crate::lesson::{Ns, SandboxAction};
use crate::msg::Msg;
use crate::trace::{quote, Syscall, Trace};

pub use super::kernel::clone_flag;

/// What the agent knows about itself. The agent is the only process that
/// changes its own namespaces, so tracking them here is exact, and it works
/// after chroot or pivot_root when /proc/self may no longer be reachable.
#[derive(Debug, Default)]
pub struct AgentState {
    /// This sandbox created /run/netns (so `netns delete` removes it again).
    pub made_netns_dir: bool,
    /// The CPU burner started by `burn`, stopped by the host's `BurnStop`.
    pub burner: Option<crate::cgroup::Burner>,
    /// Or `stress -c 1`, when the lesson asked for it and the sandbox has it.
    pub stress: Option<std::process::Child>,
    /// Namespaces this sandbox has left the host's copy of.
    pub unshared: Vec<Ns>,
    /// chroot or pivot_root moved its root: a program missing there is the rootfs's, not one
    /// a host package would install.
    pub moved_root: bool,
    /// Debug switch for the propagation test: do not make / private after unshare(mnt).
    pub keep_propagation: bool,
    /// Programs started with `spawn` (servers); they die with the agent (parent-death signal).
    pub spawned: Vec<std::process::Child>,
    /// /dev/null, opened when the agent started: a chroot or new root may have none.
    pub devnull: Option<std::fs::File>,
    /// The agent's /proc, opened when it started (a chroot may have none): `spawn` watches its
    /// program there. Its PIDs are the agent's until `unshare pid`.
    pub proc: Option<std::fs::File>,
}

pub enum Performed {
    Done(Outcome),
    /// unshare(pid) forked: the child continues as agent, the parent must become its reaper.
    Forked {
        child: Pid,
    },
}

/// Why an action failed, in the one line the student reads (`Outcome::error`; the Korean
/// translation in `i18n::machine` matches these words).
#[derive(Debug, thiserror::Error)]
pub(crate) enum PerformError {
    #[error("{call} failed: {} ({errno:?})", .errno.desc())]
    Failed { call: String, errno: Errno },
    #[error("refusing to {what} in the host's {ns} namespace (it would change the host): `unshare {ns}` first")]
    HostNamespace { what: &'static str, ns: Ns },
    /// The kernel's EPERM for a user namespace, explained by the host's restriction.
    #[error("{0}")]
    UsernsRestricted(Msg),
    #[error(transparent)]
    Fork(crate::process::ForkError),
    #[error("prctl(PR_SET_PDEATHSIG): {0}")]
    Pdeathsig(std::io::Error),
    #[error("could not start stress: {0}")]
    Stress(std::io::Error),
    #[error("could not start the burner: {0}")]
    Burner(std::io::Error),
    #[error(transparent)]
    Copy(crate::rootfs::RootfsError),
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Caps(#[from] CapsError),
    #[error(transparent)]
    Spawn(#[from] super::shell::SpawnError),
    #[error("{0:?} is not an interface name (1 to 15 characters, no / or :)")]
    IfName(String),
    #[error("`{0}` is not ADDR/PREFIX")]
    Cidr(String),
    #[error("addr-add {addr}/{prefix} {iface}: {}", .errno.desc())]
    AddrAdd { addr: std::net::Ipv4Addr, prefix: u8, iface: String, errno: Errno },
}

impl PerformError {
    /// The one line the student reads, as a message the host renders in its language.
    pub(crate) fn msg(&self) -> Msg {
        use PerformError as E;
        match self {
            E::Failed { call, errno } => Msg::Failed { call: call.clone(), errno: *errno as i32 },
            E::HostNamespace { what, ns } => Msg::HostNamespace { what: what.to_string(), ns: ns.to_string() },
            E::UsernsRestricted(why) => why.clone(),
            E::Fork(crate::process::ForkError::Threaded(n)) => Msg::ThreadedFork(*n),
            E::Fork(crate::process::ForkError::Fork(errno)) => {
                Msg::CallError { what: "fork".into(), errno: *errno as i32 }
            }
            E::Pdeathsig(e) => Msg::IoError { what: "prctl(PR_SET_PDEATHSIG)".into(), error: e.into() },
            E::Stress(e) => Msg::StressNotStarted(e.into()),
            E::Burner(e) => Msg::BurnerNotStarted(e.into()),
            E::Copy(e) => e.msg(),
            E::Net(e) => e.msg(),
            E::Caps(e) => e.msg(),
            E::Spawn(e) => e.msg(),
            E::IfName(name) => Msg::NotIfName(name.clone()),
            E::Cidr(text) => Msg::NotCidr(text.clone()),
            E::AddrAdd { addr, prefix, iface, errno } => {
                Msg::CallError { what: format!("addr-add {addr}/{prefix} {iface}"), errno: *errno as i32 }
            }
        }
    }
}

fn failed(call: impl Into<String>) -> impl FnOnce(Errno) -> PerformError {
    let call = call.into();
    move |errno| PerformError::Failed { call, errno }
}

/// The agent's answer for one operation: a failure becomes the outcome's one line.
pub(crate) fn finish(res: Result<Option<Pid>, PerformError>, mut out: Outcome) -> Performed {
    match res {
        Ok(Some(child)) => return Performed::Forked { child },
        Ok(None) => {}
        Err(e) => out.error = Some(e.msg()),
    }
    Performed::Done(out)
}

/// Why [`perform_all`] stopped before the end of its operations, if it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Every operation was performed.
    Done,
    /// The last outcome failed: the rest of the batch was not performed.
    Failed,
    /// `unshare pid` forked and this is the parent: it must become the new agent's reaper
    /// (the child carries on with the batch).
    Forked { child: Pid },
}

/// One operation, as the agent answers it: [`perform`], then [`finish`].
pub(crate) fn perform_one(op: &SandboxOp, origin: &mut AgentState, k: &mut dyn Kernel) -> Performed {
    let mut out = Outcome::default();
    let res = perform(op, origin, k, &mut out);
    finish(res, out)
}

/// A batch, as the agent performs it: in order, stopping at the first failure (a `try`
/// operation does not fail). The one copy of that loop: the agent, the sandbox's tests and
/// the lab's tests (its lessons through the recording kernel) all go through here.
pub(crate) fn perform_all(k: &mut dyn Kernel, origin: &mut AgentState, ops: &[SandboxOp]) -> (Vec<Outcome>, Stop) {
    perform_each(ops, |op| perform_one(op, origin, k))
}

/// [`perform_all`] with the performing of each operation chosen by the caller (the lab's
/// in-process test agent answers commands that run programs from a script).
pub(crate) fn perform_each(ops: &[SandboxOp], mut one: impl FnMut(&SandboxOp) -> Performed) -> (Vec<Outcome>, Stop) {
    let mut outcomes = Vec::with_capacity(ops.len());
    for op in ops {
        match one(op) {
            Performed::Done(outcome) => {
                let failed = outcome.error.is_some();
                outcomes.push(outcome);
                if failed {
                    return (outcomes, Stop::Failed);
                }
            }
            Performed::Forked { child } => return (outcomes, Stop::Forked { child }),
        }
    }
    (outcomes, Stop::Done)
}

/// The note under a mount(2) that failed for a reason the lab has seen students hit.
fn mount(k: &mut dyn Kernel, m: Mount, trace: &mut Trace) -> Result<(), Errno> {
    let res = k.mount(&m, trace);
    if res == Err(Errno::ENOENT) {
        note_last(trace, Msg::MountTargetMissing(m.target.clone()));
    }
    res
}

fn note_last(trace: &mut Trace, note: Msg) {
    if let Some(last) = trace.calls.last_mut() {
        last.note = Some(note);
    }
}

/// Refuse to change the host: mount-type actions need our own mount namespace.
fn guard(origin: &AgentState, k: &mut dyn Kernel, ns: Ns, what: &'static str) -> Result<(), PerformError> {
    // Without a single capability (an ordinary user, after `setuid`), the kernel itself refuses
    // what needs CAP_SYS_ADMIN or CAP_NET_ADMIN with EPERM: let those calls go to the kernel, so
    // the lesson shows the real answer. (Not IPC: any user may make a message queue.)
    if origin.unshared.contains(&ns) || (ns != Ns::Ipc && k.powerless()) {
        Ok(())
    } else {
        Err(PerformError::HostNamespace { what, ns })
    }
}

fn remember(origin: &mut AgentState, ns: Ns) {
    if !origin.unshared.contains(&ns) {
        origin.unshared.push(ns);
    }
}

/// Perform one operation, appending its calls to `out.trace`: `Some(child)` when `unshare pid`
/// forked and this is the parent (the child carries on as the agent).
pub(crate) fn perform(
    op: &SandboxOp,
    origin: &mut AgentState,
    k: &mut dyn Kernel,
    out: &mut Outcome,
) -> Result<Option<Pid>, PerformError> {
    let res = perform_op(op, origin, k, out);
    // A call refused although CapEff lists the capability: under Ubuntu's AppArmor restriction
    // (the rootless lesson on a default 24.04) the profile, not the namespaces, said no.
    if let Err(PerformError::Failed { errno: Errno::EPERM | Errno::EACCES, .. }) = &res {
        if out.trace.calls.last().is_some_and(|c| c.note.is_none()) && k.apparmor_restricted() {
            note_last(&mut out.trace, Msg::UsernsApparmor);
        }
    }
    res
}

fn perform_op(
    op: &SandboxOp,
    origin: &mut AgentState,
    k: &mut dyn Kernel,
    out: &mut Outcome,
) -> Result<Option<Pid>, PerformError> {
    use SandboxAction as A;
    let action = match op {
        SandboxOp::Do(action) => action,
        SandboxOp::Try(action) => {
            return match perform(&SandboxOp::Do(action.clone()), origin, k, out) {
                // The failure stays in the trace (and in step.errno); the step goes on, with
                // the one-line reason next to the failed call.
                Err(e) => {
                    if let Some(last) = out.trace.calls.last_mut() {
                        if last.note.is_none() {
                            last.note = Some(e.msg());
                        }
                    }
                    Ok(None)
                }
                ok => ok,
            };
        }
        SandboxOp::BurnStop => {
            burn_stop(origin, &mut out.trace);
            return Ok(None);
        }
    };
    let trace = &mut out.trace;
    match action {
        A::Unshare(set) => {
            let res = k.unshare(set, trace);
            // EPERM from a sysctl; EACCES from AppArmor's restriction without its profile.
            if matches!(res, Err(Errno::EPERM | Errno::EACCES)) && set.contains(&Ns::User) {
                let apparmor = || {
                    (crate::observe::apparmor::UsernsRestriction::of_this_machine()
                        == crate::observe::apparmor::UsernsRestriction::On)
                        .then_some(Msg::UsernsApparmorCreate)
                };
                if let Some(why) = crate::machine::userns_restriction().or_else(apparmor) {
                    note_last(trace, why.clone());
                    return Err(PerformError::UsernsRestricted(why));
                }
            }
            res.map_err(failed("unshare"))?;
            // The mount namespace counts as ours (mounts allowed) only once `/` is private in it.
            for ns in set.iter().filter(|n| **n != Ns::Mnt) {
                remember(origin, *ns);
            }
            if set.contains(&Ns::Mnt) {
                if origin.keep_propagation {
                    trace.push(Syscall::ok("/* NSDOJO_DEBUG_KEEP_PROPAGATION: / left as it was */", 0));
                } else {
                    let flags = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
                    let root = Mount { source: None, target: "/".into(), fstype: None, flags, data: None };
                    mount(k, root, trace).map_err(failed("making / private"))?;
                    note_last(trace, Msg::PrivatePropagation);
                }
                remember(origin, Ns::Mnt);
            }
            if set.contains(&Ns::Pid) {
                // A new PID namespace applies to children only: fork, and the child becomes the agent.
                match k.fork_agent(trace) {
                    Ok(Some(child)) => return Ok(Some(child)),
                    Ok(None) => {
                        note_last(trace, Msg::PidNsChild);
                        out.forked_agent = true;
                    }
                    Err(crate::process::ForkError::Fork(e)) => return Err(failed("fork")(e)),
                    Err(threaded) => return Err(PerformError::Fork(threaded)),
                }
            }
        }
        A::Mkdir(p) => k.mkdir(p, trace).map_err(failed(format!("mkdir {p}")))?,
        A::Rmdir(p) => k.rmdir(p, trace).map_err(failed(format!("rmdir {p}")))?,
        A::MountTmpfs { target, options } => {
            guard(origin, k, Ns::Mnt, "mount")?;
            let m = Mount {
                source: Some("tmpfs".into()),
                target: target.clone(),
                fstype: Some("tmpfs".into()),
                flags: MsFlags::empty(),
                data: options.clone(),
            };
            mount(k, m, trace).map_err(failed("mount"))?;
        }
        A::MountProc { target } => {
            guard(origin, k, Ns::Mnt, "mount")?;
            let m = Mount {
                source: Some("proc".into()),
                target: target.clone(),
                fstype: Some("proc".into()),
                flags: MsFlags::empty(),
                data: None,
            };
            mount(k, m, trace).map_err(failed("mount"))?;
        }
        A::MountBind { source, target, recursive } => {
            guard(origin, k, Ns::Mnt, "mount")?;
            let flags = if *recursive { MsFlags::MS_BIND | MsFlags::MS_REC } else { MsFlags::MS_BIND };
            let m = Mount { source: Some(source.clone()), target: target.clone(), fstype: None, flags, data: None };
            mount(k, m, trace).map_err(failed("mount"))?;
        }
        A::Umount { target, lazy } => {
            guard(origin, k, Ns::Mnt, "unmount")?;
            k.umount2(target, *lazy, trace).map_err(failed(format!("umount {target}")))?;
        }
        A::MakePropagation { target, kind, recursive } => {
            guard(origin, k, Ns::Mnt, "change mount propagation")?;
            let mut flags = match kind {
                Propagation::Private => MsFlags::MS_PRIVATE,
                Propagation::Shared => MsFlags::MS_SHARED,
                Propagation::Slave => MsFlags::MS_SLAVE,
            };
            if *recursive {
                flags |= MsFlags::MS_REC;
            }
            let m = Mount { source: None, target: target.clone(), fstype: None, flags, data: None };
            mount(k, m, trace).map_err(failed("mount"))?;
        }
        A::Sethostname(h) => {
            guard(origin, k, Ns::Uts, "set the hostname")?;
            k.sethostname(h, trace).map_err(failed("sethostname"))?;
        }
        A::Chroot(p) => {
            k.chroot(p, trace).map_err(failed("chroot"))?;
            origin.moved_root = true;
        }
        A::Chdir(p) => k.chdir(p, trace).map_err(failed("chdir"))?,
        A::PivotRoot { new_root, put_old } => {
            guard(origin, k, Ns::Mnt, "pivot_root")?;
            let res = k.pivot_root(new_root, put_old, trace);
            if let Some(why) = res.err().and_then(crate::msg::pivot_note) {
                note_last(trace, why);
            }
            res.map_err(failed("pivot_root"))?;
            origin.moved_root = true;
        }
        A::Msgget => {
            guard(origin, k, Ns::Ipc, "create a message queue")?;
            k.msgget(trace).map_err(failed("msgget"))?;
        }
        A::Write { path, text } => {
            let res = k.write_file(path, text, trace);
            if res == Err(Errno::EPERM) && path.ends_with("_map") {
                note_last(trace, Msg::IdMapOnce);
            }
            res.map_err(failed(format!("write {path}")))?;
        }
        A::Sh(cmd) => {
            let (sc, output) = shell::run(cmd, shell::timeout());
            trace.push(sc);
            // A host tool that is missing stops the step with the package to install, not with
            // failed checks (in a rootfs, the host's packages would not help).
            if !origin.moved_root {
                out.error = super::missing_tool::missing_tool_msg(&output);
            }
            out.output = Some(output);
        }
        A::Burn { stress, secs } => burn(*secs, *stress, origin, out)?,
        A::Hog { bytes } => super::pressure::hog(*bytes, out).map_err(PerformError::Fork)?,
        A::Forks { count } => super::pressure::forks(*count, out).map_err(PerformError::Fork)?,
        A::CopyTree { src, dst } => {
            let stats = crate::rootfs::copy_tree(std::path::Path::new(src), std::path::Path::new(dst), trace)
                .map_err(PerformError::Copy)?;
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
        A::ExecAs { argv0, path } => {
            let (sc, output) = shell::run_as(argv0, path, shell::timeout());
            trace.push(sc);
            out.output = Some(output);
        }
        A::Setuid(id) => {
            k.setgroups_none(trace).map_err(failed("setgroups"))?;
            k.setresgid(*id, trace).map_err(failed("setresgid"))?;
            k.setresuid(*id, trace).map_err(failed("setresuid"))?;
            // The kernel clears the parent-death signal when credentials change: arm it again.
            k.die_with_parent().map_err(PerformError::Pdeathsig)?;
        }
        A::DropCaps(caps) => super::caps::drop(caps, k, trace)?,
        A::NoNewPrivs => super::caps::no_new_privs(k, trace)?,
        A::LinkUp(name) => {
            guard(origin, k, Ns::Net, "change a network interface")?;
            super::netdev::link_up(name, k, trace)?;
        }
        A::NetnsAdd(name) => super::netdev::add(name, origin, k, trace)?,
        A::NetnsDelete(name) => super::netdev::delete(name, origin, k, trace)?,
        A::AddrAdd { cidr, iface } => {
            guard(origin, k, Ns::Net, "change a network interface")?;
            if !crate::netlink::valid_ifname(iface) {
                return Err(PerformError::IfName(iface.clone()));
            }
            let (addr, prefix) = crate::lesson::action::cidr(cidr).ok_or_else(|| PerformError::Cidr(cidr.clone()))?;
            k.add_address(iface, addr, prefix, trace).map_err(|errno| PerformError::AddrAdd {
                addr,
                prefix,
                iface: iface.clone(),
                errno,
            })?;
        }
        A::Spawn(cmd) => {
            // After `unshare pid` the program's PID is counted in a namespace that /proc is not.
            let proc = origin.proc.as_ref().filter(|_| !origin.unshared.contains(&Ns::Pid));
            let (sc, child) = shell::spawn(cmd, origin.devnull.as_ref(), proc);
            trace.push(sc);
            origin.spawned.push(child?);
        }
    }
    Ok(None)
}

/// `burn`: a CPU burner in terminal #1's cgroup, which the host meters (not a taught call:
/// it forks or execs, so it stays outside the kernel seam).
fn burn(secs: u32, stress: bool, origin: &mut AgentState, out: &mut Outcome) -> Result<(), PerformError> {
    let trace = &mut out.trace;
    let stress_path = if stress { crate::machine::which("stress") } else { None };
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
            .map_err(PerformError::Stress)?;
        trace.push(Syscall::ok(call, child.id() as i64).with_note(Msg::StressForks));
        out.burner_pid = Some(child.id() as i32);
        out.burner_is_stress = true;
        origin.stress = Some(child);
    } else {
        if stress {
            trace.push(Syscall::ok("/* stress is not installed here: nsdojo's own busy loop instead */", 0));
        }
        let mut b = crate::cgroup::Burner::spawn_held().map_err(PerformError::Burner)?;
        let pid = b.pid();
        trace.push(Syscall::ok("fork()", pid as i64).with_note(Msg::BusyLoop));
        b.release().map_err(PerformError::Burner)?;
        out.burner_pid = Some(pid);
        origin.burner = Some(b);
    }
    Ok(())
}

/// Stop what `burn` started (the host has metered it).
fn burn_stop(origin: &mut AgentState, trace: &mut Trace) {
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
