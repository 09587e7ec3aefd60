//! Facts of one side, typed: what a check can ask about terminal #1 or #2, and
//! the one place each is read from a [`Snapshot`].
//!
//! The expectation language (`lesson::expect`) parses `sandbox.mount[/x].fstype`
//! into a [`SideFact`]; from then on nothing matches strings. A side fact knows
//! what it needs read ([`SideFact::add_needs`], so a step collects only that) and
//! how it is answered from a snapshot ([`SideFact::read`]). Adding one is a
//! variant, its arms here and a row in [`FACT_TABLE`] (which docs/lessons.md is
//! checked against). This lives in `observe`, not in `lesson`, so the observer
//! does not depend on the lesson language: `lesson` uses `observe`, never the
//! other way round.

use std::fmt;

use super::cap_names::cap_names;
use super::inside::Unavailable;
use super::{procfs, Needs, Ns, ProcError, Snapshot};

/// One part of a written path: `mount[/x]` is `("mount", Some("/x"))`.
pub type Segment = (String, Option<String>);

/// A fact's value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Value {
    Text(String),
    Int(i64),
    List(Vec<String>),
    Bool(bool),
    /// The fact could not be read, with why (e.g. "no /proc mounted"); shown as
    /// `(unavailable: why)`, and no check passes on it.
    Missing(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(s) => write!(f, "{s:?}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::List(l) if l.len() > 8 => {
                write!(f, "[{}, … {} in all]", l[..8].join(", "), l.len())
            }
            Value::List(l) => write!(f, "[{}]", l.join(", ")),
            Value::Missing(why) => write!(f, "(unavailable: {why})"),
        }
    }
}

impl Value {
    /// The value as text for a comparison (a list one item per line; missing: empty).
    pub(crate) fn as_text(&self) -> String {
        match self {
            Value::Text(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::List(l) => l.join("\n"),
            Value::Missing(_) => String::new(),
        }
    }
}

/// What one side shows: read through /proc/PID from outside, or by the side itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SideFact {
    Ns(Ns),
    Mounts,
    MountFstype(String),
    MountPropagation(String),
    Hostname,
    Pid,
    /// NSpid of the side's process as the host reads /proc/PID/status: one PID per level.
    NsPid,
    /// CapEff decoded to names (`cap_sys_admin`, …).
    Caps,
    /// NoNewPrivs of /proc/PID/status.
    NoNewPrivs,
    Ps,
    PsCount,
    Ifaces,
    IfaceState(String),
    /// The IPv4/IPv6 addresses of one interface.
    IfaceAddrs(String),
    /// IPv4 routes as `ip route` prints them, from /proc/PID/net/route.
    Routes,
    /// Listening TCP sockets `ADDR:PORT`, from /proc/PID/net/tcp.
    Listening,
    Uid,
    Gid,
    UidMap,
    GidMap,
    Setgroups,
    Cgroup,
    CgroupOf(String),
    IpcQueues,
    Root,
    Cwd,
    Ls(String),
    Exists(String),
}

/// The reference table: every fact as written, with its meaning. The authoring guide
/// has a row for each (tests/it/docs.rs), and parse errors list them.
/// (Side facts only; `lesson::fact` has the tables for `step.`, `action[N].` and `group.`.)
pub const FACT_TABLE: &[(&str, &str)] = &[
    ("ns.<type>", "namespace inode of mnt uts ipc pid net user cgroup time"),
    ("mounts", "list of mount points"),
    ("mount[PATH].fstype", "filesystem type mounted at PATH"),
    ("mount[PATH].propagation", "private, shared or slave"),
    ("hostname", "the UTS hostname"),
    ("pid", "the sandbox agent's PID as seen from inside (host: its own PID)"),
    ("nspid", "the PIDs of the side's process in each PID namespace, outermost first (NSpid)"),
    ("caps", "effective capabilities, as names (cap_sys_admin, …)"),
    ("no_new_privs", "true once no exec can gain privileges (prctl PR_SET_NO_NEW_PRIVS)"),
    ("ps", "list of process names visible in /proc"),
    ("ps.count", "number of processes visible"),
    ("ifaces", "list of network interfaces"),
    ("iface[NAME].state", "UP or DOWN"),
    ("iface[NAME].addrs", "the interface's addresses (`192.0.2.2`, without the prefix)"),
    ("routes", "IPv4 routes as `ip route` prints them (`192.0.2.0/24 dev eth0`), from /proc/PID/net/route"),
    ("listening", "listening TCP sockets as `ADDR:PORT`, from /proc/PID/net/tcp"),
    ("uid", "the effective user id"),
    ("gid", "the effective group id"),
    ("uid_map", "the uid_map lines, blank when nothing is mapped"),
    ("gid_map", "the gid_map lines"),
    ("setgroups", "allow or deny"),
    ("cgroup", "the lines of /proc/PID/cgroup"),
    ("cgroup[CONTROLLER]", "the cgroup path for one controller (`` for v2's 0::)"),
    ("ipc.queues", "number of SysV message queues"),
    ("root", "the root directory, as readlink /proc/PID/root"),
    ("cwd", "the working directory, as readlink /proc/PID/cwd"),
    ("ls[PATH]", "names in directory PATH"),
    ("exists[PATH]", "true if PATH exists"),
];

impl SideFact {
    /// The fact's row in [`FACT_TABLE`] (`mount[PATH].fstype` for `mount[/x].fstype`).
    pub fn key(&self) -> &'static str {
        match self {
            SideFact::Ns(_) => "ns.<type>",
            SideFact::Mounts => "mounts",
            SideFact::MountFstype(_) => "mount[PATH].fstype",
            SideFact::MountPropagation(_) => "mount[PATH].propagation",
            SideFact::Hostname => "hostname",
            SideFact::Pid => "pid",
            SideFact::NsPid => "nspid",
            SideFact::Caps => "caps",
            SideFact::NoNewPrivs => "no_new_privs",
            SideFact::Ps => "ps",
            SideFact::PsCount => "ps.count",
            SideFact::Ifaces => "ifaces",
            SideFact::IfaceState(_) => "iface[NAME].state",
            SideFact::IfaceAddrs(_) => "iface[NAME].addrs",
            SideFact::Routes => "routes",
            SideFact::Listening => "listening",
            SideFact::Uid => "uid",
            SideFact::Gid => "gid",
            SideFact::UidMap => "uid_map",
            SideFact::GidMap => "gid_map",
            SideFact::Setgroups => "setgroups",
            SideFact::Cgroup => "cgroup",
            SideFact::CgroupOf(_) => "cgroup[CONTROLLER]",
            SideFact::IpcQueues => "ipc.queues",
            SideFact::Root => "root",
            SideFact::Cwd => "cwd",
            SideFact::Ls(_) => "ls[PATH]",
            SideFact::Exists(_) => "exists[PATH]",
        }
    }
}

impl SideFact {
    /// The typed fact for a path after `sandbox.` or `host.`; `None` when no row of
    /// [`FACT_TABLE`] matches.
    pub fn from_path(path: &[Segment]) -> Option<SideFact> {
        let names: Vec<&str> = path.iter().map(|(n, _)| n.as_str()).collect();
        let args: Vec<Option<&str>> = path.iter().map(|(_, a)| a.as_deref()).collect();
        let one = |s: &str| Some(s.to_string());
        Some(match (names.as_slice(), args.as_slice()) {
            (["ns", t], [None, None]) => SideFact::Ns(Ns::parse(t)?),
            (["mounts"], [None]) => SideFact::Mounts,
            (["mount", "fstype"], [Some(p), None]) => SideFact::MountFstype(one(p)?),
            (["mount", "propagation"], [Some(p), None]) => SideFact::MountPropagation(one(p)?),
            (["hostname"], [None]) => SideFact::Hostname,
            (["pid"], [None]) => SideFact::Pid,
            (["nspid"], [None]) => SideFact::NsPid,
            (["caps"], [None]) => SideFact::Caps,
            (["no_new_privs"], [None]) => SideFact::NoNewPrivs,
            (["ps"], [None]) => SideFact::Ps,
            (["ps", "count"], [None, None]) => SideFact::PsCount,
            (["ifaces"], [None]) => SideFact::Ifaces,
            (["iface", "state"], [Some(i), None]) => SideFact::IfaceState(one(i)?),
            (["iface", "addrs"], [Some(i), None]) => SideFact::IfaceAddrs(one(i)?),
            (["routes"], [None]) => SideFact::Routes,
            (["listening"], [None]) => SideFact::Listening,
            (["uid"], [None]) => SideFact::Uid,
            (["gid"], [None]) => SideFact::Gid,
            (["uid_map"], [None]) => SideFact::UidMap,
            (["gid_map"], [None]) => SideFact::GidMap,
            (["setgroups"], [None]) => SideFact::Setgroups,
            (["cgroup"], [None]) => SideFact::Cgroup,
            (["cgroup"], [Some(c)]) => SideFact::CgroupOf(one(c)?),
            (["ipc", "queues"], [None, None]) => SideFact::IpcQueues,
            (["root"], [None]) => SideFact::Root,
            (["cwd"], [None]) => SideFact::Cwd,
            (["ls"], [Some(p)]) => SideFact::Ls(one(p)?),
            (["exists"], [Some(p)]) => SideFact::Exists(one(p)?),
            _ => return None,
        })
    }

    /// The same fact with its argument (a path, an interface, a controller) expanded by `f`.
    pub fn map_arg(&self, f: &dyn Fn(&str) -> String) -> SideFact {
        match self {
            SideFact::MountFstype(p) => SideFact::MountFstype(f(p)),
            SideFact::MountPropagation(p) => SideFact::MountPropagation(f(p)),
            SideFact::IfaceState(i) => SideFact::IfaceState(f(i)),
            SideFact::IfaceAddrs(i) => SideFact::IfaceAddrs(f(i)),
            SideFact::CgroupOf(c) => SideFact::CgroupOf(f(c)),
            SideFact::Ls(p) => SideFact::Ls(f(p)),
            SideFact::Exists(p) => SideFact::Exists(f(p)),
            other => other.clone(),
        }
    }

    /// Ask for what answering this fact reads (arguments already expanded).
    pub fn add_needs(&self, needs: &mut Needs) {
        match self {
            SideFact::Ls(p) | SideFact::Exists(p) => needs.paths.push(p.clone()),
            SideFact::Ps | SideFact::PsCount => needs.processes = true,
            SideFact::NsPid | SideFact::Caps | SideFact::NoNewPrivs => needs.status = true,
            SideFact::Ifaces | SideFact::IfaceState(_) | SideFact::IfaceAddrs(_) => needs.ifaces = true,
            SideFact::Routes | SideFact::Listening => needs.net = true,
            SideFact::IpcQueues => needs.ipc = true,
            SideFact::Mounts | SideFact::MountFstype(_) | SideFact::MountPropagation(_) => needs.mounts = true,
            SideFact::Cgroup | SideFact::CgroupOf(_) => needs.cgroup = true,
            SideFact::UidMap | SideFact::GidMap | SideFact::Setgroups => needs.ids = true,
            SideFact::Root | SideFact::Cwd => needs.root = true,
            SideFact::Ns(_) | SideFact::Hostname | SideFact::Pid | SideFact::Uid | SideFact::Gid => {}
        }
    }
}

impl SideFact {
    /// Answer this fact from one side's snapshot.
    pub fn read(&self, s: &Snapshot) -> Value {
        let missing = |why: String| Value::Missing(why);
        let list_of = |r: &Result<Vec<String>, Unavailable>| match r {
            Ok(v) => Value::List(v.clone()),
            Err(e) => Value::Missing(e.to_string()),
        };
        let unavailable = |e: &ProcError| Value::Missing(e.to_string());
        let text = |r: &Result<String, ProcError>| r.as_ref().map_or_else(unavailable, |t| Value::Text(t.clone()));
        let mount = |at: &str| match &s.proc.mounts {
            Ok(m) => m
                .iter()
                .rev()
                .find(|m| m.mount_point == at)
                .ok_or_else(|| Value::Missing(format!("nothing is mounted at {at}"))),
            Err(e) => Err(unavailable(e)),
        };
        match self {
            SideFact::Ns(ns) => match s.proc.ns.get(ns) {
                Some(ino) => Value::Int(*ino as i64),
                None => missing("no such namespace on this kernel".into()),
            },
            SideFact::Mounts => match &s.proc.mounts {
                Ok(m) => Value::List(m.iter().map(|m| m.mount_point.clone()).collect()),
                Err(e) => unavailable(e),
            },
            SideFact::MountFstype(at) => mount(at).map_or_else(|v| v, |m| Value::Text(m.fstype.clone())),
            SideFact::MountPropagation(at) => {
                mount(at).map_or_else(|v| v, |m| Value::Text(m.propagation_kind().into()))
            }
            SideFact::Hostname => Value::Text(s.inside.hostname.clone()),
            SideFact::Pid => Value::Int(s.inside.pid as i64),
            SideFact::NsPid if s.proc.nspid.is_empty() => missing("no NSpid in /proc/PID/status".into()),
            SideFact::NsPid => Value::List(s.proc.nspid.iter().map(i32::to_string).collect()),
            SideFact::Caps => match s.proc.cap_eff {
                Some(mask) => Value::List(cap_names(mask)),
                None => missing("no CapEff in /proc/PID/status".into()),
            },
            SideFact::NoNewPrivs => match s.proc.no_new_privs {
                Some(b) => Value::Bool(b),
                None => missing("no NoNewPrivs in /proc/PID/status".into()),
            },
            SideFact::Ps => list_of(&s.inside.processes.clone().map(|v| v.into_iter().map(|p| p.name).collect())),
            SideFact::PsCount => match &s.inside.processes {
                Ok(v) => Value::Int(v.len() as i64),
                Err(e) => Value::Missing(e.to_string()),
            },
            SideFact::Ifaces => list_of(&s.inside.ifaces.clone().map(|v| v.into_iter().map(|i| i.name).collect())),
            SideFact::IfaceState(name) => match &s.inside.ifaces {
                Ok(v) => match v.iter().find(|i| &i.name == name) {
                    Some(i) => Value::Text(if i.up { "UP" } else { "DOWN" }.into()),
                    None => missing(format!("no interface {name}")),
                },
                Err(e) => Value::Missing(e.to_string()),
            },
            SideFact::IfaceAddrs(name) => match &s.inside.ifaces {
                Ok(v) => match v.iter().find(|i| &i.name == name) {
                    Some(i) => Value::List(i.addrs.clone()),
                    None => missing(format!("no interface {name}")),
                },
                Err(e) => Value::Missing(e.to_string()),
            },
            SideFact::Routes => match &s.proc.routes {
                Ok(v) => Value::List(v.iter().map(|r| r.to_string()).collect()),
                Err(e) => unavailable(e),
            },
            SideFact::Listening => match &s.proc.listening {
                Ok(v) => Value::List(v.clone()),
                Err(e) => unavailable(e),
            },
            SideFact::Uid => Value::Int(s.inside.uid as i64),
            SideFact::Gid => Value::Int(s.inside.gid as i64),
            SideFact::UidMap => text(&s.proc.uid_map),
            SideFact::GidMap => text(&s.proc.gid_map),
            SideFact::Setgroups => text(&s.proc.setgroups),
            SideFact::Cgroup => match s.cgroup_lines() {
                Ok(lines) => Value::List(lines.iter().map(|l| l.to_string()).collect()),
                Err(e) => unavailable(e),
            },
            SideFact::CgroupOf(c) => match s.cgroup_lines().map(|lines| procfs::cgroup_path(lines, c)) {
                Ok(Some(p)) => Value::Text(p),
                Ok(None) => missing(format!("no cgroup line for {c}")),
                Err(e) => unavailable(e),
            },
            SideFact::IpcQueues => match &s.inside.msg_queues {
                Ok(v) => Value::Int(v.len() as i64),
                Err(e) => Value::Missing(e.to_string()),
            },
            SideFact::Root => Value::Text(s.proc.root.clone()),
            SideFact::Cwd => Value::Text(s.proc.cwd.clone()),
            SideFact::Ls(p) => match s.inside.listings.get(p) {
                Some(r) => list_of(r),
                None => missing(format!("{p} was not listed")),
            },
            SideFact::Exists(p) => match s.inside.listings.get(p) {
                Some(Ok(_)) => Value::Bool(true),
                Some(Err(e)) if e.0.contains("Not a directory") => Value::Bool(true),
                Some(Err(_)) => Value::Bool(false),
                None => missing(format!("{p} was not looked at")),
            },
        }
    }
}

impl fmt::Display for SideFact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SideFact::Ns(n) => write!(f, "ns.{n}"),
            SideFact::Mounts => f.write_str("mounts"),
            SideFact::MountFstype(p) => write!(f, "mount[{p}].fstype"),
            SideFact::MountPropagation(p) => write!(f, "mount[{p}].propagation"),
            SideFact::Hostname => f.write_str("hostname"),
            SideFact::Pid => f.write_str("pid"),
            SideFact::NsPid => f.write_str("nspid"),
            SideFact::Caps => f.write_str("caps"),
            SideFact::NoNewPrivs => f.write_str("no_new_privs"),
            SideFact::Ps => f.write_str("ps"),
            SideFact::PsCount => f.write_str("ps.count"),
            SideFact::Ifaces => f.write_str("ifaces"),
            SideFact::IfaceState(i) => write!(f, "iface[{i}].state"),
            SideFact::IfaceAddrs(i) => write!(f, "iface[{i}].addrs"),
            SideFact::Routes => f.write_str("routes"),
            SideFact::Listening => f.write_str("listening"),
            SideFact::Uid => f.write_str("uid"),
            SideFact::Gid => f.write_str("gid"),
            SideFact::UidMap => f.write_str("uid_map"),
            SideFact::GidMap => f.write_str("gid_map"),
            SideFact::Setgroups => f.write_str("setgroups"),
            SideFact::Cgroup => f.write_str("cgroup"),
            SideFact::CgroupOf(c) => write!(f, "cgroup[{c}]"),
            SideFact::IpcQueues => f.write_str("ipc.queues"),
            SideFact::Root => f.write_str("root"),
            SideFact::Cwd => f.write_str("cwd"),
            SideFact::Ls(p) => write!(f, "ls[{p}]"),
            SideFact::Exists(p) => write!(f, "exists[{p}]"),
        }
    }
}
