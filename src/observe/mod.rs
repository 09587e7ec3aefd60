//! Snapshots of one side: what terminal #1 (the sandbox) or terminal #2
//! (the host) would see, and the facts that checks compare.
//!
//! A [`Snapshot`] joins what a second terminal reads through /proc/PID
//! ([`procfs::ProcFacts`]) with what only the inside can tell
//! ([`inside::InsideFacts`]). Both sides are built by the same code: the
//! host side reads its own PID and collects inside facts itself; the sandbox
//! side reads the agent's PID from outside and asks the agent for the rest.

pub mod caps;
pub mod inside;
pub mod mountinfo;
pub mod net;
pub mod procfs;

use serde::{Deserialize, Serialize};

use crate::lesson::expect::Value;
use crate::lesson::fact::SideFact;
use caps::cap_names;
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

    /// Answer one fact of this side (see `lesson::fact::FACT_TABLE`).
    pub fn fact(&self, f: &SideFact) -> Value {
        let missing = |why: String| Value::Missing(why);
        let list_of = |r: &Result<Vec<String>, String>| match r {
            Ok(v) => Value::List(v.clone()),
            Err(e) => Value::Missing(e.clone()),
        };
        let mount = |at: &str| self.proc.mounts.iter().rev().find(|m| m.mount_point == at);
        match f {
            SideFact::Ns(ns) => match self.proc.ns.get(ns) {
                Some(ino) => Value::Int(*ino as i64),
                None => missing("no such namespace on this kernel".into()),
            },
            SideFact::Mounts => Value::List(self.proc.mounts.iter().map(|m| m.mount_point.clone()).collect()),
            SideFact::MountFstype(at) => mount(at)
                .map_or_else(|| missing(format!("nothing is mounted at {at}")), |m| Value::Text(m.fstype.clone())),
            SideFact::MountPropagation(at) => mount(at).map_or_else(
                || missing(format!("nothing is mounted at {at}")),
                |m| Value::Text(m.propagation_kind().into()),
            ),
            SideFact::Hostname => Value::Text(self.inside.hostname.clone()),
            SideFact::Pid => Value::Int(self.inside.pid as i64),
            SideFact::NsPid if self.proc.nspid.is_empty() => missing("no NSpid in /proc/PID/status".into()),
            SideFact::NsPid => Value::List(self.proc.nspid.iter().map(i32::to_string).collect()),
            SideFact::Caps => match self.proc.cap_eff {
                Some(mask) => Value::List(cap_names(mask)),
                None => missing("no CapEff in /proc/PID/status".into()),
            },
            SideFact::NoNewPrivs => match self.proc.no_new_privs {
                Some(b) => Value::Bool(b),
                None => missing("no NoNewPrivs in /proc/PID/status".into()),
            },
            SideFact::Ps => list_of(&self.inside.processes.clone().map(|v| v.into_iter().map(|p| p.name).collect())),
            SideFact::PsCount => match &self.inside.processes {
                Ok(v) => Value::Int(v.len() as i64),
                Err(e) => Value::Missing(e.clone()),
            },
            SideFact::Ifaces => list_of(&self.inside.ifaces.clone().map(|v| v.into_iter().map(|i| i.name).collect())),
            SideFact::IfaceState(name) => match &self.inside.ifaces {
                Ok(v) => match v.iter().find(|i| &i.name == name) {
                    Some(i) => Value::Text(if i.up { "UP" } else { "DOWN" }.into()),
                    None => missing(format!("no interface {name}")),
                },
                Err(e) => Value::Missing(e.clone()),
            },
            SideFact::IfaceAddrs(name) => match &self.inside.ifaces {
                Ok(v) => match v.iter().find(|i| &i.name == name) {
                    Some(i) => Value::List(i.addrs.clone()),
                    None => missing(format!("no interface {name}")),
                },
                Err(e) => Value::Missing(e.clone()),
            },
            SideFact::Routes => match &self.proc.routes {
                Some(v) => Value::List(v.iter().map(|r| r.to_string()).collect()),
                None => missing("unavailable: /proc/PID/net/route".into()),
            },
            SideFact::Listening => match &self.proc.listening {
                Some(v) => Value::List(v.clone()),
                None => missing("unavailable: /proc/PID/net/tcp".into()),
            },
            SideFact::Uid => Value::Int(self.inside.uid as i64),
            SideFact::Gid => Value::Int(self.inside.gid as i64),
            SideFact::UidMap => Value::Text(self.proc.uid_map.clone()),
            SideFact::GidMap => Value::Text(self.proc.gid_map.clone()),
            SideFact::Setgroups => Value::Text(self.proc.setgroups.clone()),
            SideFact::Cgroup => Value::List(self.cgroup_lines().to_vec()),
            SideFact::CgroupOf(c) => match procfs::cgroup_path(self.cgroup_lines(), c) {
                Some(p) => Value::Text(p),
                None => missing(format!("no cgroup line for {c}")),
            },
            SideFact::IpcQueues => match &self.inside.msg_queues {
                Ok(v) => Value::Int(v.len() as i64),
                Err(e) => Value::Missing(e.clone()),
            },
            SideFact::Root => Value::Text(self.proc.root.clone()),
            SideFact::Cwd => Value::Text(self.proc.cwd.clone()),
            SideFact::Ls(p) => match self.inside.listings.get(p) {
                Some(r) => list_of(r),
                None => missing(format!("{p} was not listed")),
            },
            SideFact::Exists(p) => match self.inside.listings.get(p) {
                Some(Ok(_)) => Value::Bool(true),
                Some(Err(e)) if e.contains("Not a directory") => Value::Bool(true),
                Some(Err(_)) => Value::Bool(false),
                None => missing(format!("{p} was not looked at")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::expect::{parse_expect, FactSource};
    use crate::lesson::fact::Fact;
    use crate::lesson::Ns;

    struct One(Snapshot);
    impl FactSource for One {
        fn fact(&self, f: &Fact) -> Value {
            match f {
                Fact::Side { fact, .. } => self.0.fact(fact),
                other => Value::Missing(format!("{other} is not a side fact")),
            }
        }
    }

    fn snap() -> Snapshot {
        let mut proc = ProcFacts::default();
        proc.ns.insert(Ns::Mnt, 42);
        proc.mounts = mountinfo::parse(include_str!("../../tests/fixtures/mountinfo-systemd-shared.txt"));
        proc.cgroup = vec!["1:cpu:/my".into(), "0::/".into()];
        proc.nspid = vec![6863, 1];
        proc.cap_eff = Some((1 << 21) | (1 << 27));
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
            ("sandbox.nspid has 1", true),
            ("sandbox.caps has cap_mknod", true),
            ("sandbox.caps lacks cap_sys_ptrace", true),
            ("sandbox.caps has cap_sys_ptrace", false),
        ] {
            assert_eq!(parse_expect(check).unwrap().evaluate(&s).passed, want, "{check}");
        }
    }
}
