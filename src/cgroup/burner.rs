//! A busy-loop child that starts burning CPU only once it is in its group.
//!
//! If a child were forked straight into a busy loop and moved into the
//! group afterwards, its first moments would run unconfined and skew the
//! first sample. So the child is forked *held*: it blocks reading a pipe
//! while the parent writes its pid into `cgroup.procs`, and spins only
//! after [`Burner::release`]. Being blocked, it is also safe to move.
//!
//! `fork` in a multithreaded process is only safe if the child calls
//! async-signal-safe functions; this child calls read(2), prctl(2),
//! getppid(2) and _exit(2) only, and never returns into Rust code. nsdojo's
//! host process is single-threaded anyway. Unit tests (run on the test
//! harness's threads) never fork; examples/cpu_limit.rs exercises this.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::{getpid, pipe, write, ForkResult, Pid};

use crate::process::Pidfd;

/// A forked busy loop, held until released; killed and reaped on drop.
#[derive(Debug)]
pub struct Burner {
    pid: Pid,
    /// The child, held from the fork on: signals go through this, never through `pid`.
    held: Pidfd,
    go: Option<OwnedFd>,
    reaped: bool,
}

fn child(read_end: &OwnedFd, parent: libc::pid_t) -> ! {
    // SAFETY: only async-signal-safe calls; the child never returns.
    unsafe {
        if crate::process::die_with_parent().is_err() {
            libc::_exit(1); // a burner that could outlive the agent must not spin
        }
        // A name students can find in `top`, and the host can find among the agent's children.
        crate::process::set_name(c"nsdojo-burner");
        if libc::getppid() != parent {
            libc::_exit(1); // the parent died before prctl took effect
        }
        let mut byte = 0u8;
        if libc::read(read_end.as_raw_fd(), (&mut byte as *mut u8).cast(), 1) != 1 {
            libc::_exit(0); // the parent dropped us without releasing: don't spin
        }
    }
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

impl Burner {
    /// Fork the child, blocked until [`Burner::release`].
    pub fn spawn_held() -> io::Result<Burner> {
        let (read_end, write_end) = pipe()?;
        let parent = getpid().as_raw();
        // The child runs only `child`, which is async-signal-safe.
        match crate::process::fork()? {
            ForkResult::Child => {
                drop(write_end);
                child(&read_end, parent)
            }
            ForkResult::Parent { child } => {
                let held = match Pidfd::open(child.as_raw()) {
                    Ok(h) => h,
                    Err(e) => {
                        // Our unreaped child: its PID is still its own. Let it run into
                        // `_exit` (the pipe closes) and reap it.
                        drop(write_end);
                        crate::process::reap(child.as_raw());
                        return Err(e);
                    }
                };
                Ok(Burner { pid: child, held, go: Some(write_end), reaped: false })
            }
        }
    }

    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// Let the child start spinning.
    pub fn release(&mut self) -> io::Result<()> {
        if let Some(fd) = self.go.take() {
            write(&fd, b"g")?;
        }
        Ok(())
    }

    /// SIGKILL the child and reap it.
    pub fn stop(mut self) -> io::Result<WaitStatus> {
        self.kill_and_reap()
    }

    fn kill_and_reap(&mut self) -> io::Result<WaitStatus> {
        self.go = None;
        let _ = self.held.signal(Signal::SIGKILL);
        let status =
            crate::process::reap(self.pid.as_raw()).ok_or_else(|| io::Error::from(nix::errno::Errno::ECHILD))?;
        self.reaped = true;
        Ok(status)
    }
}

impl Drop for Burner {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.kill_and_reap();
        }
    }
}
