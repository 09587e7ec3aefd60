//! Host ↔ agent messages over a socketpair: a 4-byte little-endian length,
//! then JSON. JSON keeps the protocol debuggable (`strace -s 999` shows it)
//! and the messages are small; a frame is capped so a confused peer cannot
//! make the other side allocate without bound.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::lesson::{Action, SandboxAction};
use crate::msg::Msg;
use crate::observe::{InsideFacts, Needs};
use crate::trace::Trace;

pub const MAX_FRAME: usize = 16 << 20;

/// What the host asks of the agent. Not the lesson's AST: only sandbox operations can be
/// written here, so a host action (a cgroup write, `host sh`) cannot reach terminal #1.
#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    /// Perform these operations in order, stopping at the first that fails (outside `try`),
    /// then, if asked, collect the inside facts: a step costs two round trips instead of one
    /// per action.
    Perform {
        ops: Vec<SandboxOp>,
        observe: Option<Needs>,
    },
    Observe(Needs),
}

/// One operation for the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SandboxOp {
    /// A lesson's sandbox action.
    Do(SandboxAction),
    /// `try ACTION`: a failure is recorded (the trace, `step.errno`) and the batch goes on.
    Try(SandboxAction),
    /// Stop the burner `burn` started, once the host has metered it (never in a lesson).
    BurnStop,
}

impl SandboxOp {
    /// The operation for a lesson's action, or None for a host action (`try try X` is `try X`).
    pub fn of(action: &Action) -> Option<SandboxOp> {
        match action {
            Action::Sandbox(a) => Some(SandboxOp::Do(a.clone())),
            Action::Try(inner) => inner.sandbox().map(|a| SandboxOp::Try(a.clone())),
            Action::Host(_) => None,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    Performed { outcomes: Vec<Outcome>, observed: Option<Box<InsideFacts>> },
    Observed(Box<InsideFacts>),
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
    pub error: Option<Msg>,
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
        let ops = vec![SandboxOp::Do(SandboxAction::Mkdir("/x".into()))];
        send(&mut a, &Request::Perform { ops: ops.clone(), observe: None }).unwrap();
        let got: Request = recv(&mut b, &|| false).unwrap();
        assert!(matches!(got, Request::Perform { ops: o, observe: None } if o == ops));
        a.write_all(&(u32::MAX).to_le_bytes()).unwrap();
        let err = recv::<Request>(&mut b, &|| false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        drop(a);
        assert_eq!(recv::<Request>(&mut b, &|| false).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn a_host_action_has_no_sandbox_operation() {
        let host = crate::lesson::action::parse_action("cgroup join").unwrap();
        assert_eq!(SandboxOp::of(&host), None);
        let tried_host = crate::lesson::action::parse_action("try host sh true").unwrap();
        assert_eq!(SandboxOp::of(&tried_host), None);
    }

    #[test]
    fn try_travels_as_a_try_operation() {
        let a = crate::lesson::action::parse_action("try try pivot_root . old").unwrap();
        let pivot = SandboxAction::PivotRoot { new_root: ".".into(), put_old: "old".into() };
        assert_eq!(SandboxOp::of(&a), Some(SandboxOp::Try(pivot)));
        let m = crate::lesson::action::parse_action("mkdir /x").unwrap();
        assert_eq!(SandboxOp::of(&m), Some(SandboxOp::Do(SandboxAction::Mkdir("/x".into()))));
    }
}
