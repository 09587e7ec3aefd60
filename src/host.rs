//! Facts about the machine nsdojo runs on, for the banner and `doctor`.

use crate::observe::{mountinfo, Proc};

pub fn kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| format!("Linux {} {}", u.release().to_string_lossy(), u.machine().to_string_lossy()))
        .unwrap_or_else(|_| "Linux (unknown)".into())
}

/// Propagation of `/` in the host's mount namespace (systemd hosts: shared).
pub fn root_propagation() -> String {
    let m = mountinfo::read(Proc::Myself).unwrap_or_default();
    m.iter().rev().find(|e| e.mount_point == "/").map_or("unknown".into(), |e| e.propagation_kind().to_string())
}

/// A one-line description of the cgroup layout from the mount table.
pub fn cgroup_layout(lang: crate::lesson::Lang) -> String {
    use crate::i18n::{t, tf};
    let m = match mountinfo::read(Proc::Myself) {
        Ok(m) => m,
        Err(e) => return tf(lang, "view_unavailable", &[&e]),
    };
    let v1: Vec<&str> =
        m.iter().filter(|e| e.fstype == "cgroup").filter_map(|e| e.mount_point.rsplit('/').next()).collect();
    let v2 = m.iter().find(|e| e.fstype == "cgroup2");
    match (v1.is_empty(), v2) {
        (true, Some(e)) => tf(lang, "cgroup_v2", &[&e.mount_point]),
        (false, Some(e)) => tf(lang, "cgroup_hybrid", &[&v1.join(","), &e.mount_point]),
        (false, None) => tf(lang, "cgroup_v1", &[&v1.join(",")]),
        (true, None) => t(lang, "cgroup_none").into(),
    }
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Find a program on this process's PATH.
pub fn which(name: &str) -> Option<std::path::PathBuf> {
    crate::rootfs::find_on_path(name, &std::env::var("PATH").ok()?)
}

/// Where unprivileged user namespaces are switched off, and how to switch them on (one line).
pub fn userns_restriction() -> Option<String> {
    let read = |p: &str| std::fs::read_to_string(p).ok().map(|s| s.trim().to_string());
    if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        return Some("AppArmor restricts unprivileged user namespaces here (Ubuntu 23.10+): sysctl kernel.apparmor_restrict_unprivileged_userns=0".into());
    }
    if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return Some("unprivileged user namespaces are off here: sysctl kernel.unprivileged_userns_clone=1".into());
    }
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return Some("user namespaces are off here: sysctl user.max_user_namespaces=15000".into());
    }
    None
}
