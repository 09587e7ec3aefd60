//! The student's terminal for `check --solve`: nsdojo's own REPL, started on a pty exactly as
//! a student starts it, read and typed into. The solver forks it through the one
//! [`crate::process::fork`] (it stays single-threaded) and execs this very binary.
//!
//! Ending it closes the pty, which hangs up the REPL's session: the REPL treats SIGHUP as
//! being ended (its try shell stopped, the host put back), so nothing is left behind even
//! when the solver stops early.

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use nix::unistd::ForkResult;

use crate::process::{fork, HeldChild};

/// Why the terminal could not be had.
#[derive(Debug, thiserror::Error)]
pub enum PtyError {
    #[error("openpty: {0}")]
    Open(nix::Error),
    #[error("{0}")]
    Fork(#[from] crate::process::ForkError),
    #[error("{0}: {1}")]
    Io(&'static str, std::io::Error),
    #[error("the REPL ended (its output so far: {0:?})")]
    Ended(String),
}

/// A REPL on a pty.
pub struct Pty {
    master: OwnedFd,
    child: HeldChild,
    /// What was read and not yet taken by [`Pty::expect`].
    pending: String,
    raw: Vec<u8>,
    eof: bool,
}

impl Pty {
    /// Run `exe args…` in `cwd` on a new pty (200 columns) with `env` as its whole environment.
    pub fn spawn(
        exe: &std::path::Path,
        args: &[OsString],
        env: &[(OsString, OsString)],
        cwd: &std::path::Path,
    ) -> Result<Pty, PtyError> {
        let size = nix::pty::Winsize { ws_row: 50, ws_col: 200, ws_xpixel: 0, ws_ypixel: 0 };
        let pty = nix::pty::openpty(Some(&size), None).map_err(PtyError::Open)?;
        // Everything the child needs is made before the fork: after it, only system calls.
        let cstr = |b: &[u8]| CString::new(b).map_err(|e| PtyError::Io("exec", std::io::Error::other(e)));
        let path = cstr(exe.as_os_str().as_bytes())?;
        let dir = cstr(cwd.as_os_str().as_bytes())?;
        let mut argv = vec![path.clone()];
        for a in args {
            argv.push(cstr(a.as_bytes())?);
        }
        let envp = env
            .iter()
            .map(|(k, v)| cstr(&[k.as_bytes(), b"=", v.as_bytes()].concat()))
            .collect::<Result<Vec<_>, _>>()?;
        match fork()? {
            ForkResult::Child => {
                let slave = pty.slave.as_raw_fd();
                // SAFETY: plain system calls on fds we own, then exec or _exit.
                unsafe {
                    if libc::chdir(dir.as_ptr()) != 0 {
                        libc::_exit(126);
                    }
                    libc::setsid();
                    libc::ioctl(slave, libc::TIOCSCTTY, 0);
                    for fd in 0..3 {
                        libc::dup2(slave, fd);
                    }
                    libc::close(pty.master.as_raw_fd());
                    if slave > 2 {
                        libc::close(slave);
                    }
                }
                let _ = nix::unistd::execve(&path, &argv, &envp);
                // SAFETY: the exec failed; leave without running the parent's code.
                unsafe { libc::_exit(127) }
            }
            ForkResult::Parent { child } => {
                drop(pty.slave);
                let flags = nix::fcntl::fcntl(&pty.master, nix::fcntl::FcntlArg::F_GETFL)
                    .map_err(|e| PtyError::Io("fcntl", e.into()))?;
                let flags = nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
                nix::fcntl::fcntl(&pty.master, nix::fcntl::FcntlArg::F_SETFL(flags))
                    .map_err(|e| PtyError::Io("fcntl", e.into()))?;
                Ok(Pty {
                    master: pty.master,
                    child: HeldChild::new(child.as_raw()),
                    pending: String::new(),
                    raw: Vec::new(),
                    eof: false,
                })
            }
        }
    }

    /// The REPL's PID.
    pub fn pid(&self) -> i32 {
        self.child.pid()
    }

    /// Type `text` and Enter.
    pub fn line(&mut self, text: &str) -> Result<(), PtyError> {
        self.send(format!("{text}\n").as_bytes())
    }

    /// Type raw bytes (`\x03` is Ctrl-C).
    pub fn send(&mut self, mut bytes: &[u8]) -> Result<(), PtyError> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !bytes.is_empty() {
            match nix::unistd::write(&self.master, bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) if Instant::now() < deadline => {
                    // The REPL is not reading: let it catch up.
                    self.fill(Duration::from_millis(20));
                }
                Err(e) => return Err(PtyError::Io("write", e.into())),
            }
        }
        Ok(())
    }

    /// Read for up to `wait` (less if something arrives).
    fn fill(&mut self, wait: Duration) {
        if self.eof {
            return;
        }
        let mut fds = [libc::pollfd { fd: self.master.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
        // SAFETY: one pollfd we own.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, wait.as_millis().min(i32::MAX as u128) as i32) };
        if n <= 0 {
            return;
        }
        let mut buf = [0u8; 8192];
        loop {
            match nix::unistd::read(&self.master, &mut buf) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.raw.extend_from_slice(&buf[..n]),
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => break,
                // EIO: every process on the pty is gone.
                Err(_) => {
                    self.eof = true;
                    break;
                }
            }
        }
        // Only whole UTF-8 characters move on; a split one waits for its rest.
        let whole = match std::str::from_utf8(&self.raw) {
            Ok(_) => self.raw.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => self.raw.len(),
        };
        let text: Vec<u8> = self.raw.drain(..whole).collect();
        self.pending.push_str(&String::from_utf8_lossy(&text).replace('\r', ""));
    }

    /// Wait up to `wait` for `found` to match what was read: the text up to and including the
    /// match is taken and returned; `None` when the time is up (nothing is taken).
    pub fn expect(&mut self, wait: Duration, found: impl Fn(&str) -> Option<usize>) -> Option<String> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(end) = found(&self.pending) {
                return Some(self.pending.drain(..end).collect());
            }
            let now = Instant::now();
            if now >= deadline || self.eof {
                return None;
            }
            self.fill(deadline - now);
        }
    }

    /// Take everything read so far, after reading for `wait`.
    pub fn take(&mut self, wait: Duration) -> String {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline && !self.eof {
            self.fill(deadline - Instant::now());
        }
        std::mem::take(&mut self.pending)
    }

    pub fn ended(&self) -> Option<PtyError> {
        self.eof.then(|| PtyError::Ended(self.pending.clone()))
    }

    /// Wait up to `wait` for the REPL to end by itself, then end it.
    pub fn close(mut self, wait: Duration) -> String {
        let deadline = Instant::now() + wait;
        let mut seen = String::new();
        while self.child.alive() && Instant::now() < deadline {
            seen.push_str(&self.take(Duration::from_millis(50)));
        }
        // Dropping the master hangs the REPL up; the kill is for one that still hangs on.
        drop(self.master);
        let end = Instant::now() + Duration::from_secs(5);
        while self.child.alive() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child.kill();
        seen
    }
}

/// Where `needle` ends in `hay`, for [`Pty::expect`].
pub fn after(needle: &str) -> impl Fn(&str) -> Option<usize> + '_ {
    move |hay| hay.find(needle).map(|i| i + needle.len())
}
