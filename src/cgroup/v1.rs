//! cgroup v1: one directory per hierarchy, a controller's files in its own tree.
//!
//! A group that limits cpu and memory is two directories
//! (`/sys/fs/cgroup/cpu/<name>` and `/sys/fs/cgroup/memory/<name>`), and a
//! process joins it by having its pid written into `cgroup.procs` of each.
//! Co-mounted controllers (`cpu,cpuacct` on Ubuntu 18.04) share one
//! directory, which then also offers `cpuacct.usage`.

use std::path::{Path, PathBuf};

use super::group::Backend;
use super::layout::Layout;
use super::stat::{self, CpuStat, MemoryEvents};
use super::{fs, CgroupError, Controller};
use crate::observe::procfs::{self, CgroupLine};
use crate::trace::Trace;

#[derive(Debug)]
struct Hierarchy {
    /// The group's directory in this hierarchy.
    dir: PathBuf,
    /// The requested controllers this directory serves.
    serves: Vec<Controller>,
    /// The group as `/proc/<pid>/cgroup` names it (`/nsdojo-ab12`).
    cgroup_path: String,
}

#[derive(Debug)]
pub(crate) struct V1Group {
    hierarchies: Vec<Hierarchy>,
}

fn join_cgroup_path(parent: &str, name: &str) -> String {
    format!("{}/{name}", parent.trim_end_matches('/'))
}

impl V1Group {
    pub(crate) fn create(
        layout: &Layout,
        parent: &[CgroupLine],
        name: &str,
        wanted: &[Controller],
        trace: &mut Trace,
    ) -> Result<V1Group, CgroupError> {
        let group = V1Group::plan(layout, parent, name, wanted)?;
        for (i, h) in group.hierarchies.iter().enumerate() {
            if let Err(e) = fs::mkdir(&h.dir, trace) {
                // Undo the directories made so far; the mkdir error is the one to report.
                for made in &group.hierarchies[..i] {
                    let _ = fs::rmdir_patiently(&made.dir, trace);
                }
                return Err(e);
            }
        }
        Ok(group)
    }

    /// The group `create` would make, made already (by a student in `try`), to read only.
    pub(crate) fn existing(
        layout: &Layout,
        parent: &[CgroupLine],
        name: &str,
        wanted: &[Controller],
    ) -> Result<V1Group, CgroupError> {
        let group = V1Group::plan(layout, parent, name, wanted)?;
        match group.hierarchies.iter().find(|h| !h.dir.is_dir()) {
            Some(h) => Err(CgroupError::Invalid(format!("{} does not exist", h.dir.display()))),
            None => Ok(group),
        }
    }

    fn plan(layout: &Layout, parent: &[CgroupLine], name: &str, wanted: &[Controller]) -> Result<V1Group, CgroupError> {
        let Layout::V1 { controllers, .. } = layout else { unreachable!("V1Group on a v2 layout") };
        let mut hierarchies: Vec<Hierarchy> = Vec::new();
        for &c in wanted {
            let Some(dir) = layout.group_dir(parent, name, c) else {
                let mounted: Vec<&str> = controllers.keys().map(String::as_str).collect();
                return Err(CgroupError::ControllerMissing(crate::msg::Msg::V1ControllerMissing {
                    controller: c.to_string(),
                    mounted: mounted.join(" "),
                }));
            };
            let parent_path = procfs::path_for(parent, Some(c.name())).unwrap_or("/");
            match hierarchies.iter_mut().find(|h| h.dir == dir) {
                Some(h) => h.serves.push(c),
                None => {
                    let cgroup_path = join_cgroup_path(parent_path, name);
                    hierarchies.push(Hierarchy { dir, serves: vec![c], cgroup_path });
                }
            }
        }
        Ok(V1Group { hierarchies })
    }
}

impl Backend for V1Group {
    fn dirs(&self) -> Vec<PathBuf> {
        self.hierarchies.iter().map(|h| h.dir.clone()).collect()
    }

    fn dir_for(&self, c: Controller) -> Option<&Path> {
        self.hierarchies.iter().find(|h| h.serves.contains(&c)).map(|h| h.dir.as_path())
    }

    fn set_cpu_limit(&self, quota_us: u64, period_us: u64, trace: &mut Trace) -> Result<(), CgroupError> {
        let dir = self.dir_for(Controller::Cpu).expect("checked by Group");
        fs::write(&dir.join("cpu.cfs_period_us"), &period_us.to_string(), trace)?;
        fs::write(&dir.join("cpu.cfs_quota_us"), &quota_us.to_string(), trace)
    }

    fn set_memory_limit(&self, bytes: u64, trace: &mut Trace) -> Result<(), CgroupError> {
        let dir = self.dir_for(Controller::Memory).expect("checked by Group");
        let limit = dir.join("memory.limit_in_bytes");
        // memory.memsw.* (RAM + swap) exists only when the kernel accounts swap. Without the
        // same limit there, the group swaps out instead of meeting the OOM killer (v2's
        // memory.swap.max=0). The kernel keeps memsw >= limit at every moment: raise memsw
        // first, lower it last.
        let memsw = dir.join("memory.memsw.limit_in_bytes");
        if !memsw.exists() {
            fs::write(&limit, &bytes.to_string(), trace)?;
            if let Some(last) = trace.calls.last_mut() {
                last.note = Some(crate::msg::Msg::NoMemsw);
            }
            return Ok(());
        }
        let current = fs::read(&limit)?.trim().parse::<u64>().unwrap_or(u64::MAX);
        let note = crate::msg::Msg::MemswSameLimit;
        if bytes >= current {
            fs::write(&memsw, &bytes.to_string(), trace)?;
            trace.calls.last_mut().expect("just written").note = Some(note);
            fs::write(&limit, &bytes.to_string(), trace)
        } else {
            fs::write(&limit, &bytes.to_string(), trace)?;
            fs::write(&memsw, &bytes.to_string(), trace)?;
            trace.calls.last_mut().expect("just written").note = Some(note);
            Ok(())
        }
    }

    fn limit_paths(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for h in &self.hierarchies {
            for c in &h.serves {
                let files: &[&str] = match c {
                    Controller::Cpu => &["cpu.cfs_period_us", "cpu.cfs_quota_us"],
                    Controller::Memory => &["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"],
                    Controller::Pids => &["pids.max"],
                };
                out.extend(files.iter().map(|f| h.dir.join(f)));
            }
        }
        out
    }

    fn cpu_stat(&self) -> Result<CpuStat, CgroupError> {
        let dir = self.dir_for(Controller::Cpu).expect("checked by Group");
        let path = dir.join("cpu.stat");
        let usage = fs::read_optional(&dir.join("cpuacct.usage"))?;
        stat::parse_cpu_stat_v1(&fs::read(&path)?, usage.as_deref())
            .map_err(|detail| CgroupError::Parse { path, detail })
    }

    fn memory_events(&self) -> Result<MemoryEvents, CgroupError> {
        let dir = self.dir_for(Controller::Memory).expect("checked by Group");
        let path = dir.join("memory.oom_control");
        let max = fs::read_optional(&dir.join("memory.max_usage_in_bytes"))?;
        stat::parse_memory_events_v1(&fs::read(&path)?, max.as_deref())
            .map_err(|detail| CgroupError::Parse { path, detail })
    }

    fn is_member(&self, lines: &[CgroupLine]) -> bool {
        self.hierarchies
            .iter()
            .all(|h| procfs::path_for(lines, Some(h.serves[0].name())) == Some(h.cgroup_path.as_str()))
    }

    fn remove(&mut self, trace: &mut Trace) -> Result<(), CgroupError> {
        let mut first_err = None;
        for h in &self.hierarchies {
            if let Err(e) = fs::rmdir_patiently(&h.dir, trace) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}
