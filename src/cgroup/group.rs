//! [`Group`]: one session's cgroup, the same API on v1 and v2.
//!
//! The version-specific file names live in `v1.rs` and `v2.rs` behind the
//! private [`Backend`] trait; what is identical on both (`cgroup.procs`,
//! `pids.max`, `pids.current`, membership checks) lives here once.

use std::path::{Path, PathBuf};

use super::layout::Layout;
use super::meter::CpuSampler;
use super::stat::{self, CpuStat, MemoryEvents, StatError};
use super::{fs, v1, v2, CgroupError, Controller};
use crate::observe::procfs::{self, CgroupLine, Proc};
use crate::trace::Trace;

/// The lowest CPU quota the kernel accepts, and the period range (microseconds).
const MIN_QUOTA_US: u64 = 1000;
const PERIOD_RANGE_US: std::ops::RangeInclusive<u64> = 1000..=1_000_000;

/// What differs between cgroup v1 and v2.
pub(crate) trait Backend: std::fmt::Debug {
    /// Every directory of the group, one per hierarchy.
    fn dirs(&self) -> Vec<PathBuf>;
    /// The directory that holds `c`'s files, if the group has `c`.
    fn dir_for(&self, c: Controller) -> Option<&Path>;
    fn set_cpu_limit(&self, quota_us: u64, period_us: u64, trace: &mut Trace) -> Result<(), CgroupError>;
    fn set_memory_limit(&self, bytes: u64, trace: &mut Trace) -> Result<(), CgroupError>;
    /// The limit files worth showing in a before/after table.
    fn limit_paths(&self) -> Vec<PathBuf>;
    fn cpu_stat(&self) -> Result<CpuStat, CgroupError>;
    fn memory_events(&self) -> Result<MemoryEvents, CgroupError>;
    /// Does a `/proc/<pid>/cgroup` (parsed) put the process in this group in every hierarchy?
    fn is_member(&self, lines: &[CgroupLine]) -> bool;
    /// rmdir, then undo what `create` changed outside the group.
    fn remove(&mut self, trace: &mut Trace) -> Result<(), CgroupError>;
    /// What `create` changed outside the group: (parent, controller) enabled in the
    /// parent's `cgroup.subtree_control` (v2 only).
    fn enabled_in_parent(&self) -> Vec<(PathBuf, Controller)> {
        Vec::new()
    }
}

/// One %CPU reading, with whether the process was in the group when it was taken.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConfinedSample {
    /// %CPU since the previous sample (100 = one full CPU).
    pub percent: f64,
    /// The process is in this group in every hierarchy right now.
    pub confined: bool,
    /// The group's `nr_throttled` counter, if the group has the cpu controller.
    pub nr_throttled: Option<u64>,
}

/// One group created for a session, possibly spanning several v1 hierarchies.
///
/// Dropping a `Group` leaves its directories in place (removal needs a
/// trace); record [`Group::paths`] so `nsdojo cleanup` can remove them.
#[derive(Debug)]
pub struct Group {
    name: String,
    controllers: Vec<Controller>,
    backend: Box<dyn Backend>,
}

fn read_parse<T>(path: &Path, parse: impl FnOnce(&str) -> Result<T, StatError>) -> Result<T, CgroupError> {
    parse(&fs::read(path)?).map_err(|detail| CgroupError::Parse { path: path.to_path_buf(), detail })
}

impl Group {
    /// Create `name` directly under each hierarchy's root (`<mount>/<name>`
    /// on v1, `<root>/<name>` on v2, enabling controllers in the root's
    /// `cgroup.subtree_control` when missing). An existing directory of that
    /// name is an error (EEXIST): it belongs to someone else or to a crash.
    pub fn create(
        layout: &Layout,
        name: &str,
        controllers: &[Controller],
        trace: &mut Trace,
    ) -> Result<Group, CgroupError> {
        Group::create_within(layout, &[], name, controllers, trace)
    }

    /// Like [`Group::create`], but under the cgroups listed in `parent`
    /// (parsed /proc/self/cgroup), so a v1 group stays inside, and is
    /// accounted to, the cgroup the caller already runs in (on the lab
    /// machine: `memory:/process_api/<id>`). A hierarchy with no line in
    /// `parent` uses its root. On v2 the parent must hold no processes
    /// once controllers are enabled there (the kernel answers EBUSY).
    pub fn create_within(
        layout: &Layout,
        parent: &[CgroupLine],
        name: &str,
        controllers: &[Controller],
        trace: &mut Trace,
    ) -> Result<Group, CgroupError> {
        if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
            return Err(CgroupError::Invalid(format!("group name {name:?}: must be one path component")));
        }
        let mut wanted = controllers.to_vec();
        wanted.sort();
        wanted.dedup();
        if wanted.is_empty() {
            return Err(CgroupError::Invalid("group: at least one controller is needed".into()));
        }
        let backend: Box<dyn Backend> = match layout {
            Layout::V1 { .. } => Box::new(v1::V1Group::create(layout, parent, name, &wanted, trace)?),
            Layout::V2 { root } => Box::new(v2::V2Group::create(root, parent, name, &wanted, trace)?),
        };
        Ok(Group { name: name.to_string(), controllers: wanted, backend })
    }

    /// The group [`Group::create_within`] would make, if it is there already (a student made
    /// it by hand in `try`): to read its files. Dropping it leaves the directories alone.
    pub fn existing(
        layout: &Layout,
        parent: &[CgroupLine],
        name: &str,
        controllers: &[Controller],
    ) -> Result<Group, CgroupError> {
        let mut wanted = controllers.to_vec();
        wanted.sort();
        wanted.dedup();
        let backend: Box<dyn Backend> = match layout {
            Layout::V1 { .. } => Box::new(v1::V1Group::existing(layout, parent, name, &wanted)?),
            Layout::V2 { root } => Box::new(v2::V2Group::existing(root, parent, name, &wanted)?),
        };
        Ok(Group { name: name.to_string(), controllers: wanted, backend })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// (parent, controller) this group's creation enabled in a v2 parent, which `remove`
    /// disables again (recorded so that a killed session's cleanup can do the same).
    pub fn enabled_in_parent(&self) -> Vec<(PathBuf, Controller)> {
        self.backend.enabled_in_parent()
    }

    pub fn controllers(&self) -> &[Controller] {
        &self.controllers
    }

    /// The group's directories, for the host's session record.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.backend.dirs()
    }

    /// The directory that holds `c`'s files, if the group has `c`.
    pub fn dir_for(&self, c: Controller) -> Option<&Path> {
        self.backend.dir_for(c)
    }

    fn dir(&self, c: Controller) -> Result<&Path, CgroupError> {
        self.backend.dir_for(c).ok_or_else(|| CgroupError::NotInGroup { group: self.name.clone(), controller: c })
    }

    /// Allow `percent` of one CPU per `period_us` (30, 100000 -> quota 30000 us).
    pub fn set_cpu_limit(&self, percent: u32, period_us: u64, trace: &mut Trace) -> Result<(), CgroupError> {
        self.dir(Controller::Cpu)?;
        if !PERIOD_RANGE_US.contains(&period_us) {
            return Err(CgroupError::Invalid(format!("cpu period {period_us} us: the kernel takes 1000..=1000000")));
        }
        let quota = period_us * u64::from(percent) / 100;
        if quota < MIN_QUOTA_US {
            return Err(CgroupError::Invalid(format!(
                "cpu limit {percent} % of {period_us} us = {quota} us: the kernel's minimum quota is 1000 us"
            )));
        }
        self.backend.set_cpu_limit(quota, period_us, trace)
    }

    /// Limit memory (RAM; on v2 also swap, set to 0 when the kernel has swap accounting).
    pub fn set_memory_limit(&self, bytes: u64, trace: &mut Trace) -> Result<(), CgroupError> {
        self.dir(Controller::Memory)?;
        self.backend.set_memory_limit(bytes, trace)
    }

    /// Limit the number of tasks (processes and threads): `pids.max`, the same on v1 and v2.
    pub fn set_pids_max(&self, n: u64, trace: &mut Trace) -> Result<(), CgroupError> {
        fs::write(&self.dir(Controller::Pids)?.join("pids.max"), &n.to_string(), trace)
    }

    /// Move a process into the group: its pid into `cgroup.procs` of every hierarchy.
    pub fn add_process(&self, pid: i32, trace: &mut Trace) -> Result<(), CgroupError> {
        if pid <= 0 {
            return Err(CgroupError::Invalid(format!("pid {pid}")));
        }
        for dir in self.backend.dirs() {
            fs::write(&dir.join("cgroup.procs"), &pid.to_string(), trace)?;
        }
        Ok(())
    }

    /// Current contents of the limit files (trimmed), for before/after tables.
    /// Files this kernel does not have are left out.
    pub fn limit_files(&self) -> Vec<(PathBuf, String)> {
        let mut out = Vec::new();
        for path in self.backend.limit_paths() {
            match fs::read_optional(&path) {
                Ok(Some(text)) => out.push((path, text.trim().to_string())),
                Ok(None) => {}
                Err(e) => out.push((path, format!("<{e}>"))),
            }
        }
        out
    }

    pub fn cpu_stat(&self) -> Result<CpuStat, CgroupError> {
        self.dir(Controller::Cpu)?;
        self.backend.cpu_stat()
    }

    pub fn memory_events(&self) -> Result<MemoryEvents, CgroupError> {
        self.dir(Controller::Memory)?;
        self.backend.memory_events()
    }

    pub fn pids_current(&self) -> Result<u64, CgroupError> {
        read_parse(&self.dir(Controller::Pids)?.join("pids.current"), stat::single_u64)
    }

    /// Is `pid` in this group in every hierarchy? Reads `/proc/<pid>/cgroup`;
    /// a process that cannot be read (gone) is not in the group.
    pub fn contains(&self, pid: i32) -> bool {
        procfs::cgroup(Proc::Pid(pid)).is_ok_and(|lines| self.contains_in(&lines))
    }

    /// [`Group::contains`] on the parsed lines of a `/proc/<pid>/cgroup` file.
    pub fn contains_in(&self, lines: &[CgroupLine]) -> bool {
        self.backend.is_member(lines)
    }

    /// Take one %CPU sample of the sampler's process, and say whether it is
    /// confined. Errors if a group directory has vanished, since a number
    /// from then on would describe an unconfined process.
    pub fn sample(&self, sampler: &mut CpuSampler) -> Result<ConfinedSample, CgroupError> {
        let pid = sampler.pid();
        let percent = sampler
            .sample()
            .map_err(|source| CgroupError::Read { path: Proc::Pid(pid).path("stat").into(), source })?;
        if let Some(gone) = self.backend.dirs().into_iter().find(|d| !d.is_dir()) {
            return Err(CgroupError::Vanished { path: gone });
        }
        let nr_throttled = match self.backend.dir_for(Controller::Cpu) {
            Some(_) => Some(self.backend.cpu_stat()?.nr_throttled),
            None => None,
        };
        Ok(ConfinedSample { percent, confined: self.contains(pid), nr_throttled })
    }

    /// Remove the group. The caller has killed its processes first; tasks
    /// still exiting make rmdir fail with EBUSY, so it is retried for about
    /// 100 ms. A directory already gone is fine. On v2, controllers that
    /// `create` enabled in the parent are disabled again.
    pub fn remove(mut self, trace: &mut Trace) -> Result<(), CgroupError> {
        self.backend.remove(trace)
    }
}
