//! Performing a step's actions with as few round trips to the sandbox as possible.
//!
//! Consecutive sandbox actions go in one batch, and the last batch of a step also brings
//! back the inside facts for the "after" snapshot, so a step like `unshare mnt`, `mkdir`,
//! `mount tmpfs` costs two round trips (before, then actions + after) instead of five.
//! Host actions and `burn` (which the host meters while it runs) split the batches, and so
//! does `unshare pid`, after which `$PID` names a new agent.

use super::{ActionReport, Lab, LabError};
use crate::lesson::{Action, Ns, Step};
use crate::observe::{Needs, Snapshot};
use crate::sandbox::Outcome;

fn is_burn(a: &Action) -> bool {
    match a {
        Action::Burn { .. } => true,
        Action::Try(inner) => is_burn(inner),
        _ => false,
    }
}

fn forks_agent(a: &Action) -> bool {
    match a {
        Action::Unshare(set) => set.contains(&Ns::Pid),
        Action::Try(inner) => forks_agent(inner),
        _ => false,
    }
}

/// What the actions did, why the step stopped (if it did), and the sandbox after them
/// (when the last batch could bring it back).
pub(super) type Performed = (Vec<ActionReport>, Option<String>, Option<Snapshot>);

impl Lab {
    /// Perform the step's actions in order; `removed` (0-based) is left out, for a mutant.
    pub(super) fn perform_actions(
        &mut self,
        step: &Step,
        needs: &Needs,
        removed: Option<usize>,
    ) -> Result<Performed, LabError> {
        let record_err = |e| LabError::Work { path: "/run/nsdojo".into(), source: e };
        let mut reports = Vec::new();
        let mut after = None;
        let n = step.actions.len();
        let mut i = 0;
        while i < n {
            let vars = self.vars();
            let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let first = step.actions[i].expand(&pairs);
            if removed == Some(i) {
                let src = format!("✂ {}", self.expand(&step.action_src[i]));
                reports.push(ActionReport {
                    src,
                    on_host: first.is_host(),
                    removed: true,
                    outcome: Outcome::default(),
                });
                i += 1;
                continue;
            }
            if first.is_host() || is_burn(&first) {
                self.record_before(&first).map_err(record_err)?;
                let outcome = match &first {
                    Action::Burn { secs, stress } => self.burn(*secs, *stress)?,
                    Action::Try(inner) if is_burn(inner) => match **inner {
                        Action::Burn { secs, stress } => Outcome { error: None, ..self.burn(secs, stress)? },
                        _ => unreachable!("is_burn"),
                    },
                    a => self.host_perform(a),
                };
                let failed = outcome.error.clone();
                reports.push(ActionReport {
                    src: self.expand(&step.action_src[i]),
                    on_host: first.is_host(),
                    removed: false,
                    outcome,
                });
                if failed.is_some() {
                    return Ok((reports, failed, None));
                }
                i += 1;
                continue;
            }
            let mut batch = vec![first];
            while !forks_agent(batch.last().expect("non-empty"))
                && i + batch.len() < n
                && removed != Some(i + batch.len())
            {
                let next = step.actions[i + batch.len()].expand(&pairs);
                if next.is_host() || is_burn(&next) {
                    break;
                }
                batch.push(next);
            }
            for a in &batch {
                self.record_before(a).map_err(record_err)?;
            }
            let last = i + batch.len() == n;
            let (outcomes, snapshot) = self.sandbox()?.perform_batch(&batch, last.then_some(needs))?;
            if outcomes.iter().any(|o| o.forked_agent) {
                self.publish_pid();
            }
            after = snapshot;
            let done = outcomes.len();
            let mut failed = None;
            for (k, outcome) in outcomes.into_iter().enumerate() {
                self.disown_netns_if_taken(&batch[k], &outcome);
                failed = failed.or_else(|| outcome.error.clone());
                reports.push(ActionReport {
                    src: self.expand(&step.action_src[i + k]),
                    on_host: false,
                    removed: false,
                    outcome,
                });
            }
            if failed.is_some() || done < batch.len() {
                return Ok((reports, failed.or(Some("the sandbox stopped mid-step".into())), after));
            }
            i += done;
        }
        Ok((reports, None, after))
    }
}
