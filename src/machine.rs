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

/// Which cgroup hierarchies are mounted: `v2` (cgroup2 only), `hybrid`, `v1`, or `none`.
pub fn cgroup_kind() -> &'static str {
    let m = mountinfo::read(Proc::Myself).unwrap_or_default();
    let v1 = m.iter().any(|e| e.fstype == "cgroup");
    let v2 = m.iter().any(|e| e.fstype == "cgroup2");
    match (v1, v2) {
        (false, true) => "v2",
        (true, true) => "hybrid",
        (true, false) => "v1",
        (false, false) => "none",
    }
}

/// Which Windows Subsystem for Linux this is, from the kernel's release
/// (`/proc/sys/kernel/osrelease`) and `/proc/version`: 2 for WSL 2, a real Linux kernel built by
/// Microsoft (`5.15.167.4-microsoft-standard-WSL2`, `4.19.128-microsoft-standard`); 1 for WSL 1,
/// Windows translating system calls (`4.4.0-19041-Microsoft`: no namespaces, no cgroups); None
/// elsewhere. Azure's own Ubuntu kernels say `-azure`, not `microsoft`.
pub fn wsl_version(osrelease: &str, proc_version: &str) -> Option<u8> {
    let of = |s: &str| {
        // WSL 1 writes "Microsoft", capitalised, and never "WSL"; WSL 2's kernels the lowercase.
        if s.contains("WSL") || s.contains("microsoft") {
            Some(2)
        } else if s.contains("Microsoft") {
            Some(1)
        } else {
            None
        }
    };
    of(osrelease.trim()).or_else(|| {
        // A self-built WSL 2 kernel may carry another release name; its /proc/version still names
        // the WSL build, where WSL 1's says Microsoft@Microsoft.com.
        let v = proc_version.trim();
        if v.contains("Microsoft@Microsoft.com") {
            Some(1)
        } else if v.to_lowercase().contains("microsoft") || v.contains("WSL") {
            Some(2)
        } else {
            None
        }
    })
}

/// This machine's WSL version (see [`wsl_version`]).
pub fn wsl() -> Option<u8> {
    use crate::observe::system::{kernel_version, sysctl};
    wsl_version(&sysctl("kernel/osrelease").unwrap_or_default(), &kernel_version())
}

/// Whether systemd runs this system (sd_booted(3): /run/systemd/system is there).
pub fn systemd() -> bool {
    std::path::Path::new("/run/systemd/system").is_dir()
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Find a program on this process's PATH.
pub fn which(name: &str) -> Option<std::path::PathBuf> {
    which_on(name, &std::env::var("PATH").ok()?)
}

/// The first executable `name` on `path_env` (a PATH-style list), as `which` finds it. An
/// empty entry means the working directory to a shell; nsdojo runs as root, so it never
/// looks there (nor does `which` get a working directory to resolve one against).
pub fn which_on(name: &str, path_env: &str) -> Option<std::path::PathBuf> {
    which_all_on(name, path_env).into_iter().next()
}

/// Every executable `name` on `path_env`, in order (see [`which_on`]).
pub fn which_all_on(name: &str, path_env: &str) -> Vec<std::path::PathBuf> {
    let dirs: Vec<&str> = path_env.split(':').filter(|d| !d.is_empty()).collect();
    which::which_in_global(name, Some(dirs.join(":"))).map(Iterator::collect).unwrap_or_default()
}

/// Where unprivileged user namespaces are switched off, and how to switch them on (one line).
/// Ubuntu's AppArmor restriction is not among these: it lets the namespace be made and refuses
/// the capabilities in it ([`crate::observe::apparmor`]; doctor has its own line for it).
pub fn userns_restriction() -> Option<crate::msg::Msg> {
    let read = crate::observe::system::sysctl;
    if read("kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return Some(crate::msg::Msg::UsernsCloneOff);
    }
    if read("user/max_user_namespaces").as_deref() == Some("0") {
        return Some(crate::msg::Msg::UsernsMaxZero);
    }
    None
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn which_finds_executables_on_the_path_given_and_never_in_the_working_directory() {
        let dir = std::env::temp_dir().join(format!("nsdojo-which-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (prog, plain) = (dir.join("nsdojo-prog"), dir.join("nsdojo-plain"));
        std::fs::write(&prog, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(&plain, "").unwrap();
        let path = format!("::/nonexistent:{}", dir.display());
        assert_eq!(super::which_on("nsdojo-prog", &path), Some(prog.clone()));
        // Not executable: not a program.
        assert_eq!(super::which_on("nsdojo-plain", &path), None);
        // An empty entry is not the working directory, even where the program is.
        assert!(super::which_all_on("nsdojo-prog", "").is_empty());
        assert_eq!(super::which_on("nsdojo-prog", ":"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
