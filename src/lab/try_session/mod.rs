//! `try`: the student does the next step by hand, as a session the REPL only draws.
//!
//! [`TrySession::start`] says the step's task, checks whether the step only looks (its checks
//! hold before anything is typed), and opens an interactive shell in terminal #1 as it is
//! before the step (its namespaces, cgroups, root, working directory and credentials).
//! [`TrySession::poll`] is one tick of the REPL's loop: it answers `dojo` (fd 9, [`dojo`]),
//! and four times a second judges the step's checks against the process the student types
//! into (through `unshare`, `nsenter`, `chroot` and nested shells). [`TrySession::finish`],
//! after `exit`: what the shell left running is stopped, what it changed on the host is put
//! back and said, and only then may a held SIGTERM or SIGHUP go on; the step is shown as the
//! student's shell left terminal #1, and the lesson's own sandbox takes the same step quietly
//! (from a rebuilt sandbox if the shell's change stands in its way), so the lesson goes on from
//! a state it knows.
//!
//! Everything outside the lab goes through [`seams`] (the shell as a process, the host's undo,
//! the clock) and the lab's own [`super::link::World`] (the look at a process), so all of it is
//! unit-tested as an ordinary user. It prints nothing: it hands the REPL [`TryEvent`]s.

pub(crate) mod dojo;
pub(crate) mod seams;
#[cfg(test)]
mod tests;

use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use super::event::{MeterOnly, Sink};
use super::runner::Runner;
use super::watch::{Look, Watch};
use super::{CheckReport, Lab, LabError, StepReport};
use crate::hostguard::Outcome;
use crate::lesson::{Lang, Step};
use crate::sandbox::attach::{AttachError, Extras};
use seams::{Said, Seams};

/// How often the shell is judged.
pub(crate) const EVERY: Duration = Duration::from_millis(250);
/// The nap between two ticks that judge nothing (`dojo` is answered within it).
pub(crate) const NAP: Duration = Duration::from_millis(20);
/// What `$PID` in a task is shown as: terminal #1's shell, which the student may replace
/// (`unshare -p -f sh`), so `dojo pid` says which.
pub(crate) const DOJO_PID: &str = "⟨dojo pid⟩";

/// What the REPL draws, in the order it happens.
#[derive(Debug)]
pub(crate) enum TryEvent<'a> {
    /// The step to do: `text` with `$PID` as [`DOJO_PID`] (`pid_note`: it was there).
    Task { step: usize, total: usize, text: String, pid_note: bool, needs_host: bool },
    /// The step's checks hold already: it only looks.
    LooksOnly,
    /// The shell has opened (`narrated`: its calls are said as they return).
    ShellOpens { narrated: bool },
    /// Something went wrong that the try survives (the `dojo` directory could not be made).
    Warning(String),
    /// What was stopped and put back on the host, one line each (maybe none).
    Undone(&'a [Said]),
    /// What still differs on the host after that (the leak audit), one line each.
    StillChanged(&'a [crate::hostguard::Difference]),
    /// The checks never all held: those that failed at the last look.
    NotYet { step: usize, failing: Vec<&'a CheckReport> },
    /// The checks held: the step as the student's shell left terminal #1.
    ByHand { step: usize, report: Option<&'a StepReport> },
    /// The lab now takes the step itself.
    LabFollows,
    /// It had to rebuild its sandbox up to the step to do so.
    LabRebuilt { step: usize },
}

/// What one [`TrySession::poll`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tick {
    /// Every check holds, for the first time: say so in the shell's terminal.
    Ticked {
        step: usize,
    },
    StillOpen,
    /// The shell exited: [`TrySession::finish`].
    ShellGone,
    /// SIGTERM or SIGHUP is waiting: the shell was ended; [`TrySession::finish`] puts the host
    /// back and then lets it through.
    SignalPending,
}

/// How the try ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finished {
    NotYet,
    ByHand,
}

/// Why no shell was opened (nothing of the try is left behind).
#[derive(Debug, thiserror::Error)]
pub(crate) enum TryError {
    #[error("the lesson is done")]
    LessonDone,
    #[error("this step has no task to try")]
    NoTask,
    #[error(transparent)]
    Lab(#[from] LabError),
    #[error("socketpair: {0}")]
    Socket(std::io::Error),
    #[error("{0}")]
    Record(std::io::Error),
    #[error(transparent)]
    Shell(AttachError),
}

/// What takes the lab's steps: the REPL's runner (which counts failed steps), or a bare lab.
pub(crate) trait TakesSteps {
    fn lab(&self) -> &Lab;
    fn lab_mut(&mut self) -> &mut Lab;
    fn step(&mut self, index: usize, sink: &mut dyn Sink) -> Result<StepReport, LabError>;
    fn replay(&mut self, upto: usize, sink: &mut dyn Sink) -> Result<(), LabError>;
}

impl TakesSteps for Runner {
    fn lab(&self) -> &Lab {
        Runner::lab(self)
    }
    fn lab_mut(&mut self) -> &mut Lab {
        Runner::lab_mut(self)
    }
    fn step(&mut self, index: usize, sink: &mut dyn Sink) -> Result<StepReport, LabError> {
        Runner::step(self, index, sink)
    }
    fn replay(&mut self, upto: usize, sink: &mut dyn Sink) -> Result<(), LabError> {
        Runner::replay(self, upto, sink)
    }
}

impl TakesSteps for Lab {
    fn lab(&self) -> &Lab {
        self
    }
    fn lab_mut(&mut self) -> &mut Lab {
        self
    }
    fn step(&mut self, index: usize, sink: &mut dyn Sink) -> Result<StepReport, LabError> {
        self.run_step(index, sink)
    }
    fn replay(&mut self, upto: usize, sink: &mut dyn Sink) -> Result<(), LabError> {
        Lab::replay(self, upto, sink)
    }
}

/// A step being tried.
pub(crate) struct TrySession {
    index: usize,
    step: Step,
    lang: Lang,
    session: String,
    watch: Watch,
    dojo: dojo::Channel,
    seams: Seams,
    /// Every check has held at some look (or before the shell opened: a step that looks).
    done: bool,
    /// The latest look at which some check failed.
    last: Option<Look>,
    /// The latest look at which every check held: a student who ticks the step and then leaves
    /// the `unshare` shell is shown terminal #1 as it was then.
    held_last: Option<Look>,
    next_look: Instant,
    /// The student's calls heard since the REPL last took them, and the last that failed.
    heard: Vec<crate::narrate::StudentCall>,
    last_failed: Option<crate::narrate::StudentCall>,
}

impl TrySession {
    /// Say the lab's next step, and open its shell.
    pub(crate) fn start(
        lab: &mut Lab,
        lang: Lang,
        mut seams: Seams,
        draw: &mut dyn FnMut(&Lab, TryEvent<'_>),
    ) -> Result<TrySession, TryError> {
        let (index, total) = (lab.next, lab.lesson.steps.len());
        let step = lab.lesson.steps.get(index).cloned().ok_or(TryError::LessonDone)?;
        let task = step.task.as_ref().ok_or(TryError::NoTask)?.get(lang);
        let text = lab.expand(&task.replace("$PID", DOJO_PID));
        let shown = TryEvent::Task {
            step: index,
            total,
            text,
            pid_note: task.contains("$PID"),
            needs_host: step.task_needs_host,
        };
        draw(lab, shown);
        let session = lab.session_id().to_string();
        let watch = lab.watch(index)?;
        let pid = lab.sandbox_pid()?;
        let at_start = lab.judge(&watch, pid).filter(Look::passed);
        let looks_only = at_start.is_some();
        if looks_only {
            draw(lab, TryEvent::LooksOnly);
        }
        let (ours, theirs) = UnixStream::pair().map_err(TryError::Socket)?;
        let _ = ours.set_nonblocking(true);
        let dojo_dir = dojo::dir_in(lab.work_dir()).map_err(|e| draw(lab, TryEvent::Warning(e.to_string()))).ok();
        let path = dojo::shell_path(&std::env::var("PATH").unwrap_or_default(), dojo_dir.as_deref());
        let extras = Extras {
            cgroups: true,
            fd9: Some(theirs.into()),
            env: vec![
                ("NSDOJO_TRY".into(), format!("{}", index + 1)),
                ("NSDOJO_TRY_LANG".into(), lang.code().into()),
                (crate::hostguard::undo::TRY_MARK.into(), session.clone()),
                ("PATH".into(), path),
            ],
            narrate: None,
        };
        // The host as the shell starts (the sandbox is up): what differs at its end is the shell's.
        if let Err(e) = seams.undo.begin(&session) {
            dojo::remove_dir_in(lab.work_dir());
            return Err(TryError::Record(e));
        }
        if let Err(e) = seams.shell.open(lang, pid, extras) {
            let _ = seams.shell.close();
            seams.undo.end(&session);
            dojo::remove_dir_in(lab.work_dir());
            seams.shell.release();
            return Err(TryError::Shell(e));
        }
        draw(lab, TryEvent::ShellOpens { narrated: seams.shell.narrated() });
        let next_look = seams.clock.now() + EVERY;
        Ok(TrySession {
            index,
            step,
            lang,
            session,
            watch,
            dojo: dojo::Channel::new(ours),
            seams,
            done: looks_only,
            last: None,
            held_last: at_start,
            next_look,
            heard: Vec::new(),
            last_failed: None,
        })
    }

    /// The step being tried (0-based).
    pub(crate) fn step_index(&self) -> usize {
        self.index
    }

    /// One tick: end the shell if a signal waits, answer `dojo`, and judge if it is time.
    pub(crate) fn poll(&mut self, lab: &Lab) -> Tick {
        if !self.seams.shell.alive() {
            return Tick::ShellGone;
        }
        if self.seams.shell.signal_pending() {
            // nsdojo is being ended: end the shell (what it leaves is adopted, stopped in
            // `finish`) and put the host back before the signal goes on.
            self.seams.shell.end();
            return Tick::SignalPending;
        }
        self.hear();
        self.serve_dojo(lab);
        if self.seams.clock.now() < self.next_look {
            self.seams.clock.sleep(NAP);
            return Tick::StillOpen;
        }
        self.next_look = self.seams.clock.now() + EVERY;
        let Some(look) = self.seams.shell.typed_into().and_then(|p| lab.judge(&self.watch, p)) else {
            return Tick::StillOpen;
        };
        let passed = look.passed();
        let ticked = passed && !self.done;
        if passed {
            self.done = true;
            self.held_last = Some(look);
        } else {
            self.last = Some(look);
        }
        if ticked {
            Tick::Ticked { step: self.index }
        } else {
            Tick::StillOpen
        }
    }

    /// Take in the student's calls the tracer said.
    fn hear(&mut self) {
        for call in self.seams.shell.calls() {
            if call.call.result.is_err() {
                self.last_failed = Some(call.clone());
            }
            self.heard.push(call);
        }
    }

    /// The student's calls heard since last taken (for the transcript and the class).
    pub(crate) fn take_heard(&mut self) -> Vec<crate::narrate::StudentCall> {
        std::mem::take(&mut self.heard)
    }

    /// Answer every `dojo` request that has arrived.
    fn serve_dojo(&mut self, lab: &Lab) {
        for ask in self.dojo.requests() {
            if ask == dojo::Ask::Hint {
                self.dojo.hints += 1;
            }
            let shell = self.seams.shell.asking();
            let asked = dojo::Asked {
                lang: self.lang,
                task: lab.expand(&self.step.task.as_ref().map(|t| t.get(self.lang)).unwrap_or_default()),
                hint: self.step.hint.as_ref().map(|h| lab.expand(&h.get(self.lang))),
                solve: lab.try_lab_lines(&self.step, DOJO_PID),
                shell,
                narrated: self.seams.shell.narrated(),
                last_failed: self.last_failed.as_ref().map(|c| c.call.clone()),
            };
            let look = dojo::needs_look(&ask, self.dojo.hints, asked.hint.is_some())
                .then(|| shell.and_then(|p| lab.judge(&self.watch, p)))
                .flatten();
            let answer = dojo::answer(&ask, &asked, self.dojo.hints, look.as_ref().map(|l| l.checks.as_slice()));
            self.dojo.reply(answer);
        }
    }

    /// After the shell: put the host back, say how the try went, and let the lab take the
    /// step (`meter` shows a `burn` among the steps it replays).
    pub(crate) fn finish(
        self,
        steps: &mut dyn TakesSteps,
        meter: &mut dyn Sink,
        draw: &mut dyn FnMut(&Lab, TryEvent<'_>),
    ) -> Result<Finished, LabError> {
        let TrySession { index, session, watch, mut seams, done, last, held_last, .. } = self;
        let lab = steps.lab();
        dojo::remove_dir_in(lab.work_dir());
        let mut said = seams.shell.close();
        // The step done right on the host (a veth moved into terminal #1, a netns deleted, its
        // own veth or netns made by hand): not the host changed behind the lesson's back. What
        // it added is taken back without a word, as the lesson's own cgroup is, so that the
        // lab makes, records and later removes its own.
        let own = lab.steps_own_host_names(index);
        let undone = seams.undo.undo(&lab.group_dirs_to_be());
        said.extend(undone.into_iter().filter(|u| !(u.outcome == Outcome::Reverted && u.change.is_about(&own))));
        draw(lab, TryEvent::Undone(&said));
        let still: Vec<_> = seams.undo.still_changed().into_iter().filter(|d| !d.made_by_step(&own)).collect();
        draw(lab, TryEvent::StillChanged(&still));
        seams.undo.end(&session);
        seams.shell.release();
        if !done {
            let failing = last.iter().flat_map(|l| &l.checks).filter(|c| !c.verdict.passed).collect();
            draw(lab, TryEvent::NotYet { step: index, failing });
            return Ok(Finished::NotYet);
        }
        // The student's terminal #1 as the step's report: tables and checks, no syscalls.
        let report = held_last.map(|look| lab.by_hand(watch, look));
        draw(lab, TryEvent::ByHand { step: index, report: report.as_ref() });
        draw(lab, TryEvent::LabFollows);
        let ran = steps.step(index, &mut MeterOnly(meter));
        // What the shell did may stand in the lab's way (a `mknod /disk` made there already):
        // then a fresh sandbox replays the lesson up to and including this step.
        let ran = match ran {
            Ok(r) if r.passed() => Ok(()),
            _ => steps.replay(index + 1, meter).map(|()| draw(steps.lab(), TryEvent::LabRebuilt { step: index })),
        };
        if let Some(report) = report {
            steps.lab_mut().last = Some(report);
        }
        ran.map(|()| Finished::ByHand)
    }
}
