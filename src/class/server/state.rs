//! The class as the server knows it: per student session, the events held so far (exactly
//! `1..=acked`, never a gap, never twice), and per student what they add up to on the dashboard.
//!
//! A student is their name in this class (`--name`, by default `SUDO_USER@hostname`): each
//! session has a random id of its own (so its `seq`s stay apart), but a student who restarts
//! nsdojo keeps their row, their finished lessons, and a count of sessions that says so.
//!
//! This is a plain state machine with no clock and no I/O: every call is given the server's
//! time, so the journal replay after a restart rebuilds the very same state (each journal line
//! carries the time it was first stored) and the unit tests need no network and no sleeping.
//! Times are the server's, not the students': laptop clocks in a room disagree, and a dashboard
//! that says "stuck for −3 minutes" helps nobody.
//!
//! Away: every session of the student has ended (`Left`), or nothing was heard from them for
//! `away_after` (the sender has no heartbeat: silence is all the server can see). Time on a
//! step counts only while the student is not away.

use std::collections::{HashMap, HashSet};

use crate::class::protocol::{ClassEvent, ClassView, Done, PresentedStep, Sequenced, StudentRow};

/// The default `away_after`: twice the default stuck threshold.
pub(crate) const AWAY_AFTER_MS: u64 = 2 * super::DEFAULT_STUCK_AFTER * 1000;

/// One session: what it has delivered, and whose it is.
#[derive(Debug, Clone, Default)]
struct Session {
    /// The student's name: the row this session's events go to.
    student: String,
    /// The highest seq held; all of `1..=acked` are held.
    acked: u64,
}

/// One student (one name), as built from the events of all their sessions.
#[derive(Debug, Clone, Default)]
pub(crate) struct Student {
    name: String,
    /// Sessions seen (more than one: the student restarted).
    sessions: u32,
    /// Sessions that have not sent `Left`.
    open: HashSet<String>,
    lesson: Option<String>,
    /// How many steps the current lesson has (0 until known).
    steps: usize,
    /// Steps of the current lesson done, by step number (kept sorted, one entry per step).
    done: Vec<(usize, Done)>,
    /// The step the last `StepDone` was for: the step worked on is the one after it.
    last_done: usize,
    /// Lessons finished, in the order they were, each once: kept across lessons and sessions.
    finished_lessons: Vec<String>,
    /// The last failing check, and the lesson and step it was on.
    failing: Option<(String, usize, String)>,
    /// Time on the current step before `present_since_ms` (away spells not counted).
    on_step_ms: u64,
    /// Server ms when the student was last seen to come (back): the step began, or an event
    /// after an away spell.
    present_since_ms: u64,
    /// Server ms of the last progress (joined, a lesson started, a step done): what `stuck` means.
    progress_ms: u64,
    /// Server ms of the last event of any kind.
    last_seen_ms: u64,
    /// Server ms when the last open session ended.
    left_ms: u64,
}

impl Student {
    fn left(&self) -> bool {
        self.sessions > 0 && self.open.is_empty()
    }

    /// Since when the student is away at `now_ms`, if they are.
    fn away_since(&self, now_ms: u64, away_after_ms: u64) -> Option<u64> {
        if self.left() {
            Some(self.left_ms)
        } else if now_ms.saturating_sub(self.last_seen_ms) >= away_after_ms {
            Some(self.last_seen_ms + away_after_ms)
        } else {
            None
        }
    }

    /// The step being worked on (1-based); the last one once the lesson is finished.
    fn step(&self) -> usize {
        if self.finished() {
            self.steps
        } else {
            self.last_done + 1
        }
    }

    /// Every step of the lesson is done: a finished student is not stuck.
    fn finished(&self) -> bool {
        self.steps > 0 && self.done.len() >= self.steps
    }

    /// An event from `session` at `now_ms`: the student is here (again).
    fn heard(&mut self, session: &str, now_ms: u64, away_after_ms: u64) {
        if self.sessions == 0 {
            self.present_since_ms = now_ms;
            self.progress_ms = now_ms;
        } else if let Some(since) = self.away_since(now_ms, away_after_ms) {
            // Back from an away spell: the time before it counts, the spell does not.
            self.on_step_ms += since.saturating_sub(self.present_since_ms);
            self.present_since_ms = now_ms;
        }
        self.last_seen_ms = now_ms;
        self.open.insert(session.to_string());
    }

    fn apply(&mut self, session: &str, event: &ClassEvent, now_ms: u64, away_after_ms: u64) {
        self.heard(session, now_ms, away_after_ms);
        match event {
            ClassEvent::Joined { .. } => self.progress_ms = now_ms,
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
                self.new_step(now_ms);
                if self.finished() && !self.finished_lessons.contains(lesson) {
                    self.finished_lessons.push(lesson.clone());
                }
            }
            ClassEvent::CheckFailed { lesson, step, check } => {
                self.failing = Some((lesson.clone(), *step, check.clone()));
            }
            // A stuck student's last refused call: the instructor sees "EPERM on sethostname"
            // where a failing check would be.
            ClassEvent::CallFailed { lesson, step, call } => {
                self.failing = Some((lesson.clone(), *step, call.clone()));
            }
            ClassEvent::HintAsked { .. } | ClassEvent::Present(_) => {}
            ClassEvent::Left => {
                self.open.remove(session);
                if self.open.is_empty() {
                    self.left_ms = now_ms;
                }
            }
        }
    }

    fn new_step(&mut self, now_ms: u64) {
        self.on_step_ms = 0;
        self.present_since_ms = now_ms;
        self.progress_ms = now_ms;
    }

    fn start(&mut self, lesson: &str, steps: usize, now_ms: u64) {
        self.lesson = Some(lesson.to_string());
        self.steps = steps;
        self.done.clear();
        self.last_done = 0;
        self.failing = None;
        self.new_step(now_ms);
    }

    fn row(&self, now_ms: u64, stuck_after_ms: u64, away_after_ms: u64) -> StudentRow {
        let step = self.step();
        let failing = match (&self.failing, &self.lesson) {
            (Some((l, s, check)), Some(lesson)) if l == lesson && *s == step && !self.finished() => Some(check.clone()),
            _ => None,
        };
        let away = self.away_since(now_ms, away_after_ms);
        let on_step = self.on_step_ms + away.unwrap_or(now_ms).saturating_sub(self.present_since_ms);
        StudentRow {
            name: self.name.clone(),
            lesson: self.lesson.clone(),
            step,
            steps: self.steps,
            finished: self.finished(),
            done: self.done.clone(),
            finished_lessons: self.finished_lessons.clone(),
            failing,
            seconds_on_step: on_step / 1000,
            last_seen: now_ms.saturating_sub(self.last_seen_ms) / 1000,
            stuck: away.is_none() && !self.finished() && now_ms.saturating_sub(self.progress_ms) >= stuck_after_ms,
            left: self.left(),
            away: away.is_some(),
            sessions: self.sessions,
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
#[derive(Debug)]
pub(crate) struct Class {
    sessions: HashMap<String, Session>,
    /// By name.
    students: HashMap<String, Student>,
    /// The latest `Present` from any session, with the server ms it was stored.
    present: Option<(PresentedStep, u64)>,
    away_after_ms: u64,
}

impl Default for Class {
    fn default() -> Class {
        Class::new(AWAY_AFTER_MS)
    }
}

impl Class {
    /// A class whose students are away after `away_after_ms` of silence.
    pub(crate) fn new(away_after_ms: u64) -> Class {
        Class { sessions: HashMap::new(), students: HashMap::new(), present: None, away_after_ms }
    }

    /// Students (names).
    pub(crate) fn len(&self) -> usize {
        self.students.len()
    }

    /// Sessions: what the server's bound on memory counts.
    pub(crate) fn sessions(&self) -> usize {
        self.sessions.len()
    }

    pub(crate) fn knows(&self, session: &str) -> bool {
        self.sessions.contains_key(session)
    }

    #[cfg(test)]
    pub(crate) fn acked(&self, session: &str) -> u64 {
        self.sessions.get(session).map_or(0, |s| s.acked)
    }

    /// Stores each event whose seq is exactly the next one for `session`: one already held is
    /// skipped (a resend), one after a gap ends the batch (the sender resends from its outbox,
    /// in order, until the gap is filled). The batch may come in any order. The events go to
    /// the row of the name the session first came with.
    pub(crate) fn store(&mut self, session: &str, name: &str, events: &[Sequenced], now_ms: u64) -> Stored {
        let ses =
            self.sessions.entry(session.to_string()).or_insert_with(|| Session { student: name.into(), acked: 0 });
        let st = self
            .students
            .entry(ses.student.clone())
            .or_insert_with(|| Student { name: name.into(), ..Default::default() });
        let mut sorted: Vec<&Sequenced> = events.iter().collect();
        sorted.sort_by_key(|e| e.seq);
        let mut new = Vec::new();
        for e in sorted {
            if e.seq <= ses.acked {
                continue;
            }
            if e.seq != ses.acked + 1 {
                break;
            }
            if ses.acked == 0 {
                st.sessions += 1;
            }
            ses.acked = e.seq;
            st.apply(session, &e.event, now_ms, self.away_after_ms);
            if let ClassEvent::Present(p) = &e.event {
                self.present = Some(((**p).clone(), now_ms));
            }
            new.push(e.clone());
        }
        if st.sessions == 0 {
            // A first batch whose events all wait behind a gap still says the student is there.
            st.heard(session, now_ms, self.away_after_ms);
            st.sessions = 1;
        }
        Stored { acked: ses.acked, new }
    }

    /// The dashboard's rows: the stuck first, then those with a failing check, then the slowest
    /// on their step; students who are away go to the bottom. Ties by name, so rows do not jump.
    pub(crate) fn view(&self, now_ms: u64, stuck_after_ms: u64) -> ClassView {
        let mut students: Vec<StudentRow> =
            self.students.values().map(|s| s.row(now_ms, stuck_after_ms, self.away_after_ms)).collect();
        students.sort_by(|a, b| {
            (a.away, !a.stuck, a.failing.is_none(), std::cmp::Reverse(a.seconds_on_step), &a.name).cmp(&(
                b.away,
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
    fn a_student_who_restarts_keeps_one_row_and_their_history() {
        let mut c = Class::default();
        // Session a finishes uts, then ends; session b of the same name starts mnt.
        c.store("a", "kim", &[started(1, "uts", 2), done(2, "uts", 1), done(3, "uts", 2), ev(4, ClassEvent::Left)], 0);
        c.store(
            "b",
            "kim",
            &[ev(1, ClassEvent::Joined { lang: "ko".into() }), started(2, "mnt", 4), done(3, "mnt", 1)],
            0,
        );
        assert_eq!((c.acked("a"), c.acked("b")), (4, 3), "each session's seqs stay apart");
        let v = c.view(0, MIN5);
        assert_eq!(v.students.len(), 1, "one row per student");
        let kim = row(&v, "kim");
        assert_eq!((kim.sessions, kim.lesson.as_deref(), kim.step), (2, Some("mnt"), 2));
        assert_eq!(kim.finished_lessons, ["uts"], "the restart kept the history");
        assert!(!kim.left && !kim.away, "the new session is open");
        // A second student is a row of their own.
        c.store("c", "lee", &[started(1, "uts", 2)], 0);
        assert_eq!(c.view(0, MIN5).students.len(), 2);
        assert_eq!((c.len(), c.sessions()), (2, 3));
    }

    #[test]
    fn a_finished_lesson_shows_as_done_not_as_the_step_after_the_last() {
        let mut c = Class::default();
        let fail = ev(4, ClassEvent::CheckFailed { lesson: "uts".into(), step: 2, check: "x".into() });
        c.store("a", "ann", &[started(1, "uts", 2), done(2, "uts", 1), done(3, "uts", 2), fail], 0);
        let ann = row(&c.view(MIN5 * 2, MIN5), "ann").clone();
        assert!(ann.finished);
        assert_eq!((ann.step, ann.steps), (2, 2), "not step 3 of a 2-step lesson");
        assert_eq!((ann.failing, ann.stuck), (None, false));
    }

    #[test]
    fn time_on_step_stops_while_the_student_is_away() {
        let mut c = Class::new(60_000);
        c.store("a", "ann", &[started(1, "uts", 3)], 0);
        assert_eq!(row(&c.view(30_000, MIN5), "ann").seconds_on_step, 30);
        // The session ends at 40 s: the clock stops there, however long the student is gone.
        c.store("a", "ann", &[ev(2, ClassEvent::Left)], 40_000);
        let v = c.view(500_000, MIN5);
        assert_eq!((row(&v, "ann").seconds_on_step, row(&v, "ann").away, row(&v, "ann").stuck), (40, true, false));
        // A new session at 500 s: it counts on from 40.
        c.store("b", "ann", &[ev(1, ClassEvent::Joined { lang: "en".into() })], 500_000);
        assert_eq!(row(&c.view(510_000, MIN5), "ann").seconds_on_step, 50);
        assert!(!row(&c.view(510_000, MIN5), "ann").away);
        // Silence for the away threshold (60 s here) is away too: counted up to the threshold.
        let v = c.view(700_000, MIN5);
        assert!(row(&v, "ann").away);
        assert_eq!(row(&v, "ann").seconds_on_step, 40 + 60);
        c.store("b", "ann", &[ev(2, ClassEvent::HintAsked { lesson: "uts".into(), step: 1 })], 900_000);
        assert_eq!(row(&c.view(905_000, MIN5), "ann").seconds_on_step, 105);
        // One of two open sessions ending is not away.
        c.store("c", "ann", &[ev(1, ClassEvent::Joined { lang: "en".into() })], 905_000);
        c.store("c", "ann", &[ev(2, ClassEvent::Left)], 906_000);
        assert!(!row(&c.view(906_000, MIN5), "ann").away);
    }

    #[test]
    fn a_students_failed_call_shows_where_a_failing_check_would() {
        let mut c = Class::default();
        let call = "sethostname(\"web1\", 4) = -1 EPERM (Operation not permitted)";
        let failed = ev(2, ClassEvent::CallFailed { lesson: "uts".into(), step: 1, call: call.into() });
        c.store("a", "ann", &[started(1, "uts", 3), failed], 0);
        assert_eq!(row(&c.view(0, MIN5), "ann").failing.as_deref(), Some(call));
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
