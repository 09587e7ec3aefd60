//! Answering a step's checks: each [`Fact`] from the snapshot, action result or
//! cgroup file that holds it.
//!
//! `step.X` looks over all the step's actions (the last output, the last failed
//! call), `action[N].X` at action N alone, so a step with two `try` lines can
//! assert both outcomes. An action a mutant removed, or one the step never reached
//! because an earlier one failed, answers "unavailable", which no check accepts.

use super::{ActionReport, Files, Sides};
use crate::lesson::expect::{FactSource, Value};
use crate::lesson::fact::{Fact, GroupFact, Limit, ResultFact, Side, When};
use crate::sandbox::rpc::MeterSample;

/// The row of the cgroup files table that holds the OOM-kill counter.
pub(super) const OOM_KILL_ROW: &str = "oom_kill (memory.events / memory.oom_control)";
/// The row that holds cpu.stat's throttled-period counter.
pub(super) const THROTTLED_ROW: &str = "nr_throttled (cpu.stat)";

/// What a step's facts are looked up in.
pub(super) struct StepFacts<'a> {
    pub before: &'a Sides,
    pub after: &'a Sides,
    pub actions: &'a [ActionReport],
    /// How many actions the step has (`do`), performed or not.
    pub planned: usize,
    /// The session cgroup's files before and after the step.
    pub group: (&'a Files, &'a Files),
}

impl FactSource for StepFacts<'_> {
    fn fact(&self, f: &Fact) -> Value {
        match f {
            Fact::Side { side, when, fact } => {
                let sides = if *when == When::Before { self.before } else { self.after };
                match side {
                    Side::Sandbox => sides.sandbox.fact(fact),
                    Side::Host => sides.host.fact(fact),
                }
            }
            Fact::Result { action: None, fact } => {
                let ran: Vec<&ActionReport> = self.actions.iter().filter(|a| !a.removed).collect();
                result(&ran, *fact)
            }
            Fact::Result { action: Some(n), fact } => match self.actions.get(n - 1) {
                Some(a) if a.removed => Value::Missing(format!("action {n} was removed")),
                Some(a) => result(&[a], *fact),
                None if *n > self.planned => Value::Missing(format!("the step has {} action(s)", self.planned)),
                None => Value::Missing(format!("action {n} did not run (an earlier action failed)")),
            },
            Fact::Group { when, fact } => {
                let files = if *when == When::Before { self.group.0 } else { self.group.1 };
                group(files, fact)
            }
        }
    }
}

/// A result fact over some actions (the later ones win).
fn result(actions: &[&ActionReport], fact: ResultFact) -> Value {
    let last_output = actions.iter().rev().find_map(|a| a.outcome.output.as_ref());
    let no_output = || Value::Missing("no sh, exec, hog or forks ran here".into());
    match fact {
        ResultFact::Errno => Value::Text(
            actions
                .iter()
                .rev()
                .find_map(|a| a.outcome.trace.calls.iter().rev().find_map(|c| c.errno()))
                .map_or("none".into(), |e| format!("{e:?}")),
        ),
        ResultFact::Stdout => last_output.map_or_else(no_output, |o| Value::Text(o.stdout.clone())),
        ResultFact::Stderr => last_output.map_or_else(no_output, |o| Value::Text(o.stderr.clone())),
        ResultFact::Status => last_output.map_or_else(no_output, |o| Value::Int(o.status as i64)),
        ResultFact::Cpu | ResultFact::Confined | ResultFact::Throttled => {
            match actions.iter().rev().map(|a| &a.outcome.meter).find(|m| !m.is_empty()) {
                Some(meter) => meter_fact(fact, meter),
                None => Value::Missing("no burn ran here".into()),
            }
        }
    }
}

fn meter_fact(fact: ResultFact, meter: &[MeterSample]) -> Value {
    match fact {
        ResultFact::Cpu => Value::Int(average(meter).round() as i64),
        ResultFact::Confined => match meter.iter().map(|s| s.confined).collect::<Option<Vec<bool>>>() {
            Some(all) => Value::Bool(all.iter().all(|c| *c)),
            None => Value::Bool(false),
        },
        _ => match (meter.first().and_then(|s| s.nr_throttled), meter.last().and_then(|s| s.nr_throttled)) {
            (Some(a), Some(b)) => Value::Int(b.saturating_sub(a) as i64),
            _ => Value::Missing("no cpu.stat for this burn".into()),
        },
    }
}

pub(super) fn average(samples: &[MeterSample]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.iter().map(|s| s.percent).sum::<f64>() / samples.len() as f64
}

/// A file of the group by its name (the table's rows are `GROUP/FILE`).
fn file<'a>(files: &'a Files, name: &str) -> Option<&'a str> {
    files.iter().find(|(row, _)| row.rsplit('/').next() == Some(name)).map(|(_, v)| v.as_str())
}

fn group(files: &Files, fact: &GroupFact) -> Value {
    if files.is_empty() {
        return Value::Missing("the session has no cgroup".into());
    }
    let absent = |what: &str| Value::Missing(format!("the session's cgroup has no {what}"));
    match fact {
        GroupFact::File(name) => file(files, name).map_or_else(|| absent(name), |v| Value::Text(v.to_string())),
        GroupFact::OomKills => match files.iter().find(|(row, _)| row == OOM_KILL_ROW) {
            Some((_, v)) => v.parse().map_or_else(|_| absent("OOM-kill counter"), Value::Int),
            None => absent("memory controller"),
        },
        GroupFact::Throttled => match files.iter().find(|(row, _)| row == THROTTLED_ROW) {
            Some((_, v)) => v.parse().map_or_else(|_| absent("throttle counter"), Value::Int),
            None => absent("cpu controller"),
        },
        GroupFact::Limit(limit) => normalized_limit(files, *limit).unwrap_or_else(|| absent(limit.name())),
    }
}

/// A limit in the same units on v1 and v2 (see `GroupFact::Limit`).
fn normalized_limit(files: &Files, limit: Limit) -> Option<Value> {
    let max = || Value::Text("max".into());
    match limit {
        Limit::Cpu => {
            let (quota, period) = match file(files, "cpu.max") {
                Some(v2) => {
                    let (q, p) = v2.split_once(' ')?;
                    (q.to_string(), p.parse::<i64>().ok()?)
                }
                None => (file(files, "cpu.cfs_quota_us")?.to_string(), file(files, "cpu.cfs_period_us")?.parse().ok()?),
            };
            match quota.parse::<i64>() {
                Ok(q) if q >= 0 && period > 0 => Some(Value::Int((q * 100 + period / 2) / period)),
                _ => Some(max()),
            }
        }
        Limit::Memory => {
            let v = file(files, "memory.max").or_else(|| file(files, "memory.limit_in_bytes"))?;
            // v1 says "unlimited" with the largest page-aligned i64.
            match v.parse::<i64>() {
                Ok(n) if n < (1 << 62) => Some(Value::Int(n)),
                _ => Some(max()),
            }
        }
        Limit::Pids => {
            let v = file(files, "pids.max")?;
            Some(v.parse::<i64>().map_or_else(|_| max(), Value::Int))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::expect::parse_expect;
    use crate::observe::Snapshot;
    use crate::sandbox::{Outcome, ShellOutput};
    use crate::trace::{Syscall, Trace};

    fn sides() -> Sides {
        let s = Snapshot { proc: Default::default(), inside: Default::default() };
        Sides { sandbox: s.clone(), host: s }
    }

    fn action(errno: Option<nix::errno::Errno>, status: Option<i32>) -> ActionReport {
        let mut trace = Trace::default();
        trace.push(match errno {
            Some(e) => Syscall::from_result::<()>("pivot_root(\".\", \"old-root\")", &Err(e), 0),
            None => Syscall::ok("chdir(\"/\")", 0),
        });
        let output = status.map(|status| ShellOutput {
            stdout: format!("out{status}"),
            stderr: String::new(),
            status,
            timed_out: false,
            interrupted: false,
        });
        ActionReport {
            src: String::new(),
            on_host: false,
            removed: false,
            outcome: Outcome { trace, output, ..Default::default() },
        }
    }

    fn check(actions: &[ActionReport], planned: usize, files: &Files, line: &str) -> bool {
        let (b, a) = (sides(), sides());
        let facts = StepFacts { before: &b, after: &a, actions, planned, group: (files, files) };
        parse_expect(line).unwrap().evaluate(&facts).passed
    }

    #[test]
    fn each_action_answers_for_itself() {
        use nix::errno::Errno;
        let acts = [action(Some(Errno::EBUSY), None), action(None, None), action(Some(Errno::EINVAL), Some(3))];
        let none = Files::new();
        assert!(check(&acts, 3, &none, "action[1].errno == EBUSY"));
        assert!(check(&acts, 3, &none, "action[2].errno == none"));
        assert!(check(&acts, 3, &none, "action[3].errno == EINVAL"));
        assert!(check(&acts, 3, &none, "step.errno == EINVAL"));
        assert!(check(&acts, 3, &none, "action[3].status == 3"));
        assert!(!check(&acts, 3, &none, "action[1].status == 3"), "action 1 ran no command");
        assert!(!check(&acts, 4, &none, "action[4].errno == none"), "action 4 never ran");
    }

    #[test]
    fn a_removed_action_proves_nothing() {
        use nix::errno::Errno;
        let mut gone = action(Some(Errno::EBUSY), None);
        gone.removed = true;
        gone.outcome = Outcome::default();
        let acts = [gone, action(None, Some(0))];
        let none = Files::new();
        assert!(!check(&acts, 2, &none, "action[1].errno == none"));
        assert!(!check(&acts, 2, &none, "action[1].errno != EBUSY"));
        assert!(check(&acts, 2, &none, "step.errno == none"));
    }

    #[test]
    fn limits_read_alike_on_v1_and_v2() {
        let v2: Files = vec![
            ("nsdojo-1/cpu.max".into(), "30000 100000".into()),
            ("nsdojo-1/memory.max".into(), "33554432".into()),
            ("nsdojo-1/pids.max".into(), "max".into()),
            (OOM_KILL_ROW.into(), "1".into()),
        ];
        let v1: Files = vec![
            ("nsdojo-1/cpu.cfs_period_us".into(), "100000".into()),
            ("nsdojo-1/cpu.cfs_quota_us".into(), "30000".into()),
            ("nsdojo-1/memory.limit_in_bytes".into(), "9223372036854771712".into()),
            ("nsdojo-1/pids.max".into(), "16".into()),
        ];
        assert!(check(&[], 0, &v2, "group.limit[cpu] == 30"));
        assert!(check(&[], 0, &v1, "group.limit[cpu] == 30"));
        assert!(check(&[], 0, &v2, "group.limit[memory] == 33554432"));
        assert!(check(&[], 0, &v1, "group.limit[memory] == max"));
        assert!(check(&[], 0, &v2, "group.limit[pids] == max"));
        assert!(check(&[], 0, &v1, "group.limit[pids] == 16"));
        assert!(check(&[], 0, &v2, "group.oom_kills > 0"));
        assert!(!check(&[], 0, &v1, "group.oom_kills == 0"), "no memory controller: no counter");
        assert!(check(&[], 0, &v2, "group.file[cpu.max] == \"30000 100000\""));
        assert!(!check(&[], 0, &v1, "group.file[cpu.max] contains 30000"));
        let unlimited: Files = vec![("g/cpu.max".into(), "max 100000".into())];
        assert!(check(&[], 0, &unlimited, "group.limit[cpu] == max"));
        assert!(!check(&[], 0, &Files::new(), "group.limit[cpu] == max"), "no group at all");
    }
}
