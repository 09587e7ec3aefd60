//! The host's safety in one place: whatever nsdojo, or a student's `try` shell, changes on the
//! host is put back, however a session ends, and said in the student's language.
//!
//! One vocabulary (`change.rs`): a [`HostChange`] knows how to revert itself, and an [`Undone`]
//! says what became of it. Everyone who puts the host back speaks it:
//! - a *session record* in `/run/nsdojo/ID.json` (0700 dir) lists every host-visible thing the
//!   session makes (work dirs, cgroup dirs, named netns files, interfaces) *before* it is made
//!   (`record.rs`); quitting cleans what it lists;
//! - a *watchdog*: a tiny process forked at session start that waits for the host process to
//!   go away (a pipe reaching EOF, which happens on quit, panic, SIGTERM, SIGHUP and even
//!   SIGKILL) and then cleans up what the record lists, unless the host said it already did;
//! - `nsdojo cleanup` runs the same routine for records whose owner and watchdog are both gone;
//! - `try`'s undo (`undo.rs`) finds what the shell changed since it began and reverts that; a
//!   record holding an unfinished try has its cleanup do the same;
//! - the leak audit (`audit.rs`) compares the host before and after, and says each difference
//!   as a change.
//!
//! Signals (`signals.rs`): SIGINT sets a flag that interrupts a running step; SIGTERM and SIGHUP
//! kill the sandbox processes, restore the terminal and exit (the watchdog does the rest). Only
//! async-signal-safe calls in handlers.

pub(crate) mod audit;
mod change;
mod record;
mod signals;
pub(crate) mod undo;

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{SigHandler, Signal};

pub use audit::Difference;
pub use change::{remove_netns_files, Cause, HostChange, Outcome, Undone};
pub(crate) use record::recorded_by_sessions;
pub use record::{hand_over_subtree, is_own_dir, record_add, LinkId, Record};
pub use signals::{install_signal_handlers, interrupted, track, untrack, HeldSignals};

pub const RUN_DIR: &str = "/run/nsdojo";
/// The write end of the watchdog's pipe, closed in children that are not the host.
static WATCHDOG_FD: AtomicI32 = AtomicI32::new(-1);

/// The running session: its id, and the pipe that keeps its watchdog waiting.
pub struct Session {
    id: String,
    watchdog_write: Option<OwnedFd>,
}

impl Session {
    /// Start a session: write its record and fork the watchdog.
    pub fn start() -> std::io::Result<Session> {
        let pid = std::process::id() as i32;
        // Unguessable: the id names /tmp/nsdojo-ID, which no other user may create first.
        let mut random = [0u8; 4];
        fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut random))?;
        let id = format!("{pid}-{:08x}", u32::from_le_bytes(random));
        let record = Record { id, owner: pid, ..Default::default() };
        record.create()?;
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        // The child only reads a pipe and cleans files, then _exits.
        match crate::process::fork()? {
            nix::unistd::ForkResult::Child => {
                drop(w);
                watchdog(r, &record.id)
            }
            nix::unistd::ForkResult::Parent { child } => {
                drop(r);
                record_add(&record.id, |rec| rec.watchdog = Some(child.as_raw()))?;
                WATCHDOG_FD.store(w.as_raw_fd(), Ordering::SeqCst);
                Ok(Session { id: record.id, watchdog_write: Some(w) })
            }
        }
    }

    /// A session with no record and no watchdog, for tests that must stop before anything
    /// is recorded: whatever would write its record fails (it has none), and nothing is made.
    #[cfg(test)]
    pub(crate) fn unrecorded(id: &str) -> Session {
        Session { id: id.to_string(), watchdog_write: None }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Record a directory *before* creating it.
    pub fn add_dir(&mut self, d: PathBuf) -> std::io::Result<()> {
        record_add(&self.id, |r| r.dirs.push(d))
    }

    /// Drop a directory from the record without touching it (it turned out not to be ours).
    pub fn forget_dir(&mut self, d: &Path) {
        let _ = record_add(&self.id, |r| r.dirs.retain(|x| x != d));
    }

    /// Record the identity of a directory this session has just made: cleanup removes the
    /// path only while it is still this directory.
    pub fn own_dir(&mut self, d: &Path) -> std::io::Result<()> {
        let id = record::DirId::of(d)?;
        record_add(&self.id, |r| r.dir_ids.push(id))
    }

    /// Remove a directory this session made, only while it still is that directory (its name
    /// is public: if it vanished, someone else may have made one in its place).
    pub fn remove_dir(&mut self, d: &Path) {
        // Kept in the record if the removal failed, for the watchdog or `nsdojo cleanup`.
        if let Ok(rec) = Record::load(&self.id) {
            if rec.remove_own_dir(d).is_err() {
                return;
            }
        }
        let _ = record_add(&self.id, |r| {
            r.dirs.retain(|x| x != d);
            r.dir_ids.retain(|id| id.path != d);
        });
    }

    /// Clean up now and tell the watchdog it has nothing left to do — only if that is true:
    /// with the record unreadable, or something left in it, the watchdog tries too, and the
    /// record stays for `nsdojo cleanup`.
    pub fn finish(&mut self) {
        let all_gone = match Record::load(&self.id) {
            Ok(rec) => {
                rec.clean();
                Record::load(&self.id).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
            }
            Err(_) => false,
        };
        if let Some(w) = self.watchdog_write.take() {
            if all_gone {
                let mut f = fs::File::from(w);
                let _ = f.write_all(b"done");
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.finish();
    }
}

/// In forked children that are not the watchdog (the sandbox agent), drop the
/// inherited write end so the watchdog sees EOF as soon as the host is gone.
pub fn close_inherited_watchdog_fd() {
    let fd = WATCHDOG_FD.swap(-1, Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: the fd was inherited by fork and this process never uses it.
        unsafe {
            libc::close(fd);
        }
    }
}

fn watchdog(r: OwnedFd, id: &str) -> ! {
    let _ = nix::unistd::setsid();
    for s in [Signal::SIGINT, Signal::SIGHUP, Signal::SIGTERM, Signal::SIGQUIT] {
        // SAFETY: ignoring signals; the watchdog must outlive the terminal and the host.
        let _ = unsafe { nix::sys::signal::signal(s, SigHandler::SigIgn) };
    }
    crate::process::set_name(c"nsdojo-watchdog");
    let mut f = fs::File::from(r);
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    if buf != b"done" {
        // The host died without cleaning (or could not finish): do it now, from the record on
        // disk. What still fails stays in the record for `nsdojo cleanup`.
        if let Ok(rec) = Record::load(id) {
            rec.clean();
        }
    }
    // SAFETY: _exit: never run the host's atexit handlers or flush its buffers.
    unsafe { libc::_exit(0) }
}

/// Is a process alive, not a zombie, and named `comm`?
fn alive_as(pid: i32, comm: &str) -> bool {
    let Ok(stat) = crate::observe::procfs::stat(pid) else { return false };
    pid > 0 && stat.comm.starts_with(comm) && stat.state != 'Z' && stat.state != 'X'
}

/// `nsdojo cleanup`: clean records whose owner is gone.
pub fn cleanup_dead() -> Vec<Undone> {
    let mut done = Vec::new();
    for rec in Record::load_all() {
        if !rec.owner_alive() && !rec.watchdog_alive() {
            done.extend(rec.clean());
            let change = HostChange::SessionRecord { id: rec.id.clone() };
            done.push(Undone { change, outcome: Outcome::Reverted, cause: Cause::Session });
        }
    }
    record::tidy_if_unused();
    done
}
