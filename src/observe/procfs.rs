//! What a second terminal on the host can read about any process:
//! `/proc/PID/{ns/*,mountinfo,cgroup,uid_map,gid_map,setgroups,root,cwd,status,stat}`.
//!
//! The host reads these for the sandbox exactly as `readlink /proc/PID/ns/mnt`
//! would, and for itself through its own PID, so both columns of every
//! table come from the same code.
//!
//! This is nsdojo's one /proc layer: `/proc/PID/stat`, `/proc/PID/status` and
//! `/proc/PID/cgroup` (also `/proc/self/…`) are read and parsed here and nowhere else, mountinfo in
//! [`super::mountinfo`]; the cgroup code, the audit and the lab call these. A file
//! that cannot be read is a [`ProcError`], which a table shows as "unavailable" and
//! a check as a missing value: never an empty string, which for `uid_map` is a real
//! answer ("nothing mapped yet").
//!
//! The parsing is by hand, not the `procfs` crate's (`procfs-core` 0.18, kept as a
//! dev-dependency for the comparison in `against_procfs_core.rs`). Measured in release
//! on the lab machine (`cargo test --release --lib procfs_against_procfs_core --
//! --ignored --nocapture --test-threads=1`, median per parse, three runs): `stat`
//! 0.47–0.53 µs here against 0.92–1.04 µs, `cgroup` (13 v1 lines) 1.6–2.2 µs against
//! 2.6–2.8 µs, mountinfo (20 lines) 12–16 µs against 20–24 µs. Reading the file costs
//! more than either parse (read + parse of /proc/self/stat: 15–18 µs both ways), so
//! speed alone would be a weak reason; fit decides it: procfs-core's `Stat` slices past
//! the end of a line cut after `)` (a panic on garbage, where ours returns `None`), its
//! `ProcessCGroups` refuses a whole file for one odd line, and its `MountInfo` keeps the
//! kernel's `\040` escapes in mount points (`/run/netns/my\040net`), which every check
//! here would have to undo. Its `Status` builds a map of every line, where nsdojo wants
//! four fields ([`Status`]), so /proc/PID/status stays hand-read too.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;

use serde::{Deserialize, Serialize};

use super::mountinfo::{self, MountEntry};
use super::Ns;

/// Whose /proc entry: a PID as a second terminal names it, or `/proc/self` (the
/// caller in its own PID namespace, through whatever /proc its root has).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proc {
    Pid(i32),
    Myself,
}

impl Proc {
    pub(crate) fn path(self, name: &str) -> String {
        match self {
            Proc::Pid(pid) => format!("/proc/{pid}/{name}"),
            Proc::Myself => format!("/proc/self/{name}"),
        }
    }
}

/// Why a /proc file gave no answer. Shown as "unavailable (…)", never as empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ProcError {
    /// The step's views and checks did not ask for it.
    #[error("not collected for this step")]
    NotCollected,
    #[error("{path}: {reason}")]
    Unreadable { path: String, reason: String },
}

/// The text of one /proc file.
pub(crate) fn read_text(who: Proc, name: &str) -> Result<String, ProcError> {
    let path = who.path(name);
    fs::read_to_string(&path).map_err(|e| ProcError::Unreadable { path, reason: e.to_string() })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcFacts {
    pub pid: i32,
    /// Namespace inode per type (types the kernel lacks are absent).
    pub ns: BTreeMap<Ns, u64>,
    pub mounts: Result<Vec<MountEntry>, ProcError>,
    /// /proc/PID/cgroup.
    pub cgroup: Result<Vec<CgroupLine>, ProcError>,
    /// uid_map and gid_map normalised (one space between fields); `""` when nothing is mapped.
    pub uid_map: Result<String, ProcError>,
    pub gid_map: Result<String, ProcError>,
    pub setgroups: Result<String, ProcError>,
    pub root: String,
    pub cwd: String,
    /// PIDs of the process in each nested PID namespace (NSpid in status).
    pub nspid: Vec<i32>,
    /// Effective capabilities (CapEff in status); None when status was not read.
    pub cap_eff: Option<u64>,
    /// NoNewPrivs in status; None when status was not read.
    #[serde(default)]
    pub no_new_privs: Option<bool>,
    /// IPv4 routes of the process's network namespace (/proc/PID/net/route).
    #[serde(default = "not_collected")]
    pub routes: Result<Vec<super::net::Route>, ProcError>,
    /// Listening TCP sockets of its network namespace (/proc/PID/net/tcp).
    #[serde(default = "not_collected")]
    pub listening: Result<Vec<String>, ProcError>,
}

fn not_collected<T>() -> Result<T, ProcError> {
    Err(ProcError::NotCollected)
}

impl Default for ProcFacts {
    fn default() -> Self {
        ProcFacts {
            pid: 0,
            ns: BTreeMap::new(),
            mounts: Err(ProcError::NotCollected),
            cgroup: Err(ProcError::NotCollected),
            uid_map: Err(ProcError::NotCollected),
            gid_map: Err(ProcError::NotCollected),
            setgroups: Err(ProcError::NotCollected),
            root: String::new(),
            cwd: String::new(),
            nspid: Vec::new(),
            cap_eff: None,
            no_new_privs: None,
            routes: not_collected(),
            listening: not_collected(),
        }
    }
}

/// `mnt:[4026531832]` → 4026531832
pub fn parse_ns_link(link: &str) -> Option<u64> {
    let start = link.find('[')? + 1;
    let end = link.rfind(']')?;
    link.get(start..end)?.parse().ok()
}

fn link(pid: i32, name: &str) -> String {
    fs::read_link(format!("/proc/{pid}/{name}")).map(|p| p.display().to_string()).unwrap_or_else(|e| format!("({e})"))
}

/// Normalise a uid_map/gid_map: fields separated by one space, one line each.
pub fn normalize_map(text: &str) -> String {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The fields of `/proc/PID/status` nsdojo uses. This is the one place that file is parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// The PIDs of the process in each nested PID namespace, outermost first (`NSpid`).
    pub nspid: Vec<i32>,
    /// Effective capabilities (`CapEff:\t000001ffffffffff`).
    pub cap_eff: Option<u64>,
    /// `NoNewPrivs: 1`.
    pub no_new_privs: Option<bool>,
    /// `Threads:`: nsdojo forks only while it has one.
    pub threads: Option<usize>,
    /// Real, effective, saved and filesystem uid (`Uid:`), as the reader's user namespace sees them.
    pub uids: Vec<u32>,
    /// The same for gid (`Gid:`).
    pub gids: Vec<u32>,
    /// Supplementary groups (`Groups:`).
    pub groups: Vec<u32>,
    /// Peak resident set size in KiB (`VmHWM:   1234 kB`): the class benchmark's memory figure.
    pub vm_hwm_kib: Option<u64>,
}

/// Parse `/proc/PID/status`; a field that is missing or malformed stays empty.
pub fn parse_status(text: &str) -> Status {
    let mut s = Status::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        match key {
            "NSpid" => s.nspid = value.split_whitespace().filter_map(|p| p.parse().ok()).collect(),
            "CapEff" => s.cap_eff = u64::from_str_radix(value, 16).ok(),
            "NoNewPrivs" => s.no_new_privs = Some(value == "1"),
            "Threads" => s.threads = value.parse().ok(),
            "Uid" => s.uids = value.split_whitespace().filter_map(|p| p.parse().ok()).collect(),
            "Gid" => s.gids = value.split_whitespace().filter_map(|p| p.parse().ok()).collect(),
            "Groups" => s.groups = value.split_whitespace().filter_map(|p| p.parse().ok()).collect(),
            "VmHWM" => s.vm_hwm_kib = value.strip_suffix("kB").and_then(|v| v.trim().parse().ok()),
            _ => {}
        }
    }
    s
}

/// `/proc/PID/status` or `/proc/self/status`, parsed.
pub(crate) fn status(who: Proc) -> Result<Status, ProcError> {
    read_text(who, "status").map(|t| parse_status(&t))
}

impl ProcFacts {
    /// Everything a second terminal could read about `pid`.
    pub fn read(pid: i32) -> ProcFacts {
        ProcFacts::read_some(pid, &super::Needs::everything())
    }

    /// The namespaces always (every step's verify commands use them), the rest as needed.
    pub fn read_some(pid: i32, needs: &super::Needs) -> ProcFacts {
        let ns = if pid == std::process::id() as i32 { own_namespaces().clone() } else { namespaces(pid) };
        let who = Proc::Pid(pid);
        let when = |wanted: bool, name: &str| if wanted { read_text(who, name) } else { Err(ProcError::NotCollected) };
        let status = when(needs.processes || needs.status, "status").map(|t| parse_status(&t)).unwrap_or_default();
        ProcFacts {
            pid,
            ns,
            mounts: if needs.mounts { mountinfo::read(who) } else { Err(ProcError::NotCollected) },
            cgroup: if needs.cgroup { cgroup(who) } else { Err(ProcError::NotCollected) },
            uid_map: when(needs.ids, "uid_map").map(|m| normalize_map(&m)),
            gid_map: when(needs.ids, "gid_map").map(|m| normalize_map(&m)),
            setgroups: when(needs.ids, "setgroups").map(|s| s.trim().to_string()),
            root: if needs.root { link(pid, "root") } else { String::new() },
            cwd: if needs.root { link(pid, "cwd") } else { String::new() },
            nspid: status.nspid,
            cap_eff: status.cap_eff,
            no_new_privs: status.no_new_privs,
            routes: if needs.net { super::net::read_routes(who) } else { not_collected() },
            listening: when(needs.net, "net/tcp").map(|t| super::net::listening(&t)),
        }
    }

    /// The cgroup path of one controller (`""` selects the v2 `0::` line).
    pub fn cgroup_path(&self, controller: &str) -> Option<String> {
        cgroup_path(self.cgroup.as_deref().unwrap_or_default(), controller)
    }
}

/// One line of `/proc/<pid>/cgroup`: `4:memory:/process_api/x` or `0::/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupLine {
    /// Hierarchy id; 0 is the cgroup2 (unified) hierarchy.
    pub hierarchy_id: u32,
    /// Controllers bound to that hierarchy (`["cpu", "cpuacct"]`, `["name=systemd"]`, `[]` for v2).
    pub controllers: Vec<String>,
    /// Path of the cgroup, relative to the reader's cgroup namespace root.
    pub path: String,
}

/// The line as the kernel printed it.
impl fmt::Display for CgroupLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.hierarchy_id, self.controllers.join(","), self.path)
    }
}

/// Parse `/proc/<pid>/cgroup`. Malformed lines are skipped.
pub fn parse_cgroup(text: &str) -> Vec<CgroupLine> {
    text.lines()
        .filter_map(|line| {
            let mut it = line.splitn(3, ':');
            let hierarchy_id = it.next()?.parse().ok()?;
            let controllers = it.next()?;
            let path = it.next()?.to_string();
            let controllers = controllers.split(',').filter(|c| !c.is_empty()).map(str::to_string).collect();
            Some(CgroupLine { hierarchy_id, controllers, path })
        })
        .collect()
}

/// `/proc/PID/cgroup` or `/proc/self/cgroup`, parsed.
pub(crate) fn cgroup(who: Proc) -> Result<Vec<CgroupLine>, ProcError> {
    read_text(who, "cgroup").map(|t| parse_cgroup(&t))
}

/// The path of the hierarchy that holds exactly `controller` (v1), or of the unified
/// hierarchy when `controller` is `None` (v2 line `0::/path`). What the cgroup code
/// uses to place and recognise its groups; a check's `cgroup[CONTROLLER]` is
/// [`cgroup_path`].
pub(crate) fn path_for<'a>(lines: &'a [CgroupLine], controller: Option<&str>) -> Option<&'a str> {
    lines
        .iter()
        .find(|l| match controller {
            Some(c) => l.controllers.iter().any(|x| x == c),
            None => l.hierarchy_id == 0 && l.controllers.is_empty(),
        })
        .map(|l| l.path.as_str())
}

/// The path for one controller in /proc/PID/cgroup lines (`""`: the v2 `0::` line).
/// A controller no v1 line names is governed by the unified (v2) hierarchy, whose
/// `0::` line then gives the path — on a v2-only host that is the only line there is.
pub fn cgroup_path(lines: &[CgroupLine], controller: &str) -> Option<String> {
    let mut unified = None;
    for l in lines {
        if l.controllers.is_empty() {
            unified = Some(l.path.clone());
            if controller.is_empty() {
                return unified;
            }
        } else if !controller.is_empty()
            && l.controllers.iter().any(|c| c == controller || *c == format!("name={controller}"))
        {
            return Some(l.path.clone());
        }
    }
    unified
}

fn namespaces(pid: i32) -> BTreeMap<Ns, u64> {
    let mut ns = BTreeMap::new();
    for t in Ns::ALL {
        if let Some(ino) =
            fs::read_link(format!("/proc/{pid}/ns/{}", t.name())).ok().and_then(|p| parse_ns_link(&p.to_string_lossy()))
        {
            ns.insert(t, ino);
        }
    }
    ns
}

/// nsdojo's own namespaces, read once: the host process never changes them (the sandbox
/// does), so every snapshot of terminal #2 would read the same eight links again.
fn own_namespaces() -> &'static BTreeMap<Ns, u64> {
    static OWN: std::sync::OnceLock<BTreeMap<Ns, u64>> = std::sync::OnceLock::new();
    OWN.get_or_init(|| namespaces(std::process::id() as i32))
}

/// Host PIDs of the children of `pid` (scans /proc; works without CONFIG_PROC_CHILDREN).
pub fn children_of(pid: i32) -> Vec<i32> {
    all_pids().into_iter().filter(|p| parent_of(*p) == Some(pid)).collect()
}

/// Every process this /proc shows.
pub(crate) fn all_pids() -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok()).collect()
}

/// The fields of `/proc/PID/stat` nsdojo uses. This is the one place that file is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub comm: String,
    /// R, S, D, Z, X, …
    pub state: char,
    pub ppid: i32,
    /// CPU time in clock ticks, user and system.
    pub utime: u64,
    pub stime: u64,
    /// When the process started, in clock ticks after boot: with the PID, a process's identity.
    pub start_time: u64,
}

/// Parse `/proc/PID/stat`. The command name may hold spaces and parentheses, so the
/// fields are counted from the last `)`; anything malformed is None, never a panic.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    // Field 3 (state) is index 0 here, so field N is index N - 3.
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    let num = |field: usize| fields.get(field - 3).and_then(|f| f.parse::<u64>().ok());
    Some(Stat {
        comm,
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        utime: num(14)?,
        stime: num(15)?,
        start_time: num(22)?,
    })
}

/// `/proc/PID/stat` of a live process (or a zombie).
pub fn stat(pid: i32) -> std::io::Result<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_stat(&text).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("unexpected /proc/{pid}/stat: {text:?}"))
    })
}

/// The parent PID from /proc/PID/stat.
pub fn parent_of(pid: i32) -> Option<i32> {
    stat(pid).ok().map(|s| s.ppid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_survive_odd_names_and_garbage() {
        let line = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 30 0 0 20 0 1 0 987654 0 0";
        let s = parse_stat(line).unwrap();
        assert_eq!((s.comm.as_str(), s.state, s.ppid), ("a) b (c)", 'S', 1));
        assert_eq!((s.utime, s.stime, s.start_time), (150, 30, 987654));
        for bad in ["", "no parens", "1 (x", "1 (x) S", "1 (x) S 1 2 3", ")(", "1 (x) S -1 2"] {
            assert_eq!(parse_stat(bad), None, "{bad}");
        }
    }

    #[test]
    fn ns_links() {
        assert_eq!(parse_ns_link("mnt:[4026531832]"), Some(4026531832));
        assert_eq!(parse_ns_link("garbage"), None);
    }

    #[test]
    fn maps_and_nspid() {
        assert_eq!(normalize_map("         0          0 4294967295\n"), "0 0 4294967295");
        assert_eq!(normalize_map(""), "");
        let s = parse_status(
            "Name:\tx\nThreads:\t1\nNSpid:\t6863\t1\nCapPrm:\t0\nCapEff:\t000001ffffffffff\nNoNewPrivs:\t1\n",
        );
        assert_eq!(
            (s.nspid, s.cap_eff, s.no_new_privs, s.threads),
            (vec![6863, 1], Some(0x1ff_ffff_ffff), Some(true), Some(1))
        );
        assert_eq!(parse_status("Name:\tx\nCapEff:\tzz\n"), Status::default());
        let s = parse_status("Uid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1001\t1000\t1000\nGroups:\t4 27 \n");
        assert_eq!((s.uids[0], s.gids[1], s.groups), (1000, 1001, vec![4, 27]));
        assert_eq!(parse_status("VmPeak:\t  9000 kB\nVmHWM:\t    5120 kB\n").vm_hwm_kib, Some(5120));
        assert_eq!(parse_status("VmHWM:\t5120 MB\n").vm_hwm_kib, None);
    }

    #[test]
    fn cgroup_path_by_controller() {
        let f = ProcFacts {
            cgroup: Ok(parse_cgroup("4:memory:/process_api/x\n3:cpu,cpuacct:/my\n1:name=systemd:/\n0::/u\n")),
            ..Default::default()
        };
        assert_eq!(f.cgroup_path("cpu").as_deref(), Some("/my"));
        assert_eq!(f.cgroup_path("cpuacct").as_deref(), Some("/my"));
        assert_eq!(f.cgroup_path("systemd").as_deref(), Some("/"));
        assert_eq!(f.cgroup_path("").as_deref(), Some("/u"));
        // No v1 line for pids: the unified hierarchy's path (as on a v2-only host).
        assert_eq!(f.cgroup_path("pids").as_deref(), Some("/u"));
        let v2_only = ProcFacts { cgroup: Ok(parse_cgroup("0::/user.slice/nsdojo-1")), ..Default::default() };
        assert_eq!(v2_only.cgroup_path("cpu").as_deref(), Some("/user.slice/nsdojo-1"));
        assert_eq!(ProcFacts::default().cgroup_path("cpu"), None);
    }

    #[test]
    fn proc_cgroup_lines() {
        let text = "9:name=systemd:/\n4:memory:/process_api/d5eb\n2:cpu,cpuacct:/nsdojo-ab12\n0::/\nnot a line\n";
        let lines = parse_cgroup(text);
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].controllers, vec!["name=systemd"]);
        assert_eq!(path_for(&lines, Some("cpuacct")), Some("/nsdojo-ab12"));
        assert_eq!(path_for(&lines, Some("memory")), Some("/process_api/d5eb"));
        assert_eq!(path_for(&lines, None), Some("/"));
        assert_eq!(path_for(&lines, Some("pids")), None);
        // A path may itself contain ':' (splitn keeps it whole).
        assert_eq!(parse_cgroup("0::/a:b\n")[0].path, "/a:b");
        let printed: Vec<String> = lines.iter().map(CgroupLine::to_string).collect();
        assert_eq!(printed.join("\n") + "\n", text.replace("not a line\n", ""));
    }

    #[test]
    fn reads_own_process() {
        // Reading our own /proc entry is not a syscall being taught; it is the observer.
        let me = ProcFacts::read(std::process::id() as i32);
        assert!(me.ns.contains_key(&Ns::Mnt));
        assert!(me.mounts.unwrap().iter().any(|m| m.mount_point == "/"));
        assert!(!me.cgroup.unwrap().is_empty());
        let gone = ProcFacts::read(i32::MAX);
        assert!(matches!(gone.mounts, Err(ProcError::Unreadable { .. })), "{:?}", gone.mounts);
        assert!(matches!(gone.uid_map, Err(ProcError::Unreadable { .. })), "{:?}", gone.uid_map);
        assert_eq!(parent_of(std::process::id() as i32), Some(nix::unistd::getppid().as_raw()));
    }
}
