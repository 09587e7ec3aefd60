//! After `try`: what the student's shell changed on the host, put back. A student who types
//! `hostname oops` before `unshare -u`, mounts before `unshare -m`, makes a queue before
//! `unshare -i`, leaves a named netns, an interface, a cgroup or a background process behind
//! changed the host, not terminal #1; each is undone here and said in one line, with what the
//! step needed first.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::hostguard::audit::HostAudit;

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
            started: now_secs(),
        }
    }
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
pub(crate) fn after_dead_try(session: &str, before: &Before, theirs: &Theirs) -> Vec<String> {
    let mut said = stop_marked(session);
    let age = now_secs().saturating_sub(before.started);
    if age <= TRUSTED_FOR {
        said.extend(since(before, &[], theirs));
    } else {
        let mins = age / 60;
        said.extend(
            before.still_changed().into_iter().map(|d| {
                format!("not undone: {d} (a try began {mins} min ago; others may have changed the host since)")
            }),
        );
    }
    said.into_iter().map(|s| format!("{DEAD_TRY}{s}")).collect()
}

/// How a dead session's cleanup lines about its unfinished try begin.
pub(crate) const DEAD_TRY: &str = "unfinished try: ";

impl Before {
    /// The leak audit around the try: what still differs on the host after [`since`] (what
    /// nothing here knows how to undo, or failed to), one `+`/`-` line each.
    pub(crate) fn still_changed(&self) -> Vec<String> {
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
    for parent in crate::hostguard::audit::cgroup_parents(&mounts) {
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
/// try shell left); say each. A process that cleared its environment is not found.
pub(crate) fn stop_marked(session: &str) -> Vec<String> {
    let mark = format!("{TRY_MARK}={session}");
    let me = std::process::id() as i32;
    let mut said = Vec::new();
    for pid in crate::observe::procfs::all_pids().into_iter().filter(|p| *p != me) {
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else { continue };
        if env.split(|b| *b == 0).any(|v| v == mark.as_bytes()) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            said.push(format!("process {pid} of the try shell stopped"));
        }
    }
    said
}

/// Processes the try shell left running: `orphans` are the host PIDs that were reparented to
/// nsdojo (it is their subreaper while the shell runs). Each is killed and reaped, and said.
pub(crate) fn stop_orphans(orphans: &[i32]) -> Vec<String> {
    let mut said = Vec::new();
    for &pid in orphans {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let p = nix::unistd::Pid::from_raw(pid);
        let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(p, None);
        said.push(format!(
            "a process the try shell left running ({} {pid}) was stopped — it would have kept running on the host",
            comm.trim()
        ));
    }
    said
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
pub(crate) fn since(before: &Before, lessons_group: &[PathBuf], theirs: &Theirs) -> Vec<String> {
    let mut said = mounts_since(&before.mounts, theirs);
    said.extend(cgroups_since(&before.cgroups, lessons_group, theirs));
    let lessons_parents: Vec<PathBuf> = lessons_group.iter().filter_map(|d| d.parent().map(PathBuf::from)).collect();
    said.extend(subtree_since(&before.subtree, &lessons_parents, theirs));
    said.extend(audit_since(&before.audit, theirs));
    said
}

/// Where the system itself mounts while a machine runs (a login's `/run/user/UID`, systemd's
/// credentials, snaps, removable media): a mount there during a try is not taken as the
/// shell's. Everything else that appears on the host while the shell is open is.
const SYSTEM_MOUNTS: &[&str] = &["/run/user/", "/run/credentials/", "/run/snapd/", "/snap/", "/media/", "/run/media/"];

fn is_system_mount(point: &str) -> bool {
    SYSTEM_MOUNTS.iter().any(|p| point.starts_with(p))
}

/// New mounts, newest first, so a mount on top of another goes before it.
fn mounts_since(before: &BTreeSet<u32>, theirs: &Theirs) -> Vec<String> {
    let mut said = Vec::new();
    let new = mount_ids().into_iter().rev().filter(|(id, m)| {
        !before.contains(id) && !is_system_mount(m) && !theirs.paths.contains(std::path::Path::new(m))
    });
    for (_, m) in new {
        let gone = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH).is_ok();
        said.push(if gone {
            format!("{m} was mounted on the host; unmounted — make a mount namespace first (`unshare -m`)")
        } else {
            format!(
                "{m} was mounted on the host and could not be unmounted — make a mount namespace first (`unshare -m`)"
            )
        });
    }
    said
}

/// New cgroup directories, removed deepest first (a group with processes in it cannot be).
fn cgroups_since(before: &BTreeSet<PathBuf>, lessons_group: &[PathBuf], theirs: &Theirs) -> Vec<String> {
    let mut new: Vec<PathBuf> =
        cgroup_dirs().difference(before).filter(|d| !theirs.paths.contains(*d)).cloned().collect();
    new.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    new.into_iter()
        .filter_map(|dir| {
            let d = dir.display();
            Some(match std::fs::remove_dir(&dir) {
                Ok(()) if lessons_group.contains(&dir) => return None,
                Ok(()) => {
                    format!("the cgroup {d} was left on the host; removed — nsdojo makes the lesson's group itself")
                }
                Err(e) => format!("the cgroup {d} was left on the host and could not be removed ({e})"),
            })
        })
        .collect()
}

/// cgroup v2 controllers enabled by hand (`echo +cpu > …/cgroup.subtree_control`) in the
/// hierarchy's root or nsdojo's own group: disabled again, so the lesson's `cgroup create`
/// enables (and at its end disables) them itself.
fn subtree_control_files() -> Vec<(PathBuf, String)> {
    let mounts = crate::observe::mountinfo::read(crate::observe::procfs::Proc::Myself).unwrap_or_default();
    // Only cgroup v2 directories have the file.
    crate::hostguard::audit::cgroup_parents(&mounts)
        .into_iter()
        .map(|d| d.join("cgroup.subtree_control"))
        .filter_map(|f| Some((f.clone(), std::fs::read_to_string(&f).ok()?)))
        .collect()
}

/// `lessons_parents`: where the lesson's group will hang; a controller enabled there is the
/// step done right (v2's `echo +cpu > $CGROUP_PARENT/cgroup.subtree_control`), disabled again
/// without a word so that nsdojo's `cgroup create` enables, records and later disables it.
fn subtree_since(before: &[(PathBuf, String)], lessons_parents: &[PathBuf], theirs: &Theirs) -> Vec<String> {
    let mut said = Vec::new();
    for (file, now) in subtree_control_files() {
        let Some((_, was)) = before.iter().find(|(f, _)| *f == file) else { continue };
        let parent = file.parent().map(PathBuf::from).unwrap_or_default();
        let added = now.split_whitespace().filter(|c| !was.split_whitespace().any(|w| w == *c));
        for c in added.filter(|c| !theirs.subtree.contains(&(parent.clone(), c.to_string()))) {
            let f = file.display();
            said.push(match std::fs::write(&file, format!("-{c}")) {
                Ok(()) if lessons_parents.contains(&parent) => continue,
                Ok(()) => format!(
                    "the {c} controller was enabled in {f}; disabled again — nsdojo enables it for the lesson's group itself"
                ),
                Err(e) => format!("the {c} controller was enabled in {f} and could not be disabled ({e})"),
            });
        }
    }
    said
}

fn audit_since(before: &HostAudit, theirs: &Theirs) -> Vec<String> {
    let now = HostAudit::now();
    let mut said = Vec::new();
    if now.hostname() != before.hostname() {
        let put_back = nix::unistd::sethostname(before.hostname()).is_ok();
        said.push(if put_back {
            format!(
                "the host's hostname was changed to {}; put back to {} — make a UTS namespace first (`unshare -u`)",
                now.hostname(),
                before.hostname()
            )
        } else {
            format!(
                "the host's hostname was changed to {} and could not be put back — make a UTS namespace first (`unshare -u`)",
                now.hostname()
            )
        });
    }
    for key in now.queue_keys().difference(&before.queue_keys()) {
        let removed = remove_queue(key);
        said.push(if removed {
            format!("a message queue (key {key}) was made on the host; removed — make an IPC namespace first (`unshare -i`)")
        } else {
            format!(
                "a message queue (key {key}) was made on the host and could not be removed — make an IPC namespace first (`unshare -i`)"
            )
        });
    }
    for link in now.links().difference(before.links()).filter(|l| !theirs.links.contains(*l)) {
        let deleted = crate::netlink::delete_link(link).1.is_ok();
        said.push(if deleted {
            format!("the interface {link} was made on the host; deleted — make it inside terminal #1's network namespace")
        } else {
            format!(
                "the interface {link} was made on the host and could not be deleted — make it inside terminal #1's network namespace"
            )
        });
    }
    for n in now.netns().difference(before.netns()).filter(|n| !theirs.paths.contains(std::path::Path::new(n))) {
        let _ = nix::mount::umount2(n.as_str(), nix::mount::MntFlags::MNT_DETACH);
        let removed = std::fs::remove_file(n).is_ok();
        said.push(if removed {
            format!("the named network namespace {n} was left on the host; removed (`ip netns delete` removes it)")
        } else {
            format!("the named network namespace {n} was left on the host and could not be removed (`ip netns delete` removes it)")
        });
    }
    said
}

/// `msgctl(IPC_RMID)` for the queue with this key (hex, as /proc/sysvipc/msg shows it).
fn remove_queue(key: &str) -> bool {
    let table = std::fs::read_to_string("/proc/sysvipc/msg").unwrap_or_default();
    let Some(id) = table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.first() == Some(&key)).then(|| f.get(1)?.parse::<i32>().ok())?
    }) else {
        return false;
    };
    // SAFETY: msgctl with IPC_RMID takes no buffer (null is allowed).
    unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) == 0 }
}

#[cfg(test)]
mod tests {
    use crate::i18n::machine_text;
    use crate::lesson::Lang;

    #[test]
    fn a_login_or_a_snap_mounting_during_a_try_is_not_the_shells() {
        assert!(super::is_system_mount("/run/user/1000"));
        assert!(super::is_system_mount("/snap/core/123"));
        assert!(!super::is_system_mount("/mnt"));
        assert!(!super::is_system_mount("/proc"));
        assert!(!super::is_system_mount("/run/netns/x"));
    }

    #[test]
    fn what_was_put_back_is_said_in_korean_too() {
        let en = "the host's hostname was changed to oops; put back to vm — make a UTS namespace first (`unshare -u`)";
        let ko = machine_text(Lang::Ko, en);
        assert!(ko.contains("oops") && ko.contains("vm") && ko.contains("되돌렸습니다"), "{ko}");
        let en = "/mnt was mounted on the host; unmounted — make a mount namespace first (`unshare -m`)";
        assert!(machine_text(Lang::Ko, en).starts_with("/mnt 경로가"), "{}", machine_text(Lang::Ko, en));
    }
}
