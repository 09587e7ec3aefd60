//! Progress through the curriculum, kept per student across runs.
//!
//! Stored in the home of the user who ran `sudo` (SUDO_USER), not root's, as
//! `~/.local/state/nsdojo/progress.json`, and owned by that user.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::lesson::Lesson;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Lesson id → numbers (1-based) of the steps whose checks all passed.
    pub done: BTreeMap<String, Vec<usize>>,
    /// The lesson last worked on, for `lesson` without an argument.
    pub current: Option<String>,
    #[serde(skip)]
    path: Option<PathBuf>,
}

/// The invoking user's home: SUDO_USER's under sudo, else $HOME.
pub fn invoking_home() -> Option<PathBuf> {
    match std::env::var("SUDO_USER") {
        Ok(u) if !u.is_empty() && u != "root" => nix::unistd::User::from_name(&u).ok().flatten().map(|u| u.dir),
        _ => std::env::var_os("HOME").map(PathBuf::from),
    }
}

/// Files written as root in a sudo user's home belong to that user. `lchown`: never
/// through a symlink the user could have planted.
pub fn chown_to_invoker(p: &std::path::Path) {
    let id = |v: &str| std::env::var(v).ok().and_then(|s| s.parse::<u32>().ok());
    if let (Some(uid), Some(gid)) = (id("SUDO_UID"), id("SUDO_GID")) {
        let _ = std::os::unix::fs::lchown(p, Some(uid), Some(gid));
    }
}

/// Root writes into a user's home only if no part of the path below the home is a symlink
/// (`~/.local -> /etc` must not make root write or chown in /etc).
pub fn safe_in_home(path: &std::path::Path) -> bool {
    let Some(home) = invoking_home() else { return false };
    let Ok(rest) = path.strip_prefix(&home) else { return true };
    let mut at = home;
    for part in rest.components() {
        at.push(part);
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            return false;
        }
    }
    true
}

/// Make the directories of `path` (owned by the invoking user), if that is safe.
pub fn prepare_dir(path: &std::path::Path) -> bool {
    let Some(dir) = path.parent() else { return false };
    if !safe_in_home(path) {
        return false;
    }
    let mut made = Vec::new();
    let mut at = dir.to_path_buf();
    while !at.exists() {
        made.push(at.clone());
        if !at.pop() {
            break;
        }
    }
    if std::fs::create_dir_all(dir).is_err() {
        return false;
    }
    for d in made {
        chown_to_invoker(&d);
    }
    safe_in_home(path)
}

impl Progress {
    pub fn default_path() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os("NSDOJO_PROGRESS") {
            return Some(PathBuf::from(p));
        }
        invoking_home().map(|h| h.join(".local/state/nsdojo/progress.json"))
    }

    pub fn load() -> Progress {
        let path = Progress::default_path();
        let mut p: Progress = path
            .as_ref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        p.path = path;
        p
    }

    pub fn save(&self) {
        let Some(path) = &self.path else { return };
        if !prepare_dir(path) {
            return;
        }
        // A temp file made fresh (O_EXCL: not through a planted link), then renamed over.
        let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        let written =
            std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp).and_then(|mut f| {
                std::io::Write::write_all(&mut f, &serde_json::to_vec_pretty(self).unwrap_or_default())
            });
        if written.is_ok() {
            chown_to_invoker(&tmp);
            if std::fs::rename(&tmp, path).is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
        } else {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    pub fn mark(&mut self, lesson: &str, step: usize) {
        let steps = self.done.entry(lesson.to_string()).or_default();
        if !steps.contains(&step) {
            steps.push(step);
            steps.sort_unstable();
        }
        self.current = Some(lesson.to_string());
        self.save();
    }

    pub fn clear(&mut self) {
        self.done.clear();
        self.current = None;
        self.save();
    }

    /// First step (0-based) not yet done in a lesson.
    pub fn resume_at(&self, lesson: &Lesson) -> usize {
        let done = self.done.get(&lesson.id).cloned().unwrap_or_default();
        (1..=lesson.steps.len()).find(|n| !done.contains(n)).map_or(lesson.steps.len(), |n| n - 1)
    }

    /// "23/61 steps" and a line per lesson.
    pub fn summary(&self, lang: crate::lesson::Lang, lessons: &[Lesson]) -> String {
        let total: usize = lessons.iter().map(|l| l.steps.len()).sum();
        let done: usize = lessons
            .iter()
            .map(|l| self.done.get(&l.id).map_or(0, |d| d.iter().filter(|n| **n <= l.steps.len()).count()))
            .sum();
        let mut o = crate::i18n::tf(lang, "progress_total", &[&done, &total]) + "\n";
        for l in lessons {
            let n = self.done.get(&l.id).map_or(0, Vec::len).min(l.steps.len());
            let mark = if n == l.steps.len() {
                "✔"
            } else if n > 0 {
                "…"
            } else {
                " "
            };
            o.push_str(&format!("  {mark} {:<14} {n}/{}\n", l.id, l.steps.len()));
        }
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
        let en = p.summary(crate::lesson::Lang::En, &lessons);
        assert!(en.starts_with("2/"), "{en}");
        assert!(en.contains("mnt            2/4"));
        assert!(p.summary(crate::lesson::Lang::Ko, &lessons).contains("단계 완료"));
    }
}
