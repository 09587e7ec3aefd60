//! Where the cgroup filesystems are mounted, read from /proc/self/mountinfo
//! (parsed by `observe::mountinfo`, the crate's one reader of that file).
//!
//! The same lesson ("limit a process to 30 % CPU") touches different files on
//! different hosts: v1 hierarchies per controller (this lab machine, with an
//! empty cgroup2 beside them), `cpu,cpuacct` co-mounted (Ubuntu 18.04), or a
//! single cgroup2 tree (Ubuntu 22.04+, Debian 12). So nothing is hard-coded:
//! the layout is parsed from mountinfo, and every later path is derived from
//! it, which also lets tests point a layout at a fake tree in a tempdir.
//!
//! A cgroup mount that a later mount covers (a stray `mount -t sysfs` over
//! /sys once hid /sys/fs/cgroup/cpu on the lab machine) is not usable, so it
//! is left out, and if nothing is left the error says what covered what.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{fs, CgroupError};
use crate::observe::mountinfo::{self, MountEntry};
use crate::observe::procfs::{self, CgroupLine, Proc};

/// The v1 controllers the kernel knows; other superblock options
/// (`rw`, `xattr`, `clone_children`, `release_agent=...`) are not controllers.
const V1_CONTROLLERS: &[&str] = &[
    "blkio",
    "cpu",
    "cpuacct",
    "cpuset",
    "debug",
    "devices",
    "freezer",
    "hugetlb",
    "memory",
    "misc",
    "net_cls",
    "net_prio",
    "perf_event",
    "pids",
    "rdma",
];

/// How this host exposes cgroups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    /// One mount per v1 hierarchy. `controllers` maps each controller (and
    /// named hierarchies such as `name=systemd`) to its mount directory;
    /// co-mounted controllers map to the same directory. `unified` is a
    /// cgroup2 mount beside them (systemd's "hybrid" mode), if any.
    V1 { controllers: BTreeMap<String, PathBuf>, unified: Option<PathBuf> },
    /// A single cgroup2 hierarchy.
    V2 { root: PathBuf },
}

/// The later mount that hides `mounts[i]`, if any: one mounted after it on
/// the same directory or an ancestor, and not one it hangs from.
fn covered_by(mounts: &[MountEntry], i: usize) -> Option<&MountEntry> {
    let mut chain = vec![mounts[i].id];
    let mut cur = mounts[i].parent;
    while let Some(m) = mounts.iter().find(|m| m.id == cur && !chain.contains(&m.id)) {
        chain.push(m.id);
        cur = m.parent;
    }
    let point = Path::new(&mounts[i].mount_point);
    mounts[i + 1..].iter().find(|m| !chain.contains(&m.id) && point.starts_with(&m.mount_point))
}

impl Layout {
    /// The layout of the running host, from /proc/self/mountinfo.
    pub fn detect() -> Result<Layout, CgroupError> {
        Layout::from_mounts(&mountinfo::read(Proc::Myself)?)
    }

    /// Parse the text of a mountinfo file. Pure: no file is touched.
    pub fn from_mountinfo(text: &str) -> Result<Layout, CgroupError> {
        Layout::from_mounts(&mountinfo::parse(text))
    }

    /// The layout a mount table shows.
    pub(crate) fn from_mounts(mounts: &[MountEntry]) -> Result<Layout, CgroupError> {
        let mut controllers = BTreeMap::new();
        let mut unified = None;
        let mut hidden = Vec::new();
        for (i, m) in mounts.iter().enumerate() {
            if m.fstype != "cgroup" && m.fstype != "cgroup2" {
                continue;
            }
            if let Some(cover) = covered_by(mounts, i) {
                hidden.push(format!("{} (covered by {} at {})", m.mount_point, cover.fstype, cover.mount_point));
                continue;
            }
            let point = PathBuf::from(&m.mount_point);
            if m.fstype == "cgroup2" {
                unified.get_or_insert(point);
                continue;
            }
            for opt in m.super_options.split(',') {
                if V1_CONTROLLERS.contains(&opt) || opt.starts_with("name=") {
                    controllers.entry(opt.to_string()).or_insert_with(|| point.clone());
                }
            }
        }
        let has_v1_controller = controllers.keys().any(|k| !k.starts_with("name="));
        match unified {
            Some(root) if !has_v1_controller => Ok(Layout::V2 { root }),
            _ if !controllers.is_empty() => Ok(Layout::V1 { controllers, unified }),
            _ if hidden.is_empty() => Err(CgroupError::NotMounted("no cgroup or cgroup2 line in mountinfo".into())),
            _ => Err(CgroupError::NotMounted(format!(
                "every cgroup mount is hidden by a later mount: {}; a remount of /sys belongs in a new mount namespace",
                hidden.join(", ")
            ))),
        }
    }

    /// One line for the student: which kind of layout, and where.
    pub fn describe(&self) -> String {
        match self {
            Layout::V2 { root } => {
                let ctl =
                    read_controllers(root).map_or_else(|| "(cgroup.controllers unreadable)".into(), |c| c.join(" "));
                format!("cgroup v2 (unified) at {}: {}", root.display(), ctl)
            }
            Layout::V1 { controllers, unified } => {
                let mut by_dir: BTreeMap<&PathBuf, Vec<&str>> = BTreeMap::new();
                for (c, dir) in controllers {
                    by_dir.entry(dir).or_default().push(c);
                }
                let parts: Vec<String> = by_dir
                    .iter()
                    .map(|(dir, cs)| match cs.len() {
                        1 => format!("{} at {}", cs[0], dir.display()),
                        _ => format!("{} co-mounted at {}", cs.join(","), dir.display()),
                    })
                    .collect();
                let v1 = parts.join("; ");
                let Some(u) = unified else { return format!("cgroup v1 ({v1})") };
                let offered = match read_controllers(u) {
                    None => "its cgroup.controllers unreadable".to_string(),
                    Some(c) if c.is_empty() => "no controllers: it is empty".to_string(),
                    Some(c) => format!("only {}", c.join(" ")),
                };
                let bound: Vec<&str> =
                    ["cpu", "memory", "pids"].into_iter().filter(|c| controllers.contains_key(*c)).collect();
                format!(
                    "hybrid: cgroup v1 controllers ({v1}) + cgroup2 at {} with {offered}; {} come from v1",
                    u.display(),
                    bound.join(", ")
                )
            }
        }
    }

    /// Where a group `name` with controller `c` lives, or will be made, under the cgroups the
    /// caller names in `parent` (parsed /proc/self/cgroup; empty: directly under the root):
    /// v1 `<c's mount>/<parent's c path>/<name>`, v2 `<root>/<parent's 0:: path>/<name>`.
    /// `None` when no v1 hierarchy serves `c`. [`Group::create_within`](super::Group) makes
    /// exactly this directory; lessons show it as `$CGROUP`.
    pub fn group_dir(&self, parent: &[CgroupLine], name: &str, c: super::Controller) -> Option<PathBuf> {
        let (base, within) = match self {
            Layout::V1 { controllers, .. } => (controllers.get(c.name())?, procfs::path_for(parent, Some(c.name()))),
            Layout::V2 { root } => (root, procfs::path_for(parent, None)),
        };
        let within = within.unwrap_or("/").trim_matches('/');
        Some(if within.is_empty() { base.join(name) } else { base.join(within).join(name) })
    }

    /// The directories of the groups `theirs` (a process's parsed /proc/PID/cgroup) names
    /// where they differ from `ours`: what a process joining it must write itself into, one
    /// `cgroup.procs` each (`try` and `attach` put their shell where terminal #1 is).
    pub fn dirs_differing(&self, theirs: &[CgroupLine], ours: &[CgroupLine]) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        for line in theirs {
            if ours.iter().any(|o| o.hierarchy_id == line.hierarchy_id && o.path == line.path) {
                continue;
            }
            let base = match self {
                Layout::V2 { root } if line.controllers.is_empty() => Some(root),
                Layout::V1 { unified, .. } if line.controllers.is_empty() => unified.as_ref(),
                Layout::V1 { controllers, .. } => line.controllers.iter().find_map(|c| controllers.get(c)),
                Layout::V2 { .. } => None,
            };
            if let Some(base) = base {
                let dir = base.join(line.path.trim_start_matches('/'));
                if !dirs.contains(&dir) {
                    dirs.push(dir);
                }
            }
        }
        dirs
    }

    /// What creating group `name` under `parent` would enable in the parent's
    /// `cgroup.subtree_control` (v2; nothing on v1), so it can be recorded before it is done.
    pub fn controllers_to_enable(
        &self,
        parent: &[CgroupLine],
        name: &str,
        wanted: &[super::Controller],
    ) -> Vec<(PathBuf, super::Controller)> {
        if !matches!(self, Layout::V2 { .. }) {
            return Vec::new();
        }
        let Some(dir) = wanted.first().and_then(|c| self.group_dir(parent, name, *c)) else { return Vec::new() };
        let Some(up) = dir.parent() else { return Vec::new() };
        let active = fs::read(&up.join("cgroup.subtree_control")).unwrap_or_default();
        wanted
            .iter()
            .filter(|c| !active.split_whitespace().any(|a| a == c.name()))
            .map(|c| (up.to_path_buf(), *c))
            .collect()
    }

    /// Can a group get this controller? v1: a hierarchy is mounted for it;
    /// v2: the root's cgroup.controllers lists it.
    pub fn controller_available(&self, name: &str) -> bool {
        match self {
            Layout::V1 { controllers, .. } => controllers.contains_key(name),
            Layout::V2 { root } => read_controllers(root).is_some_and(|c| c.iter().any(|x| x == name)),
        }
    }
}

/// The words of `<dir>/cgroup.controllers`, or `None` if it cannot be read.
pub(crate) fn read_controllers(dir: &Path) -> Option<Vec<String>> {
    let text = fs::read(&dir.join("cgroup.controllers")).ok()?;
    Some(text.split_whitespace().map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = include_str!("fixtures/hybrid_this_machine.mountinfo");
    const UBUNTU_1804: &str = include_str!("fixtures/ubuntu1804_comounted.mountinfo");
    const PURE_V2: &str = include_str!("fixtures/pure_v2_debian12.mountinfo");
    const NONE: &str = include_str!("fixtures/no_cgroup.mountinfo");

    fn v1(layout: &Layout) -> (&BTreeMap<String, PathBuf>, &Option<PathBuf>) {
        match layout {
            Layout::V1 { controllers, unified } => (controllers, unified),
            other => panic!("expected v1, got {other:?}"),
        }
    }

    #[test]
    fn this_machine_is_hybrid_with_separate_hierarchies() {
        let layout = Layout::from_mountinfo(HYBRID).unwrap();
        let (c, unified) = v1(&layout);
        assert_eq!(c["cpu"], Path::new("/sys/fs/cgroup/cpu"));
        assert_eq!(c["cpuacct"], Path::new("/sys/fs/cgroup/cpuacct"));
        assert_eq!(c["memory"], Path::new("/sys/fs/cgroup/memory"));
        assert_eq!(c["pids"], Path::new("/sys/fs/cgroup/pids"));
        assert_eq!(c["name=systemd"], Path::new("/sys/fs/cgroup/systemd"));
        assert_eq!(c.len(), 9, "{c:?}");
        assert_eq!(unified.as_deref(), Some(Path::new("/sys/fs/cgroup/unified")));
        assert!(layout.controller_available("cpu"));
        assert!(!layout.controller_available("rdma"));
        assert!(layout.describe().starts_with("hybrid: cgroup v1 controllers (blkio at /sys/fs/cgroup/blkio;"));
    }

    #[test]
    fn ubuntu_1804_comounts_cpu_and_cpuacct() {
        let layout = Layout::from_mountinfo(UBUNTU_1804).unwrap();
        let (c, unified) = v1(&layout);
        let dir = Path::new("/sys/fs/cgroup/cpu,cpuacct");
        assert_eq!((c["cpu"].as_path(), c["cpuacct"].as_path()), (dir, dir));
        assert_eq!(c["net_prio"], Path::new("/sys/fs/cgroup/net_cls,net_prio"));
        assert!(!c.contains_key("xattr") && !c.contains_key("rw"));
        assert!(unified.is_some());
        assert!(
            layout.describe().contains("cpu,cpuacct co-mounted at /sys/fs/cgroup/cpu,cpuacct"),
            "{}",
            layout.describe()
        );
    }

    #[test]
    fn dirs_differing_are_the_groups_to_join() {
        let parse = crate::observe::procfs::parse_cgroup;
        let ours = parse("12:cpu,cpuacct:/\n11:pids:/user.slice\n0::/user.slice\n");
        let theirs = parse("12:cpu,cpuacct:/nsdojo-a\n11:pids:/user.slice\n0::/user.slice/nsdojo-a\n");
        let layout = Layout::from_mountinfo(UBUNTU_1804).unwrap();
        let (c, unified) = v1(&layout);
        let cpu = c["cpu"].join("nsdojo-a");
        let mut want = vec![cpu];
        want.extend(unified.as_ref().map(|u| u.join("user.slice/nsdojo-a")));
        assert_eq!(layout.dirs_differing(&theirs, &ours), want);
        assert!(layout.dirs_differing(&ours, &ours).is_empty(), "same groups: nothing to join");
        let v2 = Layout::from_mountinfo(PURE_V2).unwrap();
        assert_eq!(
            v2.dirs_differing(&parse("0::/a/b\n"), &parse("0::/a\n")),
            vec![PathBuf::from("/sys/fs/cgroup/a/b")]
        );
    }

    #[test]
    fn pure_v2() {
        let layout = Layout::from_mountinfo(PURE_V2).unwrap();
        assert_eq!(layout, Layout::V2 { root: PathBuf::from("/sys/fs/cgroup") });
        assert!(layout.describe().starts_with("cgroup v2 (unified) at /sys/fs/cgroup: "));
    }

    #[test]
    fn v1_without_unified_is_plain_v1() {
        let text: String = UBUNTU_1804.lines().filter(|l| !l.contains("cgroup2")).map(|l| format!("{l}\n")).collect();
        let layout = Layout::from_mountinfo(&text).unwrap();
        assert_eq!(v1(&layout).1, &None);
        assert!(layout.describe().starts_with("cgroup v1 ("), "{}", layout.describe());
    }

    #[test]
    fn no_cgroup_is_an_error() {
        let e = Layout::from_mountinfo(NONE).unwrap_err();
        assert!(matches!(e, CgroupError::NotMounted(_)), "{e}");
        assert!(Layout::from_mountinfo("").is_err());
    }

    #[test]
    fn a_later_mount_over_sys_hides_the_hierarchies() {
        let covered = format!("{HYBRID}60 27 0:50 / /sys rw,relatime - sysfs sysfs rw\n");
        let e = Layout::from_mountinfo(&covered).unwrap_err().to_string();
        assert!(e.contains("/sys/fs/cgroup/cpu (covered by sysfs at /sys)"), "{e}");
        // Remounting the cgroups under the new sysfs makes them usable again.
        let again = format!("{covered}61 60 0:51 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n62 61 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n");
        let layout = Layout::from_mountinfo(&again).unwrap();
        let (c, _) = v1(&layout);
        assert_eq!(c.keys().collect::<Vec<_>>(), vec!["cpu"]);
    }

    #[test]
    fn escaped_mount_points_and_optional_fields() {
        let text = "40 1 0:37 / /mnt/my\\040cg rw shared:3 master:1 - cgroup cgroup rw,pids\n";
        let layout = Layout::from_mountinfo(text).unwrap();
        assert_eq!(v1(&layout).0["pids"], Path::new("/mnt/my cg"));
    }
}
