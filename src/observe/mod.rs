//! Snapshots of one side: what terminal #1 (the sandbox) or terminal #2
//! (the host) would see, and the facts that checks compare.
//!
//! A [`Snapshot`] joins what a second terminal reads through /proc/PID
//! ([`procfs::ProcFacts`]) with what only the inside can tell
//! ([`inside::InsideFacts`]). Both sides are built by the same code: the
//! host side reads its own PID and collects inside facts itself; the sandbox
//! side reads the agent's PID from outside and asks the agent for the rest.
//!
//! What a check or a table can ask of a snapshot is typed here too:
//! [`fact::SideFact`] (with its reader) and [`view::View`], each saying what it
//! needs collected ([`Needs`]). They live with the observer rather than with the
//! lesson language so that `observe` depends on nothing above it: `lesson`
//! parses into these types, `render` draws them, `cgroup` reads /proc through
//! [`procfs`] and [`mountinfo`] (src/layering.rs keeps it that way).

pub mod apparmor;
pub mod cap_names;
pub mod inside;
pub mod mountinfo;
pub mod net;
pub mod ns;
pub mod procfs;
pub mod side_fact;
pub(crate) mod system;
pub(crate) mod tracee;
pub mod view;

#[cfg(test)]
mod against_procfs_core;

use serde::{Deserialize, Serialize};

pub use inside::{InsideFacts, Needs};
pub use ns::Ns;
pub(crate) use procfs::Proc;
pub use procfs::{CgroupLine, ProcError, ProcFacts};
pub use side_fact::{SideFact, Value};
pub use view::View;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub proc: ProcFacts,
    pub inside: InsideFacts,
}

impl Snapshot {
    /// The host's own view (terminal #2).
    pub fn of_host(needs: &Needs) -> Snapshot {
        Snapshot { proc: ProcFacts::read_some(std::process::id() as i32, needs), inside: InsideFacts::collect(needs) }
    }

    /// /proc/self/cgroup as this side reads it (inside a cgroup namespace paths start at its root),
    /// or, when the inside could not read it, what /proc/PID/cgroup shows from outside.
    pub fn cgroup_lines(&self) -> Result<&[CgroupLine], &ProcError> {
        match &self.inside.cgroup {
            Ok(lines) if !lines.is_empty() => Ok(lines),
            _ => self.proc.cgroup.as_deref(),
        }
    }

    /// Answer one fact of this side (see [`fact::FACT_TABLE`]).
    pub fn fact(&self, f: &SideFact) -> Value {
        f.read(self)
    }
}
