//! `nsdojo attach`: a second terminal joins terminal #1, like
//! `nsenter -t PID -a` followed by entering its root and working directory.
//!
//! The attaching nsdojo process itself never changes namespaces: it forks a
//! child that opens every namespace of the target first (the paths under
//! /proc/PID vanish from view once the mount namespace changes), joins them
//! — the user namespace last, so root keeps its power over the others until
//! then — forks again because a PID namespace only applies to children, enters
//! the target's root and cwd, and execs the command.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsFd;

use nix::sched::setns;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{chroot, execvpe, fchdir, ForkResult};

use crate::lesson::Ns;

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("no nsdojo session with a running sandbox: start one with `sudo nsdojo`, then `lesson …` and `next`")]
    NoSession,
    #[error("{0} sessions are running: pick one with --session ID ({1})")]
    Ambiguous(usize, String),
    #[error("no session {0} with a running sandbox")]
    NotFound(String),
    #[error("the sandbox {0} is gone")]
    Gone(i32),
    #[error("cannot attach: {0}")]
    Sys(String),
}

impl AttachError {
    /// The message in the session's language (Display stays English).
    pub fn localized(&self, lang: crate::lesson::Lang) -> String {
        use crate::i18n::{t, tf};
        match self {
            AttachError::NoSession => t(lang, "err_no_session").to_string(),
            AttachError::Ambiguous(n, ids) => tf(lang, "err_ambiguous", &[n, ids]),
            AttachError::NotFound(id) => tf(lang, "err_session_not_found", &[id]),
            AttachError::Gone(pid) => tf(lang, "err_gone", &[pid]),
            AttachError::Sys(e) => tf(lang, "err_attach", &[e]),
        }
    }
}

/// Find the target: the only live session with a sandbox, or the one named.
pub fn find_target(session: Option<&str>) -> Result<(String, i32), AttachError> {
    let live: Vec<(String, i32)> = crate::hostguard::Record::load_all()
        .into_iter()
        .filter(|r| r.owner_alive())
        .filter_map(|r| r.sandbox.map(|pid| (r.id.clone(), pid)))
        .collect();
    let (id, pid) = match session {
        Some(want) => live.into_iter().find(|(id, _)| id == want).ok_or_else(|| AttachError::NotFound(want.into()))?,
        None => match live.len() {
            0 => return Err(AttachError::NoSession),
            1 => live.into_iter().next().expect("one"),
            n => {
                return Err(AttachError::Ambiguous(
                    n,
                    live.iter().map(|(i, _)| i.as_str()).collect::<Vec<_>>().join(", "),
                ))
            }
        },
    };
    if !std::path::Path::new(&format!("/proc/{pid}/ns")).exists() {
        return Err(AttachError::Gone(pid));
    }
    Ok((id, pid))
}

fn sys(what: &str, e: &dyn std::fmt::Display) -> AttachError {
    AttachError::Sys(format!("{what}: {e}"))
}

/// Everything needed to join process `pid`: its namespaces that differ from ours (the user
/// namespace last, so root keeps its power over the others until then), its root and its
/// working directory, and for a shell its cgroups, all opened before anything is joined
/// (after `setns(mnt)` the host's paths may be out of sight).
struct Entry {
    fds: Vec<(Ns, File)>,
    root: File,
    cwd: File,
    /// `cgroup.procs` of each group `pid` is in and we are not.
    cgroups: Vec<File>,
    /// `pid`'s real uid and gid and its groups as the host sees them, when not root's: a
    /// shell in terminal #1 after `setuid 1000` is uid 1000 too (and, in a user namespace
    /// that 1000 created, joins it as its owner).
    creds: Option<(u32, u32, Vec<u32>)>,
}

impl Entry {
    fn open(pid: i32) -> Result<Entry, AttachError> {
        Entry::open_with(pid, false)
    }

    fn open_with(pid: i32, join_cgroups: bool) -> Result<Entry, AttachError> {
        let mine = crate::observe::ProcFacts::read(std::process::id() as i32).ns;
        let theirs = crate::observe::ProcFacts::read(pid).ns;
        let mut fds = Vec::new();
        for ns in Ns::ALL {
            if theirs.contains_key(&ns) && theirs.get(&ns) != mine.get(&ns) {
                let f = File::open(format!("/proc/{pid}/ns/{}", ns.name()))
                    .map_err(|e| sys(&format!("open ns/{}", ns.name()), &e))?;
                fds.push((ns, f));
            }
        }
        fds.sort_by_key(|(ns, _)| *ns == Ns::User);
        let root = File::open(format!("/proc/{pid}/root")).map_err(|e| sys("open root", &e))?;
        let cwd = File::open(format!("/proc/{pid}/cwd")).map_err(|e| sys("open cwd", &e))?;
        let mut cgroups = Vec::new();
        if join_cgroups {
            use crate::observe::procfs::{cgroup, Proc};
            let theirs = cgroup(Proc::Pid(pid)).map_err(|e| sys("read cgroup", &e))?;
            let ours = cgroup(Proc::Myself).map_err(|e| sys("read cgroup", &e))?;
            let layout = crate::cgroup::Layout::detect().map_err(|e| sys("cgroup layout", &e))?;
            for dir in layout.dirs_differing(&theirs, &ours) {
                let f = crate::cgroup::open_procs_for_join(&dir);
                cgroups.push(f.map_err(|e| sys(&format!("open {}/cgroup.procs", dir.display()), &e))?);
            }
        }
        let st =
            crate::observe::procfs::status(crate::observe::procfs::Proc::Pid(pid)).map_err(|e| sys("status", &e))?;
        let creds = match (st.uids.first(), st.gids.first()) {
            (Some(&u), Some(&g)) if (u, g) != (0, 0) => Some((u, g, st.groups)),
            _ => None,
        };
        Ok(Entry { fds, root, cwd, cgroups, creds })
    }

    /// Join (in a forked child: never the host process itself).
    fn enter(&self) -> Result<(), AttachError> {
        for f in &self.cgroups {
            // "0": the writing process itself; its children are then born in the group.
            std::io::Write::write_all(&mut &*f, b"0").map_err(|e| sys("join cgroup", &e))?;
        }
        let (user, others): (Vec<_>, Vec<_>) = self.fds.iter().partition(|(ns, _)| *ns == Ns::User);
        for (ns, f) in others {
            setns(f.as_fd(), super::perform::clone_flag(*ns).0)
                .map_err(|e| sys(&format!("setns({})", ns.name()), &e.desc()))?;
        }
        // The root change while we still have CAP_SYS_CHROOT where the mount namespace is.
        fchdir(&self.root).map_err(|e| sys("fchdir(root)", &e.desc()))?;
        chroot(".").map_err(|e| sys("chroot", &e.desc()))?;
        fchdir(&self.cwd).map_err(|e| sys("fchdir(cwd)", &e.desc()))?;
        if let Some((uid, gid, groups)) = &self.creds {
            use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
            let groups: Vec<Gid> = groups.iter().map(|g| Gid::from_raw(*g)).collect();
            setgroups(&groups).map_err(|e| sys("setgroups", &e.desc()))?;
            let (g, u) = (Gid::from_raw(*gid), Uid::from_raw(*uid));
            setresgid(g, g, g).map_err(|e| sys("setresgid", &e.desc()))?;
            setresuid(u, u, u).map_err(|e| sys("setresuid", &e.desc()))?;
        }
        for (ns, f) in user {
            // As root, or as the namespace's owner (who has every capability in it).
            setns(f.as_fd(), super::perform::clone_flag(*ns).0)
                .map_err(|e| sys(&format!("setns({})", ns.name()), &e.desc()))?;
            if self.creds.is_none() {
                // Root joining: become the namespace's root where a map says who that is.
                let _ = nix::unistd::setgid(nix::unistd::Gid::from_raw(0));
                let _ = nix::unistd::setuid(nix::unistd::Uid::from_raw(0));
            }
        }
        Ok(())
    }
}

/// Run `cmd` (or an interactive shell) inside the sandbox; returns its exit code.
pub fn attach(lang: crate::lesson::Lang, pid: i32, cmd: &[String]) -> Result<i32, AttachError> {
    wait_code(spawn(lang, pid, cmd)?)
}

/// `nsdojo attach --host`: terminal #2's part of a `try`, in a root shell on the host whose
/// calls are narrated (`crate::narrate`). Nothing is joined: the shell is nsdojo's own
/// namespaces, root and directory. Returns the shell's exit code; what it left running in the
/// background ends with it (the tracer goes, PTRACE_O_EXITKILL).
pub fn host_shell(lang: crate::lesson::Lang, cmd: &[String]) -> Result<i32, AttachError> {
    let narrate = Some(crate::narrate::Narration { lang, events: None });
    let me = std::process::id() as i32;
    let spawned = spawn_with(lang, me, cmd, Extras { narrate, ..Extras::default() })?;
    let code = wait_code(spawned.child);
    if let Some(t) = spawned.tracer {
        crate::process::kill_unreaped_child(t.as_raw());
        let _ = crate::process::reap(t.as_raw());
    }
    code
}

/// How a shell for `try` differs from `attach`'s.
#[derive(Default)]
pub(crate) struct Extras {
    /// Join the target's cgroups too.
    pub cgroups: bool,
    /// Hand this descriptor to the command as fd 9 (`dojo` talks to the REPL through it).
    pub fd9: Option<std::os::fd::OwnedFd>,
    /// Set in the command's environment.
    pub env: Vec<(String, String)>,
    /// Narrate the student's calls (`crate::narrate`): a tracer follows the whole tree.
    pub narrate: Option<crate::narrate::Narration>,
}

/// What [`spawn_with`] started: the child to wait for, and the tracer that narrates it (if
/// narration was asked for and the tracer could seize it).
pub(crate) struct Spawned {
    pub child: nix::unistd::Pid,
    pub tracer: Option<nix::unistd::Pid>,
}

/// Start `cmd` (or an interactive shell) inside process `pid`'s namespaces, root and working
/// directory, and return the child to wait for (it forks once more for a PID namespace and
/// exits with the command's status).
pub fn spawn(lang: crate::lesson::Lang, pid: i32, cmd: &[String]) -> Result<nix::unistd::Pid, AttachError> {
    spawn_with(lang, pid, cmd, Extras::default()).map(|s| s.child)
}

/// [`spawn`], with its cgroups, an fd 9 and environment as `extras` say.
pub(crate) fn spawn_with(
    lang: crate::lesson::Lang,
    pid: i32,
    cmd: &[String],
    mut extras: Extras,
) -> Result<Spawned, AttachError> {
    let entry = Entry::open_with(pid, extras.cgroups)?;
    let narration = extras.narrate.take();
    // The tracer's word to the child: it is traced (install the filter), or not.
    let ready = match narration {
        Some(_) => Some(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| sys("pipe", &e))?),
        None => None,
    };
    let mut env: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| !extras.env.iter().any(|(x, _)| k.as_os_str() == x.as_str()))
        .filter_map(|(k, v)| {
            use std::os::unix::ffi::OsStrExt;
            CString::new([k.as_bytes(), b"=", v.as_bytes()].concat()).ok()
        })
        .collect();
    env.extend(extras.env.iter().filter_map(|(k, v)| CString::new(format!("{k}={v}")).ok()));
    let argv: Vec<CString> = if cmd.is_empty() {
        vec![c"/bin/sh".into(), c"-i".into()]
    } else {
        cmd.iter()
            .map(|a| CString::new(a.as_str()).map_err(|_| sys("command", &"contains a NUL byte")))
            .collect::<Result<_, _>>()?
    };
    let _ = std::io::Write::flush(&mut std::io::stdout());
    // The child only makes syscalls and execs or _exits.
    match crate::process::fork().map_err(|e| sys("fork", &e))? {
        ForkResult::Parent { child } => {
            let tracer = match (ready, narration) {
                (Some((r, w)), Some(n)) => {
                    drop(r);
                    // Without a tracer the child reads EOF and goes on unnarrated.
                    crate::narrate::start(child, w, n).ok()
                }
                _ => None,
            };
            Ok(Spawned { child, tracer })
        }
        ForkResult::Child => {
            // Not the host any more: do not keep the watchdog waiting if the host dies.
            crate::hostguard::close_inherited_watchdog_fd();
            if let Some((r, w)) = ready {
                drop(w);
                // Traced now, still root and still the host's: the filter goes on before
                // anything is joined, and every process below inherits it.
                crate::narrate::in_first(r);
            }
            let code = (|| -> Result<i32, AttachError> {
                entry.enter()?;
                // A PID namespace applies to children: fork once more and exec there.
                match crate::process::fork().map_err(|e| sys("fork", &e))? {
                    ForkResult::Parent { child } => Ok(wait_code(child).unwrap_or(1)),
                    ForkResult::Child => {
                        // A shell starts with no signal held, whatever its caller holds.
                        let _ = nix::sys::signal::pthread_sigmask(
                            nix::sys::signal::SigmaskHow::SIG_SETMASK,
                            Some(&nix::sys::signal::SigSet::empty()),
                            None,
                        );
                        if let Some(fd) = &extras.fd9 {
                            // dup2 leaves the copy without close-on-exec: the shell keeps it.
                            use std::os::fd::AsRawFd;
                            // SAFETY: plain dup2 on a descriptor we own, in a forked child.
                            unsafe { libc::dup2(fd.as_raw_fd(), 9) };
                        }
                        let e = execvpe(&argv[0], &argv, &env).unwrap_err();
                        let what = format!("{:?}", argv[0]);
                        eprintln!("nsdojo attach: {}", crate::i18n::tf(lang, "err_cannot_run", &[&what, &e.desc()]));
                        Ok(127)
                    }
                }
            })();
            let code = code.unwrap_or_else(|e| {
                eprintln!("nsdojo attach: {}", e.localized(lang));
                1
            });
            // SAFETY: _exit in a forked child.
            unsafe { libc::_exit(code) }
        }
    }
}

/// What only the inside of process `pid` knows (hostname, interfaces, SysV queues, processes,
/// listings), collected by a forked child that joins it: the same code the sandbox agent runs.
pub(crate) fn inside_facts_of(
    pid: i32,
    needs: &crate::observe::Needs,
) -> Result<crate::observe::InsideFacts, AttachError> {
    use std::io::{Read, Write};
    let entry = Entry::open(pid)?;
    // The collector does not join `pid`'s cgroups; its /proc/PID/cgroup, opened now and read
    // once in `pid`'s cgroup namespace, is rendered relative to that namespace, as `pid` sees it.
    let their_cgroup = File::open(format!("/proc/{pid}/cgroup")).map_err(|e| sys("open cgroup", &e))?;
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| sys("pipe", &e))?;
    match crate::process::fork().map_err(|e| sys("fork", &e))? {
        ForkResult::Child => {
            drop(r);
            crate::hostguard::close_inherited_watchdog_fd();
            let code = match entry.enter() {
                Ok(()) => {
                    let mut facts = crate::observe::InsideFacts::collect(needs);
                    if needs.cgroup {
                        let mut text = String::new();
                        facts.cgroup = (&their_cgroup)
                            .read_to_string(&mut text)
                            .map(|_| crate::observe::procfs::parse_cgroup(&text))
                            .map_err(|e| crate::observe::ProcError::Unreadable {
                                path: "cgroup".into(),
                                reason: e.to_string(),
                            });
                    }
                    let bytes = serde_json::to_vec(&facts).unwrap_or_default();
                    i32::from(File::from(w).write_all(&bytes).is_err())
                }
                Err(_) => 1,
            };
            // SAFETY: _exit in a forked child.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(w);
            let mut bytes = Vec::new();
            let read = File::from(r).read_to_end(&mut bytes);
            let _ = wait_code(child);
            read.map_err(|e| sys("read", &e))?;
            serde_json::from_slice(&bytes).map_err(|e| sys("inside facts", &e))
        }
    }
}

fn wait_code(child: nix::unistd::Pid) -> Result<i32, AttachError> {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, c)) => return Ok(c),
            Ok(WaitStatus::Signaled(_, s, _)) => return Ok(128 + s as i32),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(AttachError::Sys(format!("wait: {}", e.desc()))),
        }
    }
}
