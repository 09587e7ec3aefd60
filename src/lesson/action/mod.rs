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
//! than in the middle of a workshop. The parser decides where each line runs: a
//! [`HostAction`] (terminal #2) or a [`SandboxAction`] (terminal #1). Adding an
//! action means one variant of one of them, one entry in [`ACTIONS`] (its name, usage,
//! example and parser) and one arm in its performer (`lab::host_actions` or `sandbox::perform`).

use serde::{Deserialize, Serialize};

pub use crate::cgroup::Controller;
pub use crate::observe::Ns;

/// Mount propagation types settable with `mount --make-*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Propagation {
    Private,
    Shared,
    Slave,
}

/// One thing a step does, sorted when the line is parsed: terminal #2's actions run in the
/// host process, terminal #1's are sent to the sandbox. The two kinds are separate types so
/// that a host action cannot reach the agent (the wire carries only [`SandboxAction`]s, see
/// `sandbox::rpc`), rather than being refused there at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Host(HostAction),
    Sandbox(SandboxAction),
    /// Perform the inner action; a failure is recorded but does not stop the step.
    Try(Box<Action>),
}

/// What terminal #2 does: the host's shell, the session's cgroup, the sandbox's id maps.
/// Deliberately not serializable: it never travels to the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostAction {
    /// Run a real shell command on the host (terminal #2).
    Sh(String),
    /// Create the session's cgroup with these controllers (host side: `cgcreate`).
    CgroupCreate(Vec<Controller>),
    /// Set a limit: `cpu 30%`, `memory 32M`, `pids 16` (host side: `cgset`).
    CgroupLimit { controller: Controller, value: u64 },
    /// Move the sandbox agent into the session's cgroup (`cgexec` / `echo PID > cgroup.procs`).
    CgroupJoin,
    /// Write uid_map and gid_map (and setgroups deny) for the sandbox, from the host:
    /// `map-ids INSIDE OUTSIDE COUNT`.
    MapIds { inside: u32, outside: u32, count: u32 },
    /// `ip link add NAME type veth peer name PEER`, on the host (recorded first; removed on
    /// every exit path).
    VethAdd { name: String, peer: String },
    /// `ip link set NAME netns $PID name NEW_NAME`: a host interface this session made moves
    /// into the sandbox's network namespace.
    VethMove { name: String, new_name: String },
    /// `ip link del NAME` (a veth's peer goes with it).
    VethDelete(String),
    /// `ip link set IFACE up` on the host, for an interface this session made.
    HostLinkUp(String),
    /// `ip addr add ADDR/PREFIX dev IFACE` on the host, for an interface this session made,
    /// from a documentation range only.
    HostAddrAdd { cidr: String, iface: String },
    /// The host fetches `http://ADDR:PORT/PATH` over an interface this session made (bound to
    /// it: nothing leaves the machine), like `curl` in terminal #2.
    Fetch(String),
}

/// What terminal #1 does. Paths may hold `$WORK` and `$ROOTFS`, expanded by the host just
/// before the action is sent to the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SandboxAction {
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
    /// Run a CPU burner in the sandbox for `secs` seconds while the host meters it like `top`.
    Burn {
        secs: u32,
        /// Use `stress -c 1` (as the deck does) when the sandbox has it, else nsdojo's own loop.
        stress: bool,
    },
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
    /// `ip addr add ADDR/PREFIX dev IFACE` inside the sandbox.
    AddrAdd {
        cidr: String,
        iface: String,
    },
    /// `CMD &` in terminal #1: a program that keeps running (a server) until the sandbox ends.
    Spawn(String),
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
}

impl From<HostAction> for Action {
    fn from(a: HostAction) -> Action {
        Action::Host(a)
    }
}

impl From<SandboxAction> for Action {
    fn from(a: SandboxAction) -> Action {
        Action::Sandbox(a)
    }
}

impl Action {
    /// The same action with `$WORK`/`$ROOTFS` (and any other `$NAME` in `vars`) expanded.
    pub fn expand(&self, vars: &[(&str, &str)]) -> Action {
        match self {
            Action::Host(h) => Action::Host(h.expand(vars)),
            Action::Sandbox(s) => Action::Sandbox(s.expand(vars)),
            Action::Try(a) => Action::Try(Box::new(a.expand(vars))),
        }
    }

    /// Whether this action runs on the host rather than in the sandbox.
    pub fn is_host(&self) -> bool {
        self.host().is_some()
    }

    /// The host action, under any `try`.
    pub fn host(&self) -> Option<&HostAction> {
        match self {
            Action::Host(h) => Some(h),
            Action::Sandbox(_) => None,
            Action::Try(a) => a.host(),
        }
    }

    /// The sandbox action, under any `try`.
    pub fn sandbox(&self) -> Option<&SandboxAction> {
        match self {
            Action::Sandbox(s) => Some(s),
            Action::Host(_) => None,
            Action::Try(a) => a.sandbox(),
        }
    }

    /// Written under `try`: its failure does not stop the step.
    pub fn is_try(&self) -> bool {
        matches!(self, Action::Try(_))
    }
}

impl HostAction {
    fn expand(&self, vars: &[(&str, &str)]) -> HostAction {
        use HostAction as H;
        let x = |s: &String| expand_vars(s, vars);
        match self {
            H::Sh(c) => H::Sh(x(c)),
            H::VethAdd { name, peer } => H::VethAdd { name: x(name), peer: x(peer) },
            H::VethMove { name, new_name } => H::VethMove { name: x(name), new_name: x(new_name) },
            H::VethDelete(n) => H::VethDelete(x(n)),
            H::HostLinkUp(n) => H::HostLinkUp(x(n)),
            H::HostAddrAdd { cidr, iface } => H::HostAddrAdd { cidr: x(cidr), iface: x(iface) },
            H::Fetch(url) => H::Fetch(x(url)),
            other => other.clone(),
        }
    }
}

impl SandboxAction {
    /// Whether it runs a program (`sh`, `exec-as`, `copy`, `burn`, `hog`, `forks`, `spawn`):
    /// those are not behind the kernel seam (they are not what is taught), so a test without
    /// root answers them from a script instead.
    pub fn runs_a_program(&self) -> bool {
        matches!(
            self,
            SandboxAction::Sh(_)
                | SandboxAction::CopyTree { .. }
                | SandboxAction::ExecAs { .. }
                | SandboxAction::Burn { .. }
                | SandboxAction::Hog { .. }
                | SandboxAction::Forks { .. }
                | SandboxAction::Spawn(_)
        )
    }

    /// The same action with `$NAME`s expanded.
    pub fn expand(&self, vars: &[(&str, &str)]) -> SandboxAction {
        use SandboxAction as S;
        let x = |s: &String| expand_vars(s, vars);
        match self {
            S::Mkdir(p) => S::Mkdir(x(p)),
            S::Rmdir(p) => S::Rmdir(x(p)),
            S::MountTmpfs { target, options } => S::MountTmpfs { target: x(target), options: options.as_ref().map(x) },
            S::MountProc { target } => S::MountProc { target: x(target) },
            S::MountBind { source, target, recursive } => {
                S::MountBind { source: x(source), target: x(target), recursive: *recursive }
            }
            S::Umount { target, lazy } => S::Umount { target: x(target), lazy: *lazy },
            S::MakePropagation { target, kind, recursive } => {
                S::MakePropagation { target: x(target), kind: *kind, recursive: *recursive }
            }
            S::Sethostname(h) => S::Sethostname(x(h)),
            S::Chroot(p) => S::Chroot(x(p)),
            S::Chdir(p) => S::Chdir(x(p)),
            S::PivotRoot { new_root, put_old } => S::PivotRoot { new_root: x(new_root), put_old: x(put_old) },
            S::Write { path, text } => S::Write { path: x(path), text: x(text) },
            S::Sh(c) => S::Sh(x(c)),
            S::LinkUp(i) => S::LinkUp(x(i)),
            S::CopyTree { src, dst } => S::CopyTree { src: x(src), dst: x(dst) },
            S::ExecAs { argv0, path } => S::ExecAs { argv0: x(argv0), path: x(path) },
            S::NetnsAdd(n) => S::NetnsAdd(x(n)),
            S::NetnsDelete(n) => S::NetnsDelete(x(n)),
            S::AddrAdd { cidr, iface } => S::AddrAdd { cidr: x(cidr), iface: x(iface) },
            S::Spawn(c) => S::Spawn(x(c)),
            other => other.clone(),
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

mod grammar;
mod parse;
pub use grammar::{action_names, ActionSpec, ACTIONS};
pub use parse::{cidr, http_url, is_documentation_net, parse_action, ParseError};
