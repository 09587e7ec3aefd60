//! The kernel seam: every system call the lessons teach, behind one trait.
//!
//! The teaching is in what nsdojo asks of the kernel (which calls, in which order, with which
//! arguments) and in what it says when the kernel refuses (EINVAL from pivot_root under shared
//! propagation, EBUSY when new_root is not a mount point). [`LinuxKernel`] makes the calls, in
//! the agent only; the `RecordingKernel` of the unit tests (`sandbox::recording`) writes them
//! down and fails those it is told to, so that teaching is tested as an ordinary user without
//! one real mount. Both print a call through [`Call`]'s `Display`, strace's format, so a test
//! reads the very trace a student reads. The idea is youki's `Syscall` trait (libcontainer).
//!
//! A method makes one call (two for `link_up`, whose socket is not shown) and appends its line
//! to the trace; what the lab learnt about a failure (the notes) is added by the caller, in
//! `perform`, `netdev` and `caps`, where it is tested against this seam.

use std::fmt;
use std::os::fd::AsRawFd;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::unistd::{ForkResult, Pid};

use crate::lesson::Ns;
use crate::observe::cap_names::cap_constant;
use crate::process::ForkError;
use crate::trace::{quote, Syscall, Trace};

/// The clone(2)/unshare(2)/setns(2) flag of a namespace type, and its name for the trace.
pub fn clone_flag(ns: Ns) -> (CloneFlags, &'static str) {
    match ns {
        Ns::Mnt => (CloneFlags::CLONE_NEWNS, "CLONE_NEWNS"),
        Ns::Uts => (CloneFlags::CLONE_NEWUTS, "CLONE_NEWUTS"),
        Ns::Ipc => (CloneFlags::CLONE_NEWIPC, "CLONE_NEWIPC"),
        Ns::Pid => (CloneFlags::CLONE_NEWPID, "CLONE_NEWPID"),
        Ns::Net => (CloneFlags::CLONE_NEWNET, "CLONE_NEWNET"),
        Ns::User => (CloneFlags::CLONE_NEWUSER, "CLONE_NEWUSER"),
        Ns::Cgroup => (CloneFlags::CLONE_NEWCGROUP, "CLONE_NEWCGROUP"),
        Ns::Time => (CloneFlags::from_bits_retain(libc::CLONE_NEWTIME), "CLONE_NEWTIME"),
    }
}

/// The arguments of mount(2), as the lessons use it (no `data` but tmpfs options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    pub source: Option<String>,
    pub target: String,
    pub fstype: Option<String>,
    pub flags: MsFlags,
    pub data: Option<String>,
}

/// One call with its arguments: what a trace line shows and what a test looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Call {
    Unshare(Vec<Ns>),
    Mount(Mount),
    Umount2 {
        target: String,
        lazy: bool,
    },
    PivotRoot {
        new_root: String,
        put_old: String,
    },
    Chroot(String),
    Chdir(String),
    Sethostname(String),
    /// Always mode 0755, as `mkdir(1)` under umask 022.
    Mkdir(String),
    Rmdir(String),
    /// `open(O_CREAT|O_EXCL)`: a new empty file, or EEXIST.
    CreateExcl(String),
    Unlink(String),
    /// open + write(2) of the whole text (an id map, a file in the sandbox).
    Write {
        path: String,
        text: String,
    },
    Msgget,
    /// `setgroups(0, [])`: no supplementary groups.
    Setgroups,
    Setresgid(u32),
    Setresuid(u32),
    CapbsetDrop(u8),
    Capget,
    /// capset(2) with these capabilities cleared from the effective, permitted and inheritable sets.
    Capset {
        without: Vec<u8>,
    },
    NoNewPrivs,
    IfGetFlags {
        fd: i32,
        name: String,
    },
    IfSetUp {
        fd: i32,
        name: String,
    },
    /// RTM_NEWADDR over rtnetlink (`ip addr add ADDR/PREFIX dev IFACE`).
    AddrAdd {
        iface: String,
        addr: std::net::Ipv4Addr,
        prefix: u8,
    },
    Fork,
}

fn mount_flags_text(f: MsFlags) -> String {
    let names = [
        (MsFlags::MS_BIND, "MS_BIND"),
        (MsFlags::MS_REC, "MS_REC"),
        (MsFlags::MS_PRIVATE, "MS_PRIVATE"),
        (MsFlags::MS_SHARED, "MS_SHARED"),
        (MsFlags::MS_SLAVE, "MS_SLAVE"),
    ];
    let set: Vec<&str> = names.iter().filter(|(b, _)| f.contains(*b)).map(|(_, n)| *n).collect();
    if set.is_empty() {
        "0".into()
    } else {
        set.join("|")
    }
}

fn opt_quote(s: Option<&str>) -> String {
    s.map(quote).unwrap_or_else(|| "NULL".into())
}

/// As strace prints the call (without ` = result`, which [`Syscall`] adds).
impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Call::Unshare(set) => {
                let names: Vec<&str> = set.iter().map(|n| clone_flag(*n).1).collect();
                write!(f, "unshare({})", names.join("|"))
            }
            Call::Mount(m) => write!(
                f,
                "mount({}, {}, {}, {}, {})",
                opt_quote(m.source.as_deref()),
                quote(&m.target),
                opt_quote(m.fstype.as_deref()),
                mount_flags_text(m.flags),
                opt_quote(m.data.as_deref())
            ),
            Call::Umount2 { target, lazy } => {
                write!(f, "umount2({}, {})", quote(target), if *lazy { "MNT_DETACH" } else { "0" })
            }
            Call::PivotRoot { new_root, put_old } => write!(f, "pivot_root({}, {})", quote(new_root), quote(put_old)),
            Call::Chroot(p) => write!(f, "chroot({})", quote(p)),
            Call::Chdir(p) => write!(f, "chdir({})", quote(p)),
            Call::Sethostname(h) => write!(f, "sethostname({}, {})", quote(h), h.len()),
            Call::Mkdir(p) => write!(f, "mkdir({}, 0755)", quote(p)),
            Call::Rmdir(p) => write!(f, "rmdir({})", quote(p)),
            // (The trailing space is what the traces have always shown; tests compare them.)
            Call::CreateExcl(p) => write!(f, "openat(AT_FDCWD, {}, O_RDONLY|O_CREAT|O_EXCL, 0) ", quote(p)),
            Call::Unlink(p) => write!(f, "unlink({})", quote(p)),
            Call::Write { path, text } => write!(f, "write({}, {})", quote(path), quote(text)),
            Call::Msgget => f.write_str("msgget(IPC_PRIVATE, IPC_CREAT|0644)"),
            Call::Setgroups => f.write_str("setgroups(0, [])"),
            Call::Setresgid(id) => write!(f, "setresgid({id}, {id}, {id})"),
            Call::Setresuid(id) => write!(f, "setresuid({id}, {id}, {id})"),
            Call::CapbsetDrop(c) => write!(f, "prctl(PR_CAPBSET_DROP, {})", cap_constant(*c)),
            Call::Capget => f.write_str("capget({_LINUX_CAPABILITY_VERSION_3, 0}, …)"),
            Call::Capset { without } => {
                let names: Vec<String> = without.iter().map(|c| cap_constant(*c)).collect();
                write!(
                    f,
                    "capset({{_LINUX_CAPABILITY_VERSION_3, 0}}, {{effective, permitted, inheritable without {}}})",
                    names.join(", ")
                )
            }
            Call::NoNewPrivs => f.write_str("prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)"),
            Call::IfGetFlags { fd, name } => write!(f, "ioctl({fd}, SIOCGIFFLAGS, {{ifr_name={}}})", quote(name)),
            Call::IfSetUp { fd, name } => {
                write!(f, "ioctl({fd}, SIOCSIFFLAGS, {{ifr_name={}, ifr_flags|=IFF_UP}})", quote(name))
            }
            // (As `netlink::add_address` words it; a test holds the two together.)
            Call::AddrAdd { iface, addr, prefix } => write!(
                f,
                "sendmsg(NETLINK_ROUTE, RTM_NEWADDR {{ifa_prefixlen={prefix}, ifa_index=if_nametoindex({}), IFA_LOCAL={addr}, IFA_ADDRESS={addr}}}, NLM_F_CREATE|NLM_F_EXCL)",
                quote(iface)
            ),
            Call::Fork => f.write_str("fork()"),
        }
    }
}

/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// One 32-bit word of each capability set, as capget(2) fills it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CapData {
    pub effective: u32,
    pub permitted: u32,
    pub inheritable: u32,
}

/// This process's capability sets (version 3: capabilities 0-63).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CapSets(pub [CapData; 2]);

impl CapSets {
    /// Clear `caps` from the effective, permitted and inheritable sets.
    pub(crate) fn without(mut self, caps: &[u8]) -> CapSets {
        for &c in caps {
            let (word, bit) = (usize::from(c / 32), 1u32 << (c % 32));
            if let Some(d) = self.0.get_mut(word) {
                d.effective &= !bit;
                d.permitted &= !bit;
                d.inheritable &= !bit;
            }
        }
        self
    }
}

/// Why `link_up` failed, in the words the trace's last line explains.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LinkError {
    #[error("socket: {0}")]
    Socket(Errno),
    #[error("no interface {name}: {}", .errno.desc())]
    NoInterface { name: String, errno: Errno },
    #[error("link-up {name}: {}", .errno.desc())]
    SetFlags { name: String, errno: Errno },
}

/// The calls the sandbox makes for the lessons. Each method makes its call and appends the
/// strace line to `t` (the failed call too), then returns what the kernel said.
pub(crate) trait Kernel {
    fn unshare(&mut self, set: &[Ns], t: &mut Trace) -> Result<(), Errno>;
    fn mount(&mut self, m: &Mount, t: &mut Trace) -> Result<(), Errno>;
    fn umount2(&mut self, target: &str, lazy: bool, t: &mut Trace) -> Result<(), Errno>;
    fn pivot_root(&mut self, new_root: &str, put_old: &str, t: &mut Trace) -> Result<(), Errno>;
    fn chroot(&mut self, path: &str, t: &mut Trace) -> Result<(), Errno>;
    fn chdir(&mut self, path: &str, t: &mut Trace) -> Result<(), Errno>;
    fn sethostname(&mut self, name: &str, t: &mut Trace) -> Result<(), Errno>;
    fn mkdir(&mut self, path: &str, t: &mut Trace) -> Result<(), Errno>;
    fn rmdir(&mut self, path: &str, t: &mut Trace) -> Result<(), Errno>;
    fn create_excl(&mut self, path: &str, t: &mut Trace) -> Result<(), Errno>;
    fn unlink(&mut self, path: &str, t: &mut Trace) -> Result<(), Errno>;
    fn write_file(&mut self, path: &str, text: &str, t: &mut Trace) -> Result<(), Errno>;
    /// A new SysV message queue; its id.
    fn msgget(&mut self, t: &mut Trace) -> Result<i32, Errno>;
    fn setgroups_none(&mut self, t: &mut Trace) -> Result<(), Errno>;
    fn setresgid(&mut self, id: u32, t: &mut Trace) -> Result<(), Errno>;
    fn setresuid(&mut self, id: u32, t: &mut Trace) -> Result<(), Errno>;
    /// PR_SET_PDEATHSIG again, which a change of credentials clears (not shown: not taught).
    fn die_with_parent(&mut self) -> std::io::Result<()>;
    fn capbset_drop(&mut self, cap: u8, t: &mut Trace) -> Result<(), Errno>;
    fn capget(&mut self, t: &mut Trace) -> Result<CapSets, Errno>;
    /// Set `sets`, which are the current ones `without` some capabilities (named in the trace).
    fn capset(&mut self, sets: &CapSets, without: &[u8], t: &mut Trace) -> Result<(), Errno>;
    fn no_new_privs(&mut self, t: &mut Trace) -> Result<(), Errno>;
    /// SIOCGIFFLAGS, set IFF_UP, SIOCSIFFLAGS on an AF_INET datagram socket (`ip link set up`).
    fn link_up(&mut self, name: &str, t: &mut Trace) -> Result<(), LinkError>;
    fn add_address(&mut self, iface: &str, addr: std::net::Ipv4Addr, prefix: u8, t: &mut Trace) -> Result<(), Errno>;
    /// Fork after `unshare pid`: `Some(child)` in the parent; `None` in the child, which is
    /// now set up as the agent (PID 1 of the new namespace).
    fn fork_agent(&mut self, t: &mut Trace) -> Result<Option<Pid>, ForkError>;
    /// Not root and no effective capability: the kernel itself refuses what needs one.
    fn powerless(&mut self) -> bool;
    /// In AppArmor's unprivileged_userns profile: every capability is refused at the call,
    /// whatever CapEff lists (observe::apparmor).
    fn apparmor_restricted(&mut self) -> bool;
}

/// The real kernel: what the agent uses. Nothing else in nsdojo implements [`Kernel`] at run time.
pub(crate) struct LinuxKernel;

/// Append the call's line and pass its result through.
fn shown<T>(t: &mut Trace, call: Call, res: Result<T, Errno>) -> Result<T, Errno> {
    t.record(call.to_string(), res)
}

fn errno_of(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

fn zero_is_ok(r: libc::c_long) -> Result<(), Errno> {
    if r == 0 {
        Ok(())
    } else {
        Err(Errno::last())
    }
}

impl Kernel for LinuxKernel {
    fn unshare(&mut self, set: &[Ns], t: &mut Trace) -> Result<(), Errno> {
        let flags = set.iter().fold(CloneFlags::empty(), |f, ns| f | clone_flag(*ns).0);
        shown(t, Call::Unshare(set.to_vec()), nix::sched::unshare(flags))
    }

    fn mount(&mut self, m: &Mount, t: &mut Trace) -> Result<(), Errno> {
        let res =
            nix::mount::mount(m.source.as_deref(), m.target.as_str(), m.fstype.as_deref(), m.flags, m.data.as_deref());
        shown(t, Call::Mount(m.clone()), res)
    }

    fn umount2(&mut self, target: &str, lazy: bool, t: &mut Trace) -> Result<(), Errno> {
        let flags = if lazy { MntFlags::MNT_DETACH } else { MntFlags::empty() };
        shown(t, Call::Umount2 { target: target.into(), lazy }, nix::mount::umount2(target, flags))
    }

    fn pivot_root(&mut self, new_root: &str, put_old: &str, t: &mut Trace) -> Result<(), Errno> {
        let call = Call::PivotRoot { new_root: new_root.into(), put_old: put_old.into() };
        shown(t, call, nix::unistd::pivot_root(new_root, put_old))
    }

    fn chroot(&mut self, path: &str, t: &mut Trace) -> Result<(), Errno> {
        shown(t, Call::Chroot(path.into()), nix::unistd::chroot(path))
    }

    fn chdir(&mut self, path: &str, t: &mut Trace) -> Result<(), Errno> {
        shown(t, Call::Chdir(path.into()), nix::unistd::chdir(path))
    }

    fn sethostname(&mut self, name: &str, t: &mut Trace) -> Result<(), Errno> {
        shown(t, Call::Sethostname(name.into()), nix::unistd::sethostname(name))
    }

    fn mkdir(&mut self, path: &str, t: &mut Trace) -> Result<(), Errno> {
        let res = nix::unistd::mkdir(path, nix::sys::stat::Mode::from_bits_truncate(0o755));
        shown(t, Call::Mkdir(path.into()), res)
    }

    fn rmdir(&mut self, path: &str, t: &mut Trace) -> Result<(), Errno> {
        shown(t, Call::Rmdir(path.into()), std::fs::remove_dir(path).map_err(errno_of))
    }

    fn create_excl(&mut self, path: &str, t: &mut Trace) -> Result<(), Errno> {
        let res = std::fs::OpenOptions::new().write(true).create_new(true).open(path).map(drop).map_err(errno_of);
        shown(t, Call::CreateExcl(path.into()), res)
    }

    fn unlink(&mut self, path: &str, t: &mut Trace) -> Result<(), Errno> {
        shown(t, Call::Unlink(path.into()), std::fs::remove_file(path).map_err(errno_of))
    }

    fn write_file(&mut self, path: &str, text: &str, t: &mut Trace) -> Result<(), Errno> {
        use std::io::Write;
        // `echo TEXT > PATH`: creates and truncates an ordinary file; kernel files (id maps,
        // cgroupfs, sysctls) are only opened, as the shell's O_TRUNC means nothing to them.
        let ordinary = !["/proc/", "/sys/"].iter().any(|k| path.starts_with(k));
        let res = std::fs::OpenOptions::new()
            .write(true)
            .create(ordinary)
            .truncate(ordinary)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(errno_of);
        t.push(Syscall::from_result(
            Call::Write { path: path.into(), text: text.into() }.to_string(),
            &res,
            text.len() as i64,
        ));
        res
    }

    fn msgget(&mut self, t: &mut Trace) -> Result<i32, Errno> {
        // SAFETY: msgget takes plain integers.
        let id = unsafe { libc::msgget(libc::IPC_PRIVATE, libc::IPC_CREAT | 0o644) };
        let res = if id < 0 { Err(Errno::last()) } else { Ok(id) };
        t.push(Syscall::from_result(Call::Msgget.to_string(), &res, id.into()));
        res
    }

    fn setgroups_none(&mut self, t: &mut Trace) -> Result<(), Errno> {
        shown(t, Call::Setgroups, nix::unistd::setgroups(&[]))
    }

    fn setresgid(&mut self, id: u32, t: &mut Trace) -> Result<(), Errno> {
        let g = nix::unistd::Gid::from_raw(id);
        shown(t, Call::Setresgid(id), nix::unistd::setresgid(g, g, g))
    }

    fn setresuid(&mut self, id: u32, t: &mut Trace) -> Result<(), Errno> {
        let u = nix::unistd::Uid::from_raw(id);
        shown(t, Call::Setresuid(id), nix::unistd::setresuid(u, u, u))
    }

    fn die_with_parent(&mut self) -> std::io::Result<()> {
        crate::process::die_with_parent()
    }

    fn capbset_drop(&mut self, cap: u8, t: &mut Trace) -> Result<(), Errno> {
        // SAFETY: prctl with plain integers.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) };
        shown(t, Call::CapbsetDrop(cap), zero_is_ok(r.into()))
    }

    fn capget(&mut self, t: &mut Trace) -> Result<CapSets, Errno> {
        let mut header = CapHeader { version: VERSION_3, pid: 0 };
        let mut sets = CapSets::default();
        // SAFETY: capget fills two CapData structs we own, as version 3 asks.
        let r = unsafe { libc::syscall(libc::SYS_capget, &mut header as *mut CapHeader, sets.0.as_mut_ptr()) };
        shown(t, Call::Capget, zero_is_ok(r).map(|_| sets))
    }

    fn capset(&mut self, sets: &CapSets, without: &[u8], t: &mut Trace) -> Result<(), Errno> {
        let mut header = CapHeader { version: VERSION_3, pid: 0 };
        // SAFETY: capset reads the header and two CapData structs we own.
        let r = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut CapHeader, sets.0.as_ptr()) };
        shown(t, Call::Capset { without: without.to_vec() }, zero_is_ok(r))
    }

    fn no_new_privs(&mut self, t: &mut Trace) -> Result<(), Errno> {
        // SAFETY: prctl with plain integers.
        let r = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
        shown(t, Call::NoNewPrivs, zero_is_ok(r.into()))
    }

    fn link_up(&mut self, name: &str, t: &mut Trace) -> Result<(), LinkError> {
        use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
        let sock =
            socket(AddressFamily::Inet, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None).map_err(LinkError::Socket)?;
        let fd = sock.as_raw_fd();
        let named = |errno| (name.to_string(), errno);
        // SAFETY: ifreq is plain data; the caller checked that the name fits (IFNAMSIZ), and
        // zeroing NUL-terminates it.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (i, b) in name.bytes().take(libc::IFNAMSIZ - 1).enumerate() {
            req.ifr_name[i] = b as libc::c_char;
        }
        // SAFETY: SIOCGIFFLAGS fills the ifreq we own.
        let res = zero_is_ok(unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req) }.into());
        shown(t, Call::IfGetFlags { fd, name: name.into() }, res).map_err(|e| {
            let (name, errno) = named(e);
            LinkError::NoInterface { name, errno }
        })?;
        // SAFETY: the union's flags member is the one SIOCGIFFLAGS filled.
        unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
        // SAFETY: SIOCSIFFLAGS reads the ifreq we own.
        let res = zero_is_ok(unsafe { libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &req) }.into());
        shown(t, Call::IfSetUp { fd, name: name.into() }, res).map_err(|e| {
            let (name, errno) = named(e);
            LinkError::SetFlags { name, errno }
        })
    }

    fn add_address(&mut self, iface: &str, addr: std::net::Ipv4Addr, prefix: u8, t: &mut Trace) -> Result<(), Errno> {
        // netlink words the call too (the host's side uses it alone); the same text, and one
        // place for what the sandbox shows.
        let (sc, res) = crate::netlink::add_address(iface, addr, prefix);
        t.push(Syscall { call: Call::AddrAdd { iface: iface.into(), addr, prefix }.to_string(), ..sc });
        res
    }

    fn fork_agent(&mut self, t: &mut Trace) -> Result<Option<Pid>, ForkError> {
        // The agent is single-threaded (`process::fork` checks); the child continues with
        // plain Rust code as the new agent.
        match crate::process::fork() {
            Ok(ForkResult::Parent { child }) => Ok(Some(child)),
            Ok(ForkResult::Child) => {
                super::agent::become_child_agent();
                t.push(Syscall::ok(Call::Fork.to_string(), 0));
                Ok(None)
            }
            Err(ForkError::Fork(e)) => {
                t.push(Syscall::failed(Call::Fork.to_string(), e));
                Err(ForkError::Fork(e))
            }
            Err(threaded) => Err(threaded),
        }
    }

    fn powerless(&mut self) -> bool {
        use crate::observe::procfs::{status, Proc};
        !nix::unistd::geteuid().is_root() && status(Proc::Myself).is_ok_and(|s| s.cap_eff == Some(0))
    }

    fn apparmor_restricted(&mut self) -> bool {
        crate::observe::apparmor::under_restriction("self")
    }
}
