//! What running a lesson tells whoever shows it: [`Event`]s, sent to a [`Sink`].
//!
//! The lab does the work the same way for every caller (`run`, the REPL, `bench`, `check
//! --mutate`); only how it is shown differs: the terminal (colours, a live CPU meter), the
//! Markdown transcript, the student's progress, nothing at all (bench, mutants), and a
//! classroom web view to come. So the lab emits events as things happen and each caller
//! chooses its sinks, instead of each caller printing, recording and auditing its own way.
//!
//! Events are plain data that borrow from the lab (no copy per event: `bench step` times
//! them) and derive `Serialize`, so a sink can send them on as they are. What is not data —
//! the lesson's texts and `$VAR` expansion, which a renderer needs to show a step — comes
//! beside each event as a [`Scene`].
//!
//! This module depends on no renderer: `render` depends on it, never the reverse.

use serde::Serialize;

use super::{CheckReport, StepReport};
use crate::lesson::{Lesson, Text};
use crate::sandbox::rpc::MeterSample;
use crate::trace::Syscall;

/// One thing that happened while a lesson ran, in the order it happened.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event<'a> {
    /// A lesson was chosen; its root filesystem and its lab are not ready yet.
    LessonStarted { lesson: &'a str, title: &'a Text, steps: usize },
    /// The root filesystem is ready (only for a lesson that needs one): where it came from.
    Rootfs { lesson: &'a str, source: &'a str },
    /// The lab is ready; its sandbox starts with the first step.
    LabReady { lesson: &'a str, intro: &'a Text, steps: usize },
    /// Step `step` (0-based) of `total` starts.
    StepStarted { lesson: &'a str, step: usize, total: usize },
    /// A system call that action `action` (0-based) of the current step made, as each action
    /// comes back (a batch of sandbox actions comes back together).
    Syscall { action: usize, on_host: bool, call: &'a Syscall },
    /// A reading of the live `burn` meter (about 4 a second), of the burner `pid`.
    Meter { pid: i32, sample: &'a MeterSample },
    /// The meter stopped: its line is finished.
    MeterDone,
    /// A check of the current step was evaluated.
    Check { check: &'a CheckReport },
    /// The step is over: everything it did and saw.
    StepDone { report: &'a StepReport },
    /// The lesson's lab is gone. `failed`: steps that did not pass while it ran;
    /// `host_changes`: what the host audit found different, empty if nothing.
    LessonDone { lesson: &'a str, failed: usize, host_changes: &'a [crate::hostguard::Difference] },
}

/// What a renderer needs beside an event: the lesson and its `$VAR`s as they are now.
pub trait Scene {
    fn lesson(&self) -> &Lesson;
    /// `$WORK`, `$PID`, … expanded (they change as the lab runs: `$PID` after `unshare pid`).
    fn expand(&self, s: &str) -> String;
}

/// Before its lab exists a lesson has no variables: texts are shown as written.
impl Scene for Lesson {
    fn lesson(&self) -> &Lesson {
        self
    }

    fn expand(&self, s: &str) -> String {
        s.to_string()
    }
}

/// Whoever shows a lesson run. Called on the host's only thread, in the middle of a step:
/// a sink must be quick and must not spawn threads (the host forks).
pub trait Sink {
    fn event(&mut self, scene: &dyn Scene, event: &Event<'_>);
}

/// The quiet sink: `bench` and `check --mutate` show nothing while a step runs.
impl Sink for () {
    fn event(&mut self, _: &dyn Scene, _: &Event<'_>) {}
}

impl<S: Sink + ?Sized> Sink for &mut S {
    fn event(&mut self, scene: &dyn Scene, event: &Event<'_>) {
        (**self).event(scene, event);
    }
}

/// A sink that is there only sometimes (a transcript while recording).
impl<S: Sink> Sink for Option<S> {
    fn event(&mut self, scene: &dyn Scene, event: &Event<'_>) {
        if let Some(s) = self {
            s.event(scene, event);
        }
    }
}

/// Both, in order: the terminal first, then what writes files.
impl<A: Sink, B: Sink> Sink for (A, B) {
    fn event(&mut self, scene: &dyn Scene, event: &Event<'_>) {
        self.0.event(scene, event);
        self.1.event(scene, event);
    }
}

/// Passes on only the live meter: replaying steps (`again`, `back`, resuming) is quiet, but a
/// `burn` among them still shows why the replay takes seconds.
pub(crate) struct MeterOnly<'a>(pub &'a mut dyn Sink);

impl Sink for MeterOnly<'_> {
    fn event(&mut self, scene: &dyn Scene, event: &Event<'_>) {
        if matches!(event, Event::Meter { .. } | Event::MeterDone) {
            self.0.event(scene, event);
        }
    }
}

/// Every event as JSON, for tests (and what a web view would be sent).
#[cfg(test)]
#[derive(Default)]
pub(crate) struct Collect(pub Vec<serde_json::Value>);

#[cfg(test)]
impl Collect {
    /// The `event` tag of each, in order.
    pub(crate) fn kinds(&self) -> Vec<String> {
        self.0.iter().map(|e| e["event"].as_str().unwrap_or("?").to_string()).collect()
    }
}

#[cfg(test)]
impl Sink for Collect {
    fn event(&mut self, _: &dyn Scene, event: &Event<'_>) {
        self.0.push(serde_json::to_value(event).expect("events serialise"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> MeterSample {
        MeterSample { at_ms: 250, percent: 99.5, confined: Some(true), nr_throttled: None }
    }

    #[test]
    fn events_serialise_with_their_kind() {
        let lesson = crate::lesson::builtin().into_iter().find(|l| l.id == "uts").unwrap();
        let mut c = Collect::default();
        let s = sample();
        c.event(&lesson, &Event::LessonStarted { lesson: "uts", title: &lesson.title, steps: 3 });
        c.event(&lesson, &Event::Meter { pid: 7, sample: &s });
        c.event(&lesson, &Event::MeterDone);
        assert_eq!(c.kinds(), ["lesson_started", "meter", "meter_done"]);
        assert_eq!(c.0[0]["title"]["en"], lesson.title.en.as_str());
        assert_eq!(c.0[1]["sample"]["percent"], 99.5);
        assert_eq!(c.0[1]["pid"], 7);
    }

    #[test]
    fn meter_only_drops_all_but_the_meter_and_pairs_fan_out() {
        let lesson = crate::lesson::builtin().into_iter().find(|l| l.id == "uts").unwrap();
        let (mut all, mut meter) = (Collect::default(), Collect::default());
        let s = sample();
        {
            let mut filtered = MeterOnly(&mut meter);
            let mut both = (&mut all, Some(&mut filtered));
            both.event(&lesson, &Event::StepStarted { lesson: "uts", step: 0, total: 3 });
            both.event(&lesson, &Event::Meter { pid: 7, sample: &s });
            both.event(&lesson, &Event::MeterDone);
            let none: Option<&mut Collect> = None;
            let mut quiet = ((), none);
            quiet.event(&lesson, &Event::MeterDone);
        }
        assert_eq!(all.kinds(), ["step_started", "meter", "meter_done"]);
        assert_eq!(meter.kinds(), ["meter", "meter_done"]);
    }
}
