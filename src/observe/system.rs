//! What /proc says about the machine rather than about one process: kernel settings
//! (`/proc/sys`), the kernel's version and build config, which namespace types exist, the
//! SysV message queues, and whether a process carries a mark in its environment. Read here,
//! with the rest of the /proc layer, so no other module parses /proc (src/layering/powers.rs).

use std::fs;
use std::io::Read;

/// A kernel setting, trimmed: `sysctl("user/max_user_namespaces")` reads
/// /proc/sys/user/max_user_namespaces. None if it does not exist here or cannot be read.
pub(crate) fn sysctl(name: &str) -> Option<String> {
    fs::read_to_string(format!("/proc/sys/{name}")).ok().map(|s| s.trim().to_string())
}

/// /proc/version, whole ("" if unreadable).
pub(crate) fn kernel_version() -> String {
    fs::read_to_string("/proc/version").unwrap_or_default()
}

/// The running kernel's build config from /proc/config.gz (CONFIG_IKCONFIG_PROC), if it
/// has one.
pub(crate) fn kernel_config() -> Option<String> {
    let mut config = String::new();
    flate2::read::GzDecoder::new(fs::File::open("/proc/config.gz").ok()?).read_to_string(&mut config).ok()?;
    Some(config)
}

/// Does this kernel have namespaces of type `name` (`mnt`, `cgroup`, `time`…)?
pub(crate) fn has_namespace(name: &str) -> bool {
    std::path::Path::new(&format!("/proc/self/ns/{name}")).exists()
}

/// One SysV message queue: its key (hex, as /proc/sysvipc/msg shows it) and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MsgQueue {
    pub key: String,
    pub id: i32,
}

/// The message queues of this process's IPC namespace (none if the table is unreadable).
pub(crate) fn msg_queues() -> Vec<MsgQueue> {
    parse_msg_queues(&fs::read_to_string("/proc/sysvipc/msg").unwrap_or_default())
}

/// /proc/sysvipc/msg: a header line, then `key msqid perms …` per queue.
pub(crate) fn parse_msg_queues(table: &str) -> Vec<MsgQueue> {
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some(MsgQueue { key: f.next()?.to_string(), id: f.next()?.parse().ok()? })
        })
        .collect()
}

/// Does process `pid`'s environment hold exactly `var` (`NAME=value`)? False if it cannot be
/// read (gone, or not ours to read).
pub(crate) fn environ_has(pid: i32, var: &str) -> bool {
    let Ok(env) = fs::read(format!("/proc/{pid}/environ")) else { return false };
    env.split(|b| *b == 0).any(|v| v == var.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_queue_table_gives_key_and_id() {
        let table = "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n\
                     \x20      1234          5   644           0          0     0     0     0     0     0     0          0          0 1700000000\n\
                     garbage\n";
        assert_eq!(parse_msg_queues(table), [MsgQueue { key: "1234".into(), id: 5 }]);
        assert!(parse_msg_queues("").is_empty());
    }

    #[test]
    fn this_process_has_a_mount_namespace_and_its_own_environment() {
        assert!(has_namespace("mnt"));
        assert!(!has_namespace("no-such-namespace"));
        // The first variable this process started with is there; a made-up one is not.
        let env = fs::read("/proc/self/environ").unwrap_or_default();
        let first = String::from_utf8_lossy(env.split(|b| *b == 0).next().unwrap_or_default()).into_owned();
        assert!(first.is_empty() || environ_has(std::process::id() as i32, &first));
        assert!(!environ_has(std::process::id() as i32, "NSDOJO_NO_SUCH_MARK=1"));
    }
}
