//! Progress through the curriculum, kept per student across runs.
//!
//! Stored in the home of the user who ran `sudo` (SUDO_USER), not root's, as
//! `~/.local/state/nsdojo/progress.json`, and owned by that user. Besides which steps are done,
//! it keeps what the student's own system calls were in `try` (issue 25): the calls a step was
//! done by hand with, and the failed call a try ended on, so that `progress LESSON` and the
//! next day's `lesson` show where the student stood.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::lesson::{Header, Lang, Lesson};
use crate::trace::Syscall;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Progress {
    /// Lesson id → numbers (1-based) of the steps whose checks all passed.
    pub done: BTreeMap<String, Vec<usize>>,
    /// Of those, the steps the student did by hand (`try`), not only watched.
    #[serde(default)]
    pub by_hand: BTreeMap<String, Vec<usize>>,
    /// The lesson last worked on, for `lesson` without an argument.
    pub current: Option<String>,
    /// Lesson id → step → the taught calls of the try that did it by hand, as strace prints them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub calls: BTreeMap<String, BTreeMap<usize, Vec<String>>>,
    /// Lesson id → the last failed call of a try that ended with its step not done.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stuck: BTreeMap<String, Stuck>,
    #[serde(skip)]
    path: Option<PathBuf>,
}

/// Where a try ended without its tick: the step, and the last call the kernel refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stuck {
    pub step: usize,
    pub call: Syscall,
}

/// At most this many calls are kept per step (a loop in the shell could say thousands), each
/// cut to [`CALL_CHARS`] characters.
const CALLS_PER_STEP: usize = 32;
const CALL_CHARS: usize = 200;

/// The invoking user's home: SUDO_USER's under sudo, else $HOME.
pub(crate) fn invoking_home() -> Option<PathBuf> {
    match std::env::var("SUDO_USER") {
        Ok(u) if !u.is_empty() && u != "root" => nix::unistd::User::from_name(&u).ok().flatten().map(|u| u.dir),
        _ => std::env::var_os("HOME").map(PathBuf::from),
    }
}

impl Progress {
    pub(crate) fn default_path() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os("NSDOJO_PROGRESS") {
            return Some(PathBuf::from(p));
        }
        invoking_home().map(|h| h.join(".local/state/nsdojo/progress.json"))
    }

    pub(crate) fn load() -> Progress {
        let path = Progress::default_path();
        let mut p: Progress = path
            .as_ref()
            .and_then(|f| crate::userfile::read_as_invoker(f).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        p.path = path;
        p
    }

    pub(crate) fn save(&self) {
        let Some(path) = &self.path else { return };
        // Written by the student's own process under sudo; a planted link is replaced, not followed.
        let _ = crate::userfile::replace_as_invoker(path, &serde_json::to_vec_pretty(self).unwrap_or_default());
    }

    pub(crate) fn mark(&mut self, lesson: &str, step: usize) {
        let steps = self.done.entry(lesson.to_string()).or_default();
        if !steps.contains(&step) {
            steps.push(step);
            steps.sort_unstable();
        }
        self.current = Some(lesson.to_string());
        self.save();
    }

    /// Step `step` of `lesson` was done by hand (`try`); it counts as done too.
    pub(crate) fn mark_by_hand(&mut self, lesson: &str, step: usize) {
        let steps = self.by_hand.entry(lesson.to_string()).or_default();
        if !steps.contains(&step) {
            steps.push(step);
            steps.sort_unstable();
        }
        self.mark(lesson, step);
    }

    /// A try of `step` ended, `done` or not, after the student's own `heard` calls: keep the
    /// calls that did it, or the last refused one of a try that did not.
    pub(crate) fn tried(&mut self, lesson: &str, step: usize, done: bool, heard: &[Syscall]) {
        if done {
            let said =
                heard.iter().filter(|c| c.result.is_ok()).map(|c| c.to_string().chars().take(CALL_CHARS).collect());
            let said: Vec<String> = said.collect();
            let from = said.len().saturating_sub(CALLS_PER_STEP);
            self.calls.entry(lesson.to_string()).or_default().insert(step, said[from..].to_vec());
            if self.stuck.get(lesson).is_some_and(|s| s.step == step) {
                self.stuck.remove(lesson);
            }
        } else if let Some(failed) = heard.iter().rev().find(|c| c.result.is_err()) {
            let mut call = failed.clone();
            call.call = call.call.chars().take(CALL_CHARS).collect();
            self.stuck.insert(lesson.to_string(), Stuck { step, call });
        } else {
            return;
        }
        self.save();
    }

    /// `progress LESSON`: each step, how it was done, and the student's own calls.
    pub(crate) fn detail(&self, lang: Lang, lesson: &Header) -> String {
        use crate::i18n::{t, tf};
        let of = |m: &BTreeMap<String, Vec<usize>>, n: usize| m.get(&lesson.id).is_some_and(|d| d.contains(&n));
        let mut o = format!("{}\n", lesson.id);
        for n in 1..=lesson.steps {
            let mark = if of(&self.by_hand, n) {
                '✋'
            } else if of(&self.done, n) {
                '✔'
            } else {
                '·'
            };
            o.push_str(&format!("  {n:>2} {mark}\n"));
            let calls = self.calls.get(&lesson.id).and_then(|c| c.get(&n));
            for call in calls.into_iter().flatten() {
                o.push_str(&format!("       {call}\n"));
            }
            if let Some(stuck) = self.stuck.get(&lesson.id).filter(|s| s.step == n) {
                o.push_str(&format!("       {}\n", tf(lang, "progress_stuck", &[&stuck.call])));
            }
        }
        if !self.calls.contains_key(&lesson.id) && !self.stuck.contains_key(&lesson.id) {
            o.push_str(t(lang, "progress_no_calls"));
            o.push('\n');
        }
        o
    }

    pub(crate) fn clear(&mut self) {
        self.done.clear();
        self.by_hand.clear();
        self.calls.clear();
        self.stuck.clear();
        self.current = None;
        self.save();
    }

    /// First step (0-based) not yet done in a lesson.
    pub(crate) fn resume_at(&self, lesson: &Lesson) -> usize {
        let done = self.done.get(&lesson.id).cloned().unwrap_or_default();
        (1..=lesson.steps.len()).find(|n| !done.contains(n)).map_or(lesson.steps.len(), |n| n - 1)
    }

    /// "23/61 steps" and a line per lesson.
    pub(crate) fn summary(&self, lang: Lang, lessons: &[Header]) -> String {
        let total: usize = lessons.iter().map(|l| l.steps).sum();
        let done: usize = lessons
            .iter()
            .map(|l| self.done.get(&l.id).map_or(0, |d| d.iter().filter(|n| **n <= l.steps).count()))
            .sum();
        let mut o = crate::i18n::tf(lang, "progress_total", &[&done, &total]) + "\n";
        for l in lessons {
            let n = self.done.get(&l.id).map_or(0, Vec::len).min(l.steps);
            let mark = if n == l.steps {
                "✔"
            } else if n > 0 {
                "…"
            } else {
                " "
            };
            // Per step: done by hand, watched, not yet.
            let of = |m: &BTreeMap<String, Vec<usize>>, n: usize| m.get(&l.id).is_some_and(|d| d.contains(&n));
            let steps: String = (1..=l.steps)
                .map(|k| {
                    if of(&self.by_hand, k) {
                        '✋'
                    } else if of(&self.done, k) {
                        '✔'
                    } else {
                        '·'
                    }
                })
                .collect();
            o.push_str(&format!("  {mark} {:<14} {n}/{:<3} {steps}\n", l.id, l.steps));
            if let Some(stuck) = self.stuck.get(&l.id) {
                let at = crate::i18n::tf(lang, "progress_stuck_at", &[&stuck.step, &stuck.call]);
                o.push_str(&format!("      {at}\n"));
            }
        }
        o.push_str(crate::i18n::t(lang, "progress_legend"));
        o.push('\n');
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_resumes_and_summarises() {
        let lessons = crate::lesson::builtin();
        let mnt = lessons.iter().find(|l| l.id == "mnt").unwrap();
        let mut p = Progress::default();
        assert_eq!(p.resume_at(mnt), 0);
        p.mark("mnt", 1);
        p.mark("mnt", 2);
        p.mark("mnt", 2);
        assert_eq!(p.resume_at(mnt), 2);
        assert_eq!(p.current.as_deref(), Some("mnt"));
        let headers = crate::lesson::Shelf::builtin().headers().to_vec();
        let en = p.summary(crate::lesson::Lang::En, &headers);
        assert!(en.starts_with("2/"), "{en}");
        assert!(en.contains("mnt            2/4   ✔✔··"), "{en}");
        p.mark_by_hand("mnt", 3);
        let en = p.summary(crate::lesson::Lang::En, &headers);
        assert!(en.contains("mnt            3/4   ✔✔✋·"), "{en}");
        assert!(en.contains("✋ by hand"), "{en}");
        assert!(p.summary(crate::lesson::Lang::Ko, &headers).contains("단계 완료"));
    }

    #[test]
    fn a_try_keeps_the_calls_that_did_it_or_the_one_it_ended_on() {
        let headers = crate::lesson::Shelf::builtin().headers().to_vec();
        let uts = headers.iter().find(|h| h.id == "uts").unwrap();
        let eperm = Syscall::failed("sethostname(\"web1\", 4)", nix::errno::Errno::EPERM);
        let mut p = Progress::default();
        p.tried("uts", 2, false, &[Syscall::ok("unshare(CLONE_NEWNS)", 0), eperm.clone()]);
        assert_eq!(p.stuck["uts"], Stuck { step: 2, call: eperm.clone() });
        let en = p.summary(Lang::En, &headers);
        assert!(en.contains("last try of step 2 ended on: sethostname(\"web1\", 4) = -1 EPERM"), "{en}");
        assert!(p.detail(Lang::Ko, uts).contains("마지막 시도: sethostname"), "{}", p.detail(Lang::Ko, uts));
        // A try with no refused call leaves the record as it was.
        p.tried("uts", 2, false, &[]);
        assert!(p.stuck.contains_key("uts"));

        let unshare = Syscall::ok("unshare(CLONE_NEWUTS)", 0);
        let set = Syscall::ok("sethostname(\"web1\", 4)", 0);
        p.tried("uts", 2, true, &[eperm, unshare, set]);
        p.mark_by_hand("uts", 2);
        assert!(!p.stuck.contains_key("uts"), "the step is done: nothing is stuck");
        assert_eq!(p.calls["uts"][&2], ["unshare(CLONE_NEWUTS) = 0", "sethostname(\"web1\", 4) = 0"]);
        let detail = p.detail(Lang::En, uts);
        assert!(
            detail.contains("   2 ✋\n       unshare(CLONE_NEWUTS) = 0\n       sethostname(\"web1\", 4) = 0\n"),
            "{detail}"
        );
        // Bounded: a loop's thousand calls keep the last few.
        let many: Vec<Syscall> = (0..1000).map(|i| Syscall::ok(format!("mkdir(\"/{i}\", 0755)"), 0)).collect();
        p.tried("uts", 3, true, &many);
        assert_eq!(p.calls["uts"][&3].len(), CALLS_PER_STEP);
        assert!(p.calls["uts"][&3].last().unwrap().contains("/999"));
        // Kept across runs.
        let back: Progress = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        let old: Progress = serde_json::from_str(r#"{"done":{},"current":null}"#).unwrap();
        assert!(old.calls.is_empty() && old.stuck.is_empty(), "a progress file from before reads");
    }
}
