//! The sandbox (terminal #1) seen from the host: fork an agent, send it
//! actions, observe it from outside, kill it.
//!
//! The host never changes its own namespaces. It forks one agent per lesson;
//! on `unshare pid` the agent forks again and the child becomes the agent
//! (PID 1 inside), so [`Sandbox::pid`] always names the live agent's host PID,
//! which is what a student types into `readlink /proc/PID/ns/mnt`.

pub mod agent;
pub mod attach;
mod caps;
pub(crate) mod kernel;
pub mod missing_tool;
pub mod netdev;
pub mod perform;
pub mod pressure;
#[cfg(test)]
pub(crate) mod recording;
pub mod rpc;
pub mod shell;
#[cfg(test)]
mod tests;

use std::os::unix::net::UnixStream;

use nix::unistd::ForkResult;

use crate::observe::{procfs, ProcFacts, Snapshot};
use crate::process::Pidfd;
use rpc::{recv, send, Reply, Request};
pub use rpc::{Outcome, SandboxOp, ShellOutput};

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("could not start the sandbox: {0}")]
    Fork(crate::process::ForkError),
    #[error("could not hold the sandbox process (pidfd_open): {0}")]
    Hold(std::io::Error),
    #[error("could not create the socketpair to the sandbox: {0}")]
    Socket(std::io::Error),
    #[error("interrupted")]
    Interrupted,
    #[error("the sandbox stopped answering ({0}); it has been reset")]
    Lost(std::io::Error),
    #[error("the sandbox gave an unexpected answer")]
    Protocol,
}

pub struct Sandbox {
    /// The first agent: the host's own child, the one to wait for.
    root: Pidfd,
    /// The live agent (another process than `root` after `unshare pid`: its child).
    agent: Option<Pidfd>,
    stream: UnixStream,
}

impl SandboxError {
    /// The message in the session's language (Display stays English).
    pub fn localized(&self, lang: crate::lesson::Lang) -> String {
        use crate::i18n::{io_error, t, tf};
        match self {
            SandboxError::Fork(e) => tf(lang, "err_fork", &[e]),
            SandboxError::Socket(e) => tf(lang, "err_socket", &[&io_error(lang, e)]),
            SandboxError::Hold(e) => tf(lang, "err_hold", &[&io_error(lang, e)]),
            SandboxError::Interrupted => t(lang, "err_interrupted").to_string(),
            SandboxError::Lost(e) => tf(lang, "err_lost", &[&io_error(lang, e)]),
            SandboxError::Protocol => t(lang, "err_protocol").to_string(),
        }
    }
}

impl Sandbox {
    /// Fork a new agent. The host must be single-threaded here (it is: no threads anywhere).
    pub fn spawn() -> Result<Sandbox, SandboxError> {
        let (host_end, agent_end) = UnixStream::pair().map_err(SandboxError::Socket)?;
        let keep_propagation = std::env::var_os("NSDOJO_DEBUG_KEEP_PROPAGATION").is_some_and(|v| v == "1");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
        // The child runs ordinary Rust code (the host is single-threaded, which the fork
        // checks); it never returns into the host's code.
        match crate::process::fork().map_err(SandboxError::Fork)? {
            ForkResult::Child => {
                drop(host_end);
                agent::serve(agent_end, keep_propagation)
            }
            ForkResult::Parent { child } => {
                drop(agent_end);
                // Our child, unreaped: its PID is ours to hold until we wait for it.
                let root = match Pidfd::open(child.as_raw()) {
                    Ok(p) => p,
                    Err(e) => {
                        crate::process::kill_unreaped_child(child.as_raw());
                        crate::process::reap(child.as_raw());
                        return Err(SandboxError::Hold(e));
                    }
                };
                crate::hostguard::track(&root, true);
                let mut sandbox = Sandbox { root, agent: None, stream: host_end };
                // One exchange now: after fork both processes take copy-on-write faults on
                // their first writes; that is the cost of starting a sandbox, not of a step.
                sandbox.ask(&Request::Observe(crate::observe::Needs::default()))?;
                Ok(sandbox)
            }
        }
    }

    /// Host PID of the live agent.
    pub fn pid(&self) -> i32 {
        self.agent.as_ref().unwrap_or(&self.root).pid()
    }

    fn ask(&mut self, req: &Request) -> Result<Reply, SandboxError> {
        send(&mut self.stream, req).map_err(SandboxError::Lost)?;
        recv(&mut self.stream, &crate::hostguard::interrupted).map_err(|e| {
            if e.kind() == std::io::ErrorKind::Interrupted {
                SandboxError::Interrupted
            } else {
                SandboxError::Lost(e)
            }
        })
    }

    /// After `unshare pid` the old agent is the reaper; its only child is the new agent.
    fn follow_fork(&mut self, out: &Outcome) {
        if out.forked_agent {
            // The new agent is PID 1 of its namespace: the child whose innermost NSpid is 1
            // (another child, e.g. an orphan the agent reaped as subreaper, is not).
            let parent = self.pid();
            let is_new_agent = |c: i32| {
                procfs::parent_of(c) == Some(parent)
                    && procfs::status(procfs::Proc::Pid(c)).is_ok_and(|s| s.nspid.last() == Some(&1))
            };
            // Checked again once held: the scan's PID could have been reused in between.
            let pid1 = procfs::children_of(parent).into_iter().find_map(|c| Pidfd::open_checked(c, is_new_agent));
            if let Some(held) = pid1 {
                crate::hostguard::track(&held, false);
                if let Some(old) = self.agent.replace(held) {
                    crate::hostguard::untrack(&old);
                }
            }
        }
    }

    /// Perform one operation inside.
    pub fn perform(&mut self, op: SandboxOp) -> Result<Outcome, SandboxError> {
        let (mut outcomes, _) = self.perform_batch(vec![op], None)?;
        outcomes.pop().ok_or(SandboxError::Protocol)
    }

    /// Perform operations in one round trip (stopping at the first failure), and observe after
    /// them if `observe` is given.
    pub fn perform_batch(
        &mut self,
        ops: Vec<SandboxOp>,
        observe: Option<&crate::observe::Needs>,
    ) -> Result<(Vec<Outcome>, Option<Snapshot>), SandboxError> {
        let req = Request::Perform { ops, observe: observe.cloned() };
        match self.ask(&req)? {
            Reply::Performed { outcomes, observed } => {
                for out in &outcomes {
                    self.follow_fork(out);
                }
                let snapshot = match (observed, observe) {
                    (Some(inside), Some(needs)) => {
                        Some(Snapshot { proc: ProcFacts::read_some(self.pid(), needs), inside: *inside })
                    }
                    _ => None,
                };
                Ok((outcomes, snapshot))
            }
            _ => Err(SandboxError::Protocol),
        }
    }

    /// Terminal #1's view: /proc/PID read from outside, plus what only the inside knows.
    pub fn observe(&mut self, needs: &crate::observe::Needs) -> Result<Snapshot, SandboxError> {
        let inside = match self.ask(&Request::Observe(needs.clone()))? {
            Reply::Observed(f) => *f,
            _ => return Err(SandboxError::Protocol),
        };
        Ok(Snapshot { proc: ProcFacts::read_some(self.pid(), needs), inside })
    }

    /// Kill the sandbox and everything in it, and wait for it.
    pub fn kill(&mut self) {
        // SIGKILL to PID 1 of a PID namespace kills every process in it; the first agent's
        // process group holds the commands it started before any `unshare pid`.
        if let Some(agent) = self.agent.take() {
            agent.kill();
            crate::hostguard::untrack(&agent);
        }
        self.root.kill();
        crate::process::kill_group_of_unreaped_child(self.root.pid());
        // Untracked before the reap: once reaped, its PID and group ID are free for anyone,
        // and the fatal-signal handler must not signal them by number.
        crate::hostguard::untrack(&self.root);
        crate::process::reap(self.root.pid());
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.kill();
    }
}
