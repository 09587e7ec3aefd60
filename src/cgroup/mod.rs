//! Control groups, done by hand through cgroupfs, on whatever layout the host has.
//!
//! The lesson is "a cgroup is a directory, a limit is a file": so this module
//! never hides the files. Every `mkdir`, `write` and `rmdir` is recorded in a
//! [`Trace`](crate::trace::Trace), and v1 and v2 differ only in which files
//! they touch (`cpu.cfs_quota_us` vs `cpu.max`), which is exactly what a
//! student should see side by side.
//!
//! Shape: [`Layout`] says where the hierarchies are mounted; [`Group`] is one
//! session's group, possibly spanning several v1 hierarchies, with a private
//! v1 or v2 backend behind one trait; [`remove_paths`] cleans up after a
//! crash from the paths alone; [`CpuSampler`] measures %CPU like top, and
//! [`Group::sample`] refuses to call a measurement confined unless the
//! process really is in the group at that moment.
//!
//! Nothing below hard-codes /sys/fs/cgroup except [`Layout::detect`], so all
//! of it runs against a fake tree in a tempdir. A fake tree differs from
//! cgroupfs in two ways, and the tests play the kernel's part: after
//! `mkdir` they create the control files the kernel would have created, and
//! before `rmdir` they delete them (cgroupfs removes a group with its files).
//!
//! Single-threaded by design: nsdojo forks and unshares, so no helper threads.

mod burner;
mod cleanup;
mod fs;
mod group;
mod layout;
mod meter;
mod stat;
mod v1;
mod v2;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io;
use std::path::PathBuf;

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use crate::msg::Msg;

pub use burner::Burner;
pub use cleanup::{remove_empty, remove_paths};
pub(crate) use fs::open_procs_for_join;
pub use group::{ConfinedSample, Group};
pub use layout::Layout;
pub use meter::{cpu_percent, parse_proc_stat_ticks, CpuSampler};
pub use stat::{CpuStat, MemoryEvents};
pub use v2::{subtree_control as subtree_control_file, subtree_disable, subtree_has};

/// A resource controller nsdojo can limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Controller {
    Cpu,
    Memory,
    Pids,
}

impl Controller {
    /// Every controller nsdojo can limit, in the order the lessons name them.
    pub const ALL: [Controller; 3] = [Controller::Cpu, Controller::Memory, Controller::Pids];

    /// The controller with this kernel name (`cpu`, `memory`, `pids`); lessons are parsed
    /// into it when they load, so a misspelt controller is a file:line:col error there.
    pub fn parse(name: &str) -> Option<Controller> {
        Controller::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The kernel's name for it, the same on v1 and v2.
    pub fn name(self) -> &'static str {
        match self {
            Controller::Cpu => "cpu",
            Controller::Memory => "memory",
            Controller::Pids => "pids",
        }
    }
}

impl fmt::Display for Controller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl CgroupError {
    /// The error as a message the UI renders in its language.
    pub fn msg(&self) -> Msg {
        use CgroupError as E;
        match self {
            E::NotMounted(why) => Msg::NoCgroupFs(why.clone()),
            E::ControllerMissing(why) => why.clone(),
            E::NotInGroup { group, controller } => {
                Msg::NotInGroup { group: group.clone(), controller: controller.to_string() }
            }
            E::Syscall { call, errno, note } => {
                Msg::SyscallFailed { call: call.clone(), errno: *errno as i32, note: note.clone().map(Box::new) }
            }
            E::Read { path, source } => Msg::CannotRead { path: path.display().to_string(), error: source.into() },
            E::Proc(e) => Msg::CannotReadProc(e.to_string()),
            E::Parse { path, detail } => {
                Msg::CannotParse { path: path.display().to_string(), detail: detail.to_string() }
            }
            E::Vanished { path } => Msg::GroupVanished(path.display().to_string()),
            E::Invalid(what) => Msg::Invalid(what.clone()),
            E::Refused { path, why } => Msg::RefusedCleanup { path: path.display().to_string(), why: why.clone() },
        }
    }
}

fn note_suffix(note: &Option<Msg>) -> String {
    note.as_ref().map(|n| format!(": {n}")).unwrap_or_default()
}

/// Everything that can go wrong, worded for the student.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// No usable cgroup mount.
    #[error("no usable cgroup filesystem: {0}")]
    NotMounted(String),
    /// The layout cannot provide a controller (the message says why).
    #[error("{0}")]
    ControllerMissing(Msg),
    /// An operation needs a controller the group was created without.
    #[error("group {group} was created without the {controller} controller")]
    NotInGroup { group: String, controller: Controller },
    /// A traced call failed; the same line is in the trace.
    #[error("{call} = -1 {errno:?} ({}){}", errno.desc(), note_suffix(note))]
    Syscall { call: String, errno: Errno, note: Option<Msg> },
    /// A control file or /proc file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    /// A /proc file (mountinfo, PID/cgroup) could not be read.
    #[error("cannot read {0}")]
    Proc(#[from] crate::observe::ProcError),
    /// A control file did not have the expected format.
    #[error("cannot parse {}: {detail}", path.display())]
    Parse { path: PathBuf, detail: stat::StatError },
    /// The group's directory is gone while it was in use.
    #[error(
        "cgroup directory {} has vanished: the process can no longer be shown as confined \
         (was /sys covered by another mount? such a remount belongs in a new mount namespace)",
        path.display()
    )]
    Vanished { path: PathBuf },
    /// A bad argument, caught before any file is touched.
    #[error("invalid {0}")]
    Invalid(String),
    /// `remove_paths` was given a path that is not a removable cgroup.
    #[error("refusing to clean up {}: {why}", path.display())]
    Refused { path: PathBuf, why: String },
}
