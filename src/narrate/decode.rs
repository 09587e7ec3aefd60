//! From a stopped call's number, arguments and the tracee's memory to the line the student
//! reads, strace-style (`sethostname("web1", 4) = 0`): pure functions, tested on bytes.
//!
//! A call is read at its entry (its strings are still there: execve's argv is gone after),
//! kept as a [`Pending`], and said when it returns ([`Pending::finish`]). What to say about a
//! descriptor (a cgroupfs file, an id map, an rtnetlink socket) was learned when it was opened.

use std::collections::BTreeMap;

use crate::lesson::Ns;
use crate::trace::quote;

use super::inspect::Memory;
use super::rtnl;

/// A descriptor worth following to its writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Watched {
    /// A file the lessons write (cgroupfs control file, uid_map, gid_map, setgroups), by the
    /// name the student gave it.
    File { name: String, kind: FileKind },
    /// A NETLINK_ROUTE socket: its requests (RTM_NEWLINK, …) and the kernel's answers.
    Rtnl { asked: Vec<rtnl::Request> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Cgroup,
    IdMap,
}

/// A process's watched descriptors (`close_on_exec`: dropped by a successful execve).
pub(crate) type Fds = BTreeMap<i32, (Watched, bool)>;

/// What a failed call is about, for its explanation (`super::explain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Topic {
    /// Needs power over this kind of namespace (sethostname: UTS; mount: mount).
    Ns(Ns),
    Mount {
        target: String,
    },
    Pivot,
    Unshare {
        flags: u64,
    },
    Setns,
    Chroot,
    Creds,
    Exec {
        path: String,
    },
    File(FileKind),
    Rtnl,
    Plain,
}

/// A call read at its entry, said when it returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pending {
    /// Said as it is, with its result.
    Say {
        call: String,
        topic: Topic,
    },
    /// An open for writing: followed if the tracer finds a watched file behind it.
    Open {
        call: String,
        path: String,
        cloexec: bool,
    },
    /// mkdir or rmdir: said if the tracer finds cgroupfs where it is made.
    Dir {
        call: String,
        dirfd: i64,
        path: String,
        remove: bool,
    },
    /// A NETLINK_ROUTE socket: its descriptor is followed, quietly.
    Socket {
        cloexec: bool,
    },
    /// Requests sent on an rtnetlink socket: said when the kernel answers them.
    Send {
        fd: i32,
        asked: Vec<rtnl::Request>,
    },
    /// A read from an rtnetlink socket: the answers are in the buffer once it returns.
    Recv {
        fd: i32,
        buf: u64,
        cap: usize,
    },
    Close {
        fd: i32,
    },
    /// `to` when it is chosen (dup2, dup3), else the return value (fcntl F_DUPFD).
    Dup {
        from: i32,
        to: Option<i32>,
        cloexec: bool,
    },
    /// A successful execve drops the close-on-exec descriptors.
    Exec {
        call: String,
        path: String,
    },
    /// The shell's own execve (nsdojo's, not the student's): quiet; once one succeeds, the
    /// process is the student's.
    Launch,
}

const CLONE_NAMES: [(u64, &str); 8] = [
    (libc::CLONE_NEWNS as u64, "CLONE_NEWNS"),
    (libc::CLONE_NEWUTS as u64, "CLONE_NEWUTS"),
    (libc::CLONE_NEWIPC as u64, "CLONE_NEWIPC"),
    (libc::CLONE_NEWUSER as u64, "CLONE_NEWUSER"),
    (libc::CLONE_NEWPID as u64, "CLONE_NEWPID"),
    (libc::CLONE_NEWNET as u64, "CLONE_NEWNET"),
    (libc::CLONE_NEWCGROUP as u64, "CLONE_NEWCGROUP"),
    (libc::CLONE_NEWTIME as u64, "CLONE_NEWTIME"),
];

/// The namespace flags of `flags` by name (`CLONE_NEWUTS|CLONE_NEWNS`), the rest as hex.
pub(crate) fn ns_flags(flags: u64) -> String {
    let mut names: Vec<String> =
        CLONE_NAMES.iter().filter(|(bit, _)| flags & bit != 0).map(|(_, n)| n.to_string()).collect();
    let known = CLONE_NAMES.iter().fold(0, |acc, (bit, _)| acc | bit);
    let rest = flags & !known & !0xff;
    if rest != 0 {
        names.push(format!("{rest:#x}"));
    }
    if names.is_empty() {
        "0".into()
    } else {
        names.join("|")
    }
}

const MS_NAMES: [(u64, &str); 10] = [
    (libc::MS_RDONLY, "MS_RDONLY"),
    (libc::MS_NOSUID, "MS_NOSUID"),
    (libc::MS_NODEV, "MS_NODEV"),
    (libc::MS_NOEXEC, "MS_NOEXEC"),
    (libc::MS_REMOUNT, "MS_REMOUNT"),
    (libc::MS_BIND, "MS_BIND"),
    (libc::MS_REC, "MS_REC"),
    (libc::MS_PRIVATE, "MS_PRIVATE"),
    (libc::MS_SHARED, "MS_SHARED"),
    (libc::MS_SLAVE, "MS_SLAVE"),
];

fn mount_flags(flags: u64) -> String {
    let names: Vec<&str> = MS_NAMES.iter().filter(|(b, _)| flags & b != 0).map(|(_, n)| *n).collect();
    if names.is_empty() {
        format!("{flags:#x}").replace("0x0", "0")
    } else {
        names.join("|")
    }
}

/// A string argument, quoted (control characters escaped: the student controls it).
fn s(mem: &dyn Memory, addr: u64) -> String {
    mem.string(addr, 4096).map_or_else(|| "NULL".into(), |v| quote(&v))
}

/// Bytes being written, quoted and cut at 64.
pub(crate) fn data(bytes: &[u8], len: usize) -> String {
    let shown = &bytes[..bytes.len().min(64)];
    let mut q = quote(&String::from_utf8_lossy(shown));
    if len > shown.len() {
        q.push_str("...");
    }
    q
}

fn dirfd(fd: i64) -> String {
    if fd as i32 == libc::AT_FDCWD {
        "AT_FDCWD".into()
    } else {
        (fd as i32).to_string()
    }
}

/// The call at its entry: `None` for what is not narrated (and not followed).
#[allow(non_upper_case_globals)] // libc's SYS_* constants, matched as they are named.
pub(crate) fn entry(nr: i64, a: [u64; 6], mem: &dyn Memory, fds: &Fds) -> Option<Pending> {
    use libc::*;
    let say = |call: String, topic: Topic| Some(Pending::Say { call, topic });
    let fd0 = a[0] as i32;
    match nr {
        SYS_unshare => say(format!("unshare({})", ns_flags(a[0])), Topic::Unshare { flags: a[0] }),
        SYS_setns => say(format!("setns({}, {})", fd0, ns_flags(a[1])), Topic::Setns),
        SYS_clone if a[0] & super::filter::CLONE_NEW_ANY as u64 != 0 => {
            say(format!("clone({})", ns_flags(a[0])), Topic::Unshare { flags: a[0] })
        }
        SYS_clone3 => {
            let flags = mem.word(a[0])?;
            (flags & super::filter::CLONE_NEW_ANY as u64 != 0).then(|| Pending::Say {
                call: format!("clone3({{flags={}}})", ns_flags(flags)),
                topic: Topic::Unshare { flags },
            })
        }
        SYS_chroot => say(format!("chroot({})", s(mem, a[0])), Topic::Chroot),
        SYS_pivot_root => say(format!("pivot_root({}, {})", s(mem, a[0]), s(mem, a[1])), Topic::Pivot),
        SYS_mount => {
            let target = mem.string(a[1], 4096).unwrap_or_default();
            let data = if a[4] == 0 { "NULL".into() } else { s(mem, a[4]) };
            let call =
                format!("mount({}, {}, {}, {}, {data})", s(mem, a[0]), quote(&target), s(mem, a[2]), mount_flags(a[3]));
            say(call, Topic::Mount { target })
        }
        SYS_umount2 => {
            let flags = if a[1] & MNT_DETACH as u64 != 0 { "MNT_DETACH".to_string() } else { a[1].to_string() };
            say(format!("umount2({}, {flags})", s(mem, a[0])), Topic::Ns(Ns::Mnt))
        }
        SYS_sethostname | SYS_setdomainname => {
            let name = String::from_utf8_lossy(&mem.bytes(a[0], (a[1] as usize).min(256))).into_owned();
            let f = if nr == SYS_sethostname { "sethostname" } else { "setdomainname" };
            say(format!("{f}({}, {})", quote(&name), a[1]), Topic::Ns(Ns::Uts))
        }
        SYS_setuid => say(format!("setuid({})", a[0] as u32), Topic::Creds),
        SYS_setgid => say(format!("setgid({})", a[0] as u32), Topic::Creds),
        SYS_setresuid | SYS_setresgid => {
            let f = if nr == SYS_setresuid { "setresuid" } else { "setresgid" };
            let id = |v: u64| if v as u32 == u32::MAX { "-1".to_string() } else { (v as u32).to_string() };
            say(format!("{f}({}, {}, {})", id(a[0]), id(a[1]), id(a[2])), Topic::Creds)
        }
        SYS_setgroups => {
            let n = (a[0] as usize).min(32);
            let ids: Vec<String> = mem
                .bytes(a[1], 4 * n)
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]).to_string())
                .collect();
            say(format!("setgroups({}, [{}])", a[0], ids.join(", ")), Topic::Creds)
        }
        SYS_capset => {
            // Two 32-bit halves (version 3) of effective, permitted, inheritable.
            let d = mem.bytes(a[1], 24);
            let word =
                |i: usize| d.get(4 * i..4 * i + 4).map_or(0, |c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as u64);
            let half = |lo: usize| word(lo) | (word(lo + 3) << 32);
            let names = |m: u64| match crate::observe::cap_names::cap_names(m).len() {
                0 => "0".to_string(),
                n if n > 4 => format!("{m:#x} ({n} capabilities)"),
                _ => crate::observe::cap_names::cap_names(m).join("|"),
            };
            say(
                format!(
                    "capset(…, {{effective={}, permitted={}, inheritable={}}})",
                    names(half(0)),
                    names(half(1)),
                    names(half(2))
                ),
                Topic::Creds,
            )
        }
        SYS_prctl if a[0] == PR_CAPBSET_DROP as u64 => say(
            format!("prctl(PR_CAPBSET_DROP, {})", crate::observe::cap_names::cap_constant(a[1] as u8)),
            Topic::Creds,
        ),
        SYS_prctl if a[0] == PR_SET_NO_NEW_PRIVS as u64 => {
            say(format!("prctl(PR_SET_NO_NEW_PRIVS, {})", a[1]), Topic::Creds)
        }
        SYS_msgget => {
            let mode = a[1] & 0o777;
            let create = if a[1] & IPC_CREAT as u64 != 0 { "IPC_CREAT|" } else { "" };
            say(format!("msgget({:#x}, {create}0{mode:o})", a[0] as i32), Topic::Ns(Ns::Ipc))
        }
        SYS_execve | SYS_execveat => {
            let (path, argv) = if nr == SYS_execve { (a[0], a[1]) } else { (a[1], a[2]) };
            let p = mem.string(path, 4096).unwrap_or_default();
            let args: Vec<String> =
                mem.strings(argv, 16).iter().map(|x| if x == "…" { x.clone() } else { quote(x) }).collect();
            Some(Pending::Exec { call: format!("execve({}, [{}])", quote(&p), args.join(", ")), path: p })
        }
        SYS_openat => opening(mem, a[1], a[2], Some(a[0] as i64)),
        #[cfg(target_arch = "x86_64")]
        SYS_open => opening(mem, a[0], a[1], None),
        SYS_mkdirat => dir_call(mem, a[0] as i64, a[1], Some(a[2]), false),
        SYS_unlinkat if a[2] & AT_REMOVEDIR as u64 != 0 => dir_call(mem, a[0] as i64, a[1], None, true),
        #[cfg(target_arch = "x86_64")]
        SYS_mkdir => dir_call(mem, AT_FDCWD as i64, a[0], Some(a[1]), false),
        #[cfg(target_arch = "x86_64")]
        SYS_rmdir => dir_call(mem, AT_FDCWD as i64, a[0], None, true),
        SYS_socket if a[0] == AF_NETLINK as u64 && a[2] == NETLINK_ROUTE as u64 => {
            Some(Pending::Socket { cloexec: a[1] & SOCK_CLOEXEC as u64 != 0 })
        }
        // Followed descriptors: their writes, sends and what changes them.
        _ => followed(nr, a, mem, fds),
    }
}

fn opening(mem: &dyn Memory, path: u64, flags: u64, at: Option<i64>) -> Option<Pending> {
    let path = mem.string(path, 4096)?;
    let call = match at {
        Some(fd) => format!("openat({}, {}, {})", dirfd(fd), quote(&path), open_flags(flags)),
        None => format!("open({}, {})", quote(&path), open_flags(flags)),
    };
    Some(Pending::Open { call, path, cloexec: flags & libc::O_CLOEXEC as u64 != 0 })
}

fn open_flags(flags: u64) -> String {
    let mut f = vec![if flags & libc::O_ACCMODE as u64 == libc::O_RDWR as u64 { "O_RDWR" } else { "O_WRONLY" }];
    for (bit, name) in [(libc::O_CREAT, "O_CREAT"), (libc::O_TRUNC, "O_TRUNC"), (libc::O_APPEND, "O_APPEND")] {
        if flags & bit as u64 != 0 {
            f.push(name);
        }
    }
    f.join("|")
}

fn dir_call(mem: &dyn Memory, fd: i64, path: u64, mode: Option<u64>, remove: bool) -> Option<Pending> {
    let p = mem.string(path, 4096)?;
    let call = match (remove, mode) {
        (true, _) => format!("rmdir({})", quote(&p)),
        (false, Some(m)) => format!("mkdir({}, 0{m:o})", quote(&p)),
        (false, None) => format!("mkdir({})", quote(&p)),
    };
    Some(Pending::Dir { call, dirfd: fd, path: p, remove })
}

/// A call on a followed descriptor (only seen while its process is stepped).
#[allow(non_upper_case_globals)]
pub(crate) fn followed(nr: i64, a: [u64; 6], mem: &dyn Memory, fds: &Fds) -> Option<Pending> {
    use libc::*;
    let fd = a[0] as i32;
    let watched = fds.get(&fd).map(|(w, _)| w);
    let file = |len: usize, bytes: Vec<u8>| -> Option<Pending> {
        let Some(Watched::File { name, kind }) = watched else { return None };
        let call = format!("write({fd}<{}>, {}, {len})", name, data(&bytes, len));
        Some(Pending::Say { call, topic: Topic::File(*kind) })
    };
    match nr {
        SYS_write | SYS_pwrite64 => file(a[2] as usize, mem.bytes(a[1], (a[2] as usize).min(64))),
        SYS_writev => {
            let (base, len) = (mem.word(a[1])?, mem.word(a[1] + 8)? as usize);
            file(len, mem.bytes(base, len.min(64)))
        }
        SYS_sendto | SYS_sendmsg if matches!(watched, Some(Watched::Rtnl { .. })) => {
            let bytes = if nr == SYS_sendto {
                mem.bytes(a[1], (a[2] as usize).min(65536))
            } else {
                // struct msghdr: name, namelen, iov, iovlen, …; the requests are in iov[0].
                let iov = mem.word(a[1] + 16)?;
                let (base, len) = (mem.word(iov)?, mem.word(iov + 8)? as usize);
                mem.bytes(base, len.min(65536))
            };
            let asked = rtnl::requests(&bytes);
            (!asked.is_empty()).then_some(Pending::Send { fd, asked })
        }
        SYS_recvmsg if matches!(watched, Some(Watched::Rtnl { asked }) if !asked.is_empty()) => {
            let iov = mem.word(a[1] + 16)?;
            Some(Pending::Recv { fd, buf: mem.word(iov)?, cap: mem.word(iov + 8)? as usize })
        }
        SYS_recvfrom if matches!(watched, Some(Watched::Rtnl { asked }) if !asked.is_empty()) => {
            Some(Pending::Recv { fd, buf: a[1], cap: a[2] as usize })
        }
        SYS_close => Some(Pending::Close { fd }),
        SYS_dup3 => Some(Pending::Dup { from: fd, to: Some(a[1] as i32), cloexec: a[2] & O_CLOEXEC as u64 != 0 }),
        #[cfg(target_arch = "x86_64")]
        SYS_dup2 => Some(Pending::Dup { from: fd, to: Some(a[1] as i32), cloexec: false }),
        SYS_dup => Some(Pending::Dup { from: fd, to: None, cloexec: false }),
        SYS_fcntl if a[1] == F_DUPFD as u64 || a[1] == F_DUPFD_CLOEXEC as u64 => {
            Some(Pending::Dup { from: fd, to: None, cloexec: a[1] == F_DUPFD_CLOEXEC as u64 })
        }
        _ => None,
    }
}

/// A call's result as `trace::Syscall` keeps it: the value, or the errno.
pub(crate) fn result(rval: i64, is_error: bool) -> Result<i64, i32> {
    if is_error {
        Err((-rval) as i32)
    } else {
        Ok(rval)
    }
}

#[cfg(test)]
mod tests {
    use super::super::inspect::fake::Bytes;
    use super::*;

    fn cstr(s: &str) -> Vec<u8> {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        v
    }

    #[test]
    fn unshare_and_sethostname_read_as_strace_writes_them() {
        let mem = Bytes::default().at(0x1000, b"web1");
        let none = Fds::new();
        let flags = (libc::CLONE_NEWUTS | libc::CLONE_NEWNS) as u64;
        let Some(Pending::Say { call, .. }) = entry(libc::SYS_unshare, [flags, 0, 0, 0, 0, 0], &mem, &none) else {
            panic!()
        };
        assert_eq!(call, "unshare(CLONE_NEWNS|CLONE_NEWUTS)");
        let Some(Pending::Say { call, topic }) = entry(libc::SYS_sethostname, [0x1000, 4, 0, 0, 0, 0], &mem, &none)
        else {
            panic!()
        };
        assert_eq!((call.as_str(), topic), ("sethostname(\"web1\", 4)", Topic::Ns(Ns::Uts)));
    }

    #[test]
    fn a_mount_says_its_five_arguments() {
        let mem = Bytes::default()
            .at(0x1000, &cstr("tmpfs"))
            .at(0x2000, &cstr("/mnt"))
            .at(0x3000, &cstr("tmpfs"))
            .at(0x4000, &cstr("size=1m"));
        let Some(Pending::Say { call, .. }) =
            entry(libc::SYS_mount, [0x1000, 0x2000, 0x3000, 0, 0x4000, 0], &mem, &Fds::new())
        else {
            panic!()
        };
        assert_eq!(call, r#"mount("tmpfs", "/mnt", "tmpfs", 0, "size=1m")"#);
    }

    #[test]
    fn escape_sequences_the_student_types_are_shown_not_sent() {
        let mem = Bytes::default().at(0x1000, b"\x1b]0;pwned\x07");
        let Some(Pending::Say { call, .. }) = entry(libc::SYS_sethostname, [0x1000, 10, 0, 0, 0, 0], &mem, &Fds::new())
        else {
            panic!()
        };
        assert!(!call.contains('\x1b') && !call.contains('\x07'), "{call:?}");
        assert!(call.contains("\\u{1b}"), "{call}");
    }

    #[test]
    fn execve_keeps_argv_and_a_write_to_a_followed_file_says_its_bytes() {
        let mut mem = Bytes::default().at(0x1000, &cstr("/bin/hostname")).at(0x3000, &cstr("hostname"));
        let argv = [0x3000u64.to_le_bytes(), 0u64.to_le_bytes()].concat();
        mem = mem.at(0x2000, &argv).at(0x5000, b"30000\n");
        let Some(Pending::Exec { call, .. }) = entry(libc::SYS_execve, [0x1000, 0x2000, 0, 0, 0, 0], &mem, &Fds::new())
        else {
            panic!()
        };
        assert_eq!(call, r#"execve("/bin/hostname", ["hostname"])"#);
        let mut fds = Fds::new();
        fds.insert(1, (Watched::File { name: "cpu.cfs_quota_us".into(), kind: FileKind::Cgroup }, false));
        let Some(Pending::Say { call, .. }) = entry(libc::SYS_write, [1, 0x5000, 6, 0, 0, 0], &mem, &fds) else {
            panic!()
        };
        assert_eq!(call, r#"write(1<cpu.cfs_quota_us>, "30000\n", 6)"#);
        // The same write to a descriptor nobody follows is not narrated.
        assert_eq!(entry(libc::SYS_write, [2, 0x5000, 6, 0, 0, 0], &mem, &fds), None);
    }

    #[test]
    fn a_clone3_is_said_only_when_it_makes_a_namespace() {
        let plain = Bytes::default().at(0x1000, &(libc::SIGCHLD as u64).to_le_bytes());
        assert_eq!(entry(libc::SYS_clone3, [0x1000, 88, 0, 0, 0, 0], &plain, &Fds::new()), None);
        let newpid = Bytes::default().at(0x1000, &(libc::CLONE_NEWPID as u64 | 17).to_le_bytes());
        let Some(Pending::Say { call, .. }) = entry(libc::SYS_clone3, [0x1000, 88, 0, 0, 0, 0], &newpid, &Fds::new())
        else {
            panic!()
        };
        assert_eq!(call, "clone3({flags=CLONE_NEWPID})");
    }
}
