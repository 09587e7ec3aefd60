//! Keeping the host as it was, however a session ends.
//!
//! Three mechanisms, one cleanup routine:
//! - a *session record* in `/run/nsdojo/ID.json` (0700 dir) lists every
//!   host-visible thing the session makes (work dirs, later cgroup dirs and
//!   named netns files) *before* it is made;
//! - a *watchdog*: a tiny process forked at session start that waits for
//!   the host process to go away (a pipe reaching EOF, which happens on
//!   quit, panic, SIGTERM, SIGHUP and even SIGKILL) and then cleans up what
//!   the record lists, unless the host said it already did;
//! - `nsdojo cleanup` runs the same routine for records whose owner and
//!   watchdog are both gone.
//!
//! Signals: SIGINT sets a flag that interrupts a running step; SIGTERM and
//! SIGHUP kill the sandbox processes, restore the terminal and exit (the
//! watchdog does the rest). Only async-signal-safe calls in handlers.

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use serde::{Deserialize, Serialize};

pub const RUN_DIR: &str = "/run/nsdojo";

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
const TRACKED: usize = 64;
static PIDS: [Tracked; TRACKED] =
    [const { Tracked { pid: AtomicI32::new(NO_PID), fd: AtomicI32::new(-1), child: AtomicBool::new(false) } }; TRACKED];
static WATCHDOG_FD: AtomicI32 = AtomicI32::new(-1);
static mut SAVED_TERMIOS: Option<libc::termios> = None;

/// Remember a sandbox process so a fatal signal can kill it. The table is full only if
/// something leaks handles; then say so, loudly, rather than drop the entry silently.
pub fn track(p: &crate::process::Pidfd, child: bool) {
    for slot in &PIDS {
        if slot.pid.compare_exchange(NO_PID, p.pid(), Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            slot.fd.store(p.raw_fd(), Ordering::SeqCst);
            slot.child.store(child, Ordering::SeqCst);
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
            slot.fd.store(-1, Ordering::SeqCst);
            slot.child.store(false, Ordering::SeqCst);
            slot.pid.store(NO_PID, Ordering::SeqCst);
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

/// Host-visible things a session makes, removed when it ends.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub owner: i32,
    /// PID of the session's watchdog.
    #[serde(default)]
    pub watchdog: Option<i32>,
    /// Directories to remove recursively (work dirs, rootfs copies).
    pub dirs: Vec<PathBuf>,
    /// cgroup directories to empty and rmdir, deepest first.
    pub cgroups: Vec<PathBuf>,
    /// Names of cgroups about to be made (recorded *before* mkdir): cleanup finds them by name
    /// in every hierarchy, so a crash between mkdir and recording the paths leaks nothing.
    #[serde(default)]
    pub cgroup_names: Vec<String>,
    /// Bind-mounted files to unmount and remove (named netns).
    pub mounts: Vec<PathBuf>,
    /// Host PID of the live sandbox agent (for `nsdojo attach`), and its lesson.
    #[serde(default)]
    pub sandbox: Option<i32>,
    #[serde(default)]
    pub lesson: Option<String>,
    /// Directories the session created that others may share: removed only if empty.
    #[serde(default)]
    pub empty_dirs: Vec<PathBuf>,
}

impl Record {
    fn path(id: &str) -> PathBuf {
        Path::new(RUN_DIR).join(format!("{id}.json"))
    }

    /// Write atomically (tmp + rename), so a crash never leaves half a record.
    pub fn save(&self) -> std::io::Result<()> {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(RUN_DIR)?;
        fs::set_permissions(RUN_DIR, fs::Permissions::from_mode(0o700))?;
        // A temp name of this process's own: another session may hand over a dir to this record.
        let tmp = Path::new(RUN_DIR).join(format!(".{}.{}.tmp", self.id, std::process::id()));
        fs::write(&tmp, serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)?;
        fs::rename(tmp, Self::path(&self.id))
    }

    pub fn load_all() -> Vec<Record> {
        let Ok(dir) = fs::read_dir(RUN_DIR) else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .filter_map(|e| serde_json::from_slice(&fs::read(e.path()).ok()?).ok())
            .collect()
    }

    /// Remove everything listed, then the record. Returns what was removed.
    pub fn clean(&self) -> Vec<String> {
        let mut done = Vec::new();
        for m in &self.mounts {
            let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
            if fs::remove_file(m).is_ok() {
                done.push(format!("netns {}", m.display()));
            }
        }
        let mut cgroups = self.cgroups.clone();
        for name in &self.cgroup_names {
            let mut found = std::collections::BTreeSet::new();
            crate::audit::find_named(Path::new("/sys/fs/cgroup"), 4, &|n| n == name, &mut found);
            cgroups.extend(found.into_iter().map(PathBuf::from).filter(|p| !self.cgroups.contains(p)));
        }
        if !cgroups.is_empty() {
            // Kills what is left inside, removes child groups first, then the groups.
            let mut trace = crate::trace::Trace::default();
            let _ = crate::cgroup::remove_paths(&cgroups, &mut trace);
            for cg in &cgroups {
                if !cg.exists() {
                    done.push(format!("cgroup {}", cg.display()));
                }
            }
        }
        for d in &self.empty_dirs {
            match fs::remove_dir(d) {
                Ok(()) => done.push(format!("empty dir {}", d.display())),
                // Another session still uses it: the last one out removes it.
                Err(_) if d.exists() => self.hand_over(d),
                Err(_) => {}
            }
        }
        for d in &self.dirs {
            if d.exists() && fs::remove_dir_all(d).is_ok() {
                done.push(format!("dir {}", d.display()));
            }
        }
        let _ = fs::remove_file(Self::path(&self.id));
        // Leave no trace: the run dir goes when the last session's record does.
        let _ = fs::remove_dir(RUN_DIR);
        done
    }

    /// Give an emptied-later directory to the live sessions that still have mounts in it.
    fn hand_over(&self, dir: &Path) {
        for other in Record::load_all() {
            if other.id != self.id && other.mounts.iter().any(|m| m.starts_with(dir)) {
                let _ = record_add(&other.id, |r| {
                    if !r.empty_dirs.iter().any(|e| e == dir) {
                        r.empty_dirs.push(dir.to_path_buf());
                    }
                });
            }
        }
    }

    /// Is the session's nsdojo still running? (A zombie is not: it only waits to be reaped.)
    pub fn owner_alive(&self) -> bool {
        alive_as(self.owner, "nsdojo")
    }

    /// Is its watchdog still waiting? (Then it cleans up by itself.)
    pub fn watchdog_alive(&self) -> bool {
        self.watchdog.is_some_and(|w| alive_as(w, "nsdojo-watchdog"))
    }
}

/// One thing `Record::clean` removed ("empty dir /x"), as a line in `lang`.
pub fn removed_line(lang: crate::lesson::Lang, done: &str) -> String {
    use crate::i18n::tf;
    let what = match (done.strip_prefix("empty dir "), done.strip_prefix("dir ")) {
        (Some(p), _) => tf(lang, "removed_empty_dir", &[&p]),
        (None, Some(p)) => tf(lang, "removed_dir", &[&p]),
        // netns and cgroup are names in both languages.
        (None, None) => done.to_string(),
    };
    tf(lang, "removed", &[&what])
}

/// Add to a session's record on disk (the record file is the source of truth,
/// so the watchdog and `nsdojo cleanup` see everything added so far).
pub fn record_add(id: &str, change: impl FnOnce(&mut Record)) -> std::io::Result<()> {
    let mut rec: Record = match fs::read(Record::path(id)) {
        Ok(b) => serde_json::from_slice(&b).map_err(std::io::Error::other)?,
        Err(e) => return Err(e),
    };
    change(&mut rec);
    rec.save()
}

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
        record.save()?;
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

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Record a directory *before* creating it.
    pub fn add_dir(&mut self, d: PathBuf) -> std::io::Result<()> {
        record_add(&self.id, |r| r.dirs.push(d))
    }

    pub fn remove_dir(&mut self, d: &Path) {
        if d.exists() {
            let _ = fs::remove_dir_all(d);
        }
        let _ = record_add(&self.id, |r| r.dirs.retain(|x| x != d));
    }

    /// Clean up now and tell the watchdog it has nothing left to do.
    pub fn finish(&mut self) {
        if let Ok(bytes) = fs::read(Record::path(&self.id)) {
            if let Ok(rec) = serde_json::from_slice::<Record>(&bytes) {
                rec.clean();
            }
        }
        if let Some(w) = self.watchdog_write.take() {
            let mut f = fs::File::from(w);
            let _ = f.write_all(b"done");
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
    // SAFETY: plain prctl with a static C string.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, c"nsdojo-watchdog".as_ptr() as libc::c_ulong, 0, 0, 0);
    }
    let mut f = fs::File::from(r);
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    if buf != b"done" {
        // The host died without cleaning: do it now, from the record on disk.
        if let Ok(bytes) = fs::read(Record::path(id)) {
            if let Ok(rec) = serde_json::from_slice::<Record>(&bytes) {
                rec.clean();
            }
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
pub fn cleanup_dead() -> Vec<String> {
    let mut done = Vec::new();
    for rec in Record::load_all() {
        if !rec.owner_alive() && !rec.watchdog_alive() {
            done.extend(rec.clean());
            done.push(format!("session record {}", rec.id));
        }
    }
    done
}
