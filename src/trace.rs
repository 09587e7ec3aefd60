//! The list of system calls a step made, as strace would print them.
//!
//! Every action the sandbox performs appends one [`Syscall`] per real call,
//! so the student sees exactly what the kernel was asked and what it said,
//! including failures (`= -1 EINVAL (Invalid argument)`), with a one-line
//! explanation where the lab taught us the usual cause.

use std::fmt;

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use crate::msg::Msg;

/// One system call: how it was called and what it returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Syscall {
    /// The call as strace prints it, e.g. `mount("tmpfs", "/tmp/x", "tmpfs", 0, NULL)`.
    pub call: String,
    /// The return value, or the errno number on failure.
    pub result: Result<i64, i32>,
    /// Why this happened, when there is a well-known reason (shown under the call).
    pub note: Option<Msg>,
}

impl Syscall {
    pub fn ok(call: impl Into<String>, ret: i64) -> Self {
        Syscall { call: call.into(), result: Ok(ret), note: None }
    }

    pub fn failed(call: impl Into<String>, errno: Errno) -> Self {
        Syscall { call: call.into(), result: Err(errno as i32), note: None }
    }

    pub fn from_result<T>(call: impl Into<String>, res: &Result<T, Errno>, ret: i64) -> Self {
        match res {
            Ok(_) => Syscall::ok(call, ret),
            Err(e) => Syscall::failed(call, *e),
        }
    }

    pub fn with_note(mut self, note: Msg) -> Self {
        self.note = Some(note);
        self
    }

    pub fn errno(&self) -> Option<Errno> {
        self.result.err().map(Errno::from_raw)
    }
}

impl fmt::Display for Syscall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.result {
            Ok(ret) => write!(f, "{} = {}", self.call, ret),
            Err(raw) => {
                let e = Errno::from_raw(raw);
                write!(f, "{} = -1 {:?} ({})", self.call, e, e.desc())
            }
        }
    }
}

/// Quote a string the way strace does: `"like \"this\""`.
pub(crate) fn quote(s: &str) -> String {
    format!("{s:?}")
}

/// The calls made while performing one action, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    pub calls: Vec<Syscall>,
}

impl Trace {
    pub fn push(&mut self, call: Syscall) {
        self.calls.push(call);
    }

    /// Record a call and pass its result through, so call sites read
    /// `trace.record(format!(...), nix::unistd::chdir(p))?`.
    pub fn record<T>(&mut self, call: impl Into<String>, res: Result<T, Errno>) -> Result<T, Errno> {
        self.calls.push(Syscall::from_result(call, &res, 0));
        res
    }

    pub fn last_errno(&self) -> Option<Errno> {
        self.calls.last().and_then(Syscall::errno)
    }
}
