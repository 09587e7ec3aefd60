//! `try`: the student does a step by hand in a shell of their own, and the lab judges the
//! step's checks against the process they are typing into, as the step's "after", with the
//! sandbox as it was before the step as its "before". Only what a second terminal can see
//! counts: checks of nsdojo's own action results (`step.X`, `action[N].X`) are the lab's, and
//! the step's `try_expect` says instead which kernel state shows the step was done
//! ([`crate::lesson::Step::try_checks`]).

use super::facts::StepFacts;
use super::{expand_expect, CheckReport, Files, Lab, LabError, Sides, StepReport};
use crate::observe::Needs;

/// A step being tried: what it reads, and both sides (and the session's cgroup) before the
/// student began.
pub(crate) struct Watch {
    pub index: usize,
    needs: Needs,
    before: Sides,
    group_before: Files,
}

impl Lab {
    /// Get ready to watch step `index` (0-based): the sandbox as it is now is the "before".
    pub(crate) fn watch(&mut self, index: usize) -> Result<Watch, LabError> {
        let step = self.lesson.steps.get(index).cloned().ok_or(LabError::NoStep(index + 1))?;
        let mut needs = self.needs(&step);
        needs.status = true;
        let before = self.sides(&needs)?;
        Ok(Watch { index, needs, before, group_before: self.group_files_by_hand() })
    }

    /// Step `w.index` as the student's process `pid` shows it now: terminal #1 after, the
    /// session's cgroup files and the step's try checks; `None` when the process could not be
    /// read (it just exited, or is between two programs). Four times a second: nothing of
    /// the "before" is copied here ([`Lab::by_hand`] makes the report once).
    pub(crate) fn judge(&self, w: &Watch, pid: i32) -> Option<Look> {
        let sandbox = self.world.look_at(pid, &w.needs)?;
        let after = Sides { sandbox, host: self.world.host(&w.needs) };
        let group_now = self.group_files_by_hand();
        let step = &self.lesson.steps[w.index];
        let facts = StepFacts {
            before: &w.before,
            after: &after,
            actions: &[],
            planned: step.actions.len(),
            group: (&w.group_before, &group_now),
        };
        let checks = step
            .try_checks()
            .into_iter()
            .map(|e| {
                let e = expand_expect(e, self);
                CheckReport { src: e.to_string(), verdict: e.evaluate(&facts) }
            })
            .collect();
        Some(Look { pid, after, group_now, checks })
    }

    /// The step as the student did it, as a report: before and after, the checks, and no
    /// actions (nsdojo made no call; the student did).
    pub(crate) fn by_hand(&self, w: Watch, look: Look) -> StepReport {
        StepReport {
            lesson: self.lesson.id.clone(),
            index: w.index,
            total: self.lesson.steps.len(),
            sandbox_pid: look.pid,
            actions: Vec::new(),
            aborted: None,
            before: w.before,
            after: look.after,
            checks: look.checks,
            work: self.work.display().to_string(),
            cgroup_files: (w.group_before, look.group_now),
            shell: self.lab_lines(&self.lesson.steps[w.index]),
            by_hand: true,
        }
    }
}

/// One look at the student's process.
pub(crate) struct Look {
    pid: i32,
    after: Sides,
    group_now: Files,
    pub checks: Vec<CheckReport>,
}

impl Look {
    pub(crate) fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.verdict.passed)
    }
}
