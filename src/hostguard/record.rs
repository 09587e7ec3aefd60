//! The session record: `/run/nsdojo/ID.json` lists every host-visible thing a
//! session makes, so that whoever cleans up (the session, its watchdog, or
//! `nsdojo cleanup`) removes exactly that, and nothing someone else made.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::change::{Cause, HostChange, Outcome, Undone};
use super::RUN_DIR;

/// Host-visible things a session makes, removed when it ends.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub owner: i32,
    /// PID of the session's watchdog.
    #[serde(default)]
    pub watchdog: Option<i32>,
    /// Directories about to be made (recorded *before* mkdir, so a crash right after leaks
    /// nothing). Without an identity in `dir_ids` one is removed only if it is still what
    /// nsdojo would have made: empty, root's, mode 0700.
    pub dirs: Vec<PathBuf>,
    /// The identity of each directory once nsdojo made it: removed, whole, only while that
    /// path is still that directory (never a tree someone put in its place).
    #[serde(default)]
    pub dir_ids: Vec<DirId>,
    /// cgroup directories to empty and rmdir, deepest first.
    pub cgroups: Vec<PathBuf>,
    /// cgroup directories about to be made (recorded *before* mkdir), at the exact paths
    /// nsdojo computed, so a crash between mkdir and recording them leaks nothing. Only these
    /// paths are looked at: a directory with the same name elsewhere is someone else's. If
    /// mkdir fails (EEXIST: someone made one there first, say in a v1 parent delegated to a
    /// user), the paths are dropped again and never cleaned.
    #[serde(default)]
    pub cgroups_intended: Vec<PathBuf>,
    /// Controllers this session enabled in a v2 parent's `cgroup.subtree_control` (parent,
    /// controller), to be disabled again as its normal exit would.
    #[serde(default)]
    pub subtree_enabled: Vec<(PathBuf, String)>,
    /// Bind-mounted files to unmount and remove (named netns).
    pub mounts: Vec<PathBuf>,
    /// Host PID of the live sandbox agent (for `nsdojo attach`), and its lesson.
    #[serde(default)]
    pub sandbox: Option<i32>,
    #[serde(default)]
    pub lesson: Option<String>,
    /// Directories the session created that others may share: removed only if empty.
    #[serde(default)]
    pub empty_dirs: Vec<PathBuf>,
    /// Network interfaces made in the host's namespace (the `veth` lesson's host end),
    /// recorded *before* they are made; deleting one deletes its peer too.
    #[serde(default)]
    pub links: Vec<LinkId>,
    /// The host as a `try` began, while its shell runs: if the session dies meanwhile, its
    /// cleanup stops the shell's processes and puts back what they changed.
    #[serde(default)]
    pub(crate) trying: Option<super::undo::Before>,
}

/// An interface by name and, once made, by index: cleanup deletes it only while that name
/// still has that index (the kernel hands out indexes in increasing order, so an interface
/// someone else made later under the same name has another).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkId {
    pub name: String,
    #[serde(default)]
    pub index: Option<u32>,
}

/// Which directory a path named when nsdojo made it. The inode number alone is not enough: a
/// file system reuses a freed one at once, so a directory removed and made again by someone
/// else can have it; its birth time (statx) cannot be the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirId {
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    /// Birth time in ns since the epoch, where the file system keeps one.
    #[serde(default)]
    pub born_ns: Option<u128>,
}

impl DirId {
    pub fn of(path: &Path) -> std::io::Result<DirId> {
        let meta = fs::symlink_metadata(path)?;
        Ok(DirId { path: path.to_path_buf(), dev: meta.dev(), ino: meta.ino(), born_ns: born(&meta) })
    }

    /// Is `meta` (of `self.path`, not followed) still this directory?
    pub(super) fn matches(&self, meta: &fs::Metadata) -> bool {
        meta.is_dir() && meta.dev() == self.dev && meta.ino() == self.ino && born(meta) == self.born_ns
    }
}

fn born(meta: &fs::Metadata) -> Option<u128> {
    meta.created().ok()?.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_nanos())
}

/// Hold the run directory's lock while `f` runs: every read-modify-write of a record (this
/// session's, its watchdog's, `nsdojo cleanup`'s, another session handing a directory over)
/// happens under it, so none is lost. flock(2) on the directory itself: released when the
/// process dies, and no lock file to leave behind. (The directory is removed only when empty,
/// and whoever locks it has a record in it, so no one locks a directory on its way out.)
fn locked<T>(f: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    use std::os::unix::fs::OpenOptionsExt;
    make_run_dir()?;
    let lock = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(RUN_DIR)?;
    nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| std::io::Error::from(e))
        .and_then(|held| {
            let out = f();
            drop(held);
            out
        })
}

/// Under the lock: take away what a writer killed between writing its temp file and renaming
/// it left (every save happens under the lock, so no temp file is anyone's work in progress
/// now), then the run dir itself if no record is left in it. Without this, one SIGKILL at
/// the wrong moment kept /run/nsdojo on the host for good.
fn tidy_run_dir() {
    for e in fs::read_dir(RUN_DIR).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.ends_with(".tmp") {
            let _ = fs::remove_file(e.path());
        }
    }
    let _ = fs::remove_dir(RUN_DIR);
}

/// Tidy the run dir (see [`tidy_run_dir`]) once every record in it is cleaned: what
/// `nsdojo cleanup` does last, for a session killed while it wrote its very first record.
pub(crate) fn tidy_if_unused() {
    if std::path::Path::new(RUN_DIR).is_dir() {
        let _ = locked(|| {
            tidy_run_dir();
            Ok(())
        });
    }
}

fn make_run_dir() -> std::io::Result<()> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(RUN_DIR)?;
    fs::set_permissions(RUN_DIR, fs::Permissions::from_mode(0o700))
}

/// Is `d` still the directory session `id` made (its recorded identity)?
pub fn is_own_dir(id: &str, d: &Path) -> bool {
    let Ok(rec) = Record::load(id) else { return false };
    let Ok(meta) = fs::symlink_metadata(d) else { return false };
    rec.dir_ids.iter().any(|x| x.path == d && x.matches(&meta))
}

impl Record {
    fn path(id: &str) -> PathBuf {
        Path::new(RUN_DIR).join(format!("{id}.json"))
    }

    /// Write atomically (tmp + rename), so a crash never leaves half a record.
    pub fn save(&self) -> std::io::Result<()> {
        make_run_dir()?;
        // A temp name of this process's own: another session may hand over a dir to this record.
        let tmp = Path::new(RUN_DIR).join(format!(".{}.{}.tmp", self.id, std::process::id()));
        fs::write(&tmp, serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)?;
        fs::rename(tmp, Self::path(&self.id))
    }

    /// The record of session `id`, or why it cannot be read.
    pub fn load(id: &str) -> std::io::Result<Record> {
        serde_json::from_slice(&fs::read(Self::path(id))?).map_err(std::io::Error::other)
    }

    pub fn load_all() -> Vec<Record> {
        let Ok(dir) = fs::read_dir(RUN_DIR) else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .filter_map(|e| serde_json::from_slice(&fs::read(e.path()).ok()?).ok())
            .collect()
    }

    /// Remove everything listed. The record goes too if everything did; else it is kept with
    /// what is left, so `nsdojo cleanup` can try again. Returns what was removed, or could not be.
    pub fn clean(&self) -> Vec<Undone> {
        let mut done = Vec::new();
        let mut left = Record { id: self.id.clone(), owner: self.owner, watchdog: self.watchdog, ..Default::default() };
        if let Some(before) = &self.trying {
            done.extend(super::undo::after_dead_try(&self.id, before, &recorded_by_sessions()));
        }
        for change in self.changes() {
            match &change {
                // As the session's own exit would: the controllers it enabled, disabled again —
                // unless another live session's group under the same parent relies on them; then
                // the entry goes to that session's record, and the last one out turns them off.
                HostChange::SubtreeControl { parent, controller }
                    if !crate::cgroup::subtree_has(parent, controller)
                        || hand_over_subtree(&self.id, parent, controller) =>
                {
                    continue
                }
                HostChange::EmptyDir { path } => {
                    match change.revert() {
                        Ok(true) => done.push(Undone { change, outcome: Outcome::Reverted, cause: Cause::Session }),
                        Ok(false) => {}
                        // Another session still uses it: the last one out removes it.
                        Err(_) => self.hand_over(path),
                    }
                    continue;
                }
                _ => {}
            }
            if let Some(undone) = change.clone().undo(Cause::Session) {
                if let Outcome::Failed(_) = undone.outcome {
                    left.keep(&change);
                }
                done.push(undone);
            }
        }
        // The record as it is *now* (another session may have handed something over since it
        // was read), less what this pass dealt with, plus what it could not: all under the lock.
        let _ = locked(|| {
            let Ok(mut now) = Record::load(&self.id) else {
                // Another cleaner finished it meanwhile: do not bring it back (and take away the
                // run dir this lock may just have made again, if it is empty).
                tidy_run_dir();
                return Ok(());
            };
            let keep = |x: &PathBuf, mine: &[PathBuf], failed: &[PathBuf]| !mine.contains(x) || failed.contains(x);
            now.mounts.retain(|m| keep(m, &self.mounts, &left.mounts));
            now.cgroups.retain(|c| keep(c, &self.cgroups, &left.cgroups));
            now.cgroups_intended.retain(|c| keep(c, &self.cgroups_intended, &left.cgroups));
            now.dirs.retain(|d| keep(d, &self.dirs, &left.dirs));
            now.dir_ids.retain(|id| now_dirs_keep(id, &self.dirs, &left.dirs));
            // Each was removed, or handed over to the sessions still using it.
            now.empty_dirs.retain(|d| !self.empty_dirs.contains(d));
            now.links.retain(|l| !self.links.iter().any(|m| m.name == l.name) || left.links.contains(l));
            now.subtree_enabled.retain(|e| !self.subtree_enabled.contains(e) || left.subtree_enabled.contains(e));
            let nothing_left = now.mounts.is_empty()
                && now.cgroups.is_empty()
                && now.cgroups_intended.is_empty()
                && now.dirs.is_empty()
                && now.subtree_enabled.is_empty()
                && now.empty_dirs.is_empty()
                && now.links.is_empty();
            if nothing_left {
                let _ = fs::remove_file(Self::path(&self.id));
                // Leave no trace: the run dir goes with the last session's record (under the
                // lock, so no session is writing its first record into it right now).
                tidy_run_dir();
            } else {
                now.save()?;
            }
            Ok(())
        });
        done
    }

    /// What cleaning this record reverts, in order: named netns files, interfaces, cgroups
    /// (what runs in them killed, child groups first), controllers enabled in a v2 parent, the
    /// session's directories, then the directories it shares. A cgroup only intended (never
    /// made: its mkdir failed or never ran) is not there to be ours.
    pub fn changes(&self) -> Vec<HostChange> {
        let mut out: Vec<HostChange> = self.mounts.iter().map(|m| HostChange::Netns { path: m.clone() }).collect();
        out.extend(self.links.iter().map(|l| HostChange::Link { name: l.name.clone(), index: l.index }));
        let made = self.cgroups_intended.iter().filter(|p| p.is_dir() && !self.cgroups.contains(p));
        out.extend(self.cgroups.iter().chain(made).map(|p| HostChange::SessionCgroup { path: p.clone() }));
        out.extend(
            self.subtree_enabled
                .iter()
                .map(|(parent, c)| HostChange::SubtreeControl { parent: parent.clone(), controller: c.clone() }),
        );
        out.extend(
            self.dirs.iter().map(|d| HostChange::Dir {
                path: d.clone(),
                id: self.dir_ids.iter().find(|id| id.path == *d).cloned(),
            }),
        );
        out.extend(self.empty_dirs.iter().map(|d| HostChange::EmptyDir { path: d.clone() }));
        out
    }

    /// Keep a change that could not be reverted, as the record lists it.
    fn keep(&mut self, change: &HostChange) {
        match change.clone() {
            HostChange::Netns { path } => self.mounts.push(path),
            HostChange::Link { name, index } => self.links.push(LinkId { name, index }),
            HostChange::SessionCgroup { path } => self.cgroups.push(path),
            HostChange::SubtreeControl { parent, controller } => self.subtree_enabled.push((parent, controller)),
            HostChange::Dir { path, id } => {
                self.dirs.push(path);
                self.dir_ids.extend(id);
            }
            HostChange::EmptyDir { path } => self.empty_dirs.push(path),
            // Never listed in a record.
            _ => {}
        }
    }

    /// Start a session's record, under the lock (cleanup removes an empty run dir under it).
    pub fn create(&self) -> std::io::Result<()> {
        locked(|| self.save())
    }

    /// Remove a directory this session recorded (see [`HostChange::Dir`]). Ok(false):
    /// nothing of ours is there (left alone).
    pub(super) fn remove_own_dir(&self, d: &Path) -> std::io::Result<bool> {
        super::change::remove_own_dir(d, self.dir_ids.iter().find(|id| id.path == d))
    }

    /// Give an emptied-later directory to the live sessions that still have mounts in it.
    fn hand_over(&self, dir: &Path) {
        for other in Record::load_all() {
            if other.id != self.id && other.mounts.iter().any(|m| m.starts_with(dir)) {
                let _ = record_add(&other.id, |r| {
                    if !r.empty_dirs.iter().any(|e| e == dir) {
                        r.empty_dirs.push(dir.to_path_buf());
                    }
                });
            }
        }
    }

    /// Is the session's nsdojo still running? (A zombie is not: it only waits to be reaped.)
    pub fn owner_alive(&self) -> bool {
        super::alive_as(self.owner, "nsdojo")
    }

    /// Is its watchdog still waiting? (Then it cleans up by itself.)
    pub fn watchdog_alive(&self) -> bool {
        self.watchdog.is_some_and(|w| super::alive_as(w, "nsdojo-watchdog"))
    }
}

/// What the sessions on this machine (this one included) have recorded as theirs: what a
/// try's undo must leave alone.
pub(crate) fn recorded_by_sessions() -> super::undo::Theirs {
    let mut theirs = super::undo::Theirs::default();
    for r in Record::load_all() {
        theirs.paths.extend(r.mounts.iter().cloned());
        theirs.paths.extend(r.cgroups.iter().cloned());
        theirs.paths.extend(r.cgroups_intended.iter().cloned());
        theirs.links.extend(r.links.iter().map(|l| l.name.clone()));
        theirs.subtree.extend(r.subtree_enabled.iter().cloned());
    }
    theirs
}

fn now_dirs_keep(id: &DirId, mine: &[PathBuf], failed: &[PathBuf]) -> bool {
    !mine.contains(&id.path) || failed.contains(&id.path)
}

/// Give a controller enabled in `parent` to another session that has a group there, so that it
/// is turned off when the last of them is done. False if there is none.
pub fn hand_over_subtree(from: &str, parent: &Path, controller: &str) -> bool {
    let mut handed = false;
    for other in Record::load_all() {
        let has_group_there = other.cgroups.iter().chain(&other.cgroups_intended).any(|g| g.parent() == Some(parent));
        if other.id != from && has_group_there && (other.owner_alive() || other.watchdog_alive()) {
            let entry = (parent.to_path_buf(), controller.to_string());
            handed |= record_add(&other.id, |r| {
                if !r.subtree_enabled.contains(&entry) {
                    r.subtree_enabled.push(entry.clone());
                }
            })
            .is_ok();
        }
    }
    handed
}

/// Add to a session's record on disk (the record file is the source of truth,
/// so the watchdog and `nsdojo cleanup` see everything added so far), under the lock.
pub fn record_add(id: &str, change: impl FnOnce(&mut Record)) -> std::io::Result<()> {
    locked(|| {
        let mut rec = Record::load(id)?;
        change(&mut rec);
        rec.save()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> Record {
        let dir = PathBuf::from("/tmp/nsdojo-1-ab");
        let id = DirId { path: dir.clone(), dev: 1, ino: 2, born_ns: None };
        Record {
            id: "1-ab".into(),
            owner: 1,
            mounts: vec!["/run/netns/a".into()],
            links: vec![LinkId { name: "veth0".into(), index: Some(5) }],
            cgroups: vec!["/sys/fs/cgroup/nsdojo-1-ab".into()],
            // Made (listed in cgroups too) and never made (no such directory): neither twice.
            cgroups_intended: vec!["/sys/fs/cgroup/nsdojo-1-ab".into(), "/nonexistent/nsdojo-1-ab".into()],
            subtree_enabled: vec![("/sys/fs/cgroup".into(), "cpu".into())],
            dirs: vec![dir.clone()],
            dir_ids: vec![id],
            empty_dirs: vec!["/run/netns".into()],
            ..Default::default()
        }
    }

    #[test]
    fn a_record_lists_what_its_cleanup_reverts_in_order() {
        let rec = full();
        let en: Vec<String> = rec.changes().iter().map(|c| c.what(crate::lesson::Lang::En)).collect();
        assert_eq!(
            en,
            [
                "netns /run/netns/a",
                "interface veth0",
                "cgroup /sys/fs/cgroup/nsdojo-1-ab",
                "cgroup.subtree_control -cpu in /sys/fs/cgroup",
                "dir /tmp/nsdojo-1-ab",
                "empty dir /run/netns",
            ]
        );
        // The work dir goes with its identity: removed only while it is still that directory.
        assert!(rec
            .changes()
            .contains(&HostChange::Dir { path: rec.dirs[0].clone(), id: Some(rec.dir_ids[0].clone()) }));
    }

    #[test]
    fn what_could_not_be_reverted_is_kept_as_the_record_listed_it() {
        let rec = full();
        let mut left = Record::default();
        for c in rec.changes() {
            left.keep(&c);
        }
        assert_eq!(left.mounts, rec.mounts);
        assert_eq!(left.links, rec.links);
        assert_eq!(left.cgroups, rec.cgroups);
        assert_eq!(left.subtree_enabled, rec.subtree_enabled);
        assert_eq!((left.dirs, left.dir_ids), (rec.dirs, rec.dir_ids));
        assert_eq!(left.empty_dirs, rec.empty_dirs);
    }
}
