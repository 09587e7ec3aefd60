//! One vocabulary for what was changed on the host and must be put back: a [`HostChange`]
//! knows how to revert itself, and an [`Undone`] (the change, what became of it, and who made
//! it) knows how to say so in each language. Quitting, the watchdog, `nsdojo cleanup`, `try`'s
//! undo and a dead session's unfinished try all speak it, so every host-side unmount, named
//! netns removal, cgroup removal and `subtree_control` change is written here once (cgroupfs
//! itself is written only by `crate::cgroup`), and no line is translated by matching English.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::record::DirId;
use crate::i18n::tf;
use crate::lesson::Lang;

/// One thing on the host that differs from how it was, and how to put it back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum HostChange {
    /// A mount made on the host (by the try shell): detached. Its file system type, where
    /// known, only to say what it was.
    Mount { point: String, fstype: Option<String> },
    /// The host's hostname, changed from `was` to `now`: set back to `was`.
    Hostname { was: String, now: String },
    /// A SysV message queue (its key, hex, as /proc/sysvipc/msg shows it): removed.
    MsgQueue { key: String },
    /// A network interface in the host's namespace: deleted, only while `name` still has
    /// `index` when one is known (a later interface of the same name is someone else's).
    Link { name: String, index: Option<u32> },
    /// A named network namespace (a bind-mounted file in /run/netns): unmounted and removed.
    Netns { path: PathBuf },
    /// A cgroup directory made by hand: removed only if empty (what runs in it is not ours).
    CgroupDir { path: PathBuf },
    /// A cgroup nsdojo's session made: what runs in it is killed, child groups go first.
    SessionCgroup { path: PathBuf },
    /// A v2 controller enabled in `parent`'s `cgroup.subtree_control`: disabled again.
    SubtreeControl { parent: PathBuf, controller: String },
    /// A directory the session made: removed whole while it is still that directory (`id`);
    /// without an identity, only if it is still a bare mkdir of nsdojo's.
    Dir { path: PathBuf, id: Option<DirId> },
    /// A directory sessions share (/run/netns made by one): removed only if empty.
    EmptyDir { path: PathBuf },
    /// A process the try shell left running, adopted by nsdojo (its subreaper): killed, reaped.
    LeftProcess { pid: i32, comm: String },
    /// A process of a dead session's try shell, found by its mark: killed if it still is one.
    MarkedProcess { pid: i32, mark: String },
    /// A session's record file, gone with the last thing it listed (said, not reverted).
    SessionRecord { id: String },
    /// An IPv4 route of the host's (as the leak audit shows it): said, never reverted by hand;
    /// a route goes with its interface.
    Route { route: String },
}

/// What became of a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Reverted,
    /// It could not be put back, and why (the system's words).
    Failed(String),
    /// Not touched: the try that would have made it began `mins` minutes before a dead
    /// session's cleanup, so others may have made it since.
    LeftAlone {
        mins: u64,
    },
}

/// Who made the change: what the line says besides what happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The student's try shell, just now: the line says what the step needed first.
    Try,
    /// The try shell of a session that died while it was open (`nsdojo cleanup`, the watchdog).
    DeadTry,
    /// nsdojo's own session (quit, the watchdog, `nsdojo cleanup`).
    Session,
}

/// A change, what became of it and who made it: one line for the student.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undone {
    pub change: HostChange,
    pub outcome: Outcome,
    pub cause: Cause,
}

impl HostChange {
    /// It is about one of `names` (interface names, netns files): an interface, a route
    /// through one (`… dev NAME`), a named netns or its mount.
    pub fn is_about(&self, names: &[String]) -> bool {
        let named = |n: &str| names.iter().any(|x| x == n);
        match self {
            HostChange::Link { name, .. } => named(name),
            HostChange::Route { route } => {
                let words: Vec<&str> = route.split_whitespace().collect();
                words.windows(2).any(|w| w[0] == "dev" && named(w[1]))
            }
            HostChange::Netns { path } => named(&path.to_string_lossy()),
            HostChange::Mount { point, .. } => named(point),
            _ => false,
        }
    }

    /// Put the host back. Ok(false): nothing of this change is there any more (gone already,
    /// or the path is no longer what was made), so nothing was touched.
    pub fn revert(&self) -> std::io::Result<bool> {
        match self {
            HostChange::Mount { point, .. } => detach(Path::new(point)).map(|()| true),
            HostChange::Hostname { was, .. } => nix::unistd::sethostname(was).map(|()| true).map_err(Into::into),
            HostChange::MsgQueue { key } => remove_queue(key),
            HostChange::Link { name, index } => crate::netlink::delete_if_still(name, *index).map_err(Into::into),
            HostChange::Netns { path } => remove_netns(path),
            HostChange::CgroupDir { path } => crate::cgroup::remove_empty(path),
            HostChange::SessionCgroup { path } if !path.exists() => Ok(false),
            HostChange::SessionCgroup { path } => {
                let mut trace = crate::trace::Trace::default();
                crate::cgroup::remove_paths(std::slice::from_ref(path), &mut trace).map_err(std::io::Error::other)?;
                Ok(true)
            }
            HostChange::SubtreeControl { parent, controller } => {
                crate::cgroup::subtree_disable(parent, controller).map(|()| true)
            }
            HostChange::Dir { path, id } => remove_own_dir(path, id.as_ref()),
            HostChange::EmptyDir { path } => match fs::remove_dir(path) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(e),
            },
            HostChange::LeftProcess { pid, .. } => crate::process::stop_unreaped_child(*pid).map(|()| true),
            HostChange::MarkedProcess { pid, mark } => crate::process::stop_found(*pid, |p| has_mark(p, mark)),
            HostChange::SessionRecord { .. } => Ok(true),
            HostChange::Route { .. } => Err(std::io::ErrorKind::Unsupported.into()),
        }
    }

    /// Revert, and say what became of it (None: nothing was there to revert).
    pub fn undo(self, cause: Cause) -> Option<Undone> {
        let outcome = match self.revert() {
            Ok(true) => Outcome::Reverted,
            Ok(false) => return None,
            Err(e) => Outcome::Failed(e.to_string()),
        };
        Some(Undone { change: self, outcome, cause })
    }

    /// What it is, in a few words ("netns /run/netns/x"), as `nsdojo cleanup` lists it.
    pub fn what(&self, lang: Lang) -> String {
        match self {
            HostChange::Mount { point, fstype: None } => tf(lang, "change_mount", &[point]),
            HostChange::Mount { point, fstype: Some(fs) } => tf(lang, "change_mount", &[&format!("{point} ({fs})")]),
            HostChange::Hostname { was, now } => tf(lang, "change_hostname", &[was, now]),
            HostChange::MsgQueue { key } => tf(lang, "change_queue", &[key]),
            HostChange::Link { name, .. } => tf(lang, "change_link", &[name]),
            HostChange::Netns { path } => tf(lang, "change_netns", &[&path.display()]),
            HostChange::CgroupDir { path } | HostChange::SessionCgroup { path } => {
                tf(lang, "change_cgroup", &[&path.display()])
            }
            HostChange::SubtreeControl { parent, controller } => {
                tf(lang, "change_subtree", &[controller, &parent.display()])
            }
            HostChange::Dir { path, .. } => tf(lang, "removed_dir", &[&path.display()]),
            HostChange::EmptyDir { path } => tf(lang, "removed_empty_dir", &[&path.display()]),
            HostChange::LeftProcess { pid, comm } => tf(lang, "change_process", &[comm, pid]),
            HostChange::MarkedProcess { pid, .. } => tf(lang, "change_marked_process", &[pid]),
            HostChange::SessionRecord { id } => tf(lang, "change_record", &[id]),
            HostChange::Route { route } => tf(lang, "change_route", &[route]),
        }
    }

    /// How the try shell's change is said: (key when reverted, key when it failed), values.
    /// The failure's key takes the reason as the value after these.
    fn try_keys(&self) -> (&'static str, &'static str, Vec<String>) {
        match self {
            HostChange::Mount { point, .. } => ("undo_mount", "undo_mount_failed", vec![point.clone()]),
            HostChange::Hostname { was, now } => {
                ("undo_hostname", "undo_hostname_failed", vec![now.clone(), was.clone()])
            }
            HostChange::MsgQueue { key } => ("undo_queue", "undo_queue_failed", vec![key.clone()]),
            HostChange::Link { name, .. } => ("undo_link", "undo_link_failed", vec![name.clone()]),
            HostChange::Netns { path } => ("undo_netns", "undo_netns_failed", vec![path.display().to_string()]),
            HostChange::CgroupDir { path } | HostChange::SessionCgroup { path } => {
                ("undo_cgroup", "undo_cgroup_failed", vec![path.display().to_string()])
            }
            HostChange::SubtreeControl { parent, controller } => (
                "undo_subtree",
                "undo_subtree_failed",
                vec![controller.clone(), crate::cgroup::subtree_control_file(parent).display().to_string()],
            ),
            HostChange::LeftProcess { pid, comm } => {
                ("undo_left_process", "undo_left_process_failed", vec![comm.clone(), pid.to_string()])
            }
            HostChange::MarkedProcess { pid, .. } => {
                ("undo_marked_process", "undo_marked_process_failed", vec![pid.to_string()])
            }
            // Never the try shell's: said as a session's.
            HostChange::Dir { .. }
            | HostChange::EmptyDir { .. }
            | HostChange::SessionRecord { .. }
            | HostChange::Route { .. } => ("removed", "not_removed", Vec::new()),
        }
    }
}

impl Undone {
    /// The line in `lang`.
    pub fn line(&self, lang: Lang) -> String {
        let session = matches!(self.cause, Cause::Session)
            || matches!(
                self.change,
                HostChange::Dir { .. } | HostChange::EmptyDir { .. } | HostChange::SessionRecord { .. }
            );
        let said = match (&self.outcome, session) {
            (Outcome::Reverted, true) => tf(lang, "removed", &[&self.change.what(lang)]),
            (Outcome::Failed(why), true) => tf(lang, "not_removed", &[&self.change.what(lang), why]),
            (Outcome::LeftAlone { mins }, _) => tf(lang, "not_undone", &[&self.change.what(lang), mins]),
            (outcome, false) => {
                let (ok, failed, mut values) = self.change.try_keys();
                let key = match outcome {
                    Outcome::Failed(why) => {
                        values.push(why.clone());
                        failed
                    }
                    _ => ok,
                };
                let args: Vec<&dyn std::fmt::Display> = values.iter().map(|v| v as &dyn std::fmt::Display).collect();
                tf(lang, key, &args)
            }
        };
        match self.cause {
            Cause::DeadTry => tf(lang, "dead_try_line", &[&said]),
            _ => said,
        }
    }
}

/// Detach a mount on the host (MNT_DETACH: it goes once nothing uses it).
fn detach(point: &Path) -> std::io::Result<()> {
    nix::mount::umount2(point, nix::mount::MntFlags::MNT_DETACH).map_err(Into::into)
}

/// A named netns: its bind mount detached, then its file removed. Ok(false): no file.
fn remove_netns(path: &Path) -> std::io::Result<bool> {
    // Not mounted (any more) is fine: the file still goes.
    let _ = detach(path);
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Unmount and remove named network namespaces (the lab's on reset); what failed is returned.
pub fn remove_netns_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    paths.iter().filter(|p| remove_netns(p).is_err()).cloned().collect()
}

/// Remove a directory a session recorded: with its identity, only while the path is still
/// that directory; without one (a crash between mkdir and recording it), only if it is what
/// nsdojo makes, empty. Ok(false): nothing of ours is there (left alone).
pub(super) fn remove_own_dir(d: &Path, id: Option<&DirId>) -> std::io::Result<bool> {
    let Ok(meta) = fs::symlink_metadata(d) else { return Ok(false) };
    match id {
        Some(id) if id.matches(&meta) => fs::remove_dir_all(d).map(|_| true),
        Some(_) => Ok(false),
        None if meta.is_dir() && meta.uid() == 0 && meta.mode() & 0o7777 == 0o700 => match fs::remove_dir(d) {
            Ok(()) => Ok(true),
            // Not empty: not a bare mkdir of ours; someone else's, or ours with content
            // whose identity was never recorded. Leave it.
            Err(_) => Ok(false),
        },
        None => Ok(false),
    }
}

/// Does process `pid`'s environment carry `mark` (`NAME=value`)?
fn has_mark(pid: i32, mark: &str) -> bool {
    crate::observe::system::environ_has(pid, mark)
}

/// Processes whose environment carries `mark`, this one aside.
pub(super) fn marked(mark: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    crate::observe::procfs::all_pids().into_iter().filter(|p| *p != me && has_mark(*p, mark)).collect()
}

/// `msgctl(IPC_RMID)` for the queue with this key (hex, as /proc/sysvipc/msg shows it).
/// Ok(false): no such queue any more.
fn remove_queue(key: &str) -> std::io::Result<bool> {
    let Some(id) = crate::observe::system::msg_queues().into_iter().find(|q| q.key == key).map(|q| q.id) else {
        return Ok(false);
    };
    // SAFETY: msgctl with IPC_RMID takes no buffer (null is allowed).
    match unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) } {
        0 => Ok(true),
        _ => Err(std::io::Error::last_os_error()),
    }
}

#[cfg(test)]
#[path = "change_tests.rs"]
mod tests;
