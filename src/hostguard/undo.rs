//! After `try`: what the student's shell changed on the host, put back. A student who types
//! `hostname oops` before `unshare -u`, mounts before `unshare -m`, makes a queue before
//! `unshare -i`, leaves a named netns, an interface, a cgroup or a background process behind
//! changed the host, not terminal #1; each is undone here and said in one line, with what the
//! step needed first.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::audit::{cgroup_parents, HostAudit};
use super::change::{self, Cause, HostChange, Outcome, Undone};

/// The host as a try began: the leak audit's view, and the cgroup directories near the top of
/// each hierarchy (where `mkdir /sys/fs/cgroup/…/mine` makes one).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Before {
    audit: HostAudit,
    cgroups: BTreeSet<PathBuf>,
    /// Mount IDs, not mount points: a second tmpfs on /mnt is a new mount at an old point.
    mounts: BTreeSet<u32>,
    /// cgroup v2 `cgroup.subtree_control` files nsdojo's groups hang from, and their words.
    subtree: Vec<(PathBuf, String)>,
    /// /run/netns was there: `ip netns add` makes it (and leaves it behind after `ip netns
    /// delete`). A record written before this was known says nothing: then it is left alone.
    #[serde(default = "there")]
    netns_dir: bool,
    /// When (seconds since the epoch): everything that changes on the host while the shell is
    /// open is taken as its doing, so the longer ago, the less that holds.
    started: u64,
}

impl Before {
    pub(crate) fn now() -> Before {
        Before {
            audit: HostAudit::now(),
            cgroups: cgroup_dirs(),
            mounts: mount_ids().into_keys().collect(),
            subtree: subtree_control_files(),
            netns_dir: Path::new(NETNS_DIR).exists(),
            started: now_secs(),
        }
    }
}

/// Where named netns live (as the leak audit reads them; `sandbox::netdev` makes them there).
const NETNS_DIR: &str = "/run/netns";

fn there() -> bool {
    true
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// How long after a try began a dead session's cleanup still takes every host change since
/// then as the try shell's: the watchdog cleans at once; a `nsdojo cleanup` run much later
/// would also undo what others did since, so it only says what differs.
const TRUSTED_FOR: u64 = 600;

/// A dead session's cleanup for a try it left open: stop the shell's processes, and put the
/// host back if the try began recently enough to be the only cause (else say what differs).
pub(crate) fn after_dead_try(session: &str, before: &Before, theirs: &Theirs) -> Vec<Undone> {
    let mut said = stop_marked(session);
    let age = now_secs().saturating_sub(before.started);
    let changes = changes_since(before, theirs);
    if age <= TRUSTED_FOR {
        said.extend(changes.into_iter().filter_map(|c| c.undo(Cause::DeadTry)));
    } else {
        let mins = age / 60;
        said.extend(changes.into_iter().map(|change| Undone {
            change,
            outcome: Outcome::LeftAlone { mins },
            cause: Cause::DeadTry,
        }));
    }
    said
}

impl Before {
    /// The leak audit around the try: what still differs on the host after [`since`] (what
    /// nothing here knows how to undo, or failed to).
    pub(crate) fn still_changed(&self) -> Vec<super::audit::Difference> {
        self.audit.differences(&HostAudit::now())
    }
}

/// The host's mounts by ID (the IDs grow as mounts are made), with their mount points.
fn mount_ids() -> std::collections::BTreeMap<u32, String> {
    let table = crate::observe::mountinfo::read(crate::observe::procfs::Proc::Myself).unwrap_or_default();
    table.into_iter().map(|m| (m.id, m.mount_point)).collect()
}

/// Cgroup directories up to two levels below each hierarchy's root and nsdojo's own group in
/// it (the leak audit's places to look): a student's `mkdir /sys/fs/cgroup/cpu/mycgroup` (v1),
/// `/sys/fs/cgroup/mycgroup` (v2), or the lesson's `$CGROUP` made by hand.
fn cgroup_dirs() -> BTreeSet<PathBuf> {
    let mounts = crate::observe::mountinfo::read(crate::observe::procfs::Proc::Myself).unwrap_or_default();
    let mut out = BTreeSet::new();
    for parent in cgroup_parents(&mounts) {
        for d in subdirs(&parent) {
            out.extend(subdirs(&d));
            out.insert(d);
        }
    }
    out
}

fn subdirs(dir: &std::path::Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    rd.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()).collect()
}

/// The variable every process of a try shell inherits, naming the session: what a session's
/// cleanup looks for when nsdojo was killed while the shell ran (its subreaper gone with it).
pub(crate) const TRY_MARK: &str = "NSDOJO_TRY_SESSION";

/// Kill every process whose environment carries `TRY_MARK=session` (what a killed session's
/// try shell left), each held and checked again before it is signalled; say each. A process
/// that cleared its environment is not found.
pub(crate) fn stop_marked(session: &str) -> Vec<Undone> {
    let mark = format!("{TRY_MARK}={session}");
    change::marked(&mark)
        .into_iter()
        .filter_map(|pid| HostChange::MarkedProcess { pid, mark: mark.clone() }.undo(Cause::DeadTry))
        .collect()
}

/// What nsdojo sessions have recorded as theirs (a lab running beside the try, on a machine
/// several students share): made while the shell was open, yet never the shell's doing.
#[derive(Debug, Default)]
pub(crate) struct Theirs {
    /// Mount points, cgroup directories and named netns files.
    pub paths: BTreeSet<PathBuf>,
    pub links: BTreeSet<String>,
    /// (parent directory, controller) enabled in a v2 `cgroup.subtree_control`.
    pub subtree: BTreeSet<(PathBuf, String)>,
}

/// What was undone (or could not be), one line each, worded for the student. `lessons_group`:
/// where the lesson's own cgroup will be made; one made there by hand is the step done right,
/// taken away only so that nsdojo can make (and later remove) its own. `theirs` is left alone.
pub(crate) fn since(before: &Before, lessons_group: &[PathBuf], theirs: &Theirs) -> Vec<Undone> {
    let lessons_parents: Vec<PathBuf> = lessons_group.iter().filter_map(|d| d.parent().map(PathBuf::from)).collect();
    changes_since(before, theirs)
        .into_iter()
        .filter_map(|change| {
            // The step done right (v2's `echo +cpu > $CGROUP_PARENT/cgroup.subtree_control`, or
            // `mkdir $CGROUP`): taken back without a word, so nsdojo's `cgroup create` makes,
            // records and later removes its own.
            let the_steps = match &change {
                HostChange::CgroupDir { path } => lessons_group.contains(path),
                HostChange::SubtreeControl { parent, .. } => lessons_parents.contains(parent),
                _ => false,
            };
            let undone = change.undo(Cause::Try)?;
            (!(the_steps && undone.outcome == Outcome::Reverted)).then_some(undone)
        })
        .collect()
}

/// Everything the host has that it did not have as the try began (and no session recorded as
/// its own), in the order to revert it: mounts newest first (one on top of another goes
/// before it), cgroups deepest first, then controllers, hostname, queues, interfaces, netns.
pub(crate) fn changes_since(before: &Before, theirs: &Theirs) -> Vec<HostChange> {
    let new_mounts: Vec<String> = mount_ids()
        .into_iter()
        .rev()
        .filter(|(id, m)| !before.mounts.contains(id) && !is_system_mount(m) && !theirs.paths.contains(Path::new(m)))
        .map(|(_, m)| m)
        .collect();
    let mut out: Vec<HostChange> =
        new_mounts.iter().map(|point| HostChange::Mount { point: point.clone(), fstype: None }).collect();
    out.extend(cgroups_since(&before.cgroups, &new_mounts, theirs));
    out.extend(subtree_since(&before.subtree, theirs));
    out.extend(audit_since(&before.audit, theirs));
    // Last, once the netns in it are gone: removed only if empty.
    let netns_dir = Path::new(NETNS_DIR);
    if !before.netns_dir && netns_dir.exists() && !theirs.paths.iter().any(|p| p.starts_with(netns_dir)) {
        out.push(HostChange::EmptyDir { path: netns_dir.to_path_buf() });
    }
    out
}

/// Where the system itself mounts while a machine runs (a login's `/run/user/UID`, systemd's
/// credentials, snaps, removable media): a mount there during a try is not taken as the
/// shell's. Everything else that appears on the host while the shell is open is.
const SYSTEM_MOUNTS: &[&str] = &["/run/user/", "/run/credentials/", "/run/snapd/", "/snap/", "/media/", "/run/media/"];

fn is_system_mount(point: &str) -> bool {
    SYSTEM_MOUNTS.iter().any(|p| point.starts_with(p))
}

/// New cgroup directories, deepest first (a group with processes in it cannot be removed).
/// A cgroup hierarchy the shell mounted itself is a mount to undo, not groups: its
/// directories (every group of that hierarchy) are never taken as new.
fn cgroups_since(before: &BTreeSet<PathBuf>, new_mounts: &[String], theirs: &Theirs) -> Vec<HostChange> {
    let mut new: Vec<PathBuf> = cgroup_dirs()
        .difference(before)
        .filter(|d| !theirs.paths.contains(*d) && !new_mounts.iter().any(|m| d.starts_with(m)))
        .cloned()
        .collect();
    new.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    new.into_iter().map(|path| HostChange::CgroupDir { path }).collect()
}

/// cgroup v2 controllers enabled by hand (`echo +cpu > …/cgroup.subtree_control`) in the
/// hierarchy's root or nsdojo's own group: disabled again, so the lesson's `cgroup create`
/// enables (and at its end disables) them itself.
fn subtree_control_files() -> Vec<(PathBuf, String)> {
    let mounts = crate::observe::mountinfo::read(crate::observe::procfs::Proc::Myself).unwrap_or_default();
    // Only cgroup v2 directories have the file.
    cgroup_parents(&mounts)
        .into_iter()
        .map(|d| crate::cgroup::subtree_control_file(&d))
        .filter_map(|f| Some((f.clone(), std::fs::read_to_string(&f).ok()?)))
        .collect()
}

fn subtree_since(before: &[(PathBuf, String)], theirs: &Theirs) -> Vec<HostChange> {
    let mut out = Vec::new();
    for (file, now) in subtree_control_files() {
        let Some((_, was)) = before.iter().find(|(f, _)| *f == file) else { continue };
        let parent = file.parent().map(PathBuf::from).unwrap_or_default();
        let added = now.split_whitespace().filter(|c| !was.split_whitespace().any(|w| w == *c));
        for c in added.filter(|c| !theirs.subtree.contains(&(parent.clone(), c.to_string()))) {
            out.push(HostChange::SubtreeControl { parent: parent.clone(), controller: c.to_string() });
        }
    }
    out
}

fn audit_since(before: &HostAudit, theirs: &Theirs) -> Vec<HostChange> {
    let now = HostAudit::now();
    let mut out = Vec::new();
    if now.hostname() != before.hostname() {
        out.push(HostChange::Hostname { was: before.hostname().to_string(), now: now.hostname().to_string() });
    }
    out.extend(now.queue_keys().difference(&before.queue_keys()).map(|key| HostChange::MsgQueue { key: key.clone() }));
    let links = now.links().difference(before.links()).filter(|l| !theirs.links.contains(*l));
    out.extend(links.map(|name| HostChange::Link { name: name.clone(), index: None }));
    let netns = now.netns().difference(before.netns()).filter(|n| !theirs.paths.contains(Path::new(n)));
    out.extend(netns.map(|n| HostChange::Netns { path: PathBuf::from(n) }));
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_login_or_a_snap_mounting_during_a_try_is_not_the_shells() {
        assert!(super::is_system_mount("/run/user/1000"));
        assert!(super::is_system_mount("/snap/core/123"));
        assert!(!super::is_system_mount("/mnt"));
        assert!(!super::is_system_mount("/proc"));
        assert!(!super::is_system_mount("/run/netns/x"));
    }
}
