//! What the lab reaches beyond itself, as two traits: terminal #1's agent ([`Agent`]) and the
//! world it runs in ([`World`]: starting an agent, the host's own view, looking at a process
//! the student types into, the session record). The lab decides what to ask and in which
//! order; these only carry it out.
//!
//! Why a seam here: a step's legs, checks and events, and `try`'s judging, are the lab's
//! logic, yet with the real agent each needs a forked process, a socket and root. Behind these
//! traits the unit tests put an in-process agent that performs through the recording kernel
//! (`lab::fake`), as an ordinary user. The real ones below are the code the lab always ran.

use crate::observe::{Needs, ProcFacts, Snapshot};
use crate::sandbox::{Outcome, Sandbox, SandboxError, SandboxOp};

/// Terminal #1 as the lab talks to it: one agent process (or, in tests, one in-process).
pub trait Agent {
    /// Host PID of the live agent (what `$PID` names).
    fn pid(&self) -> i32;

    /// Perform operations in one round trip, stopping at the first failure, and observe after
    /// them if `observe` is given.
    fn perform_batch(
        &mut self,
        ops: Vec<SandboxOp>,
        observe: Option<&Needs>,
    ) -> Result<(Vec<Outcome>, Option<Snapshot>), SandboxError>;

    /// Terminal #1's view: /proc/PID from outside, plus what only the inside knows.
    fn observe(&mut self, needs: &Needs) -> Result<Snapshot, SandboxError>;

    /// Perform one operation.
    fn perform(&mut self, op: SandboxOp) -> Result<Outcome, SandboxError> {
        let (mut outcomes, _) = self.perform_batch(vec![op], None)?;
        outcomes.pop().ok_or(SandboxError::Protocol)
    }
}

impl Agent for Sandbox {
    fn pid(&self) -> i32 {
        Sandbox::pid(self)
    }

    fn perform_batch(
        &mut self,
        ops: Vec<SandboxOp>,
        observe: Option<&Needs>,
    ) -> Result<(Vec<Outcome>, Option<Snapshot>), SandboxError> {
        Sandbox::perform_batch(self, ops, observe)
    }

    fn observe(&mut self, needs: &Needs) -> Result<Snapshot, SandboxError> {
        Sandbox::observe(self, needs)
    }

    fn perform(&mut self, op: SandboxOp) -> Result<Outcome, SandboxError> {
        Sandbox::perform(self, op)
    }
}

/// Where the lab's agents run and what it sees besides them.
pub trait World {
    /// Start a fresh agent (terminal #1 in the host's namespaces).
    fn spawn(&mut self) -> Result<Box<dyn Agent>, SandboxError>;

    /// Terminal #2: the host's own view.
    fn host(&self, needs: &Needs) -> Snapshot;

    /// Terminal #1 as process `pid` shows it (the student's shell in `try`): its /proc from
    /// outside and what only its inside knows; `None` when it cannot be read (it just exited,
    /// or is between two programs).
    fn look_at(&self, pid: i32, needs: &Needs) -> Option<Snapshot>;

    /// Tell `nsdojo attach` (through the session record) which process is terminal #1 now.
    fn publish(&self, session: &str, sandbox: Option<i32>, lesson: Option<String>);

    /// Whether `dir` is still the directory session `session` made (its name is public).
    fn owns_dir(&self, session: &str, dir: &std::path::Path) -> bool;
}

/// The machine itself: forked agents over a socket, /proc, the session record.
pub struct RealWorld;

impl World for RealWorld {
    fn spawn(&mut self) -> Result<Box<dyn Agent>, SandboxError> {
        Ok(Box::new(Sandbox::spawn()?))
    }

    fn host(&self, needs: &Needs) -> Snapshot {
        Snapshot::of_host(needs)
    }

    fn look_at(&self, pid: i32, needs: &Needs) -> Option<Snapshot> {
        let mut inside = crate::sandbox::attach::inside_facts_of(pid, needs).ok()?;
        let proc = ProcFacts::read_some(pid, needs);
        // The collector joined `pid`'s PID namespace only for its children: the PID the
        // process has in its own namespace is the last of its NSpid line.
        if let Some(own) = proc.nspid.last() {
            inside.pid = *own;
        }
        Some(Snapshot { proc, inside })
    }

    fn publish(&self, session: &str, sandbox: Option<i32>, lesson: Option<String>) {
        let _ = crate::hostguard::record_add(session, |r| {
            r.sandbox = sandbox;
            r.lesson = lesson;
        });
    }

    fn owns_dir(&self, session: &str, dir: &std::path::Path) -> bool {
        crate::hostguard::is_own_dir(session, dir)
    }
}
