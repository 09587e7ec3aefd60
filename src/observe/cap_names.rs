//! Capabilities by name: `CapEff` in /proc/PID/status is a bit mask, and a
//! lesson (and a student) reads `cap_sys_admin`, not bit 21.

/// How many capabilities this table knows (Linux 5.9+).
pub const CAP_COUNT: usize = CAP_NAMES.len();

/// The 41 capabilities of Linux 5.9+, by bit number (capability.h).
const CAP_NAMES: [&str; 41] = [
    "cap_chown",
    "cap_dac_override",
    "cap_dac_read_search",
    "cap_fowner",
    "cap_fsetid",
    "cap_kill",
    "cap_setgid",
    "cap_setuid",
    "cap_setpcap",
    "cap_linux_immutable",
    "cap_net_bind_service",
    "cap_net_broadcast",
    "cap_net_admin",
    "cap_net_raw",
    "cap_ipc_lock",
    "cap_ipc_owner",
    "cap_sys_module",
    "cap_sys_rawio",
    "cap_sys_chroot",
    "cap_sys_ptrace",
    "cap_sys_pacct",
    "cap_sys_admin",
    "cap_sys_boot",
    "cap_sys_nice",
    "cap_sys_resource",
    "cap_sys_time",
    "cap_sys_tty_config",
    "cap_mknod",
    "cap_lease",
    "cap_audit_write",
    "cap_audit_control",
    "cap_setfcap",
    "cap_mac_override",
    "cap_mac_admin",
    "cap_syslog",
    "cap_wake_alarm",
    "cap_block_suspend",
    "cap_audit_read",
    "cap_perfmon",
    "cap_bpf",
    "cap_checkpoint_restore",
];

/// A capability's number from its name: `sys_admin`, `cap_sys_admin` or `CAP_SYS_ADMIN`.
pub fn cap_number(name: &str) -> Option<u8> {
    let lower = name.to_ascii_lowercase();
    let full = if lower.starts_with("cap_") { lower } else { format!("cap_{lower}") };
    CAP_NAMES.iter().position(|n| *n == full).map(|i| i as u8)
}

/// `CAP_SYS_ADMIN` for 21, as strace and capability.h write it.
pub fn cap_constant(number: u8) -> String {
    CAP_NAMES.get(number as usize).map_or_else(|| format!("{number}"), |n| n.to_ascii_uppercase())
}

/// A capability mask (CapEff in /proc/PID/status) as names; bits newer than this
/// table are shown as `cap_N`, as capsh does.
pub fn cap_names(mask: u64) -> Vec<String> {
    (0..64)
        .filter(|bit| mask & (1u64 << bit) != 0)
        .map(|bit| CAP_NAMES.get(bit).map_or_else(|| format!("cap_{bit}"), |n| n.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_by_name() {
        assert_eq!(cap_names(0), Vec::<String>::new());
        assert_eq!(cap_names(1 << 21), vec!["cap_sys_admin"]);
        let all = cap_names(0x1ff_ffff_ffff);
        assert_eq!(all.len(), 41);
        assert_eq!(all[27], "cap_mknod");
        assert_eq!(cap_names(1 << 45), vec!["cap_45"]);
    }
}
