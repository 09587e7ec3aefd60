//! Facts that only exist *inside* a set of namespaces: the hostname (UTS),
//! network interfaces (net), SysV message queues (IPC), the processes that
//! /proc shows, the ids a process has, directory listings through its root.
//!
//! A second terminal cannot read these through /proc/PID; it has to enter
//! the namespaces (`nsenter -t PID -u hostname`). So the sandbox agent runs
//! [`InsideFacts::collect`] in its own context, and the host runs the same
//! function in its own context for the "terminal #2" column.

use std::collections::BTreeMap;
use std::fs;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Iface {
    pub name: String,
    pub up: bool,
    pub addrs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcInfo {
    pub pid: i32,
    pub name: String,
}

/// Why one side could not read something (no /proc in a chroot, a directory that is not
/// there): shown in its cell and answered to checks as a missing value, never as empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

impl From<String> for Unavailable {
    fn from(why: String) -> Self {
        Unavailable(why)
    }
}

impl From<&str> for Unavailable {
    fn from(why: &str) -> Self {
        Unavailable(why.to_string())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsideFacts {
    pub hostname: String,
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
    /// Processes in /proc as this side sees it; Err if there is no /proc.
    pub processes: Result<Vec<ProcInfo>, Unavailable>,
    pub ifaces: Result<Vec<Iface>, Unavailable>,
    /// SysV message queue keys (hex), from msgctl(MSG_STAT) over the namespace's ids.
    pub msg_queues: Result<Vec<String>, Unavailable>,
    /// /proc/self/cgroup as this side reads it (paths are relative to its cgroup namespace).
    pub cgroup: Result<Vec<super::CgroupLine>, super::ProcError>,
    /// Listings asked for by the step (`ls PATH`, `exists[PATH]`), by path.
    pub listings: BTreeMap<String, Result<Vec<String>, Unavailable>>,
}

impl Default for InsideFacts {
    fn default() -> Self {
        InsideFacts {
            hostname: String::new(),
            pid: 0,
            uid: 0,
            gid: 0,
            processes: Ok(Vec::new()),
            ifaces: Ok(Vec::new()),
            msg_queues: Ok(Vec::new()),
            cgroup: Err(super::ProcError::NotCollected),
            listings: BTreeMap::new(),
        }
    }
}

fn processes() -> Result<Vec<ProcInfo>, Unavailable> {
    let dir = fs::read_dir("/proc").map_err(|e| format!("/proc: {e}"))?;
    let mut out: Vec<ProcInfo> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .map(|pid| ProcInfo {
            pid,
            name: fs::read_to_string(format!("/proc/{pid}/comm")).map(|s| s.trim().to_string()).unwrap_or_default(),
        })
        .collect();
    if out.is_empty() {
        return Err("/proc is not mounted here".into());
    }
    out.sort_by_key(|p| p.pid);
    Ok(out)
}

fn ifaces() -> Result<Vec<Iface>, Unavailable> {
    let list = nix::ifaddrs::getifaddrs().map_err(|e| format!("getifaddrs: {e}"))?;
    let mut map: BTreeMap<String, Iface> = BTreeMap::new();
    for a in list {
        let entry = map.entry(a.interface_name.clone()).or_insert_with(|| Iface {
            name: a.interface_name.clone(),
            up: false,
            addrs: Vec::new(),
        });
        entry.up |= a.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP);
        if let Some(addr) = a.address {
            if let Some(v4) = addr.as_sockaddr_in() {
                entry.addrs.push(v4.ip().to_string());
            } else if let Some(v6) = addr.as_sockaddr_in6() {
                entry.addrs.push(v6.ip().to_string());
            }
        }
    }
    Ok(map.into_values().collect())
}

/// Message queue keys in this IPC namespace, the way `ipcs -q` finds them.
fn msg_queues() -> Result<Vec<String>, Unavailable> {
    // SAFETY: msgctl with MSG_INFO fills a msginfo struct; MSG_STAT fills msqid_ds.
    // Both are plain data written by the kernel into memory we own.
    unsafe {
        let mut info: libc::msginfo = std::mem::zeroed();
        let max = libc::msgctl(0, libc::MSG_INFO, &mut info as *mut libc::msginfo as *mut libc::msqid_ds);
        if max < 0 {
            return Err(Unavailable(format!("msgctl(MSG_INFO): {}", nix::errno::Errno::last())));
        }
        let mut keys = Vec::new();
        for idx in 0..=max {
            let mut ds: libc::msqid_ds = std::mem::zeroed();
            if libc::msgctl(idx, libc::MSG_STAT, &mut ds) >= 0 {
                keys.push(format!("0x{:08x}", ipc_key(&ds.msg_perm) as u32));
            }
        }
        Ok(keys)
    }
}

/// The key of a SysV IPC object: glibc and musl name the field differently.
#[cfg(target_env = "musl")]
#[allow(deprecated)] // libc will rename it to __key; until then this is its only name on musl
fn ipc_key(perm: &libc::ipc_perm) -> libc::key_t {
    perm.__ipc_perm_key
}

#[cfg(not(target_env = "musl"))]
fn ipc_key(perm: &libc::ipc_perm) -> libc::key_t {
    perm.__key
}

fn listing(path: &str) -> Result<Vec<String>, Unavailable> {
    let mut names: Vec<String> = fs::read_dir(path)
        .map_err(|e| format!("{path}: {e}"))?
        .filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    Ok(names)
}

/// What a step needs to know from the inside. Reading every /proc/PID/comm,
/// asking netlink for interfaces and walking SysV IPC ids is most of the cost
/// of a snapshot, so a step collects only what its views and checks use.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Needs {
    pub processes: bool,
    pub ifaces: bool,
    pub ipc: bool,
    /// From /proc/PID (read by the host): the mount table, cgroups, id maps, root and cwd.
    pub mounts: bool,
    pub cgroup: bool,
    pub ids: bool,
    pub root: bool,
    /// /proc/PID/status: NSpid and capabilities.
    pub status: bool,
    /// /proc/PID/net: routes and listening sockets.
    pub net: bool,
    /// Directories to list (`ls PATH` views, `ls[PATH]` and `exists[PATH]` facts).
    pub paths: Vec<String>,
}

impl Needs {
    pub fn everything() -> Needs {
        Needs {
            processes: true,
            ifaces: true,
            ipc: true,
            mounts: true,
            cgroup: true,
            ids: true,
            root: true,
            status: true,
            net: true,
            paths: Vec::new(),
        }
    }
}

const NOT_ASKED: &str = "not collected for this step";

impl InsideFacts {
    /// Collect in the calling process's own namespaces and root.
    pub fn collect(needs: &Needs) -> InsideFacts {
        let paths = &needs.paths;
        InsideFacts {
            hostname: nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default(),
            pid: nix::unistd::getpid().as_raw(),
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
            processes: if needs.processes { processes() } else { Err(NOT_ASKED.into()) },
            ifaces: if needs.ifaces { ifaces() } else { Err(NOT_ASKED.into()) },
            msg_queues: if needs.ipc { msg_queues() } else { Err(NOT_ASKED.into()) },
            cgroup: super::procfs::cgroup(super::Proc::Myself),
            listings: paths.iter().map(|p| (p.clone(), listing(p))).collect(),
        }
    }
}
