//! Performing a step's actions with as few round trips to the sandbox as possible.
//!
//! Consecutive sandbox actions go in one batch, and the last batch of a step also brings
//! back the inside facts for the "after" snapshot, so a step like `unshare mnt`, `mkdir`,
//! `mount tmpfs` costs two round trips (before, then actions + after) instead of five.
//! Host actions and `burn` (which the host meters while it runs) split the batches, and so
//! does `unshare pid`, after which `$PID` names a new agent.

use super::event::{Event, Sink};
use super::{ActionReport, Lab, LabError};
use crate::lesson::{Action, Ns, SandboxAction, Step};
use crate::observe::{Needs, Snapshot};
use crate::sandbox::{Outcome, SandboxOp};

/// `burn SECONDS [stress]`, under any `try`.
fn burn_of(a: &Action) -> Option<(u32, bool)> {
    match a.sandbox() {
        Some(SandboxAction::Burn { secs, stress }) => Some((*secs, *stress)),
        _ => None,
    }
}

fn forks_agent(a: &Action) -> bool {
    matches!(a.sandbox(), Some(SandboxAction::Unshare(set)) if set.contains(&Ns::Pid))
}

/// How one part of a step travels: the host performs an action alone (a host action, or
/// `burn`, which the host meters while it runs), or consecutive sandbox actions go to the
/// agent in one request. A batch ends after `unshare pid` (then `$PID` names a new agent)
/// and before an action left out for a mutant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Leg {
    /// Left out (a mutant of `nsdojo check --mutate`).
    Removed(usize),
    Host(usize),
    Burn(usize),
    /// These actions, in one round trip.
    Sandbox(std::ops::Range<usize>),
}

/// The legs of a step, in order (they do not depend on `$VARS`, so the plan is made once).
pub(super) fn legs(actions: &[Action], removed: Option<usize>) -> Vec<Leg> {
    let alone = |a: &Action| a.is_host() || burn_of(a).is_some();
    let mut legs = Vec::new();
    let mut i = 0;
    while i < actions.len() {
        let start = i;
        i += 1;
        legs.push(if removed == Some(start) {
            Leg::Removed(start)
        } else if actions[start].is_host() {
            Leg::Host(start)
        } else if burn_of(&actions[start]).is_some() {
            Leg::Burn(start)
        } else {
            while i < actions.len() && !forks_agent(&actions[i - 1]) && removed != Some(i) && !alone(&actions[i]) {
                i += 1;
            }
            Leg::Sandbox(start..i)
        });
    }
    legs
}

/// What the actions did, why the step stopped (if it did), and the sandbox after them
/// (when the last batch could bring it back).
pub(super) type ActionsDone = (Vec<ActionReport>, Option<crate::msg::Msg>, Option<Snapshot>);

impl Lab {
    /// Perform the step's actions in order; `removed` (0-based) is left out, for a mutant.
    pub(super) fn perform_actions(
        &mut self,
        step: &Step,
        needs: &Needs,
        removed: Option<usize>,
        sink: &mut dyn Sink,
    ) -> Result<ActionsDone, LabError> {
        let record_err = |e| LabError::Work { path: "/run/nsdojo".into(), source: e };
        let mut reports = Vec::new();
        let mut after = None;
        let n = step.actions.len();
        for leg in legs(&step.actions, removed) {
            // Expanded just before each leg: `$PID` changes after `unshare pid`.
            let vars = self.vars();
            let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
            match leg {
                Leg::Removed(i) => {
                    let report = ActionReport {
                        src: format!("✂ {}", self.expand(&step.action_src[i])),
                        on_host: step.actions[i].is_host(),
                        removed: true,
                        outcome: Outcome::default(),
                    };
                    self.push_report(&mut reports, report, sink);
                }
                Leg::Host(i) | Leg::Burn(i) => {
                    let action = step.actions[i].expand(&pairs);
                    self.record_before(&action).map_err(record_err)?;
                    let outcome = match (burn_of(&action), action.is_try()) {
                        (Some((secs, stress)), false) => self.burn(secs, stress, sink)?,
                        (Some((secs, stress)), true) => Outcome { error: None, ..self.burn(secs, stress, sink)? },
                        (None, _) => self.host_perform(&action),
                    };
                    let failed = outcome.error.clone();
                    let report = ActionReport {
                        src: self.expand(&step.action_src[i]),
                        on_host: action.is_host(),
                        removed: false,
                        outcome,
                    };
                    self.push_report(&mut reports, report, sink);
                    if failed.is_some() {
                        return Ok((reports, failed, None));
                    }
                }
                Leg::Sandbox(range) => {
                    let batch: Vec<Action> = step.actions[range.clone()].iter().map(|a| a.expand(&pairs)).collect();
                    for a in &batch {
                        self.record_before(a).map_err(record_err)?;
                    }
                    // Only sandbox actions are in a batch (`legs` keeps host ones apart).
                    let ops = batch.iter().filter_map(SandboxOp::of).collect();
                    let last = range.end == n;
                    let (outcomes, snapshot) = self.sandbox()?.perform_batch(ops, last.then_some(needs))?;
                    if outcomes.iter().any(|o| o.forked_agent) {
                        self.publish_pid();
                    }
                    after = snapshot;
                    let done = outcomes.len();
                    let mut failed = None;
                    for (k, outcome) in outcomes.into_iter().enumerate() {
                        self.disown_netns_if_taken(&batch[k], &outcome);
                        failed = failed.or_else(|| outcome.error.clone());
                        let report = ActionReport {
                            src: self.expand(&step.action_src[range.start + k]),
                            on_host: false,
                            removed: false,
                            outcome,
                        };
                        self.push_report(&mut reports, report, sink);
                    }
                    if failed.is_some() || done < batch.len() {
                        return Ok((reports, failed.or(Some(crate::msg::Msg::SandboxStopped)), after));
                    }
                }
            }
        }
        Ok((reports, None, after))
    }

    /// Add an action's report, telling `sink` the system calls it made.
    fn push_report(&self, reports: &mut Vec<ActionReport>, report: ActionReport, sink: &mut dyn Sink) {
        for call in &report.outcome.trace.calls {
            sink.event(self, &Event::Syscall { action: reports.len(), on_host: report.on_host, call });
        }
        reports.push(report);
    }
}

#[cfg(test)]
mod tests {
    use super::{legs, Leg};
    use crate::lesson::action::parse_action;
    use crate::lesson::Action;

    fn step(lines: &[&str]) -> Vec<Action> {
        lines.iter().map(|l| parse_action(l).expect("the line parses")).collect()
    }

    #[test]
    fn consecutive_sandbox_actions_travel_in_one_round_trip() {
        let s = step(&["unshare mnt", "mkdir /w/m", "mount tmpfs /w/m", "sh ls /w/m"]);
        assert_eq!(legs(&s, None), [Leg::Sandbox(0..4)]);
    }

    #[test]
    fn a_host_action_travels_alone_and_splits_the_batch() {
        let s = step(&["mkdir /w/a", "host sh ls /w", "mkdir /w/b", "cgroup join", "try host sh true"]);
        assert_eq!(legs(&s, None), [Leg::Sandbox(0..1), Leg::Host(1), Leg::Sandbox(2..3), Leg::Host(3), Leg::Host(4)]);
    }

    #[test]
    fn burn_travels_alone_because_the_host_meters_it() {
        let s = step(&["mkdir /w/a", "burn 3s", "try burn 2s stress", "sh true"]);
        assert_eq!(legs(&s, None), [Leg::Sandbox(0..1), Leg::Burn(1), Leg::Burn(2), Leg::Sandbox(3..4)]);
    }

    #[test]
    fn unshare_pid_ends_its_batch_because_pid_names_a_new_agent() {
        let s = step(&["unshare pid mnt", "mount proc /proc", "try unshare pid", "sh ps"]);
        assert_eq!(legs(&s, None), [Leg::Sandbox(0..1), Leg::Sandbox(1..3), Leg::Sandbox(3..4)]);
    }

    #[test]
    fn an_action_left_out_for_a_mutant_is_a_leg_of_its_own() {
        let s = step(&["unshare mnt", "mkdir /w/m", "mount tmpfs /w/m"]);
        assert_eq!(legs(&s, Some(1)), [Leg::Sandbox(0..1), Leg::Removed(1), Leg::Sandbox(2..3)]);
        assert_eq!(legs(&s, Some(0)), [Leg::Removed(0), Leg::Sandbox(1..3)]);
        let h = step(&["cgroup create cpu"]);
        assert_eq!(legs(&h, Some(0)), [Leg::Removed(0)], "a host action too");
    }

    #[test]
    fn an_empty_step_has_no_legs() {
        assert!(legs(&[], None).is_empty());
    }
}
