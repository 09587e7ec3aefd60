//! The eight namespace types, as `unshare(1)` and `/proc/PID/ns/` name them.
//!
//! They live with the observer because reading `/proc/PID/ns/*` is where a type
//! first matters; the action language (`unshare mnt uts`) and the sandbox use the
//! same enum through `lesson::Ns`, which is this one.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A namespace type, as `unshare(1)` and `/proc/PID/ns/` name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Ns {
    Mnt,
    Uts,
    Ipc,
    Pid,
    Net,
    User,
    Cgroup,
    Time,
}

impl Ns {
    pub const ALL: [Ns; 8] = [Ns::Mnt, Ns::Uts, Ns::Ipc, Ns::Pid, Ns::Net, Ns::User, Ns::Cgroup, Ns::Time];

    pub fn name(self) -> &'static str {
        match self {
            Ns::Mnt => "mnt",
            Ns::Uts => "uts",
            Ns::Ipc => "ipc",
            Ns::Pid => "pid",
            Ns::Net => "net",
            Ns::User => "user",
            Ns::Cgroup => "cgroup",
            Ns::Time => "time",
        }
    }

    pub fn parse(s: &str) -> Option<Ns> {
        Ns::ALL.into_iter().find(|n| n.name() == s)
    }
}

impl fmt::Display for Ns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
