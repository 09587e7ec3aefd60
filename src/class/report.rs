//! What of a session the class hears: lesson started, a step done (or the check that failed
//! on it), a hint asked for, and with `--present` the whole step for the projector.

use super::protocol::{ClassEvent, Done, PresentedStep};
use super::ClassLink;
use crate::lab::StepReport;
use crate::lesson::Lesson;

impl ClassLink {
    pub fn lesson_started(&mut self, lesson: &Lesson) {
        self.send(ClassEvent::LessonStarted { lesson: lesson.id.clone(), steps: lesson.steps.len() });
    }

    /// After a step ran: done, or the first check that failed (or why it stopped).
    pub fn step(&mut self, lesson: &Lesson, r: &StepReport, present: impl FnOnce() -> PresentedStep) {
        let (lesson_id, step) = (lesson.id.clone(), r.index + 1);
        if r.passed() {
            self.send(ClassEvent::StepDone { lesson: lesson_id, step, done: Done::Watched });
        } else {
            let check = match &r.aborted {
                Some(why) => format!("stopped: {why}"),
                None => r.checks.iter().find(|c| !c.verdict.passed).map(|c| c.src.clone()).unwrap_or_default(),
            };
            self.send(ClassEvent::CheckFailed { lesson: lesson_id, step, check });
        }
        if self.present {
            self.send(ClassEvent::Present(Box::new(present())));
        }
    }

    /// In `try`: one of the student's own calls failed (its narrated line, cut to fit).
    pub(crate) fn call_failed(&mut self, lesson: &Lesson, step: usize, call: &crate::trace::Syscall) {
        let call: String = call.to_string().chars().take(300).collect();
        self.send(ClassEvent::CallFailed { lesson: lesson.id.clone(), step, call });
    }

    pub fn hint(&mut self, lesson: &Lesson, step: usize) {
        self.send(ClassEvent::HintAsked { lesson: lesson.id.clone(), step });
    }
}
