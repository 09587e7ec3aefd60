//! Progress through the curriculum, kept per student across runs.
//!
//! Stored in the home of the user who ran `sudo` (SUDO_USER), not root's, as
//! `~/.local/state/nsdojo/progress.json`, and owned by that user.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::lesson::Lesson;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Progress {
    /// Lesson id → numbers (1-based) of the steps whose checks all passed.
    pub done: BTreeMap<String, Vec<usize>>,
    /// Of those, the steps the student did by hand (`try`), not only watched.
    #[serde(default)]
    pub by_hand: BTreeMap<String, Vec<usize>>,
    /// The lesson last worked on, for `lesson` without an argument.
    pub current: Option<String>,
    #[serde(skip)]
    path: Option<PathBuf>,
}

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

    pub(crate) fn clear(&mut self) {
        self.done.clear();
        self.by_hand.clear();
        self.current = None;
        self.save();
    }

    /// First step (0-based) not yet done in a lesson.
    pub(crate) fn resume_at(&self, lesson: &Lesson) -> usize {
        let done = self.done.get(&lesson.id).cloned().unwrap_or_default();
        (1..=lesson.steps.len()).find(|n| !done.contains(n)).map_or(lesson.steps.len(), |n| n - 1)
    }

    /// "23/61 steps" and a line per lesson.
    pub(crate) fn summary(&self, lang: crate::lesson::Lang, lessons: &[crate::lesson::Header]) -> String {
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
}
