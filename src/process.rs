//! The processes nsdojo starts and signals: forked through one door, signalled
//! only through a handle that cannot hit a stranger.
//!
//! nsdojo runs as root, so `kill(pid)` with a number that was reaped and reused
//! would signal whatever process got that number. A [`Pidfd`] is taken when a
//! process becomes known and names that process for as long as it is held; the
//! kernel refuses to signal through it once the process is gone (ESRCH). On
//! kernels without pidfds (before 5.3, e.g. the deck's Ubuntu 18.04) the handle
//! falls back to the PID *and its start time*, checked before every signal: a
//! reused PID has another start time. (That check leaves a window of a few
//! microseconds between the read and the kill; pidfds close it.)
//!
//! Forking a process with more than one thread is unsafe (the child inherits
//! locks held by threads that do not exist in it), and `unshare(CLONE_NEWUSER)`
//! fails in one. [`fork`] checks that the caller really is single-threaded and
//! refuses otherwise, loudly, so a future thread cannot slip in unnoticed.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::unistd::ForkResult;

use crate::observe::procfs;

/// How many threads this process has (`Threads:` in /proc/self/status).
pub(crate) fn threads() -> Option<usize> {
    procfs::status(procfs::Proc::Myself).ok()?.threads
}

/// Why [`fork`] refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ForkError {
    #[error("refusing to fork: this process has {0} threads (nsdojo's host must stay single-threaded)")]
    Threaded(usize),
    #[error("fork: {0}")]
    Fork(#[from] Errno),
}

impl From<ForkError> for std::io::Error {
    fn from(e: ForkError) -> Self {
        match e {
            ForkError::Fork(errno) => errno.into(),
            threaded => std::io::Error::other(threaded.to_string()),
        }
    }
}

/// The one `fork()` of nsdojo: only from a single-threaded process. The child must not
/// return into code that assumes it is the parent (each caller's child path ends in
/// `_exit` or `exec`).
pub(crate) fn fork() -> Result<ForkResult, ForkError> {
    match threads() {
        Some(1) => {}
        Some(n) => return Err(ForkError::Threaded(n)),
        // No /proc to ask (a chroot without it): the sandbox agent, which never starts threads.
        None => {}
    }
    // SAFETY: the process has exactly one thread (checked just above), so the child
    // inherits no lock held by another thread; callers keep the child's path short.
    Ok(unsafe { nix::unistd::fork() }?)
}

/// PR_SET_PDEATHSIG(SIGKILL): die with the parent. A raw prctl, async-signal-safe, so it may
/// run in a `pre_exec` hook or a forked child; an error means the process must not run.
pub(crate) fn die_with_parent() -> std::io::Result<()> {
    // SAFETY: prctl with plain integers.
    match unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// PR_SET_CHILD_SUBREAPER: orphans below this process come back to it, not to init.
pub(crate) fn become_subreaper() -> std::io::Result<()> {
    // SAFETY: prctl with plain integers.
    match unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// A name for `ps` and `top` (PR_SET_NAME). Only cosmetic: a failure is ignored on purpose.
pub(crate) fn set_name(name: &std::ffi::CStr) {
    // SAFETY: prctl with a NUL-terminated string that outlives the call.
    let _ = unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr() as libc::c_ulong, 0, 0, 0) };
}

/// A process held by a pidfd (or, on old kernels, by its PID and start time).
#[derive(Debug)]
pub struct Pidfd {
    pid: i32,
    fd: Option<OwnedFd>,
    start_time: Option<u64>,
}

impl Pidfd {
    /// Hold process `pid`. Call it while the process is certainly the one meant: a child
    /// not yet reaped, or right after finding it, then check again that it is (see
    /// [`Pidfd::open_checked`]).
    pub fn open(pid: i32) -> std::io::Result<Pidfd> {
        if pid <= 0 {
            return Err(Errno::EINVAL.into());
        }
        // SAFETY: pidfd_open takes a PID and flags and returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd >= 0 {
            // SAFETY: the kernel just gave us this fd; nothing else owns it.
            let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
            return Ok(Pidfd { pid, fd: Some(fd), start_time: None });
        }
        match Errno::last() {
            Errno::ENOSYS => {
                let start = procfs::stat(pid)?.start_time;
                Ok(Pidfd { pid, fd: None, start_time: Some(start) })
            }
            e => Err(e.into()),
        }
    }

    /// Hold `pid` only if `is_it` still says it is the process meant *after* the handle is
    /// taken: a PID found by a scan of /proc may have been reused in between, and the
    /// check after opening is about the held process.
    pub fn open_checked(pid: i32, is_it: impl Fn(i32) -> bool) -> Option<Pidfd> {
        let held = Pidfd::open(pid).ok()?;
        is_it(pid).then_some(held)
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The pidfd's number (-1 on a kernel without pidfds), for the fatal-signal handler.
    pub fn raw_fd(&self) -> i32 {
        self.fd.as_ref().map_or(-1, AsRawFd::as_raw_fd)
    }

    /// Signal the held process; ESRCH once it is gone (never another process).
    pub fn signal(&self, sig: Signal) -> std::io::Result<()> {
        match &self.fd {
            Some(fd) => {
                // SAFETY: pidfd_send_signal with a pidfd we own, no siginfo, no flags.
                let r = unsafe {
                    libc::syscall(libc::SYS_pidfd_send_signal, fd.as_raw_fd(), sig as libc::c_int, 0usize, 0u32)
                };
                if r == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            }
            None => {
                let now = procfs::stat(self.pid).map(|s| s.start_time).map_err(|_| Errno::ESRCH)?;
                if Some(now) != self.start_time {
                    return Err(Errno::ESRCH.into());
                }
                Ok(nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid), sig)?)
            }
        }
    }

    /// SIGKILL, ignoring ESRCH (already gone).
    pub fn kill(&self) {
        let _ = self.signal(Signal::SIGKILL);
    }
}

/// SIGKILL to every process in the group that `leader` leads. Sound only while the leader
/// is a child of ours not yet reaped: until then its PID, and so the group's ID, cannot be
/// given to anyone else. The one place nsdojo signals a process group.
pub(crate) fn kill_group_of_unreaped_child(leader: i32) {
    if leader > 0 {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(leader), Signal::SIGKILL);
    }
}

/// SIGKILL to a child of ours not yet reaped (its PID cannot have been reused), for when
/// no pidfd could be had.
pub(crate) fn kill_unreaped_child(pid: i32) {
    if pid > 0 {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Stop a child of ours not yet reaped (one adopted while nsdojo was a subreaper): held by a
/// pidfd (sound: until it is reaped its PID is no one else's), killed, then reaped.
pub(crate) fn stop_unreaped_child(pid: i32) -> std::io::Result<()> {
    let held = Pidfd::open(pid)?;
    let killed = held.signal(Signal::SIGKILL);
    reap(pid);
    killed
}

/// Stop a process found by a scan of /proc (not our child): held first, then checked with
/// `is_it` to be the one meant still, and only then killed. Ok(false): it is gone, or the
/// PID is someone else's by now.
pub(crate) fn stop_found(pid: i32, is_it: impl Fn(i32) -> bool) -> std::io::Result<bool> {
    match Pidfd::open_checked(pid, is_it) {
        Some(held) => match held.signal(Signal::SIGKILL) {
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(false),
            r => r.map(|()| true),
        },
        None => Ok(false),
    }
}

/// SIGKILL from the fatal-signal handler, with raw system calls only (async-signal-safe):
/// through the pidfd `fd`; without one (kernel < 5.3), to `pid`, a process the session
/// still tracks (it untracks before reaping); and to the group of `pid` when it is our
/// unreaped child.
pub(crate) fn kill_from_signal_handler(pid: i32, fd: i32, child: bool) {
    // SAFETY: pidfd_send_signal and kill are system calls, safe in a signal handler.
    unsafe {
        if fd >= 0 {
            libc::syscall(libc::SYS_pidfd_send_signal, fd, libc::SIGKILL, 0usize, 0u32);
        } else if pid > 0 {
            libc::kill(pid, libc::SIGKILL);
        }
        if child && pid > 0 {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// Wait for child `pid` to end and reap it, retrying when a signal interrupts the wait
/// (the host's SIGINT handler has no SA_RESTART): a Ctrl-C must not leave a zombie.
pub(crate) fn reap(pid: i32) -> Option<nix::sys::wait::WaitStatus> {
    use nix::sys::wait::{waitpid, WaitStatus};
    loop {
        match waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(s @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => return Some(s),
            // Stopped or continued: it has not ended yet.
            Ok(_) | Err(Errno::EINTR) => continue,
            // ECHILD: not our child, or reaped already.
            Err(_) => return None,
        }
    }
}

/// Has child `pid` exited? Checks without reaping it (`waitid(WNOWAIT)`), so its group can
/// still be killed safely, then the caller reaps it.
pub(crate) fn child_exited(pid: i32) -> bool {
    // SAFETY: waitid fills a siginfo_t we own; WNOWAIT leaves the child waitable.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT);
        r == 0 && info.si_pid() != 0
    }
}

/// A process a try shell left running, adopted by nsdojo and stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Adopted {
    pub pid: i32,
    pub comm: String,
}

/// While a try shell runs, nsdojo adopts what it leaves behind (a `sleep 100 &`, a burner),
/// so those can be stopped when it ends instead of living on, orphaned, on the host.
pub(crate) struct Subreaper {
    before: Vec<i32>,
}

impl Subreaper {
    pub(crate) fn start() -> Subreaper {
        let _ = become_subreaper();
        Subreaper { before: procfs::children_of(std::process::id() as i32) }
    }

    /// Stop and reap what was adopted (children that are neither old nor `shell`), round by
    /// round, since the children of one stopped are adopted next. Each is our child, not yet
    /// reaped (only we reap our children, and not between the scan and the kill), so its PID
    /// is still its own.
    pub(crate) fn finish(self, shell: i32) -> Vec<Adopted> {
        let me = std::process::id() as i32;
        let mut stopped = Vec::new();
        for _ in 0..16 {
            let adopted: Vec<i32> =
                procfs::children_of(me).into_iter().filter(|p| !self.before.contains(p) && *p != shell).collect();
            if adopted.is_empty() {
                break;
            }
            for pid in adopted {
                let comm = procfs::stat(pid).map(|s| s.comm).unwrap_or_default();
                kill_unreaped_child(pid);
                reap(pid);
                stopped.push(Adopted { pid, comm });
            }
        }
        // SAFETY: prctl with plain integers.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) };
        stopped
    }
}

/// A child of ours held from its birth: signalled through its pidfd (or, without one, as our
/// unreaped child), polled and reaped here.
pub(crate) struct HeldChild {
    pid: i32,
    held: Option<Pidfd>,
    reaped: bool,
}

impl HeldChild {
    /// `pid` must be our child, not yet reaped (just forked).
    pub(crate) fn new(pid: i32) -> HeldChild {
        HeldChild { pid, held: Pidfd::open(pid).ok(), reaped: false }
    }

    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    /// Still running (reaped here once it ended).
    pub(crate) fn alive(&mut self) -> bool {
        use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
        if self.reaped {
            return false;
        }
        match waitpid(nix::unistd::Pid::from_raw(self.pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => true,
            Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) | Err(_) => {
                self.reaped = true;
                false
            }
            Ok(_) => true,
        }
    }

    /// SIGKILL, and reap it.
    pub(crate) fn kill(&mut self) {
        if self.reaped {
            return;
        }
        match &self.held {
            Some(p) => p.kill(),
            None => kill_unreaped_child(self.pid),
        }
        reap(self.pid);
        self.reaped = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_harness_is_threaded_so_fork_refuses() {
        // cargo's test harness runs tests on threads: exactly what fork must refuse.
        if threads().unwrap_or(1) > 1 {
            assert!(matches!(fork(), Err(ForkError::Threaded(_))));
        }
    }

    #[test]
    fn a_pidfd_for_ourselves_and_none_for_nonsense() {
        let me = Pidfd::open(std::process::id() as i32).expect("our own pidfd");
        assert_eq!(me.pid(), std::process::id() as i32);
        me.signal(Signal::SIGCONT).expect("signal 0-like SIGCONT to ourselves");
        assert!(Pidfd::open(0).is_err());
        assert!(Pidfd::open(-5).is_err());
        assert!(Pidfd::open_checked(std::process::id() as i32, |_| false).is_none());
    }
}
