//! One lesson from start to end, the same way for every caller.
//!
//! `nsdojo run`, the REPL, `bench step` and `check --mutate` all do the same things around
//! the steps: audit the host, prepare the root filesystem, make the lab, run steps, remove the
//! work directory, audit the host again. Written four times they drifted (which one records,
//! which one warns); here they are written once, and each caller only chooses its [`Sink`]s
//! (the terminal, a transcript, progress, or nothing).
//!
//! The REPL drives a lesson step by step (`next`, `again`, `back`, Ctrl-C abandoning a step),
//! so the runner is not only "run all": [`Runner::step`] runs one step, [`Runner::replay`]
//! replays the steps before one, and [`Runner::lab_mut`] reaches the sandbox for the rest
//! (`sh`, `state`, `reset`).

use std::path::PathBuf;

use super::event::{Event, Sink};
use super::{Lab, LabError, StepReport};
use crate::hostguard::audit::HostAudit;
use crate::hostguard::Session;
use crate::lesson::{Lang, Lesson};
use crate::rootfs::{Provider, RootfsError};

/// Why a lesson could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The lesson needs a root filesystem and none could be prepared.
    #[error(transparent)]
    Rootfs(#[from] RootfsError),
    #[error(transparent)]
    Lab(#[from] LabError),
}

impl StartError {
    /// The message in `lang` (Display stays English).
    pub fn localized(&self, lang: Lang) -> String {
        match self {
            StartError::Rootfs(e) => e.localized(lang),
            StartError::Lab(e) => e.localized(lang),
        }
    }
}

/// How a lesson ended, for `run`'s exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Steps that did not pass while the runner ran (mutants not counted).
    pub failed: usize,
    /// The host audit found a difference.
    pub host_changed: bool,
}

/// A lesson in progress: its lab, and the host as it was before the lesson.
pub struct Runner {
    lab: Lab,
    audit: HostAudit,
    failed: usize,
}

impl Runner {
    /// Audit the host, prepare the rootfs if the lesson needs one, make the lab.
    pub fn start(
        lesson: Lesson,
        session: &mut Session,
        rootfs: &mut Provider,
        lang: Lang,
        sink: &mut dyn Sink,
    ) -> Result<Runner, StartError> {
        let steps = lesson.steps.len();
        sink.event(&lesson, &Event::LessonStarted { lesson: &lesson.id, title: &lesson.title, steps });
        let audit = HostAudit::now();
        let path: Option<PathBuf> = if lesson.rootfs {
            let path = rootfs.path()?;
            let source = rootfs.describe(lang);
            sink.event(&lesson, &Event::Rootfs { lesson: &lesson.id, source: &source });
            Some(path)
        } else {
            None
        };
        let mut lab = Lab::new(lesson, session, path)?;
        lab.lang = lang;
        sink.event(&lab, &Event::LabReady { lesson: &lab.lesson.id, intro: &lab.lesson.intro, steps });
        Ok(Runner { lab, audit, failed: 0 })
    }

    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    pub fn lab_mut(&mut self) -> &mut Lab {
        &mut self.lab
    }

    /// Run step `index` (0-based); the lab's next step is the one after it.
    pub fn step(&mut self, index: usize, sink: &mut dyn Sink) -> Result<StepReport, LabError> {
        let report = self.lab.run_step(index, sink)?;
        if !report.passed() {
            self.failed += 1;
        }
        Ok(report)
    }

    /// Step `index` with action `removed` left out: a mutant (`check --mutate`), expected
    /// to fail, so not counted.
    pub fn step_without(&mut self, index: usize, removed: usize, sink: &mut dyn Sink) -> Result<StepReport, LabError> {
        self.lab.run_step_without(index, Some(removed), sink)
    }

    /// Every step, in order (`nsdojo run`).
    pub fn run_all(&mut self, sink: &mut dyn Sink) -> Result<(), LabError> {
        for i in 0..self.lab.lesson.steps.len() {
            self.step(i, sink)?;
        }
        Ok(())
    }

    /// A fresh sandbox with steps `0..upto` replayed quietly (`again`, `back`, resuming).
    pub fn replay(&mut self, upto: usize, sink: &mut dyn Sink) -> Result<(), LabError> {
        self.lab.replay(upto, sink)
    }

    /// End the lesson: the lab goes (sandbox, cgroup, netns), then its work directory, and
    /// the host is audited against how it was when the lesson started.
    pub fn finish(self, session: &mut Session, sink: &mut dyn Sink) -> Summary {
        let Runner { lab, audit, failed } = self;
        let lesson = lab.lesson.clone();
        let work = lab.work_dir().to_path_buf();
        drop(lab);
        session.remove_dir(&work);
        let id = session.id().to_string();
        let changes = audit.only_session(&id).differences(&HostAudit::now().only_session(&id));
        sink.event(&lesson, &Event::LessonDone { lesson: &lesson.id, failed, host_changes: &changes });
        Summary { failed, host_changed: !changes.is_empty() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::event::Collect;
    use crate::rootfs::Source;

    /// A lesson that needs a rootfs which cannot be prepared: the lesson is announced, the
    /// error says why, and no lab is made (nothing is recorded, nothing is made on the host).
    fn start_without_rootfs(dir: &std::path::Path) -> (Result<Runner, StartError>, Collect) {
        let lesson = crate::lesson::builtin().into_iter().find(|l| l.id == "chroot").unwrap();
        assert!(lesson.rootfs);
        let mut session = Session::unrecorded("0-test");
        let mut provider = Provider::new(Source::Dir(dir.to_path_buf()));
        let mut events = Collect::default();
        let r = Runner::start(lesson, &mut session, &mut provider, Lang::En, &mut events);
        (r, events)
    }

    #[test]
    fn a_rootfs_that_cannot_be_prepared_stops_the_start_after_the_announcement() {
        let (r, events) = start_without_rootfs(std::path::Path::new("/nonexistent/nsdojo-rootfs"));
        assert!(matches!(r, Err(StartError::Rootfs(RootfsError::DirMissing(_)))), "{:?}", r.err());
        assert_eq!(events.kinds(), ["lesson_started"]);
        assert_eq!(events.0[0]["lesson"], "chroot");
        assert_eq!(
            events.0[0]["steps"],
            crate::lesson::builtin().iter().find(|l| l.id == "chroot").unwrap().steps.len()
        );
        let shell_less = tempfile::tempdir().unwrap();
        let (r, events) = start_without_rootfs(shell_less.path());
        let e = r.err().expect("no /bin/sh: refused");
        assert!(matches!(e, StartError::Rootfs(RootfsError::NoShell(_))), "{e:?}");
        assert!(e.localized(Lang::Ko) != e.to_string(), "told in Korean too: {e}");
        assert_eq!(events.kinds(), ["lesson_started"]);
    }
}
