//! What a second terminal on the host can read about any process:
//! `/proc/PID/{ns/*,mountinfo,cgroup,uid_map,gid_map,setgroups,root,cwd,status}`.
//!
//! The host reads these for the sandbox exactly as `readlink /proc/PID/ns/mnt`
//! would, and for itself through its own PID, so both columns of every
//! table come from the same code.

use std::collections::BTreeMap;
use std::fs;

use serde::{Deserialize, Serialize};

use super::mountinfo::{self, MountEntry};
use super::Ns;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcFacts {
    pub pid: i32,
    /// Namespace inode per type (types the kernel lacks are absent).
    pub ns: BTreeMap<Ns, u64>,
    pub mounts: Vec<MountEntry>,
    /// Lines of /proc/PID/cgroup.
    pub cgroup: Vec<String>,
    pub uid_map: String,
    pub gid_map: String,
    pub setgroups: String,
    pub root: String,
    pub cwd: String,
    /// PIDs of the process in each nested PID namespace (NSpid in status).
    pub nspid: Vec<i32>,
    /// Effective capabilities (CapEff in status); None when status was not read.
    pub cap_eff: Option<u64>,
    /// NoNewPrivs in status; None when status was not read.
    #[serde(default)]
    pub no_new_privs: Option<bool>,
    /// IPv4 routes of the process's network namespace (/proc/PID/net/route); None when
    /// not read or unreadable.
    #[serde(default)]
    pub routes: Option<Vec<super::net::Route>>,
    /// Listening TCP sockets of its network namespace (/proc/PID/net/tcp).
    #[serde(default)]
    pub listening: Option<Vec<String>>,
}

/// `mnt:[4026531832]` → 4026531832
pub fn parse_ns_link(link: &str) -> Option<u64> {
    let start = link.find('[')? + 1;
    let end = link.rfind(']')?;
    link.get(start..end)?.parse().ok()
}

fn read(pid: i32, name: &str) -> String {
    fs::read_to_string(format!("/proc/{pid}/{name}")).unwrap_or_default()
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

/// `CapEff:\t000001ffffffffff` → the mask.
pub fn parse_cap_eff(status: &str) -> Option<u64> {
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?.trim();
    u64::from_str_radix(hex, 16).ok()
}

pub fn parse_nspid(status: &str) -> Vec<i32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|v| v.split_whitespace().filter_map(|p| p.parse().ok()).collect())
        .unwrap_or_default()
}

impl ProcFacts {
    /// Everything a second terminal could read about `pid`.
    pub fn read(pid: i32) -> ProcFacts {
        ProcFacts::read_some(pid, &super::Needs::everything())
    }

    /// The namespaces always (every step's verify commands use them), the rest as needed.
    pub fn read_some(pid: i32, needs: &super::Needs) -> ProcFacts {
        let ns = if pid == std::process::id() as i32 { own_namespaces().clone() } else { namespaces(pid) };
        let when = |wanted: bool, name: &str| if wanted { read(pid, name) } else { String::new() };
        let status = when(needs.processes || needs.status, "status");
        ProcFacts {
            pid,
            ns,
            mounts: mountinfo::parse(&when(needs.mounts, "mountinfo")),
            cgroup: when(needs.cgroup, "cgroup").lines().map(str::to_string).collect(),
            uid_map: normalize_map(&when(needs.ids, "uid_map")),
            gid_map: normalize_map(&when(needs.ids, "gid_map")),
            setgroups: when(needs.ids, "setgroups").trim().to_string(),
            root: if needs.root { link(pid, "root") } else { String::new() },
            cwd: if needs.root { link(pid, "cwd") } else { String::new() },
            nspid: parse_nspid(&status),
            cap_eff: parse_cap_eff(&status),
            no_new_privs: status.lines().find_map(|l| l.strip_prefix("NoNewPrivs:")).map(|v| v.trim() == "1"),
            routes: read_net(pid, needs.net, "route").map(|t| super::net::routes(&t)),
            listening: read_net(pid, needs.net, "tcp").map(|t| super::net::listening(&t)),
        }
    }

    /// The cgroup path of one controller (`""` selects the v2 `0::` line).
    pub fn cgroup_path(&self, controller: &str) -> Option<String> {
        cgroup_path(&self.cgroup, controller)
    }
}

/// /proc/PID/net/NAME when asked for and readable.
fn read_net(pid: i32, wanted: bool, name: &str) -> Option<String> {
    wanted.then(|| fs::read_to_string(format!("/proc/{pid}/net/{name}")).ok()).flatten()
}

/// The path for one controller in /proc/PID/cgroup lines (`""`: the v2 `0::` line).
/// A controller no v1 line names is governed by the unified (v2) hierarchy, whose
/// `0::` line then gives the path — on a v2-only host that is the only line there is.
pub fn cgroup_path(lines: &[String], controller: &str) -> Option<String> {
    let mut unified = None;
    for l in lines {
        let mut parts = l.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else { continue };
        if ctrls.is_empty() {
            unified = Some(path.to_string());
            if controller.is_empty() {
                return unified;
            }
        } else if !controller.is_empty()
            && ctrls.split(',').any(|c| c == controller || c == format!("name={controller}"))
        {
            return Some(path.to_string());
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
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| parent_of(*p) == Some(pid))
        .collect()
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
        assert_eq!(parse_nspid("Name:\tx\nNSpid:\t6863\t1\n"), vec![6863, 1]);
        assert_eq!(parse_cap_eff("CapPrm:\t0\nCapEff:\t000001ffffffffff\n"), Some(0x1ff_ffff_ffff));
        assert_eq!(parse_cap_eff("Name:\tx\n"), None);
    }

    #[test]
    fn cgroup_path_by_controller() {
        let f = ProcFacts {
            cgroup: vec![
                "4:memory:/process_api/x".into(),
                "3:cpu,cpuacct:/my".into(),
                "1:name=systemd:/".into(),
                "0::/u".into(),
            ],
            ..Default::default()
        };
        assert_eq!(f.cgroup_path("cpu").as_deref(), Some("/my"));
        assert_eq!(f.cgroup_path("cpuacct").as_deref(), Some("/my"));
        assert_eq!(f.cgroup_path("systemd").as_deref(), Some("/"));
        assert_eq!(f.cgroup_path("").as_deref(), Some("/u"));
        // No v1 line for pids: the unified hierarchy's path (as on a v2-only host).
        assert_eq!(f.cgroup_path("pids").as_deref(), Some("/u"));
        let v2_only = ProcFacts { cgroup: vec!["0::/user.slice/nsdojo-1".into()], ..Default::default() };
        assert_eq!(v2_only.cgroup_path("cpu").as_deref(), Some("/user.slice/nsdojo-1"));
        assert_eq!(ProcFacts::default().cgroup_path("cpu"), None);
    }

    #[test]
    fn reads_own_process() {
        // Reading our own /proc entry is not a syscall being taught; it is the observer.
        let me = ProcFacts::read(std::process::id() as i32);
        assert!(me.ns.contains_key(&Ns::Mnt));
        assert!(me.mounts.iter().any(|m| m.mount_point == "/"));
        assert_eq!(parent_of(std::process::id() as i32), Some(nix::unistd::getppid().as_raw()));
    }
}
