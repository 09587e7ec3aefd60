//! Facts, typed: what a check can ask about, as the parser produces it and the
//! observer answers it.
//!
//! A fact is written as a dotted path (`sandbox.ns.mnt`, `before.host.hostname`,
//! `action[2].errno`, `group.limit[cpu]`). The expectation grammar
//! ([`super::expect`]) reads the path; [`Fact::from_path`] turns it into one of the
//! enums below or says why it cannot. From then on nothing matches strings: the
//! lab asks a [`Fact`] what it needs read ([`SideFact::add_needs`]), and each
//! source answers the variants it owns. Adding a fact is one variant, one arm in
//! `from_path`/`Display`, one reader, one row in [`FACT_TABLE`] (which the
//! authoring guide is checked against).

use std::fmt;

use super::Ns;
use crate::observe::Needs;

/// Terminal #1 (the sandbox) or terminal #2 (the host).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Sandbox,
    Host,
}

/// Before the step's actions, or after them (the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum When {
    Before,
    After,
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

/// What an action returned (one action's, or the step's last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResultFact {
    Errno,
    Stdout,
    Stderr,
    Status,
    Cpu,
    Confined,
    Throttled,
}

/// A cgroup controller whose limit `group.limit[…]` reads, whatever the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    Cpu,
    Memory,
    Pids,
}

/// The session's cgroup, as the host reads its files.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupFact {
    /// One file of the group's directory, by name (`cpu.max`, `cpu.cfs_quota_us`, …).
    File(String),
    /// A limit in layout-free units: cpu in % of one CPU, memory in bytes, pids a count;
    /// `max` when unlimited.
    Limit(Limit),
    /// How many processes the kernel's OOM killer killed in the group (v2 memory.events,
    /// v1 memory.oom_control `oom_kill`).
    OomKills,
}

/// Every fact a check can name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Fact {
    Side {
        side: Side,
        when: When,
        fact: SideFact,
    },
    /// `step.X`: over all the step's actions (the last output, the last failed call);
    /// `action[N].X`: action N of the step's `do` list (1-based).
    Result {
        action: Option<usize>,
        fact: ResultFact,
    },
    Group {
        when: When,
        fact: GroupFact,
    },
}

/// The reference table: every fact as written, with its meaning. The authoring guide
/// has a row for each (tests/it/docs.rs), and parse errors list them.
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

/// `step.X` and `action[N].X`.
pub const RESULT_TABLE: &[(&str, &str)] = &[
    ("errno", "errno name of the last failed call (`none` if all succeeded)"),
    ("stdout", "standard output of the last sh"),
    ("stderr", "standard error of the last sh"),
    ("status", "exit status of the last sh (or hog, forks, exec)"),
    ("cpu", "average %CPU the meter measured during the burn"),
    ("confined", "true if the burner was in the session's cgroup at every sample"),
    ("throttled", "periods the CPU controller throttled during the burn"),
];

/// `group.X` (and `before.group.X`).
pub const GROUP_TABLE: &[(&str, &str)] = &[
    ("file[NAME]", "contents of one file of the session's cgroup (e.g. cpu.max, cpu.cfs_quota_us)"),
    ("limit[cpu]", "the CPU limit in % of one CPU on any layout (`max` when unlimited)"),
    ("limit[memory]", "the memory limit in bytes on any layout (`max` when unlimited)"),
    ("limit[pids]", "pids.max (`max` when unlimited)"),
    ("oom_kills", "processes the OOM killer killed in the group (memory.events / memory.oom_control)"),
];

/// One part of a written path: `mount[/x]` is `("mount", Some("/x"))`.
pub type Segment = (String, Option<String>);

impl Fact {
    /// The typed fact for a written path, or the message to show.
    pub fn from_path(before: bool, path: &[Segment]) -> Result<Fact, String> {
        let when = if before { When::Before } else { When::After };
        let Some(((root, root_arg), rest)) = path.split_first() else {
            return Err("empty fact".into());
        };
        let unknown = |table: &[(&str, &str)], prefix: &str| {
            let shown: String = path_text(path);
            let list: Vec<&str> = table.iter().map(|(k, _)| *k).collect();
            format!("unknown fact `{}` (known after `{prefix}`: {})", shown.escape_debug(), list.join(", "))
        };
        match (root.as_str(), root_arg) {
            ("sandbox" | "host", None) => {
                let side = if root == "sandbox" { Side::Sandbox } else { Side::Host };
                let fact = SideFact::from_path(rest).ok_or_else(|| unknown(FACT_TABLE, &format!("{root}.")))?;
                Ok(Fact::Side { side, when, fact })
            }
            ("step", None) | ("action", Some(_)) if !before => {
                let action = match root_arg {
                    None => None,
                    Some(n) => match n.parse::<usize>() {
                        Ok(n) if n >= 1 => Some(n),
                        _ => return Err(format!("`action[{n}]`: actions are numbered from 1, as listed in `do`")),
                    },
                };
                let fact = match rest {
                    [(name, None)] => ResultFact::parse(name),
                    _ => None,
                }
                .ok_or_else(|| unknown(RESULT_TABLE, if action.is_some() { "action[N]." } else { "step." }))?;
                Ok(Fact::Result { action, fact })
            }
            ("group", None) => {
                let fact = GroupFact::from_path(rest).ok_or_else(|| unknown(GROUP_TABLE, "group."))?;
                Ok(Fact::Group { when, fact })
            }
            _ => Err(format!(
                "unknown fact `{}`: a fact starts with sandbox., host., before.sandbox., before.host., step., \
                 action[N]., group. or before.group.",
                path_text(path).escape_debug()
            )),
        }
    }

    /// The same fact with `$WORK`-style arguments expanded by `f`.
    pub fn map_args(&self, f: &dyn Fn(&str) -> String) -> Fact {
        match self {
            Fact::Side { side, when, fact } => Fact::Side { side: *side, when: *when, fact: fact.map_arg(f) },
            Fact::Group { when, fact: GroupFact::File(n) } => Fact::Group { when: *when, fact: GroupFact::File(f(n)) },
            other => other.clone(),
        }
    }
}

/// Which reference table a fact's row is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Side,
    Result,
    Group,
}

impl Fact {
    /// The fact's row in [`FACT_TABLE`], [`RESULT_TABLE`] or [`GROUP_TABLE`]
    /// (`mount[PATH].fstype` for `sandbox.mount[/x].fstype`).
    pub fn table_key(&self) -> (Table, String) {
        match self {
            Fact::Side { fact, .. } => (Table::Side, fact.key().to_string()),
            Fact::Result { fact, .. } => (Table::Result, fact.name().to_string()),
            Fact::Group { fact: GroupFact::File(_), .. } => (Table::Group, "file[NAME]".into()),
            Fact::Group { fact: GroupFact::Limit(l), .. } => (Table::Group, format!("limit[{}]", l.name())),
            Fact::Group { fact: GroupFact::OomKills, .. } => (Table::Group, "oom_kills".into()),
        }
    }
}

impl SideFact {
    fn key(&self) -> &'static str {
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

fn path_text(path: &[Segment]) -> String {
    path.iter()
        .map(|(n, a)| match a {
            Some(a) => format!("{n}[{a}]"),
            None => n.clone(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

impl SideFact {
    fn from_path(path: &[Segment]) -> Option<SideFact> {
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

    fn map_arg(&self, f: &dyn Fn(&str) -> String) -> SideFact {
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

impl ResultFact {
    fn parse(name: &str) -> Option<ResultFact> {
        Some(match name {
            "errno" => ResultFact::Errno,
            "stdout" => ResultFact::Stdout,
            "stderr" => ResultFact::Stderr,
            "status" => ResultFact::Status,
            "cpu" => ResultFact::Cpu,
            "confined" => ResultFact::Confined,
            "throttled" => ResultFact::Throttled,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ResultFact::Errno => "errno",
            ResultFact::Stdout => "stdout",
            ResultFact::Stderr => "stderr",
            ResultFact::Status => "status",
            ResultFact::Cpu => "cpu",
            ResultFact::Confined => "confined",
            ResultFact::Throttled => "throttled",
        }
    }
}

impl Limit {
    pub fn name(self) -> &'static str {
        match self {
            Limit::Cpu => "cpu",
            Limit::Memory => "memory",
            Limit::Pids => "pids",
        }
    }
}

impl GroupFact {
    fn from_path(path: &[Segment]) -> Option<GroupFact> {
        Some(match path {
            [(n, Some(file))] if n == "file" && !file.contains('/') => GroupFact::File(file.clone()),
            [(n, Some(c))] if n == "limit" => GroupFact::Limit(match c.as_str() {
                "cpu" => Limit::Cpu,
                "memory" => Limit::Memory,
                "pids" => Limit::Pids,
                _ => return None,
            }),
            [(n, None)] if n == "oom_kills" => GroupFact::OomKills,
            _ => return None,
        })
    }
}

impl fmt::Display for GroupFact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupFact::File(n) => write!(f, "file[{n}]"),
            GroupFact::Limit(l) => write!(f, "limit[{}]", l.name()),
            GroupFact::OomKills => f.write_str("oom_kills"),
        }
    }
}

impl fmt::Display for Fact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let before = |w: &When| if *w == When::Before { "before." } else { "" };
        match self {
            Fact::Side { side, when, fact } => {
                let s = if *side == Side::Sandbox { "sandbox" } else { "host" };
                write!(f, "{}{s}.{fact}", before(when))
            }
            Fact::Result { action: None, fact } => write!(f, "step.{}", fact.name()),
            Fact::Result { action: Some(n), fact } => write!(f, "action[{n}].{}", fact.name()),
            Fact::Group { when, fact } => write!(f, "{}group.{fact}", before(when)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(n: &str, a: Option<&str>) -> Segment {
        (n.to_string(), a.map(str::to_string))
    }

    #[test]
    fn paths_become_typed_facts_and_print_back() {
        let f = Fact::from_path(false, &[seg("action", Some("2")), seg("errno", None)]).unwrap();
        assert_eq!(f, Fact::Result { action: Some(2), fact: ResultFact::Errno });
        assert_eq!(f.to_string(), "action[2].errno");
        let g = Fact::from_path(true, &[seg("group", None), seg("file", Some("cpu.max"))]).unwrap();
        assert_eq!(g.to_string(), "before.group.file[cpu.max]");
        let l = Fact::from_path(false, &[seg("group", None), seg("limit", Some("memory"))]).unwrap();
        assert_eq!(l, Fact::Group { when: When::After, fact: GroupFact::Limit(Limit::Memory) });
        let s = Fact::from_path(false, &[seg("sandbox", None), seg("caps", None)]).unwrap();
        assert_eq!(s.to_string(), "sandbox.caps");
    }

    #[test]
    fn wrong_paths_say_what_is_known() {
        let e = Fact::from_path(false, &[seg("action", Some("0")), seg("errno", None)]).unwrap_err();
        assert!(e.contains("numbered from 1"), "{e}");
        let e = Fact::from_path(true, &[seg("step", None), seg("errno", None)]).unwrap_err();
        assert!(e.contains("a fact starts with"), "{e}");
        let e = Fact::from_path(false, &[seg("group", None), seg("limit", Some("io"))]).unwrap_err();
        assert!(e.contains("limit[cpu]"), "{e}");
        let e = Fact::from_path(false, &[seg("group", None), seg("file", Some("../x"))]).unwrap_err();
        assert!(e.contains("unknown fact"), "{e}");
        let e = Fact::from_path(false, &[seg("sandbox", None), seg("ns", None), seg("bogus", None)]).unwrap_err();
        assert!(e.contains("after `sandbox.`: ns.<type>"), "{e}");
    }

    #[test]
    fn every_table_row_parses() {
        let arg = |k: &str| k.replace("PATH", "/x").replace("NAME", "lo").replace("CONTROLLER", "cpu");
        let parse = |s: &str| {
            let path: Vec<Segment> = s
                .split('.')
                .map(|p| match p.split_once('[') {
                    Some((n, a)) => seg(n, Some(a.trim_end_matches(']'))),
                    None => seg(p, None),
                })
                .collect();
            path
        };
        for (k, _) in FACT_TABLE {
            // `mount[/x].fstype`: no dots inside the brackets here, so a split on '.' is enough.
            let k = arg(&k.replace("<type>", "mnt"));
            let mut p = vec![seg("sandbox", None)];
            p.extend(parse(&k));
            let f = Fact::from_path(false, &p).unwrap_or_else(|e| panic!("{k}: {e}"));
            assert_eq!(f.table_key().0, Table::Side);
        }
        for (k, _) in FACT_TABLE {
            assert!(FACT_TABLE.iter().filter(|(x, _)| x == k).count() == 1, "{k} twice");
        }
        for (k, _) in RESULT_TABLE {
            Fact::from_path(false, &[seg("step", None), seg(k, None)]).unwrap();
        }
        for (k, _) in GROUP_TABLE {
            let mut p = vec![seg("group", None)];
            p.extend(parse(&k.replace("NAME", "pids_max")));
            Fact::from_path(false, &p).unwrap_or_else(|e| panic!("{k}: {e}"));
        }
    }
}
