//! The student's side of the classroom: a forked sender process, so that reporting to the
//! class server never blocks, slows or threads the REPL.
//!
//! The REPL numbers each event and writes it, one JSON line, into a non-blocking pipe; it
//! never waits on the network. The sender (`nsdojo-class`, no privileges: it becomes the
//! invoking user, or nobody) keeps a queue in memory, posts it in batches and drops what the
//! server acknowledges; when the server is down it retries with backoff (up to 5 s apart), so
//! events made while offline arrive when the server is back, in order, each once (the server
//! stores a student's `seq` once). When the REPL ends, the sender has 10 s to deliver the rest
//! (a `left` is added if the REPL was killed before it could say so); what is still undelivered
//! then is kept in the student's outbox and sent first by the next session in that class.
//!
//! A second pipe carries notes back (`Msg`s, one JSON line each: the server is unreachable; it is back); the
//! REPL shows them between commands, once each.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::protocol::{Ack, Batch, ClassEvent, Sequenced, MAX_BATCH, MAX_BODY};
use crate::msg::Msg;

/// Events the sender holds at most (a whole workshop is a few hundred).
const QUEUE_CAP: usize = 10_000;
/// How long the sender keeps trying once the session has ended (`NSDOJO_CLASS_LINGER`
/// seconds, default 10); what is left then waits in the outbox for the next session.
fn linger() -> Duration {
    let secs = std::env::var("NSDOJO_CLASS_LINGER").ok().and_then(|s| s.parse().ok()).unwrap_or(10u64);
    Duration::from_secs(secs.min(600))
}
const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ClassError {
    #[error("`{0}` is not a class address: expected http://ADDR:PORT/JOINCODE, as `nsdojo serve` prints it")]
    BadUrl(String),
    #[error("cannot start the class sender: {0}")]
    Start(#[from] nix::Error),
    #[error("cannot start the class sender: {0}")]
    Fork(#[from] crate::process::ForkError),
}

/// What the REPL holds: the write end of the event pipe and the read end of the notes.
pub struct ClassLink {
    events: Option<std::fs::File>,
    notes: std::fs::File,
    seq: u64,
    /// Events the pipe refused (the sender is gone or stuck).
    pub dropped: u64,
    pub present: bool,
    pending_note: String,
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// 16 random hex digits.
fn student_id() -> String {
    let mut b = [0u8; 8];
    let _ = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `SUDO_USER@hostname`, or the user's name from the environment.
pub fn default_name() -> String {
    let user = std::env::var("SUDO_USER").or_else(|_| std::env::var("USER")).unwrap_or_else(|_| "root".into());
    let host = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
    format!("{user}@{host}")
}

/// Free bytes in a pipe: its size less what is unread in it.
fn room(pipe: &std::fs::File) -> usize {
    let fd = pipe.as_raw_fd();
    let size = fcntl(pipe, FcntlArg::F_GETPIPE_SZ).unwrap_or(4096) as usize;
    let mut unread: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int to the pointer given.
    if unsafe { libc::ioctl(fd, libc::FIONREAD, &mut unread) } < 0 {
        return 0;
    }
    size.saturating_sub(unread.max(0) as usize)
}

fn set_nonblocking(fd: &OwnedFd) -> nix::Result<()> {
    let flags = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).map(|_| ())
}

impl ClassLink {
    /// Fork the sender for the class at `url` (`http://ADDR:PORT/JOINCODE`).
    pub fn join(url: &str, name: &str, present_token: Option<&str>) -> Result<ClassLink, ClassError> {
        let (base, code) = super::protocol::parse_join_url(url).ok_or_else(|| ClassError::BadUrl(url.to_string()))?;
        // What an earlier session could not deliver waits here, the student's own file; without
        // it (no home) events live only as long as the sender.
        let outbox = crate::progress::invoking_home()
            .map(|home| home.join(format!(".local/state/nsdojo/class/{code}.outbox")))
            .and_then(|path| crate::userfile::open_rw_for_invoker(&path).ok());
        let (ev_r, ev_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        let (note_r, note_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        set_nonblocking(&ev_w)?;
        // Room for a burst while the sender is posting (the default is 64 KiB); best effort.
        let _ = fcntl(&ev_w, FcntlArg::F_SETPIPE_SZ(1 << 20));
        set_nonblocking(&note_r)?;
        set_nonblocking(&note_w)?;
        let batch_head = Batch {
            student: student_id(),
            name: name.chars().take(64).collect(),
            events: Vec::new(),
            present_token: present_token.map(str::to_string),
        };
        match crate::process::fork()? {
            nix::unistd::ForkResult::Child => {
                drop(ev_w);
                drop(note_r);
                // Hold nothing of the REPL's: not its terminal (a pty ends only when every
                // holder closes it), not the watchdog's pipe (its EOF is the REPL's death).
                let mut keep = vec![ev_r.as_raw_fd(), note_w.as_raw_fd()];
                keep.extend(outbox.as_ref().map(|f| f.as_raw_fd()));
                keep_only(&keep);
                crate::process::set_name(c"nsdojo-class");
                // Its own process group: Ctrl-C at the student's terminal is for the REPL.
                let _ = nix::unistd::setpgid(nix::unistd::Pid::from_raw(0), nix::unistd::Pid::from_raw(0));
                drop_privileges();
                let mut sender = Sender::new(base, code, batch_head, std::fs::File::from(note_w), outbox);
                sender.load_outbox();
                let code = sender.run(ev_r);
                // SAFETY: _exit skips the parent's atexit handlers and destructors, as a forked
                // child must.
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { .. } => {
                drop(ev_r);
                drop(note_w);
                drop(outbox);
                Ok(ClassLink {
                    events: Some(std::fs::File::from(ev_w)),
                    notes: std::fs::File::from(note_r),
                    seq: 0,
                    dropped: 0,
                    present: present_token.is_some(),
                    pending_note: String::new(),
                })
            }
        }
    }

    /// Queue one event; never blocks (a full pipe drops it and counts it).
    pub fn send(&mut self, event: ClassEvent) {
        let Some(pipe) = self.events.as_mut() else { return };
        self.seq += 1;
        let mut line = serde_json::to_vec(&Sequenced { seq: self.seq, at_ms: unix_ms(), event }).unwrap_or_default();
        line.push(b'\n');
        // Written whole or not at all: a presenter step can be longer than PIPE_BUF, and a
        // partial write would split it. Only this process writes, so room seen is room kept.
        if room(pipe) < line.len() || pipe.write_all(&line).is_err() {
            self.dropped += 1;
        }
    }

    /// A note from the sender to show now (one JSON line each), if one came.
    pub fn note(&mut self) -> Option<Msg> {
        let mut buf = [0u8; 1024];
        while let Ok(n) = self.notes.read(&mut buf) {
            if n == 0 {
                break;
            }
            self.pending_note.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        loop {
            let end = self.pending_note.find('\n')?;
            let line: String = self.pending_note.drain(..=end).collect();
            // Both ends are this build; a line that does not parse is skipped, not shown raw.
            if let Ok(note) = serde_json::from_str(&line) {
                return Some(note);
            }
        }
    }
}

impl Drop for ClassLink {
    /// The session ends: say so, and let the sender deliver the rest on its own.
    fn drop(&mut self) {
        self.send(ClassEvent::Left);
        self.events = None;
    }
}

/// Close every descriptor but `keep`; stdin, stdout and stderr become /dev/null.
fn keep_only(keep: &[std::os::fd::RawFd]) {
    if let Ok(null) = std::fs::File::options().read(true).write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdin(&null);
        let _ = nix::unistd::dup2_stdout(&null);
        let _ = nix::unistd::dup2_stderr(&null);
    }
    let open: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    for fd in open.into_iter().filter(|fd| *fd > 2 && !keep.contains(fd)) {
        let _ = nix::unistd::close(fd);
    }
}

/// The sender talks to the network for the student: it needs no root. Under sudo it becomes
/// the invoking user, else nobody.
fn drop_privileges() {
    let id = |v: &str| std::env::var(v).ok().and_then(|s| s.parse::<u32>().ok());
    let (uid, gid) = match (id("SUDO_UID"), id("SUDO_GID")) {
        (Some(u), Some(g)) if u != 0 => (u, g),
        _ => (65534, 65534),
    };
    if nix::unistd::getuid().is_root() {
        let _ = nix::unistd::setgroups(&[]);
        let _ = nix::unistd::setresgid(gid.into(), gid.into(), gid.into());
        let _ = nix::unistd::setresuid(uid.into(), uid.into(), uid.into());
    }
}

/// Why a batch did not arrive; the sender tells the student once, then retries.
#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error("cannot encode the events: {0}")]
    Encode(serde_json::Error),
    #[error("the class server at {url} does not answer ({why})")]
    Unreachable { url: String, why: String },
    #[error("the class server refused the events ({status}: {text})")]
    Refused { status: u16, text: String },
    #[error("the class server's answer is not an ack")]
    NotAnAck,
}

impl SendError {
    /// Why, as a message the REPL shows in the student's language.
    fn msg(&self) -> Msg {
        match self {
            SendError::Encode(e) => Msg::ClassEncode(e.to_string()),
            SendError::Unreachable { url, why } => Msg::ClassUnreachable { url: url.clone(), why: why.clone() },
            SendError::Refused { status, text } => Msg::ClassRefused { status: *status, text: text.clone() },
            SendError::NotAnAck => Msg::ClassNotAck,
        }
    }
}

struct Sender {
    url: String,
    head: Batch,
    queue: VecDeque<Sequenced>,
    /// Earlier sessions' events that never arrived (the server was down when they ended),
    /// each batch with its own student id: sent first, in order.
    earlier: VecDeque<Batch>,
    /// Where what is still undelivered is kept when the sender ends (the student's own
    /// `~/.local/state/nsdojo/class/CODE.outbox`, opened by the REPL as the student).
    outbox: Option<std::fs::File>,
    notes: std::fs::File,
    agent: ureq::Agent,
    /// The server was unreachable at the last try (a note was sent).
    offline: bool,
    saw_left: bool,
    last_seq: u64,
}

impl Sender {
    fn new(base: String, code: String, head: Batch, notes: std::fs::File, outbox: Option<std::fs::File>) -> Sender {
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(2)))
            .timeout_global(Some(Duration::from_secs(4)))
            .http_status_as_error(false)
            .build();
        Sender {
            url: format!("{base}/api/join/{code}/events"),
            head,
            queue: VecDeque::new(),
            earlier: VecDeque::new(),
            outbox,
            notes,
            agent: config.into(),
            offline: false,
            saw_left: false,
            last_seq: 0,
        }
    }

    /// What an earlier session left in the outbox: one batch per line.
    fn load_outbox(&mut self) {
        // One session of this student in this class at a time owns the outbox; a second one
        // at the same moment keeps its events in memory only, rather than overwrite the first's.
        // SAFETY: flock on a descriptor this process owns; no memory is involved.
        let locked = self
            .outbox
            .as_ref()
            .is_some_and(|f| unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0);
        if !locked {
            self.outbox = None;
        }
        let mut text = String::new();
        if let Some(f) = self.outbox.as_mut() {
            let _ = f.read_to_string(&mut text);
        }
        self.earlier = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Batch>(l).ok())
            .filter(|b| !b.events.is_empty() && b.student != self.head.student)
            .collect();
    }

    /// Keep what is still undelivered for the next session (or empty the outbox).
    fn save_outbox(&mut self) {
        let current = Batch { events: self.queue.iter().cloned().collect(), ..self.head.clone() };
        let mut text = String::new();
        for b in self.earlier.iter().chain(std::iter::once(&current)).filter(|b| !b.events.is_empty()) {
            if let Ok(line) = serde_json::to_string(b) {
                text.push_str(&line);
                text.push('\n');
            }
        }
        if let Some(f) = self.outbox.as_mut() {
            use std::io::Seek;
            let _ = f.set_len(0).and_then(|_| f.rewind()).and_then(|_| f.write_all(text.as_bytes()));
        }
    }

    fn pending(&self) -> bool {
        !self.queue.is_empty() || !self.earlier.is_empty()
    }

    fn note(&mut self, note: &Msg) {
        if let Ok(line) = serde_json::to_string(note) {
            let _ = self.notes.write_all(format!("{line}\n").as_bytes());
        }
    }

    fn run(mut self, events: OwnedFd) -> i32 {
        let mut input = std::fs::File::from(events);
        let mut partial = Vec::new();
        let mut open = true;
        let mut closed_at: Option<Instant> = None;
        let mut backoff = Duration::from_millis(200);
        let mut next_try = Instant::now();
        let linger = linger();
        loop {
            let wait = if !self.pending() {
                if !open {
                    self.save_outbox();
                    return 0;
                }
                PollTimeout::NONE
            } else {
                let ms = next_try.saturating_duration_since(Instant::now()).as_millis().min(5_000) as u16;
                PollTimeout::from(ms)
            };
            if open {
                let mut fds = [PollFd::new(input.as_fd(), PollFlags::POLLIN)];
                let _ = poll(&mut fds, wait);
                let mut buf = [0u8; 8192];
                match input.read(&mut buf) {
                    Ok(0) => {
                        open = false;
                        closed_at = Some(Instant::now());
                        if !self.saw_left {
                            // The REPL was killed before it could say goodbye.
                            self.push(Sequenced { seq: self.last_seq + 1, at_ms: unix_ms(), event: ClassEvent::Left });
                        }
                    }
                    Ok(n) => partial.extend_from_slice(&buf[..n]),
                    Err(_) => {}
                }
                while let Some(end) = partial.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = partial.drain(..=end).collect();
                    if let Ok(e) = serde_json::from_slice::<Sequenced>(&line) {
                        self.push(e);
                    }
                }
            } else {
                std::thread::sleep(next_try.saturating_duration_since(Instant::now()));
            }
            if closed_at.is_some_and(|t| t.elapsed() > linger) {
                self.save_outbox();
                return 1;
            }
            if !self.pending() || Instant::now() < next_try {
                continue;
            }
            match self.post() {
                Ok(acked) => {
                    match self.earlier.front_mut() {
                        Some(old) => {
                            old.events.retain(|e| e.seq > acked);
                            if old.events.is_empty() {
                                self.earlier.pop_front();
                            }
                        }
                        None => {
                            while self.queue.front().is_some_and(|e| e.seq <= acked) {
                                self.queue.pop_front();
                            }
                        }
                    }
                    if self.offline {
                        self.offline = false;
                        self.note(&Msg::ClassBack);
                    }
                    backoff = Duration::from_millis(200);
                    next_try = Instant::now();
                }
                Err(why) => {
                    if !self.offline {
                        self.offline = true;
                        self.note(&Msg::ClassOffline(Box::new(why.msg())));
                    }
                    next_try = Instant::now() + backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    fn push(&mut self, e: Sequenced) {
        self.saw_left |= matches!(e.event, ClassEvent::Left);
        self.last_seq = self.last_seq.max(e.seq);
        if self.queue.len() >= QUEUE_CAP {
            self.queue.pop_front();
        }
        self.queue.push_back(e);
    }

    /// One batch: as many queued events as fit; the server's `acked`.
    fn post(&mut self) -> Result<u64, SendError> {
        // An earlier session's leftovers first, under that session's own student id.
        let (head, events): (&Batch, Vec<&Sequenced>) = match self.earlier.front() {
            Some(old) => (old, old.events.iter().collect()),
            None => (&self.head, self.queue.iter().collect()),
        };
        let mut batch = Batch { events: Vec::new(), ..head.clone() };
        let mut size = 200;
        for e in events.into_iter().take(MAX_BATCH) {
            let len = serde_json::to_vec(e).map_or(0, |v| v.len()) + 1;
            if size + len > MAX_BODY && !batch.events.is_empty() {
                break;
            }
            size += len;
            batch.events.push(e.clone());
        }
        let body = serde_json::to_vec(&batch).map_err(SendError::Encode)?;
        let reply = self
            .agent
            .post(&self.url)
            .header("content-type", "application/json")
            .send(&body[..])
            .map_err(|e| SendError::Unreachable { url: self.url.clone(), why: e.to_string() })?;
        let status = reply.status().as_u16();
        let mut text = String::new();
        let _ = reply.into_body().into_reader().take(4096).read_to_string(&mut text);
        if status != 200 {
            return Err(SendError::Refused { status, text: text.trim().to_string() });
        }
        serde_json::from_str::<Ack>(&text).map(|a| a.acked).map_err(|_| SendError::NotAnAck)
    }
}
