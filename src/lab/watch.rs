//! `try`: the student does a step by hand in a shell of their own, and the lab judges the
//! step's checks against the process they are typing into, as the step's "after", with the
//! sandbox as it was before the step as its "before". Only what a second terminal can see
//! counts: a check of nsdojo's own action results (`step.X`, `action[N].X`) has nothing to
//! read here and does not hold.

use super::facts::StepFacts;
use super::{expand_expect, CheckReport, Lab, LabError, Sides};
use crate::observe::{Needs, ProcFacts, Snapshot};

/// A step being tried: what it reads, and both sides before the student began.
pub(crate) struct Watch {
    pub index: usize,
    needs: Needs,
    before: Sides,
}

impl Lab {
    /// Get ready to watch step `index` (0-based): the sandbox as it is now is the "before".
    pub(crate) fn watch(&mut self, index: usize) -> Result<Watch, LabError> {
        let step = self.lesson.steps.get(index).cloned().ok_or(LabError::NoStep(index + 1))?;
        let mut needs = self.needs(&step);
        needs.status = true;
        let before = self.sides(&needs)?;
        Ok(Watch { index, needs, before })
    }

    /// The step's checks with process `pid` as terminal #1 now; `None` when it could not be
    /// read (it just exited, or is between two programs).
    pub(crate) fn judge(&self, w: &Watch, pid: i32) -> Option<Vec<CheckReport>> {
        let inside = crate::sandbox::attach::inside_facts_of(pid, &w.needs).ok()?;
        let after = Sides {
            sandbox: Snapshot { proc: ProcFacts::read_some(pid, &w.needs), inside },
            host: Snapshot::of_host(&w.needs),
        };
        let none = Vec::new();
        let facts = StepFacts {
            before: &w.before,
            after: &after,
            actions: &[],
            planned: self.lesson.steps[w.index].actions.len(),
            group: (&none, &none),
        };
        Some(
            self.lesson.steps[w.index]
                .expects
                .iter()
                .map(|e| {
                    let e = expand_expect(e, self);
                    CheckReport { src: e.to_string(), verdict: e.evaluate(&facts) }
                })
                .collect(),
        )
    }
}
