//! Every `Group` operation on fake v1 and v2 trees in a tempdir.
//!
//! The tests play the kernel: after `create`'s mkdir they add the control
//! files cgroupfs would have made (`populate`), and before `remove` they
//! delete them (`unpopulate`), since rmdir on a real cgroup takes its files
//! with it. Assertions are on the trace lines and on file contents, i.e. on
//! exactly what a student would see and what the kernel would receive.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::*;
use crate::trace::Trace;

mod lifecycle;
mod ops;

fn put(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
}

fn get(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

fn lines(trace: &Trace) -> Vec<String> {
    trace.calls.iter().map(ToString::to_string).collect()
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

const V1_CPU_STAT: &str = "nr_periods 63\nnr_throttled 62\nthrottled_time 4325825447\nnr_bursts 0\nburst_time 0\n";
const V2_CPU_STAT: &str = "usage_usec 1500000\nuser_usec 1490000\nsystem_usec 10000\nnr_periods 63\nnr_throttled 62\nthrottled_usec 4325825\n";

/// What the kernel puts in a fresh v1 group (and in the root) of each hierarchy.
fn populate_v1(dir: &Path, controller: &str) {
    put(&dir.join("cgroup.procs"), "");
    match controller {
        "cpu" => {
            put(&dir.join("cpu.cfs_quota_us"), "-1\n");
            put(&dir.join("cpu.cfs_period_us"), "100000\n");
            put(&dir.join("cpu.stat"), V1_CPU_STAT);
        }
        "memory" => {
            put(&dir.join("memory.limit_in_bytes"), "9223372036854771712\n");
            put(&dir.join("memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
            put(&dir.join("memory.max_usage_in_bytes"), "1048576\n");
        }
        "pids" => {
            put(&dir.join("pids.max"), "max\n");
            put(&dir.join("pids.current"), "3\n");
        }
        _ => {}
    }
}

/// What the kernel puts in a fresh v2 group whose parent enabled cpu, memory and pids.
fn populate_v2(dir: &Path) {
    for (f, t) in [
        ("cgroup.procs", ""),
        ("cgroup.controllers", "cpu memory pids\n"),
        ("cgroup.subtree_control", ""),
        ("cpu.max", "max 100000\n"),
        ("cpu.stat", V2_CPU_STAT),
        ("memory.max", "max\n"),
        ("memory.events", "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n"),
        ("pids.max", "max\n"),
        ("pids.current", "1\n"),
    ] {
        put(&dir.join(f), t);
    }
}

/// cgroupfs rmdir removes the files with the group; a fake tree needs this first.
fn unpopulate(dirs: &[PathBuf]) {
    for d in dirs {
        for e in fs::read_dir(d).unwrap().flatten() {
            fs::remove_file(e.path()).unwrap();
        }
    }
}

/// A v1 tree with separate cpu, memory and pids hierarchies (the lab machine's shape).
fn v1_tree() -> (TempDir, Layout) {
    let tmp = TempDir::new().unwrap();
    let mut controllers = BTreeMap::new();
    for c in ["cpu", "memory", "pids"] {
        let d = tmp.path().join(c);
        fs::create_dir(&d).unwrap();
        populate_v1(&d, c);
        controllers.insert(c.to_string(), d);
    }
    (tmp, Layout::V1 { controllers, unified: None })
}

fn v2_tree(controllers: &str, subtree: &str) -> (TempDir, Layout) {
    let tmp = TempDir::new().unwrap();
    put(&tmp.path().join("cgroup.procs"), "1\n");
    put(&tmp.path().join("cgroup.controllers"), controllers);
    put(&tmp.path().join("cgroup.subtree_control"), subtree);
    let root = tmp.path().to_path_buf();
    (tmp, Layout::V2 { root })
}
