//! The lab's world in a unit test: an in-process agent that performs through the recording
//! kernel (`sandbox::recording`), with the same loop the real agent runs
//! (`sandbox::perform::perform_each`), and a small model of what terminal #1 then shows
//! (namespaces it unshared have their own inode, a hostname set after `unshare uts`, PID 1
//! after `unshare pid`). Commands that run programs (`sh`, …) are answered from a script, as
//! they are not taught calls and a unit test never forks. Everything a test wants to read
//! afterwards (every call, agents started, what was published) is kept in [`Shared`].

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use nix::errno::Errno;

use super::link::{Agent, World};
use crate::lesson::{Ns, SandboxAction};
use crate::observe::{InsideFacts, Needs, ProcFacts, Snapshot};
use crate::sandbox::kernel::Call;
use crate::sandbox::perform::{perform_each, perform_one, AgentState, Performed};
use crate::sandbox::recording::RecordingKernel;
use crate::sandbox::{Outcome, SandboxError, SandboxOp, ShellOutput};

pub(crate) const HOST_NAME: &str = "host";
pub(crate) const HOST_PID: i32 = 100;
/// The first agent's PID; each new one adds 10, `unshare pid` adds 1.
pub(crate) const FIRST_AGENT: i32 = 4200;

/// Namespace inode of the host's, or of one unshared by process `pid`.
pub(crate) fn inode(ns: Ns, own: bool, pid: i32) -> u64 {
    let i = Ns::ALL.iter().position(|n| *n == ns).unwrap_or(0) as u64;
    if own {
        4_026_540_000 + (pid as u64) * 16 + i
    } else {
        4_026_531_835 + i
    }
}

/// Terminal #1 as the model has it: process `pid`, with `unshared` namespaces of its own.
pub(crate) fn terminal1(pid: i32, unshared: &[Ns], hostname: &str) -> Snapshot {
    let ns = Ns::ALL.iter().map(|n| (*n, inode(*n, unshared.contains(n), pid))).collect();
    let nspid = if unshared.contains(&Ns::Pid) { vec![pid, 1] } else { vec![pid] };
    let inside_pid = *nspid.last().unwrap_or(&pid);
    Snapshot {
        proc: ProcFacts { pid, ns, nspid, root: "/".into(), cwd: "/".into(), ..ProcFacts::default() },
        inside: InsideFacts { hostname: hostname.into(), pid: inside_pid, ..InsideFacts::default() },
    }
}

/// What the fake world and its agents share with the test.
#[derive(Default)]
pub(crate) struct Shared {
    /// Every call any agent made, in order.
    pub calls: Vec<Call>,
    /// Agents started so far.
    pub spawned: usize,
    /// Agents still alive.
    pub alive: usize,
    /// What the lab published as terminal #1 (`None`: no sandbox), in order.
    pub published: Vec<Option<i32>>,
    /// Each call of this name fails with this errno, in every agent.
    pub failing: Vec<(&'static str, Errno)>,
    /// Output of `sh CMD`, by CMD (missing: empty output, status 0).
    pub sh: BTreeMap<String, ShellOutput>,
    /// The student's processes in `try`, by host PID, as `look_at` sees them.
    pub looks: BTreeMap<i32, Snapshot>,
    /// How many times a process was looked at.
    pub looked: usize,
    /// `owns_dir` answers no (someone else's directory now has the work dir's name).
    pub work_not_ours: bool,
}

#[derive(Clone, Default)]
pub(crate) struct FakeWorld(pub Rc<RefCell<Shared>>);

impl FakeWorld {
    pub(crate) fn new() -> FakeWorld {
        FakeWorld::default()
    }

    pub(crate) fn failing(self, name: &'static str, errno: Errno) -> FakeWorld {
        self.0.borrow_mut().failing.push((name, errno));
        self
    }

    pub(crate) fn sh(self, cmd: &str, stdout: &str, status: i32) -> FakeWorld {
        let out = ShellOutput { stdout: stdout.into(), status, ..ShellOutput::default() };
        self.0.borrow_mut().sh.insert(cmd.into(), out);
        self
    }

    /// The student's process `pid` now shows terminal #1 like this.
    pub(crate) fn shows(&self, pid: i32, unshared: &[Ns], hostname: &str) {
        self.0.borrow_mut().looks.insert(pid, terminal1(pid, unshared, hostname));
    }

    /// Process `pid` can no longer be read.
    pub(crate) fn gone(&self, pid: i32) {
        self.0.borrow_mut().looks.remove(&pid);
    }

    pub(crate) fn calls(&self) -> Vec<Call> {
        self.0.borrow().calls.clone()
    }

    pub(crate) fn spawned(&self) -> usize {
        self.0.borrow().spawned
    }
}

impl World for FakeWorld {
    fn spawn(&mut self) -> Result<Box<dyn Agent>, SandboxError> {
        let mut shared = self.0.borrow_mut();
        let mut k = RecordingKernel::new();
        for (name, errno) in &shared.failing {
            k = k.failing(name, *errno);
        }
        let pid = FIRST_AGENT + 10 * shared.spawned as i32;
        shared.spawned += 1;
        shared.alive += 1;
        Ok(Box::new(InProcessAgent { k, origin: AgentState::default(), pid, shared: self.0.clone() }))
    }

    fn host(&self, _: &Needs) -> Snapshot {
        terminal1(HOST_PID, &[], HOST_NAME)
    }

    fn look_at(&self, pid: i32, _: &Needs) -> Option<Snapshot> {
        let mut shared = self.0.borrow_mut();
        shared.looked += 1;
        shared.looks.get(&pid).cloned()
    }

    fn publish(&self, _: &str, sandbox: Option<i32>, _: Option<String>) {
        self.0.borrow_mut().published.push(sandbox);
    }

    fn owns_dir(&self, _: &str, _: &std::path::Path) -> bool {
        !self.0.borrow().work_not_ours
    }
}

/// Terminal #1 in the test's own process: nothing is really unshared or mounted.
struct InProcessAgent {
    k: RecordingKernel,
    origin: AgentState,
    pid: i32,
    shared: Rc<RefCell<Shared>>,
}

fn runs_a_program(op: &SandboxOp) -> Option<&SandboxAction> {
    match op {
        SandboxOp::Do(a) | SandboxOp::Try(a) if a.runs_a_program() => Some(a),
        _ => None,
    }
}

impl InProcessAgent {
    fn snapshot(&self) -> Snapshot {
        let hostname = self
            .k
            .calls
            .iter()
            .rev()
            .find_map(|c| match c {
                Call::Sethostname(n) => Some(n.clone()),
                _ => None,
            })
            .unwrap_or_else(|| HOST_NAME.into());
        terminal1(self.pid, &self.origin.unshared, &hostname)
    }
}

impl Agent for InProcessAgent {
    fn pid(&self) -> i32 {
        self.pid
    }

    fn perform_batch(
        &mut self,
        ops: Vec<SandboxOp>,
        observe: Option<&Needs>,
    ) -> Result<(Vec<Outcome>, Option<Snapshot>), SandboxError> {
        let before = self.k.calls.len();
        let (k, origin, shared) = (&mut self.k, &mut self.origin, &self.shared);
        let (outcomes, _) = perform_each(&ops, |op| match runs_a_program(op) {
            Some(SandboxAction::Sh(cmd)) => {
                let output = shared.borrow().sh.get(cmd).cloned().unwrap_or_default();
                Performed::Done(Outcome { output: Some(output), ..Outcome::default() })
            }
            Some(_) => Performed::Done(Outcome::default()),
            None => perform_one(op, origin, k),
        });
        self.pid += outcomes.iter().filter(|o| o.forked_agent).count() as i32;
        self.shared.borrow_mut().calls.extend_from_slice(&self.k.calls[before..]);
        Ok((outcomes, observe.map(|_| self.snapshot())))
    }

    fn observe(&mut self, _: &Needs) -> Result<Snapshot, SandboxError> {
        Ok(self.snapshot())
    }
}

impl Drop for InProcessAgent {
    fn drop(&mut self) {
        self.shared.borrow_mut().alive -= 1;
    }
}
