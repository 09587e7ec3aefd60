//! Ubuntu's AppArmor restriction on unprivileged user namespaces, read from /proc: whether it
//! is on, and whether a process is under it.
//!
//! Why it matters to the lab: on Ubuntu 23.10 and later (on by default on 24.04, the workshop
//! VM's release) an ordinary user's `unshare(CLONE_NEWUSER)` still succeeds and the uid map can
//! still be written, but AppArmor moves the process into the `unprivileged_userns` profile,
//! whose first rule is `audit deny capability`. The capabilities stay in the credentials, so
//! `/proc/PID/status` still lists them in CapEff; each use is refused at the call: sethostname
//! and unshare say EPERM, mount EACCES (AppArmor's mount rule is checked before the
//! capability). The kernel log shows `apparmor="AUDIT" operation="userns_create" …
//! target="unprivileged_userns"` when the namespace is made and `apparmor="DENIED"
//! operation="capable" … profile="unprivileged_userns"` for each refusal. Root (CAP_SYS_ADMIN)
//! is not restricted, so only the rootless lesson meets it. Without the profile loaded, the
//! user namespace itself is refused (`operation="userns_create"` DENIED).
//! Sources: the AppArmor wiki's unprivileged_userns_restriction page, AppArmor's
//! profiles/apparmor.d/unprivileged_userns, Ubuntu's SAUCE patches (aa_profile_ns_perm).
//! Not seen on this project's CI kernel, which has no AppArmor: the decisions below are
//! tested on fixtures.

use std::path::Path;

use serde::Serialize;

/// The sysctl, as `sysctl` names it.
pub const SYSCTL: &str = "kernel.apparmor_restrict_unprivileged_userns";
/// The same under /proc/sys.
const SYSCTL_FILE: &str = "kernel/apparmor_restrict_unprivileged_userns";
/// `1`: restrictions only logged ("complain instead of fail").
const COMPLAIN_FILE: &str = "kernel/apparmor_restrict_unprivileged_userns_complain";
/// The profile a restricted process is moved into.
pub const PROFILE: &str = "unprivileged_userns";

/// What AppArmor does to a user namespace an ordinary user makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UsernsRestriction {
    /// This kernel has no such setting (no AppArmor, or a kernel without Ubuntu's patches).
    Absent,
    /// The setting is 0: user namespaces work as everywhere else.
    Off,
    /// On, but in complain mode: refusals are logged, not enforced.
    Complain,
    /// On: the namespace is made, the capabilities in it are refused.
    On,
}

impl UsernsRestriction {
    /// From the two settings' contents (None: the file is not there or not readable).
    pub fn from_settings(restrict: Option<&str>, complain: Option<&str>) -> UsernsRestriction {
        match restrict.map(str::trim) {
            None => UsernsRestriction::Absent,
            Some("") => UsernsRestriction::Absent,
            Some("0") => UsernsRestriction::Off,
            // Any other number is "on" to the kernel (proc_dointvec, read as a boolean).
            Some(_) if complain.map(str::trim).is_some_and(|c| c != "0" && !c.is_empty()) => {
                UsernsRestriction::Complain
            }
            Some(_) => UsernsRestriction::On,
        }
    }

    /// Read under a /proc/sys directory (fixtures in tests; `/proc/sys` for the machine).
    pub fn read_in(proc_sys: &Path) -> UsernsRestriction {
        let read = |name: &str| std::fs::read_to_string(proc_sys.join(name)).ok();
        UsernsRestriction::from_settings(read(SYSCTL_FILE).as_deref(), read(COMPLAIN_FILE).as_deref())
    }

    /// This machine's.
    pub fn of_this_machine() -> UsernsRestriction {
        UsernsRestriction::read_in(Path::new("/proc/sys"))
    }
}

/// The AppArmor label of a process, as `/proc/PID/attr/apparmor/current` (Linux 5.8+) or else
/// `/proc/PID/attr/current` shows it: `unconfined`, `unprivileged_userns (enforce)`. None
/// where it cannot be read (no AppArmor: the file answers EINVAL).
pub(crate) fn label_in(proc: &Path, pid: &str) -> Option<String> {
    let dir = proc.join(pid).join("attr");
    [dir.join("apparmor/current"), dir.join("current")]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim_end_matches(['\n', '\0']).to_string())
        .filter(|s| !s.is_empty())
}

/// [`label_in`] on this machine's /proc (`pid` may be `self`).
pub(crate) fn label(pid: &str) -> Option<String> {
    label_in(Path::new("/proc"), pid)
}

/// Is a process with this label under the restriction's profile? A label is one profile with
/// its mode (`unprivileged_userns (enforce)`), or a stack (`a//&unprivileged_userns`), which
/// is what a program started inside becomes.
pub(crate) fn is_restricted_label(label: &str) -> bool {
    let without_mode = label.rsplit_once(" (").map_or(label, |(name, _)| name);
    without_mode.split("//&").any(|p| p.trim().trim_start_matches(':') == PROFILE)
}

/// Is process `pid` (or `self`) one whose capabilities AppArmor refuses?
pub(crate) fn under_restriction(pid: &str) -> bool {
    label(pid).is_some_and(|l| is_restricted_label(&l))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc_sys(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("kernel")).unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn the_setting_decides_absent_off_on_and_complain() {
        use UsernsRestriction::*;
        // This project's CI kernel: no such file.
        assert_eq!(UsernsRestriction::read_in(proc_sys(&[]).path()), Absent);
        assert_eq!(UsernsRestriction::read_in(proc_sys(&[(SYSCTL_FILE, "0\n")]).path()), Off);
        // Ubuntu 24.04 as installed.
        let noble = proc_sys(&[(SYSCTL_FILE, "1\n"), (COMPLAIN_FILE, "0\n")]);
        assert_eq!(UsernsRestriction::read_in(noble.path()), On);
        assert_eq!(UsernsRestriction::read_in(proc_sys(&[(SYSCTL_FILE, "1\n")]).path()), On);
        let complain = proc_sys(&[(SYSCTL_FILE, "1\n"), (COMPLAIN_FILE, "1\n")]);
        assert_eq!(UsernsRestriction::read_in(complain.path()), Complain);
        // Complain mode without the restriction is nothing.
        let off = proc_sys(&[(SYSCTL_FILE, "0\n"), (COMPLAIN_FILE, "1\n")]);
        assert_eq!(UsernsRestriction::read_in(off.path()), Off);
        assert_eq!(UsernsRestriction::from_settings(Some("2"), None), On);
        assert_eq!(UsernsRestriction::from_settings(Some(""), None), Absent);
        assert_eq!(serde_json::to_value(On).unwrap(), "on");
    }

    #[test]
    fn the_restricted_profile_is_told_from_its_label() {
        for restricted in
            ["unprivileged_userns (enforce)", "unprivileged_userns", "unconfined//&unprivileged_userns (enforce)"]
        {
            assert!(is_restricted_label(restricted), "{restricted}");
        }
        for free in [
            "unconfined",
            "lxc-unshare (unconfined)",
            "unprivileged_userns_x (enforce)",
            "",
            "system_u:system_r:kernel_t:s0",
        ] {
            assert!(!is_restricted_label(free), "{free}");
        }
    }

    #[test]
    fn a_label_is_read_from_the_apparmor_file_first() {
        let proc = tempfile::tempdir().unwrap();
        let attr = proc.path().join("42/attr");
        std::fs::create_dir_all(attr.join("apparmor")).unwrap();
        assert_eq!(label_in(proc.path(), "42"), None, "no file: no AppArmor");
        std::fs::write(attr.join("current"), "unconfined\n").unwrap();
        assert_eq!(label_in(proc.path(), "42").as_deref(), Some("unconfined"));
        std::fs::write(attr.join("apparmor/current"), "unprivileged_userns (enforce)\n").unwrap();
        assert_eq!(label_in(proc.path(), "42").as_deref(), Some("unprivileged_userns (enforce)"));
        // This machine: whatever it has, a process of the test is not restricted.
        assert!(!under_restriction("self"));
    }
}
