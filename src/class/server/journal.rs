//! The journal: every stored event, one JSON line each, appended before the sender is told it
//! is held. On start the server replays it, so a server killed mid-lesson comes back with the
//! class exactly as it was (and its `acked` per student tells each sender where to resume).
//!
//! Appends go through one writer thread that does group commit: it writes whatever requests
//! have queued, `fdatasync`s once, and only then answers them all. One sync per batch would
//! cap a class of 300 at the disk's sync rate; one per group costs the same when the room is
//! quiet and far less when it is busy. An ack therefore always means "on disk".

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::state::Class;
use crate::class::protocol::Sequenced;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the journal writer has stopped")]
    Stopped,
}

/// One journal line: who, when the server stored it, and the event as it came.
#[derive(Debug, Serialize, Deserialize)]
struct Line {
    student: String,
    name: String,
    stored_ms: u64,
    #[serde(flatten)]
    event: Sequenced,
}

/// What a replay found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Replayed {
    pub(crate) events: usize,
    /// Lines that did not parse: at most the last one, cut short by a kill in mid-write.
    pub(crate) torn: usize,
}

/// Rebuilds `class` from the journal at `path` (none yet: an empty class).
pub(crate) fn replay(path: &Path, class: &mut Class) -> Result<Replayed, JournalError> {
    let io = |source| JournalError::Io { path: path.to_path_buf(), source };
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Replayed::default()),
        Err(e) => return Err(io(e)),
    };
    let mut out = Replayed::default();
    for line in BufReader::new(f).split(b'\n') {
        let line = line.map_err(io)?;
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Line>(&line) {
            Ok(l) => {
                out.events += class.store(&l.student, &l.name, std::slice::from_ref(&l.event), l.stored_ms).new.len();
            }
            Err(_) => out.torn += 1,
        }
    }
    Ok(out)
}

/// Starts a new class (`serve --new-class`): the journal at `path`, if it holds anything, is
/// renamed to `NAME.<unix seconds>.jsonl` beside it and kept; the new class starts empty.
/// Returns the kept file's path.
pub(crate) fn archive(path: &Path, unix_secs: u64) -> Result<Option<PathBuf>, JournalError> {
    let io = |source| JournalError::Io { path: path.to_path_buf(), source };
    match std::fs::metadata(path) {
        Ok(m) if m.len() > 0 => {}
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    }
    let mut n = 0;
    let kept = loop {
        let suffix = if n == 0 { format!("{unix_secs}.jsonl") } else { format!("{unix_secs}-{n}.jsonl") };
        let p = path.with_extension(suffix);
        if !p.exists() {
            break p;
        }
        n += 1;
    };
    std::fs::rename(path, &kept).map_err(io)?;
    Ok(Some(kept))
}

/// Serializes the lines for events just stored (in the order they were stored).
pub(crate) fn lines(student: &str, name: &str, stored_ms: u64, events: &[Sequenced]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        let line = Line { student: student.into(), name: name.into(), stored_ms, event: e.clone() };
        // A struct of strings and numbers always serializes.
        serde_json::to_writer(&mut out, &line).expect("journal line");
        out.push(b'\n');
    }
    out
}

struct Append {
    bytes: Vec<u8>,
    done: oneshot::Sender<Result<(), std::io::Error>>,
}

/// The handle requests append through; the writer thread ends when every handle is dropped.
#[derive(Clone)]
pub(crate) struct Journal {
    tx: mpsc::Sender<Append>,
    path: PathBuf,
}

impl Journal {
    /// Opens (creates, 0600: it holds names) the journal for appending and starts its writer.
    pub(crate) fn open(path: &Path) -> Result<Journal, JournalError> {
        let io = |source| JournalError::Io { path: path.to_path_buf(), source };
        let mut f =
            std::fs::OpenOptions::new().read(true).append(true).create(true).mode(0o600).open(path).map_err(io)?;
        // A line torn by a kill must stay alone on its line, or the next append joins it.
        let len = f.metadata().map_err(io)?.len();
        if len > 0 {
            let mut last = [0u8];
            f.seek(SeekFrom::Start(len - 1)).and_then(|_| f.read_exact(&mut last)).map_err(io)?;
            if last[0] != b'\n' {
                f.write_all(b"\n").and_then(|_| f.sync_data()).map_err(io)?;
            }
        }
        let (tx, rx) = mpsc::channel::<Append>();
        std::thread::Builder::new().name("journal".into()).spawn(move || writer(f, rx)).map_err(io)?;
        Ok(Journal { tx, path: path.to_path_buf() })
    }

    /// Queues `bytes` and returns a receiver that completes once they (and everything queued
    /// before them) are on disk. Queue while holding the class lock, so the journal's order
    /// is the order events were stored in; await after releasing it.
    pub(crate) fn append(&self, bytes: Vec<u8>) -> oneshot::Receiver<Result<(), std::io::Error>> {
        let (done, rx) = oneshot::channel();
        // A send fails only once the writer is gone; the dropped `done` then reports it.
        let _ = self.tx.send(Append { bytes, done });
        rx
    }

    /// Waits for an append queued with `append`.
    pub(crate) async fn durable(&self, rx: oneshot::Receiver<Result<(), std::io::Error>>) -> Result<(), JournalError> {
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(JournalError::Io { path: self.path.clone(), source }),
            Err(_) => Err(JournalError::Stopped),
        }
    }
}

fn writer(mut f: File, rx: mpsc::Receiver<Append>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        group.extend(rx.try_iter());
        let bytes: Vec<u8> = group.iter().flat_map(|a| a.bytes.iter().copied()).collect();
        // Appends queued behind earlier ones are durable once those are: a group with nothing
        // new to write needs no sync.
        let result = if bytes.is_empty() { Ok(()) } else { f.write_all(&bytes).and_then(|_| f.sync_data()) };
        for a in group {
            let _ = a.done.send(result.as_ref().map(|_| ()).map_err(|e| std::io::Error::new(e.kind(), e.to_string())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::class::protocol::{ClassEvent, Done};

    fn done(seq: u64, step: usize) -> Sequenced {
        Sequenced { seq, at_ms: 5, event: ClassEvent::StepDone { lesson: "uts".into(), step, done: Done::ByHand } }
    }

    #[test]
    fn a_replay_rebuilds_the_class_and_skips_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut bytes = lines("a", "ann", 1000, &[done(1, 1), done(2, 2)]);
        bytes.extend_from_slice(&lines("a", "ann", 1000, &[done(2, 2)])); // a double: ignored
        bytes.extend_from_slice(br#"{"student":"a","name":"ann","stored_ms":1,"se"#);
        std::fs::write(&path, &bytes).unwrap();
        let mut class = Class::default();
        assert_eq!(replay(&path, &mut class).unwrap(), Replayed { events: 2, torn: 1 });
        assert_eq!(class.acked("a"), 2);
        // Reopening puts the next append on a line of its own.
        let j = Journal::open(&path).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            j.durable(j.append(lines("a", "ann", 2000, &[done(3, 3)]))).await.unwrap();
        });
        let mut again = Class::default();
        assert_eq!(replay(&path, &mut again).unwrap(), Replayed { events: 3, torn: 1 });
        drop(j);
        // A new class: the old journal is kept beside, the new one starts empty.
        let kept = archive(&path, 1_765_000_000).unwrap().unwrap();
        assert_eq!(kept, dir.path().join("journal.1765000000.jsonl"));
        assert!(!path.exists());
        assert_eq!(archive(&path, 1_765_000_000).unwrap(), None, "nothing to keep");
        std::fs::write(&path, b"x\n").unwrap();
        assert_eq!(archive(&path, 1_765_000_000).unwrap().unwrap(), dir.path().join("journal.1765000000-1.jsonl"));
        let mut fresh = Class::default();
        assert_eq!(replay(&path, &mut fresh).unwrap(), Replayed::default());
        assert_eq!(replay(&kept, &mut fresh).unwrap().events, 3, "the old class is all there");
    }
}
