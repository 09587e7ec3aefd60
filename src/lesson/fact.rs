//! Facts, typed: what a check can ask about, as the parser produces it and the
//! observer answers it.
//!
//! A fact is written as a dotted path (`sandbox.ns.mnt`, `before.host.hostname`,
//! `action[2].errno`, `group.limit[cpu]`). The expectation grammar
//! ([`super::expect`]) reads the path; [`Fact::from_path`] turns it into one of the
//! enums below or says why it cannot. From then on nothing matches strings: the
//! lab asks a [`Fact`] what it needs read ([`SideFact::add_needs`]), and each
//! source answers the variants it owns. A side fact (one terminal's state) is the
//! observer's own type (`observe::side_fact`), which also reads it; this module adds
//! what only a lesson step has: action results and the session's cgroup. Adding a
//! fact is one variant, one arm in `from_path`/`Display`, one reader, one row in
//! [`FACT_TABLE`], [`RESULT_TABLE`] or [`GROUP_TABLE`] (which the authoring guide is
//! checked against).

use std::fmt;

pub use crate::observe::side_fact::{Segment, SideFact, FACT_TABLE};

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

/// The cgroup controller whose limit `group.limit[…]` reads, whatever the layout.
pub use crate::cgroup::Controller as Limit;

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
    /// Enforcement periods in which the CPU controller stopped the group because it had used
    /// its quota (`nr_throttled` of cpu.stat, both layouts): proof that a process in the group
    /// wanted more CPU than the limit gave it.
    Throttled,
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
    ("throttled", "periods the CPU controller stopped the group at its quota (cpu.stat nr_throttled)"),
];

/// Why a written fact is not one (the message the lesson loader puts at `file:line:col`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactError {
    #[error("empty fact")]
    Empty,
    #[error("unknown fact `{shown}` (known after `{prefix}`: {known})")]
    Unknown { shown: String, prefix: String, known: String },
    #[error("`action[{0}]`: actions are numbered from 1, as listed in `do`")]
    ActionIndex(String),
    #[error(
        "unknown fact `{0}`: a fact starts with sandbox., host., before.sandbox., before.host., step., \
         action[N]., group. or before.group."
    )]
    Root(String),
}

impl Fact {
    /// The typed fact for a written path, or why it is not one.
    pub fn from_path(before: bool, path: &[Segment]) -> Result<Fact, FactError> {
        let when = if before { When::Before } else { When::After };
        let Some(((root, root_arg), rest)) = path.split_first() else {
            return Err(FactError::Empty);
        };
        let unknown = |table: &[(&str, &str)], prefix: &str| {
            let list: Vec<&str> = table.iter().map(|(k, _)| *k).collect();
            FactError::Unknown {
                shown: path_text(path).escape_debug().to_string(),
                prefix: prefix.to_string(),
                known: list.join(", "),
            }
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
                        _ => return Err(FactError::ActionIndex(n.clone())),
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
            _ => Err(FactError::Root(path_text(path).escape_debug().to_string())),
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
            Fact::Group { fact: GroupFact::Throttled, .. } => (Table::Group, "throttled".into()),
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

impl GroupFact {
    fn from_path(path: &[Segment]) -> Option<GroupFact> {
        Some(match path {
            [(n, Some(file))] if n == "file" && !file.contains('/') => GroupFact::File(file.clone()),
            [(n, Some(c))] if n == "limit" => GroupFact::Limit(Limit::parse(c)?),
            [(n, None)] if n == "oom_kills" => GroupFact::OomKills,
            [(n, None)] if n == "throttled" => GroupFact::Throttled,
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
            GroupFact::Throttled => f.write_str("throttled"),
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
        let e = Fact::from_path(false, &[seg("action", Some("0")), seg("errno", None)]).unwrap_err().to_string();
        assert!(e.contains("numbered from 1"), "{e}");
        let e = Fact::from_path(true, &[seg("step", None), seg("errno", None)]).unwrap_err().to_string();
        assert!(e.contains("a fact starts with"), "{e}");
        let e = Fact::from_path(false, &[seg("group", None), seg("limit", Some("io"))]).unwrap_err().to_string();
        assert!(e.contains("limit[cpu]"), "{e}");
        let e = Fact::from_path(false, &[seg("group", None), seg("file", Some("../x"))]).unwrap_err().to_string();
        assert!(e.contains("unknown fact"), "{e}");
        let e = Fact::from_path(false, &[seg("sandbox", None), seg("ns", None), seg("bogus", None)])
            .unwrap_err()
            .to_string();
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
