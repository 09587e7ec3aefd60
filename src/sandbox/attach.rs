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
use nix::unistd::{chroot, execvp, fchdir, ForkResult};

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
    let live: Vec<(String, i32)> = crate::guard::Record::load_all()
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

/// Run `cmd` (or an interactive shell) inside the sandbox; returns its exit code.
pub fn attach(lang: crate::lesson::Lang, pid: i32, cmd: &[String]) -> Result<i32, AttachError> {
    let sys = |what: &str, e: &dyn std::fmt::Display| AttachError::Sys(format!("{what}: {e}"));
    // Open everything before joining anything.
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
    // The user namespace last: before it, root still holds every capability over the others.
    fds.sort_by_key(|(ns, _)| *ns == Ns::User);
    let root = File::open(format!("/proc/{pid}/root")).map_err(|e| sys("open root", &e))?;
    let cwd = File::open(format!("/proc/{pid}/cwd")).map_err(|e| sys("open cwd", &e))?;
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
        ForkResult::Parent { child } => wait_code(child),
        ForkResult::Child => {
            // Not the host any more: do not keep the watchdog waiting if the host dies.
            crate::guard::close_inherited_watchdog_fd();
            let code = (|| -> Result<i32, AttachError> {
                for (ns, f) in &fds {
                    setns(f.as_fd(), super::perform::clone_flag(*ns).0)
                        .map_err(|e| sys(&format!("setns({})", ns.name()), &e.desc()))?;
                }
                if fds.iter().any(|(ns, _)| *ns == Ns::User) {
                    let _ = nix::unistd::setgid(nix::unistd::Gid::from_raw(0));
                    let _ = nix::unistd::setuid(nix::unistd::Uid::from_raw(0));
                }
                fchdir(&root).map_err(|e| sys("fchdir(root)", &e.desc()))?;
                chroot(".").map_err(|e| sys("chroot", &e.desc()))?;
                fchdir(&cwd).map_err(|e| sys("fchdir(cwd)", &e.desc()))?;
                // A PID namespace applies to children: fork once more and exec there.
                match crate::process::fork().map_err(|e| sys("fork", &e))? {
                    ForkResult::Parent { child } => Ok(wait_code(child).unwrap_or(1)),
                    ForkResult::Child => {
                        let e = execvp(&argv[0], &argv).unwrap_err();
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
