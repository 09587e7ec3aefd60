//! Narration: the student's own system calls, said in the shell as they return.
//!
//! When nsdojo takes a step itself it shows each call it made; when the student types the step
//! in `try`, the calls that command makes (`unshare -u sh` → `unshare(CLONE_NEWUTS)`, `echo
//! 30000 > cpu.cfs_quota_us` → the write into cgroupfs, `ip link add … type veth` → its
//! RTM_NEWLINK) are shown the same way, marked `[you]`, with the reason under a failed one.
//!
//! How: the host process forks a tracer ([`tracer`]) that seizes the process about to join the
//! sandbox; that process, once traced, installs a seccomp filter ([`filter`]) which stops only
//! the calls the lessons teach, and everything it forks (the shell and all below it) is
//! followed. The host process itself never traces: it stays single-threaded and free, and
//! only reads the calls the tracer sends it ([`StudentCall`], one JSON line each) for `dojo
//! why`, the transcript and the class dashboard.
//!
//! What it costs and what it changes is said in docs/instructors.md: a traced process cannot
//! be traced again (`strace` or `gdb` inside fail with EPERM: `try --no-trace`), and
//! /proc/PID/status shows `Seccomp: 2` for the shell's tree.

pub(crate) mod decode;
pub(crate) mod explain;
pub(crate) mod filter;
pub(crate) mod inspect;
pub(crate) mod rtnl;
pub(crate) mod tracer;

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};

use colored::Colorize;
use nix::unistd::{ForkResult, Pid};
use serde::{Deserialize, Serialize};

use crate::lesson::Lang;
use crate::trace::Syscall;

/// One call the student's command made, as the tracer sends it to the host process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StudentCall {
    /// As the host numbers it.
    pub pid: i32,
    pub call: Syscall,
}

/// Narration wanted for a shell: in which language, and where the calls go besides the
/// terminal (the host process's end of a pipe; none for `attach --host`).
pub(crate) struct Narration {
    pub lang: Lang,
    pub events: Option<OwnedFd>,
}

/// The line a call is said as, `[you] sethostname("web1", 4) = 0`, and its note under it.
pub(crate) fn line(lang: Lang, call: &Syscall) -> String {
    let label = format!("[{}]", crate::i18n::t(lang, "narrate_you")).cyan().bold();
    let text = call.to_string();
    let text = match call.result {
        Ok(_) if call.call.starts_with("execve(") => text.dimmed(),
        Ok(_) => text.green(),
        Err(_) => text.red(),
    };
    let mut out = format!("{label} {text}\r\n");
    if let Some(note) = &call.note {
        let note = format!("      ↳ {}", crate::i18n::msg(lang, note));
        out.push_str(&format!("{}\r\n", note.dimmed()));
    }
    out
}

/// The tracer's side of the host process: the terminal, and the pipe.
struct Said {
    lang: Lang,
    events: Option<File>,
}

impl tracer::Hears for Said {
    fn said(&mut self, pid: i32, call: &Syscall) {
        // stderr, as strace writes: the student's stdout may be a pipe they read.
        let _ = std::io::stderr().write_all(line(self.lang, call).as_bytes());
        if let Some(f) = &mut self.events {
            if let Ok(mut json) = serde_json::to_vec(&StudentCall { pid, call: call.clone() }) {
                json.push(b'\n');
                // Non-blocking: a full pipe drops the event, never stops the student's shell.
                let _ = f.write_all(&json);
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum NarrateError {
    #[error("fork: {0}")]
    Fork(#[from] crate::process::ForkError),
}

/// Fork the tracer for process `first` (forked already, waiting to read `ready`): it seizes
/// `first`, writes 1 to `ready` (0 if it could not: `first` then goes on untraced) and follows
/// the tree until it is gone. Returns the tracer, which the host process holds and reaps.
pub(crate) fn start(first: Pid, ready: OwnedFd, narration: Narration) -> Result<Pid, NarrateError> {
    match crate::process::fork()? {
        ForkResult::Parent { child } => Ok(child),
        ForkResult::Child => {
            crate::hostguard::close_inherited_watchdog_fd();
            // It goes when nsdojo goes, and the shell tree with it (PTRACE_O_EXITKILL).
            let _ = crate::process::die_with_parent();
            keep_only_stdio_and(&[ready.as_raw_fd(), narration.events.as_ref().map_or(-1, AsRawFd::as_raw_fd)]);
            ignore_terminal_signals();
            let mut ready = File::from(ready);
            let seized = nix::sys::ptrace::seize(first, tracer::options());
            let _ = ready.write_all(&[u8::from(seized.is_ok())]);
            drop(ready);
            if seized.is_ok() {
                let events = narration.events.map(File::from);
                if let Some(f) = &events {
                    let _ = nix::fcntl::fcntl(f, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK));
                }
                let mut said = Said { lang: narration.lang, events };
                tracer::Tracer::new(first, &mut said).run();
            }
            // SAFETY: _exit in a forked child.
            unsafe { libc::_exit(0) }
        }
    }
}

/// The tracer holds nothing of the host process's (the agent's socket, the `dojo` socket):
/// only the terminal and the descriptors it uses.
fn keep_only_stdio_and(keep: &[i32]) {
    let mut keep: Vec<i32> = keep.iter().copied().filter(|fd| *fd > 2).collect();
    keep.sort_unstable();
    let mut from = 3u32;
    for fd in keep {
        if fd as u32 > from {
            // SAFETY: close_range on descriptors this forked child does not use.
            unsafe { libc::syscall(libc::SYS_close_range, from, fd as u32 - 1, 0) };
        }
        from = fd as u32 + 1;
    }
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_close_range, from, u32::MAX, 0) };
}

/// Ctrl-C and Ctrl-Z at the terminal are the student's shell's, not the tracer's.
fn ignore_terminal_signals() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    for s in [Signal::SIGINT, Signal::SIGQUIT, Signal::SIGTSTP, Signal::SIGHUP, Signal::SIGTERM] {
        // SAFETY: SIG_IGN installs no handler code.
        let _ = unsafe { signal(s, SigHandler::SigIgn) };
    }
    let _ = nix::sys::signal::pthread_sigmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    );
}

/// In the process `start` traced, before it joins anything: wait for the tracer's word and,
/// if it is traced, install the filter (as root, so no_new_privs is not needed).
pub(crate) fn in_first(ready: OwnedFd) -> bool {
    let mut byte = [0u8];
    let traced = std::io::Read::read_exact(&mut File::from(ready), &mut byte).is_ok() && byte[0] == 1;
    traced && filter::install().is_ok()
}
