//! The class as the server knows it: per student, the events held so far (exactly `1..=acked`,
//! never a gap, never twice) and what they add up to on the dashboard.
//!
//! This is a plain state machine with no clock and no I/O: every call is given the server's
//! time, so the journal replay after a restart rebuilds the very same state (each journal line
//! carries the time it was first stored) and the unit tests need no network and no sleeping.
//! Times are the server's, not the students': laptop clocks in a room disagree, and a dashboard
//! that says "stuck for −3 minutes" helps nobody.

use std::collections::HashMap;

use crate::class::protocol::{ClassEvent, ClassView, Done, PresentedStep, Sequenced, StudentRow};

/// One student session, as built from its events.
#[derive(Debug, Clone, Default)]
pub(crate) struct Student {
    pub(crate) name: String,
    /// The highest seq held; all of `1..=acked` are held.
    pub(crate) acked: u64,
    lesson: Option<String>,
    /// How many steps the current lesson has (0 until known).
    steps: usize,
    /// Steps of the current lesson done, by step number (kept sorted, one entry per step).
    done: Vec<(usize, Done)>,
    /// The step the last `StepDone` was for: the step worked on is the one after it.
    last_done: usize,
    /// The last failing check, and the lesson and step it was on.
    failing: Option<(String, usize, String)>,
    /// Server ms when the current step began (the lesson started or the previous step was done).
    step_since_ms: u64,
    /// Server ms of the last progress (joined, a lesson started, a step done): what `stuck` means.
    progress_ms: u64,
    /// Server ms of the last event of any kind.
    last_seen_ms: u64,
    left: bool,
}

impl Student {
    /// The step being worked on (1-based).
    fn step(&self) -> usize {
        self.last_done + 1
    }

    /// Every step of the lesson is done: a finished student is not stuck.
    fn finished(&self) -> bool {
        self.steps > 0 && self.done.len() >= self.steps
    }

    fn apply(&mut self, event: &ClassEvent, now_ms: u64) {
        self.last_seen_ms = now_ms;
        match event {
            ClassEvent::Joined { .. } => {
                self.left = false;
                self.progress_ms = now_ms;
                self.step_since_ms = now_ms;
            }
            ClassEvent::LessonStarted { lesson, steps } => self.start(lesson, *steps, now_ms),
            ClassEvent::StepDone { lesson, step, done } => {
                if self.lesson.as_deref() != Some(lesson.as_str()) {
                    // A lesson started before the student joined the class (or its event was lost
                    // to a sender bug): the step still counts, in the lesson it names.
                    self.start(lesson, 0, now_ms);
                }
                match self.done.binary_search_by_key(step, |(s, _)| *s) {
                    Ok(i) => self.done[i].1 = *done,
                    Err(i) => self.done.insert(i, (*step, *done)),
                }
                self.last_done = *step;
                self.failing = None;
                self.step_since_ms = now_ms;
                self.progress_ms = now_ms;
            }
            ClassEvent::CheckFailed { lesson, step, check } => {
                self.failing = Some((lesson.clone(), *step, check.clone()));
            }
            ClassEvent::HintAsked { .. } | ClassEvent::Present(_) => {}
            ClassEvent::Left => self.left = true,
        }
    }

    fn start(&mut self, lesson: &str, steps: usize, now_ms: u64) {
        self.lesson = Some(lesson.to_string());
        self.steps = steps;
        self.done.clear();
        self.last_done = 0;
        self.failing = None;
        self.step_since_ms = now_ms;
        self.progress_ms = now_ms;
        self.left = false;
    }

    fn row(&self, now_ms: u64, stuck_after_ms: u64) -> StudentRow {
        let secs = |since: u64| now_ms.saturating_sub(since) / 1000;
        let step = self.step();
        let failing = match (&self.failing, &self.lesson) {
            (Some((l, s, check)), Some(lesson)) if l == lesson && *s == step => Some(check.clone()),
            _ => None,
        };
        StudentRow {
            name: self.name.clone(),
            lesson: self.lesson.clone(),
            step,
            done: self.done.clone(),
            failing,
            seconds_on_step: secs(self.step_since_ms),
            last_seen: secs(self.last_seen_ms),
            stuck: !self.left && !self.finished() && now_ms.saturating_sub(self.progress_ms) >= stuck_after_ms,
            left: self.left,
        }
    }
}

/// What `store` did with a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stored {
    /// The student's highest seq held after the batch: the whole answer to the sender.
    pub(crate) acked: u64,
    /// The events stored now (not the ones already held), in seq order: what the journal appends.
    pub(crate) new: Vec<Sequenced>,
}

/// Every student of the class, and the presenter's latest step.
#[derive(Debug, Default)]
pub(crate) struct Class {
    students: HashMap<String, Student>,
    /// The latest `Present` from any session, with the server ms it was stored.
    present: Option<(PresentedStep, u64)>,
}

impl Class {
    pub(crate) fn len(&self) -> usize {
        self.students.len()
    }

    pub(crate) fn knows(&self, student: &str) -> bool {
        self.students.contains_key(student)
    }

    #[cfg(test)]
    pub(crate) fn acked(&self, student: &str) -> u64 {
        self.students.get(student).map_or(0, |s| s.acked)
    }

    /// Stores each event whose seq is exactly the next one for `student`: one already held is
    /// skipped (a resend), one after a gap ends the batch (the sender resends from its outbox,
    /// in order, until the gap is filled). The batch may come in any order.
    pub(crate) fn store(&mut self, student: &str, name: &str, events: &[Sequenced], now_ms: u64) -> Stored {
        let s = self.students.entry(student.to_string()).or_default();
        s.name = name.to_string();
        let mut sorted: Vec<&Sequenced> = events.iter().collect();
        sorted.sort_by_key(|e| e.seq);
        let mut new = Vec::new();
        for e in sorted {
            if e.seq <= s.acked {
                continue;
            }
            if e.seq != s.acked + 1 {
                break;
            }
            s.acked = e.seq;
            s.apply(&e.event, now_ms);
            if let ClassEvent::Present(p) = &e.event {
                self.present = Some(((**p).clone(), now_ms));
            }
            new.push(e.clone());
        }
        if s.last_seen_ms == 0 {
            // A first batch whose events all wait behind a gap still says the student is there.
            s.last_seen_ms = now_ms;
            s.progress_ms = now_ms;
            s.step_since_ms = now_ms;
        }
        Stored { acked: s.acked, new }
    }

    /// The dashboard's rows: the stuck first, then those with a failing check, then the slowest
    /// on their step; students who left go to the bottom. Ties by name, so rows do not jump.
    pub(crate) fn view(&self, now_ms: u64, stuck_after_ms: u64) -> ClassView {
        let mut students: Vec<StudentRow> = self.students.values().map(|s| s.row(now_ms, stuck_after_ms)).collect();
        students.sort_by(|a, b| {
            (a.left, !a.stuck, a.failing.is_none(), std::cmp::Reverse(a.seconds_on_step), &a.name).cmp(&(
                b.left,
                !b.stuck,
                b.failing.is_none(),
                std::cmp::Reverse(b.seconds_on_step),
                &b.name,
            ))
        });
        ClassView { students }
    }

    /// The presenter's step and when it was stored (server ms).
    pub(crate) fn present(&self) -> Option<&(PresentedStep, u64)> {
        self.present.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seq: u64, event: ClassEvent) -> Sequenced {
        Sequenced { seq, at_ms: 0, event }
    }

    fn started(seq: u64, lesson: &str, steps: usize) -> Sequenced {
        ev(seq, ClassEvent::LessonStarted { lesson: lesson.into(), steps })
    }

    fn done(seq: u64, lesson: &str, step: usize) -> Sequenced {
        ev(seq, ClassEvent::StepDone { lesson: lesson.into(), step, done: Done::Watched })
    }

    fn row<'a>(v: &'a ClassView, name: &str) -> &'a StudentRow {
        v.students.iter().find(|r| r.name == name).unwrap()
    }

    const MIN5: u64 = 300_000;

    #[test]
    fn events_are_stored_in_order_once() {
        let mut c = Class::default();
        let out = c.store("a", "ann", &[started(1, "uts", 3), done(2, "uts", 1)], 1000);
        assert_eq!(out.acked, 2);
        assert_eq!(out.new.len(), 2);
        // A resend of what is held, plus one new: only the new one is stored.
        let out = c.store("a", "ann", &[done(2, "uts", 1), done(3, "uts", 2)], 2000);
        assert_eq!((out.acked, out.new.iter().map(|e| e.seq).collect::<Vec<_>>()), (3, vec![3]));
        // The same batch again: nothing new, the same ack.
        let out = c.store("a", "ann", &[done(2, "uts", 1), done(3, "uts", 2)], 3000);
        assert_eq!((out.acked, out.new.len()), (3, 0));
        let v = c.view(3000, MIN5);
        assert_eq!(row(&v, "ann").step, 3);
        assert_eq!(row(&v, "ann").done, vec![(1, Done::Watched), (2, Done::Watched)]);
    }

    #[test]
    fn a_gap_holds_back_what_follows_until_it_is_filled() {
        let mut c = Class::default();
        let out = c.store("a", "ann", &[started(1, "uts", 3), done(3, "uts", 2)], 1000);
        assert_eq!((out.acked, out.new.len()), (1, 1), "seq 3 waits for seq 2");
        let out = c.store("a", "ann", &[done(3, "uts", 2), done(2, "uts", 1)], 2000);
        assert_eq!(out.acked, 3, "a batch out of order is stored in order");
        assert_eq!(out.new.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3]);
        // A first batch that starts after a gap stores nothing but shows the student.
        let out = c.store("b", "bob", &[done(5, "uts", 1)], 2000);
        assert_eq!((out.acked, out.new.len()), (0, 0));
        assert!(c.knows("b"));
    }

    #[test]
    fn two_sessions_with_one_name_stay_apart() {
        let mut c = Class::default();
        c.store("a", "kim", &[started(1, "uts", 3)], 0);
        c.store("b", "kim", &[started(1, "mnt", 4), done(2, "mnt", 1)], 0);
        assert_eq!((c.acked("a"), c.acked("b")), (1, 2));
        assert_eq!(c.view(0, MIN5).students.len(), 2);
    }

    #[test]
    fn a_failing_check_shows_on_its_step_only_until_the_step_is_done() {
        let mut c = Class::default();
        let fail = |seq, step| ev(seq, ClassEvent::CheckFailed { lesson: "uts".into(), step, check: "x == y".into() });
        c.store("a", "ann", &[started(1, "uts", 3), fail(2, 1)], 0);
        assert_eq!(row(&c.view(0, MIN5), "ann").failing.as_deref(), Some("x == y"));
        c.store("a", "ann", &[done(3, "uts", 1)], 0);
        assert_eq!(row(&c.view(0, MIN5), "ann").failing, None);
        // A failure reported for another step than the current one is not this step's.
        c.store("a", "ann", &[fail(4, 1)], 0);
        assert_eq!(row(&c.view(0, MIN5), "ann").failing, None);
    }

    #[test]
    fn stuck_means_no_progress_for_the_threshold_and_not_finished_or_gone() {
        let mut c = Class::default();
        c.store("a", "ann", &[started(1, "uts", 2)], 0);
        c.store("b", "bob", &[started(1, "uts", 2), done(2, "uts", 1), done(3, "uts", 2)], 0);
        c.store("c", "cho", &[started(1, "uts", 2), ev(2, ClassEvent::Left)], 0);
        // A hint is activity, not progress.
        c.store("a", "ann", &[ev(2, ClassEvent::HintAsked { lesson: "uts".into(), step: 1 })], MIN5 - 1);
        let v = c.view(MIN5 - 1, MIN5);
        assert!(!row(&v, "ann").stuck);
        assert_eq!(row(&v, "ann").last_seen, 0);
        let v = c.view(MIN5, MIN5);
        assert!(row(&v, "ann").stuck);
        assert_eq!(row(&v, "ann").seconds_on_step, 300);
        assert!(!row(&v, "bob").stuck, "finished");
        assert!(!row(&v, "cho").stuck && row(&v, "cho").left);
    }

    #[test]
    fn rows_put_the_stuck_then_the_failing_then_the_slowest_on_top() {
        let mut c = Class::default();
        let fail = ev(2, ClassEvent::CheckFailed { lesson: "uts".into(), step: 1, check: "c".into() });
        c.store("q", "quick", &[started(1, "uts", 5)], 200_000);
        c.store("s", "slow", &[started(1, "uts", 5)], 100_000);
        c.store("f", "failing", &[started(1, "uts", 5), fail], 150_000);
        c.store("t", "stuck", &[started(1, "uts", 5)], 0);
        c.store("l", "left", &[started(1, "uts", 5), ev(2, ClassEvent::Left)], 0);
        let names: Vec<String> = c.view(310_000, MIN5).students.into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["stuck", "failing", "slow", "quick", "left"]);
    }

    #[test]
    fn a_step_done_in_another_lesson_moves_the_student_there() {
        let mut c = Class::default();
        c.store("a", "ann", &[started(1, "uts", 3), done(2, "uts", 1), done(3, "mnt", 2)], 0);
        let v = c.view(0, MIN5);
        assert_eq!(row(&v, "ann").lesson.as_deref(), Some("mnt"));
        assert_eq!(row(&v, "ann").done, vec![(2, Done::Watched)]);
        assert_eq!(row(&v, "ann").step, 3);
    }

    #[test]
    fn the_latest_presented_step_is_kept() {
        let mut c = Class::default();
        let p = |seq, title: &str| {
            ev(seq, ClassEvent::Present(Box::new(PresentedStep { title: title.into(), ..Default::default() })))
        };
        c.store("i", "teacher", &[p(1, "one"), p(2, "two")], 7);
        assert_eq!(c.present().map(|(p, at)| (p.title.as_str(), *at)), Some(("two", 7)));
    }
}
