//! The action language: what a step does, one line per action.
//!
//! ```text
//! unshare mnt uts          mkdir $WORK/mount_ns       mount tmpfs $WORK/mount_ns size=1m
//! mount proc /proc         mount bind SRC DST         umount -l /old-root
//! make-rprivate /          sethostname container-test chroot $ROOTFS
//! chdir /                  pivot_root . old-root      try pivot_root . old-root
//! msgget                   sh ls /                     host sh mount | grep mount_ns
//! ```
//!
//! Lessons are data, so these lines are parsed (with `nom`) when the lesson
//! is loaded, and a mistake is reported at its file, line and column rather
//! than in the middle of a workshop. Adding an action means one variant, one
//! arm in [`parse_action`] and one arm in the sandbox's performer.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A namespace type, as `unshare(1)` and `/proc/PID/ns/` name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Ns {
    Mnt,
    Uts,
    Ipc,
    Pid,
    Net,
    User,
    Cgroup,
    Time,
}

impl Ns {
    pub const ALL: [Ns; 8] = [Ns::Mnt, Ns::Uts, Ns::Ipc, Ns::Pid, Ns::Net, Ns::User, Ns::Cgroup, Ns::Time];

    pub fn name(self) -> &'static str {
        match self {
            Ns::Mnt => "mnt",
            Ns::Uts => "uts",
            Ns::Ipc => "ipc",
            Ns::Pid => "pid",
            Ns::Net => "net",
            Ns::User => "user",
            Ns::Cgroup => "cgroup",
            Ns::Time => "time",
        }
    }

    pub fn parse(s: &str) -> Option<Ns> {
        Ns::ALL.into_iter().find(|n| n.name() == s)
    }
}

impl fmt::Display for Ns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Mount propagation types settable with `mount --make-*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Propagation {
    Private,
    Shared,
    Slave,
}

/// One thing a step does. Paths may hold `$WORK` and `$ROOTFS`, expanded by
/// the host just before the action is sent to the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    Unshare(Vec<Ns>),
    Mkdir(String),
    Rmdir(String),
    MountTmpfs {
        target: String,
        options: Option<String>,
    },
    MountProc {
        target: String,
    },
    MountBind {
        source: String,
        target: String,
        recursive: bool,
    },
    Umount {
        target: String,
        lazy: bool,
    },
    MakePropagation {
        target: String,
        kind: Propagation,
        recursive: bool,
    },
    Sethostname(String),
    Chroot(String),
    Chdir(String),
    PivotRoot {
        new_root: String,
        put_old: String,
    },
    /// Create a SysV message queue (what `ipcmk -Q` does).
    Msgget,
    /// Write a file inside the sandbox (`echo TEXT > PATH`).
    Write {
        path: String,
        text: String,
    },
    /// Run a real shell command inside the sandbox.
    Sh(String),
    /// Run a real shell command on the host (terminal #2).
    HostSh(String),
    /// Create the session's cgroup with these controllers (host side: `cgcreate`).
    CgroupCreate(Vec<String>),
    /// Set a limit: `cpu 30%`, `memory 32M`, `pids 16` (host side: `cgset`).
    CgroupLimit {
        controller: String,
        value: u64,
    },
    /// Move the sandbox agent into the session's cgroup (`cgexec` / `echo PID > cgroup.procs`).
    CgroupJoin,
    /// Run a CPU burner in the sandbox for `secs` seconds while the host meters it like `top`.
    Burn {
        secs: u32,
        /// Use `stress -c 1` (as the deck does) when the sandbox has it, else nsdojo's own loop.
        stress: bool,
    },
    /// Stop the burner (internal: sent by the host after metering).
    BurnStop,
    /// A child in the sandbox allocates and touches this many bytes (memory limit demo).
    Hog {
        bytes: u64,
    },
    /// The sandbox tries to start this many processes at once (pids limit demo).
    Forks {
        count: u32,
    },
    /// Bring a network interface up (`ip link set lo up`).
    LinkUp(String),
    /// A named network namespace, as `ip netns add` makes it: a new net namespace bind-mounted
    /// on /run/netns/NAME (the host records it first; `netns delete` or cleanup removes it).
    NetnsAdd(String),
    NetnsDelete(String),
    /// `ip link add NAME type veth peer name PEER`, on the host (recorded first; removed on
    /// every exit path).
    VethAdd {
        name: String,
        peer: String,
    },
    /// `ip link set NAME netns $PID name NEW_NAME`: a host interface this session made moves
    /// into the sandbox's network namespace.
    VethMove {
        name: String,
        new_name: String,
    },
    /// `ip link del NAME` (a veth's peer goes with it).
    VethDelete(String),
    /// `ip link set IFACE up` on the host, for an interface this session made.
    HostLinkUp(String),
    /// `ip addr add ADDR/PREFIX dev IFACE` on the host, for an interface this session made,
    /// from a documentation range only.
    HostAddrAdd {
        cidr: String,
        iface: String,
    },
    /// `ip addr add ADDR/PREFIX dev IFACE` inside the sandbox.
    AddrAdd {
        cidr: String,
        iface: String,
    },
    /// `CMD &` in terminal #1: a program that keeps running (a server) until the sandbox ends.
    Spawn(String),
    /// The host fetches `http://ADDR:PORT/PATH` over an interface this session made (bound to
    /// it: nothing leaves the machine), like `curl` in terminal #2.
    Fetch(String),
    /// Write uid_map and gid_map (and setgroups deny) for the sandbox, from the host:
    /// `map-ids INSIDE OUTSIDE COUNT`.
    MapIds {
        inside: u32,
        outside: u32,
        count: u32,
    },
    /// Copy a directory tree with plain syscalls (`cp -a SRC/. DST`), e.g. the rootfs into a tmpfs.
    CopyTree {
        src: String,
        dst: String,
    },
    /// Run PATH with this argv[0] and no other argument, stdin empty: what `execl(PATH, ARGV0, NULL)` does.
    ExecAs {
        argv0: String,
        path: String,
    },
    /// Drop to an unprivileged user, as `setpriv --reuid=N --regid=N --clear-groups` does.
    Setuid(u32),
    /// Drop capabilities (by number) from the bounding set and the effective, permitted and
    /// inheritable sets, as `capsh --drop=…` does: `drop-caps sys_admin mknod`.
    DropCaps(Vec<u8>),
    /// `prctl(PR_SET_NO_NEW_PRIVS)`: no exec can gain privileges any more (setuid bits, file caps).
    NoNewPrivs,
    /// Perform the inner action; a failure is recorded but does not stop the step.
    Try(Box<Action>),
}

impl Action {
    /// The same action with `$WORK`/`$ROOTFS` (and any other `$NAME` in `vars`) expanded.
    pub fn expand(&self, vars: &[(&str, &str)]) -> Action {
        let x = |s: &String| expand_vars(s, vars);
        match self {
            Action::Unshare(n) => Action::Unshare(n.clone()),
            Action::Mkdir(p) => Action::Mkdir(x(p)),
            Action::Rmdir(p) => Action::Rmdir(x(p)),
            Action::MountTmpfs { target, options } => {
                Action::MountTmpfs { target: x(target), options: options.as_ref().map(x) }
            }
            Action::MountProc { target } => Action::MountProc { target: x(target) },
            Action::MountBind { source, target, recursive } => {
                Action::MountBind { source: x(source), target: x(target), recursive: *recursive }
            }
            Action::Umount { target, lazy } => Action::Umount { target: x(target), lazy: *lazy },
            Action::MakePropagation { target, kind, recursive } => {
                Action::MakePropagation { target: x(target), kind: *kind, recursive: *recursive }
            }
            Action::Sethostname(h) => Action::Sethostname(x(h)),
            Action::Chroot(p) => Action::Chroot(x(p)),
            Action::Chdir(p) => Action::Chdir(x(p)),
            Action::PivotRoot { new_root, put_old } => Action::PivotRoot { new_root: x(new_root), put_old: x(put_old) },
            Action::Msgget => Action::Msgget,
            Action::Write { path, text } => Action::Write { path: x(path), text: x(text) },
            Action::Sh(c) => Action::Sh(x(c)),
            Action::HostSh(c) => Action::HostSh(x(c)),
            Action::Try(a) => Action::Try(Box::new(a.expand(vars))),
            Action::LinkUp(i) => Action::LinkUp(x(i)),
            Action::CopyTree { src, dst } => Action::CopyTree { src: x(src), dst: x(dst) },
            Action::ExecAs { argv0, path } => Action::ExecAs { argv0: x(argv0), path: x(path) },
            Action::NetnsAdd(n) => Action::NetnsAdd(x(n)),
            Action::NetnsDelete(n) => Action::NetnsDelete(x(n)),
            Action::VethAdd { name, peer } => Action::VethAdd { name: x(name), peer: x(peer) },
            Action::VethMove { name, new_name } => Action::VethMove { name: x(name), new_name: x(new_name) },
            Action::VethDelete(n) => Action::VethDelete(x(n)),
            Action::HostLinkUp(n) => Action::HostLinkUp(x(n)),
            Action::HostAddrAdd { cidr, iface } => Action::HostAddrAdd { cidr: x(cidr), iface: x(iface) },
            Action::AddrAdd { cidr, iface } => Action::AddrAdd { cidr: x(cidr), iface: x(iface) },
            Action::Fetch(url) => Action::Fetch(x(url)),
            Action::Spawn(c) => Action::Spawn(x(c)),
            other => other.clone(),
        }
    }

    /// Whether this action runs on the host rather than in the sandbox.
    pub fn is_host(&self) -> bool {
        match self {
            Action::HostSh(_)
            | Action::CgroupCreate(_)
            | Action::CgroupLimit { .. }
            | Action::CgroupJoin
            | Action::MapIds { .. }
            | Action::VethAdd { .. }
            | Action::VethMove { .. }
            | Action::VethDelete(_)
            | Action::HostLinkUp(_)
            | Action::HostAddrAdd { .. }
            | Action::Fetch(_) => true,
            Action::Try(a) => a.is_host(),
            _ => false,
        }
    }
}

/// Replace `$NAME` for each `(NAME, value)`; unknown names are left alone.
pub fn expand_vars(s: &str, vars: &[(&str, &str)]) -> String {
    let mut out = s.to_string();
    // Longest names first so `$ROOTFS_X` is not cut by `$ROOTFS`.
    let mut sorted: Vec<_> = vars.to_vec();
    sorted.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    for (k, v) in sorted {
        out = out.replace(&format!("${k}"), v);
    }
    out
}

mod parse;
pub use parse::{cidr, http_url, is_documentation_net, parse_action, ParseError, ACTION_NAMES};
