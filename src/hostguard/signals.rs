//! Signals in the host process: SIGINT sets a flag that interrupts a running
//! step; SIGTERM and SIGHUP kill the sandbox processes (through their pidfds),
//! restore the terminal and exit, leaving the rest to the watchdog. Handlers
//! make only async-signal-safe calls and read only a fixed, lock-free table.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// What the fatal-signal handler kills: each sandbox process by its pidfd (a number
/// alone could have been reused), and, for the agent that is our own unreaped child, its
/// process group too. Fixed-size and lock-free, because a signal handler reads it.
struct Tracked {
    pid: AtomicI32,
    /// The pidfd, or -1 on a kernel without pidfds (then the PID is used).
    fd: AtomicI32,
    /// Our own child, not yet reaped: its process group cannot be anyone else's.
    child: AtomicBool,
}

const NO_PID: i32 = 0;
const CLAIMED: i32 = -1;
const TRACKED: usize = 64;
static PIDS: [Tracked; TRACKED] =
    [const { Tracked { pid: AtomicI32::new(NO_PID), fd: AtomicI32::new(-1), child: AtomicBool::new(false) } }; TRACKED];
static mut SAVED_TERMIOS: Option<libc::termios> = None;

/// Remember a sandbox process so a fatal signal can kill it. The table is full only if
/// something leaks handles; then say so, loudly, rather than drop the entry silently.
pub fn track(p: &crate::process::Pidfd, child: bool) {
    for slot in &PIDS {
        // Claimed with a placeholder, filled, then published: the handler (which skips
        // PIDs <= 0) never sees a PID without its pidfd.
        if slot.pid.compare_exchange(NO_PID, CLAIMED, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            slot.fd.store(p.raw_fd(), Ordering::SeqCst);
            slot.child.store(child, Ordering::SeqCst);
            slot.pid.store(p.pid(), Ordering::SeqCst);
            return;
        }
    }
    eprintln!(
        "nsdojo: internal error: {TRACKED} sandbox processes tracked already; process {} would survive a fatal signal",
        p.pid()
    );
}

/// Forget a process before its pidfd is closed.
pub fn untrack(p: &crate::process::Pidfd) {
    for slot in &PIDS {
        if slot.pid.load(Ordering::SeqCst) == p.pid() && slot.fd.load(Ordering::SeqCst) == p.raw_fd() {
            // The PID first: the handler skips a slot without one, and must never see this
            // slot's PID with its pidfd already gone (it would fall back to the number).
            slot.pid.store(NO_PID, Ordering::SeqCst);
            slot.child.store(false, Ordering::SeqCst);
            slot.fd.store(-1, Ordering::SeqCst);
        }
    }
}

/// True once after Ctrl-C was pressed during a step.
pub fn interrupted() -> bool {
    INTERRUPTED.swap(false, Ordering::SeqCst)
}

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

extern "C" fn on_fatal(sig: libc::c_int) {
    // Only async-signal-safe calls: pidfd_send_signal, kill, tcsetattr, write, _exit.
    for slot in &PIDS {
        let pid = slot.pid.load(Ordering::SeqCst);
        if pid <= 0 {
            continue;
        }
        crate::process::kill_from_signal_handler(
            pid,
            slot.fd.load(Ordering::SeqCst),
            slot.child.load(Ordering::SeqCst),
        );
    }
    // SAFETY: reading a value written once before handlers were installed; tcsetattr is async-signal-safe.
    unsafe {
        if let Some(t) = *std::ptr::addr_of!(SAVED_TERMIOS) {
            libc::tcsetattr(0, libc::TCSANOW, &t);
        }
        let msg = b"\nnsdojo: terminated; the sandbox was killed and the watchdog cleans up\n";
        libc::write(2, msg.as_ptr().cast(), msg.len());
        libc::_exit(128 + sig);
    }
}

/// Install the handlers (call once, early, before any sandbox exists).
pub fn install_signal_handlers() {
    // SAFETY: tcgetattr fills a termios we own; done before any handler can read it.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::isatty(0) == 1 && libc::tcgetattr(0, &mut t) == 0 {
            *std::ptr::addr_of_mut!(SAVED_TERMIOS) = Some(t);
        }
    }
    // No SA_RESTART: a blocking read on the sandbox socket must return EINTR.
    let int = SigAction::new(SigHandler::Handler(on_interrupt), SaFlags::empty(), SigSet::empty());
    let fatal = SigAction::new(SigHandler::Handler(on_fatal), SaFlags::empty(), SigSet::all());
    // SAFETY: the handlers only touch atomics and async-signal-safe calls.
    unsafe {
        let _ = sigaction(Signal::SIGINT, &int);
        let _ = sigaction(Signal::SIGTERM, &fatal);
        let _ = sigaction(Signal::SIGHUP, &fatal);
    }
}

/// SIGTERM and SIGHUP wait while a try shell is open (the shell itself starts with none
/// blocked): the host is put back first, then the signal does what it always does (the
/// fatal handler above), when this is dropped.
pub struct HeldSignals(SigSet);

impl HeldSignals {
    pub fn hold() -> HeldSignals {
        let mut set = SigSet::empty();
        set.add(Signal::SIGTERM);
        set.add(Signal::SIGHUP);
        let _ = nix::sys::signal::pthread_sigmask(nix::sys::signal::SigmaskHow::SIG_BLOCK, Some(&set), None);
        HeldSignals(set)
    }

    /// Whether one of them arrived.
    pub fn pending(&self) -> bool {
        // SAFETY: sigpending fills a sigset_t we own, and sigismember only reads it.
        unsafe {
            let mut raw: libc::sigset_t = std::mem::zeroed();
            libc::sigpending(&mut raw);
            [libc::SIGTERM, libc::SIGHUP].iter().any(|s| libc::sigismember(&raw, *s) == 1)
        }
    }
}

impl Drop for HeldSignals {
    fn drop(&mut self) {
        // A pending SIGTERM or SIGHUP is delivered here, to the usual handler.
        let _ = nix::sys::signal::pthread_sigmask(nix::sys::signal::SigmaskHow::SIG_UNBLOCK, Some(&self.0), None);
    }
}
