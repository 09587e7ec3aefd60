//! cgroup v2: one tree, controllers handed down through `cgroup.subtree_control`.
//!
//! A child only gets `cpu.max` once the parent lists `cpu` in its
//! `cgroup.subtree_control`, and the parent may only do that if `cpu` is in
//! its own `cgroup.controllers`. On the lab machine the cgroup2 mount offers
//! only `hugetlb` because cpu, memory and pids are bound to v1 hierarchies;
//! writing `+cpu` there fails with ENOENT. So `create` checks
//! `cgroup.controllers` first and says why a controller is missing, writes
//! `+cpu` only when it is not already enabled, and remembers what it enabled
//! so that `remove` can put the parent back as it found it.

use std::path::{Path, PathBuf};

use super::group::Backend;
use super::stat::{self, CpuStat, MemoryEvents};
use super::{fs, CgroupError, Controller};
use crate::observe::procfs::{self, CgroupLine};
use crate::trace::Trace;

#[derive(Debug)]
pub(crate) struct V2Group {
    dir: PathBuf,
    parent: PathBuf,
    /// The group as `/proc/<pid>/cgroup` names it (`0::/nsdojo-ab12`).
    cgroup_path: String,
    controllers: Vec<Controller>,
    /// Controllers this group enabled in the parent's subtree_control.
    enabled: Vec<Controller>,
}

/// The file through which `parent` hands controllers down to its children.
pub fn subtree_control(parent: &Path) -> PathBuf {
    parent.join("cgroup.subtree_control")
}

/// Is controller `name` enabled in `parent`'s `cgroup.subtree_control`?
pub fn subtree_has(parent: &Path, name: &str) -> bool {
    std::fs::read_to_string(subtree_control(parent)).is_ok_and(|t| t.split_whitespace().any(|x| x == name))
}

/// Write `-NAME` to `parent`'s `cgroup.subtree_control` (cleanup of a killed session's change).
pub fn subtree_disable(parent: &Path, name: &str) -> std::io::Result<()> {
    std::fs::write(subtree_control(parent), format!("-{name}"))
}

/// Write `-<c>` for each controller, last enabled first; report the first failure.
fn disable(parent: &Path, enabled: &[Controller], trace: &mut Trace) -> Result<(), CgroupError> {
    let mut first_err = None;
    for c in enabled.iter().rev() {
        if let Err(e) = fs::write(&subtree_control(parent), &format!("-{c}"), trace) {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

impl V2Group {
    pub(crate) fn create(
        root: &Path,
        parent_lines: &[CgroupLine],
        name: &str,
        wanted: &[Controller],
        trace: &mut Trace,
    ) -> Result<V2Group, CgroupError> {
        let parent_path = procfs::path_for(parent_lines, None).unwrap_or("/");
        let parent = match parent_path.trim_matches('/') {
            "" => root.to_path_buf(),
            rel => root.join(rel),
        };
        let available = fs::read(&parent.join("cgroup.controllers"))?;
        let available: Vec<&str> = available.split_whitespace().collect();
        if let Some(c) = wanted.iter().find(|c| !available.contains(&c.name())) {
            let listed = if available.is_empty() { "nothing".to_string() } else { available.join(" ") };
            return Err(CgroupError::ControllerMissing(crate::msg::Msg::V2ControllerMissing {
                parent: parent.display().to_string(),
                controller: c.to_string(),
                listed,
            }));
        }
        let active = fs::read(&subtree_control(&parent))?;
        let mut enabled = Vec::new();
        for &c in wanted {
            if active.split_whitespace().any(|a| a == c.name()) {
                continue;
            }
            if let Err(e) = fs::write(&subtree_control(&parent), &format!("+{c}"), trace) {
                let _ = disable(&parent, &enabled, trace);
                return Err(e);
            }
            enabled.push(c);
        }
        let dir = parent.join(name);
        if let Err(e) = fs::mkdir(&dir, trace) {
            let _ = disable(&parent, &enabled, trace);
            return Err(e);
        }
        let cgroup_path = format!("{}/{name}", parent_path.trim_end_matches('/'));
        Ok(V2Group { dir, parent, cgroup_path, controllers: wanted.to_vec(), enabled })
    }

    /// The group `create` would make, made already (by a student in `try`), to read only: it
    /// enabled nothing in the parent, as far as this value knows.
    pub(crate) fn existing(
        root: &Path,
        parent_lines: &[CgroupLine],
        name: &str,
        wanted: &[Controller],
    ) -> Result<V2Group, CgroupError> {
        let parent_path = procfs::path_for(parent_lines, None).unwrap_or("/");
        let parent = match parent_path.trim_matches('/') {
            "" => root.to_path_buf(),
            rel => root.join(rel),
        };
        let dir = parent.join(name);
        if !dir.is_dir() {
            return Err(CgroupError::Invalid(format!("{} does not exist", dir.display())));
        }
        let cgroup_path = format!("{}/{name}", parent_path.trim_end_matches('/'));
        Ok(V2Group { dir, parent, cgroup_path, controllers: wanted.to_vec(), enabled: Vec::new() })
    }
}

impl Backend for V2Group {
    fn dirs(&self) -> Vec<PathBuf> {
        vec![self.dir.clone()]
    }

    fn enabled_in_parent(&self) -> Vec<(PathBuf, Controller)> {
        self.enabled.iter().map(|c| (self.parent.clone(), *c)).collect()
    }

    fn dir_for(&self, c: Controller) -> Option<&Path> {
        self.controllers.contains(&c).then_some(self.dir.as_path())
    }

    fn set_cpu_limit(&self, quota_us: u64, period_us: u64, trace: &mut Trace) -> Result<(), CgroupError> {
        // Debug switch for the VM test that must fail: quota and period swapped, a realistic bug
        // that lifts the limit (100000 µs per 30000 µs) — the lesson's 30 % check must catch it.
        let value = if std::env::var_os("NSDOJO_DEBUG_BREAK_CPU_MAX").is_some_and(|v| v == "1") {
            format!("{period_us} {quota_us}")
        } else {
            format!("{quota_us} {period_us}")
        };
        fs::write(&self.dir.join("cpu.max"), &value, trace)
    }

    fn set_memory_limit(&self, bytes: u64, trace: &mut Trace) -> Result<(), CgroupError> {
        fs::write(&self.dir.join("memory.max"), &bytes.to_string(), trace)?;
        // Without this the group swaps instead of hitting its limit.
        // The file exists only when the kernel accounts swap.
        let swap = self.dir.join("memory.swap.max");
        if swap.exists() {
            fs::write(&swap, "0", trace)?;
        }
        Ok(())
    }

    fn limit_paths(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for c in &self.controllers {
            let files: &[&str] = match c {
                Controller::Cpu => &["cpu.max"],
                Controller::Memory => &["memory.max", "memory.swap.max"],
                Controller::Pids => &["pids.max"],
            };
            out.extend(files.iter().map(|f| self.dir.join(f)));
        }
        out
    }

    fn cpu_stat(&self) -> Result<CpuStat, CgroupError> {
        let path = self.dir.join("cpu.stat");
        stat::parse_cpu_stat_v2(&fs::read(&path)?).map_err(|detail| CgroupError::Parse { path, detail })
    }

    fn memory_events(&self) -> Result<MemoryEvents, CgroupError> {
        let path = self.dir.join("memory.events");
        let peak = fs::read_optional(&self.dir.join("memory.peak"))?;
        stat::parse_memory_events_v2(&fs::read(&path)?, peak.as_deref())
            .map_err(|detail| CgroupError::Parse { path, detail })
    }

    fn is_member(&self, lines: &[CgroupLine]) -> bool {
        procfs::path_for(lines, None) == Some(self.cgroup_path.as_str())
    }

    fn remove(&mut self, trace: &mut Trace) -> Result<(), CgroupError> {
        fs::rmdir_patiently(&self.dir, trace)?;
        let enabled = std::mem::take(&mut self.enabled);
        // Another nsdojo session's group may rely on what this one enabled: leave it on then
        // (the last session out turns it off).
        if other_nsdojo_groups(&self.parent) {
            return Ok(());
        }
        disable(&self.parent, &enabled, trace)
    }
}

/// Does the parent still hold a group another nsdojo session made?
fn other_nsdojo_groups(parent: &Path) -> bool {
    std::fs::read_dir(parent)
        .is_ok_and(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with("nsdojo-") && e.path().is_dir()))
}
