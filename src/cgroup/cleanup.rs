//! `nsdojo cleanup`: remove groups left by a crashed session, from their paths alone.
//!
//! A crash leaves directories and maybe processes in them, and all that is
//! known is the paths in the session record. Removing means: SIGKILL every
//! pid in `cgroup.procs`, wait for them to go, `rmdir` (child groups first,
//! since a student may have made some). Because this kills whatever is listed,
//! the paths are checked first: a hierarchy root (whose `cgroup.procs` lists
//! every process on the host) or a non-cgroup directory is refused, and
//! neither this process nor pid 1 is ever signalled.

use std::path::{Component, Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use super::{fs, CgroupError};
use crate::trace::Trace;

/// Kill rounds (re-reading cgroup.procs, since a task may fork while dying) and the pause between them.
const KILL_ROUNDS: u32 = 50;
const KILL_PAUSE: Duration = Duration::from_millis(10);
/// A group nested deeper than this is not something nsdojo made.
const MAX_DEPTH: u32 = 16;

/// Remove each group in `paths` (killing its processes first). Paths that
/// no longer exist are fine. Every path is tried; the first error is returned.
pub fn remove_paths(paths: &[PathBuf], trace: &mut Trace) -> Result<(), CgroupError> {
    let mut first_err = None;
    for path in paths {
        if let Err(e) = remove_tree(path, 0, trace) {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// `rmdir` a group someone else made (a student's, by hand), only if it is empty: what
/// runs in it is not nsdojo's to kill. Ok(false): already gone.
pub fn remove_empty(path: &Path) -> std::io::Result<bool> {
    match std::fs::remove_dir(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Why `path` must not be emptied and removed, if it must not.
fn refusal(path: &Path) -> Option<&'static str> {
    if !path.join("cgroup.procs").is_file() {
        return Some("not a cgroup directory (no cgroup.procs)");
    }
    match path.parent() {
        Some(parent) if parent.join("cgroup.procs").is_file() => None,
        _ => Some("it is the root of a hierarchy: its cgroup.procs lists every process of the host"),
    }
}

fn remove_tree(path: &Path, depth: u32, trace: &mut Trace) -> Result<(), CgroupError> {
    if !path.is_absolute() || path.components().any(|c| matches!(c, Component::ParentDir | Component::CurDir)) {
        return Err(CgroupError::Refused { path: path.to_path_buf(), why: "not a plain absolute path".into() });
    }
    if !path.exists() {
        return fs::rmdir_patiently(path, trace); // records ENOENT: "already gone"
    }
    if let Some(why) = refusal(path) {
        return Err(CgroupError::Refused { path: path.to_path_buf(), why: why.into() });
    }
    if depth > MAX_DEPTH {
        return Err(CgroupError::Refused { path: path.to_path_buf(), why: "nested too deep".into() });
    }
    let children = std::fs::read_dir(path).map_err(|source| CgroupError::Read { path: path.to_path_buf(), source })?;
    // Child groups first; a failure there is reported, but this group's
    // processes are still killed (its own rmdir will then say EBUSY).
    let mut first_err = None;
    for entry in children.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            if let Err(e) = remove_tree(&entry.path(), depth + 1, trace) {
                first_err.get_or_insert(e);
            }
        }
    }
    let me = std::process::id() as i32;
    let mut killed = Vec::new();
    for _ in 0..KILL_ROUNDS {
        let pids: Vec<i32> = fs::procs(path)?.into_iter().filter(|&p| p > 1 && p != me).collect();
        if pids.is_empty() {
            break;
        }
        // Signal each pid once; then only wait for the kernel to drop it from the list.
        for pid in pids {
            if !killed.contains(&pid) {
                fs::kill9(pid, path, trace)?;
                killed.push(pid);
            }
        }
        sleep(KILL_PAUSE);
    }
    let res = fs::rmdir_patiently(path, trace);
    first_err.map_or(res, Err)
}
