//! Snapshots of one side: what terminal #1 (the sandbox) or terminal #2
//! (the host) would see, and the facts that checks compare.
//!
//! A [`Snapshot`] joins what a second terminal reads through /proc/PID
//! ([`procfs::ProcFacts`]) with what only the inside can tell
//! ([`inside::InsideFacts`]). Both sides are built by the same code: the
//! host side reads its own PID and collects inside facts itself; the sandbox
//! side reads the agent's PID from outside and asks the agent for the rest.

pub mod inside;
pub mod mountinfo;
pub mod procfs;

use serde::{Deserialize, Serialize};

use crate::lesson::expect::{FactRef, Value};
use crate::lesson::Ns;
pub use inside::{InsideFacts, Needs};
pub use procfs::ProcFacts;

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
    pub fn cgroup_lines(&self) -> &[String] {
        if self.inside.cgroup.is_empty() {
            &self.proc.cgroup
        } else {
            &self.inside.cgroup
        }
    }

    /// Answer a fact path (see `lesson::expect::SIDE_FACTS`).
    pub fn fact(&self, f: &FactRef) -> Value {
        let shape = f.shape();
        let arg = f.arg().unwrap_or("");
        let missing = |why: &str| Value::Missing(why.to_string());
        if let Some(ns) = shape.strip_prefix("ns.") {
            return match Ns::parse(ns).and_then(|n| self.proc.ns.get(&n)) {
                Some(ino) => Value::Int(*ino as i64),
                None => missing("no such namespace on this kernel"),
            };
        }
        let list_of = |r: &Result<Vec<String>, String>| match r {
            Ok(v) => Value::List(v.clone()),
            Err(e) => Value::Missing(e.clone()),
        };
        match shape.as_str() {
            "mounts" => Value::List(self.proc.mounts.iter().map(|m| m.mount_point.clone()).collect()),
            "mount.fstype" | "mount.propagation" => {
                match self.proc.mounts.iter().rev().find(|m| m.mount_point == arg) {
                    Some(m) if shape == "mount.fstype" => Value::Text(m.fstype.clone()),
                    Some(m) => Value::Text(m.propagation_kind().into()),
                    None => missing(&format!("nothing is mounted at {arg}")),
                }
            }
            "hostname" => Value::Text(self.inside.hostname.clone()),
            "pid" => Value::Int(self.inside.pid as i64),
            "ps" => list_of(&self.inside.processes.clone().map(|v| v.into_iter().map(|p| p.name).collect())),
            "ps.count" => match &self.inside.processes {
                Ok(v) => Value::Int(v.len() as i64),
                Err(e) => Value::Missing(e.clone()),
            },
            "ifaces" => list_of(&self.inside.ifaces.clone().map(|v| v.into_iter().map(|i| i.name).collect())),
            "iface.state" => match &self.inside.ifaces {
                Ok(v) => match v.iter().find(|i| i.name == arg) {
                    Some(i) => Value::Text(if i.up { "UP" } else { "DOWN" }.into()),
                    None => missing(&format!("no interface {arg}")),
                },
                Err(e) => Value::Missing(e.clone()),
            },
            "uid" => Value::Int(self.inside.uid as i64),
            "gid" => Value::Int(self.inside.gid as i64),
            "uid_map" => Value::Text(self.proc.uid_map.clone()),
            "gid_map" => Value::Text(self.proc.gid_map.clone()),
            "setgroups" => Value::Text(self.proc.setgroups.clone()),
            "cgroup" if f.arg().is_none() => Value::List(self.cgroup_lines().to_vec()),
            "cgroup" => match procfs::cgroup_path(self.cgroup_lines(), arg) {
                Some(p) => Value::Text(p),
                None => missing(&format!("no cgroup line for {arg}")),
            },
            "ipc.queues" => match &self.inside.msg_queues {
                Ok(v) => Value::Int(v.len() as i64),
                Err(e) => Value::Missing(e.clone()),
            },
            "root" => Value::Text(self.proc.root.clone()),
            "cwd" => Value::Text(self.proc.cwd.clone()),
            "ls" => match self.inside.listings.get(arg) {
                Some(r) => list_of(r),
                None => missing(&format!("{arg} was not listed")),
            },
            "exists" => match self.inside.listings.get(arg) {
                Some(Ok(_)) => Value::Bool(true),
                Some(Err(e)) if e.contains("Not a directory") => Value::Bool(true),
                Some(Err(_)) => Value::Bool(false),
                None => missing(&format!("{arg} was not looked at")),
            },
            other => missing(&format!("unknown fact {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::expect::{parse_expect, FactSource};

    struct One(Snapshot);
    impl FactSource for One {
        fn fact(&self, f: &FactRef) -> Value {
            self.0.fact(f)
        }
    }

    fn snap() -> Snapshot {
        let mut proc = ProcFacts::default();
        proc.ns.insert(Ns::Mnt, 42);
        proc.mounts = mountinfo::parse(include_str!("../../tests/fixtures/mountinfo-systemd-shared.txt"));
        proc.cgroup = vec!["1:cpu:/my".into(), "0::/".into()];
        let mut inside = InsideFacts { hostname: "box".into(), pid: 1, ..Default::default() };
        inside.ifaces = Ok(vec![inside::Iface { name: "lo".into(), up: false, addrs: vec![] }]);
        inside.listings.insert("/".into(), Ok(vec!["bin".into(), "etc".into()]));
        Snapshot { proc, inside }
    }

    #[test]
    fn facts_answer_checks() {
        let s = One(snap());
        for (check, want) in [
            ("sandbox.ns.mnt == 42", true),
            ("sandbox.mounts has \"/run/netns/my net\"", true),
            ("sandbox.mounts has /sys/fs/cgroup", true),
            ("sandbox.mount[/].propagation == shared", true),
            ("sandbox.mount[/sys/fs/cgroup].fstype == cgroup2", true),
            ("sandbox.iface[lo].state == DOWN", true),
            ("sandbox.ifaces lacks eth0", true),
            ("sandbox.pid == 1", true),
            ("sandbox.cgroup[cpu] == /my", true),
            ("sandbox.ls[/] has etc", true),
            ("sandbox.ls[/] lacks boot", true),
            ("sandbox.exists[/] == true", true),
            ("sandbox.ns.uts == 42", false),
        ] {
            assert_eq!(parse_expect(check).unwrap().evaluate(&s).passed, want, "{check}");
        }
    }
}
