//! Host ↔ agent messages over a socketpair: a 4-byte little-endian length,
//! then JSON. JSON keeps the protocol debuggable (`strace -s 999` shows it)
//! and the messages are small; a frame is capped so a confused peer cannot
//! make the other side allocate without bound.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::lesson::Action;
use crate::observe::{InsideFacts, Needs};
use crate::trace::Trace;

pub const MAX_FRAME: usize = 16 << 20;

#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    Perform(Action),
    Observe(Needs),
    /// Several actions in one round trip, stopping at the first that fails (outside `try`),
    /// then, if asked, the inside facts: a step costs two round trips instead of one per action.
    Batch {
        actions: Vec<Action>,
        observe: Option<Needs>,
    },
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    Performed(Outcome),
    Observed(Box<InsideFacts>),
    Batched { outcomes: Vec<Outcome>, observed: Option<Box<InsideFacts>> },
}

/// Output of a shell command run for a step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShellOutput {
    pub stdout: String,
    pub stderr: String,
    pub status: i32,
    pub timed_out: bool,
    /// Stopped by Ctrl-C on the host: the step stops too.
    #[serde(default)]
    pub interrupted: bool,
}

/// What performing one action did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub trace: Trace,
    pub output: Option<ShellOutput>,
    /// Why the action failed, in one line; None on success.
    pub error: Option<String>,
    /// The agent forked (`unshare pid`) and its child now answers.
    pub forked_agent: bool,
    /// PID (as the agent sees it) of a CPU burner it started (`burn`).
    pub burner_pid: Option<i32>,
    /// The burner is `stress`, whose child does the burning.
    pub burner_is_stress: bool,
    /// %CPU samples taken by the host while the burner ran.
    pub meter: Vec<MeterSample>,
}

/// One reading of the live meter, like a line of `top`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeterSample {
    pub at_ms: u64,
    pub percent: f64,
    /// Whether the burner was in the session's cgroup at that moment (None: no group).
    pub confined: Option<bool>,
    pub nr_throttled: Option<u64>,
}

impl Eq for MeterSample {}

pub fn send<T: Serialize>(stream: &mut UnixStream, msg: &T) -> io::Result<()> {
    let body = serde_json::to_vec(msg).map_err(io::Error::other)?;
    let mut frame = Vec::with_capacity(body.len() + 4);
    frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
    frame.extend_from_slice(&body);
    stream.write_all(&frame)
}

/// Read one frame. `interrupted` is polled when a signal interrupts the read,
/// so Ctrl-C during a step can abandon it.
pub fn recv<T: DeserializeOwned>(stream: &mut UnixStream, interrupted: &dyn Fn() -> bool) -> io::Result<T> {
    let mut len = [0u8; 4];
    read_full(stream, &mut len, interrupted)?;
    let n = u32::from_le_bytes(len) as usize;
    if n > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("frame of {n} bytes is too large")));
    }
    let mut body = vec![0u8; n];
    read_full(stream, &mut body, interrupted)?;
    serde_json::from_slice(&body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn read_full(stream: &mut UnixStream, mut buf: &mut [u8], interrupted: &dyn Fn() -> bool) -> io::Result<()> {
    while !buf.is_empty() {
        match stream.read(buf) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the sandbox closed the connection")),
            Ok(n) => buf = &mut buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                if interrupted() {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_oversized_frame() {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        send(&mut a, &Request::Perform(Action::Mkdir("/x".into()))).unwrap();
        let got: Request = recv(&mut b, &|| false).unwrap();
        assert!(matches!(got, Request::Perform(Action::Mkdir(p)) if p == "/x"));
        a.write_all(&(u32::MAX).to_le_bytes()).unwrap();
        let err = recv::<Request>(&mut b, &|| false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        drop(a);
        assert_eq!(recv::<Request>(&mut b, &|| false).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }
}
