//! Messages made far from the UI: notes under syscalls, the reason a step stopped, the
//! class sender's notes. They are made in the sandbox agent (another process: they cross
//! the socket as JSON), deep in `lab/`, `cgroup/` and `rootfs/`, where no language is
//! known, so they are data: a variant and its values. The UI renders them per language
//! (`i18n::msg`) through [`TEXTS`], a table of the catalog's form, so the Korean comes
//! from the variant and never from matching English; a reworded English text cannot
//! lose its translation.
//!
//! This module is a leaf (it names no other module of the crate), so the agent, the
//! cgroup code and the lesson layer can all make messages without a cycle. English,
//! its `Display`, is what logs, errors' own `Display` and `--record` transcripts use.

mod texts;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use texts::TEXTS;

/// An OS error as a value of a message: its code (for the Korean of the common kinds)
/// and the text the OS gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsError {
    pub code: Option<i32>,
    pub text: String,
}

impl From<&std::io::Error> for OsError {
    fn from(e: &std::io::Error) -> Self {
        OsError { code: e.raw_os_error(), text: e.to_string() }
    }
}

/// One message; `key` names its texts in [`TEXTS`], `args` gives its values in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Msg {
    NoProgram,
    Background,
    ExitedAtOnce,
    ExitStatus(i32),
    /// A command found no `tool` on this machine (exit 127): install `package`.
    MissingTool {
        tool: String,
        package: String,
    },
    StoppedByCtrlC,
    KilledAfter {
        secs: u64,
    },
    SpawnExited {
        cmd: String,
        status: i32,
    },
    VethLeavesHost,
    VethEndsTogether,
    RouteWhenUp,
    BoundToCable,
    ConnectRefused {
        times: u32,
        secs: String,
    },
    VethNotOurs(String),
    VethExists(String),
    VethNotOurPeer(String),
    VethRouted {
        net: String,
        dev: String,
    },
    VethUnreachable(String),
    VethNotDocumentation(String),
    NotUrl(String),
    RecordIface {
        name: String,
        error: OsError,
    },
    /// `CALL failed: DESC (ENAME)`.
    Failed {
        call: String,
        errno: i32,
    },
    /// `WHAT: DESC`: a call or step of nsdojo's own that the kernel refused.
    CallError {
        what: String,
        errno: i32,
    },
    /// `WHAT: TEXT`: the same with an I/O error.
    IoError {
        what: String,
        error: OsError,
    },
    HostNamespace {
        what: String,
        ns: String,
    },
    PrivatePropagation,
    CapsDropped,
    NoNewPrivs,
    Interrupted,
    MountTargetMissing(String),
    /// The student's call needs power over a namespace it still shares with the host.
    YouStillInHostNs {
        ns: String,
        flag: String,
    },
    /// The namespace was made in another user namespace than the process's own.
    YouNsOwnedElsewhere {
        ns: String,
        flag: String,
    },
    /// The student's call needs a capability the process does not have.
    YouLackCap {
        cap: String,
        uid: u32,
    },
    YouNoProgram(String),
    YouNotInstalled(String),
    YouCgroupValue,
    YouCgroupBusy,
    YouLinkExists,
    YouUserNsInChroot,
    PivotShared,
    PivotNotMountPoint,
    PivotNotDir,
    PivotMissing,
    PidNsChild,
    IdMapOnce,
    MapOnlyOnce,
    StressForks,
    BusyLoop,
    StressWorkerKilled,
    AlreadyThere,
    NetnsBindKeeps,
    NetnsDirLeft,
    NetnsAfterUnshareMnt,
    IfNameTooLong(String),
    NoInterface {
        name: String,
        errno: i32,
    },
    NotIfName(String),
    NotCidr(String),
    MemoryLocked {
        mib: u64,
    },
    MemoryAllocated {
        mib: u64,
        code: i32,
    },
    MemoryOomKilled {
        signal: String,
        mib: u64,
    },
    WaitStatus(String),
    ProcessesStarted(usize),
    PidsMaxReached,
    StressNotStarted(OsError),
    BurnerNotStarted(OsError),
    ThreadedFork(usize),
    CopySummary {
        files: u64,
        dirs: u64,
        symlinks: u64,
        bytes: String,
        skipped: u64,
        mount_points: u64,
    },
    CopySkipped(u64),
    CopyMountPoints(u64),
    FilesystemFull,
    RootfsNoSpace(String),
    RootfsIo {
        op: String,
        path: String,
        error: OsError,
    },
    /// A rootfs error of a rarer kind, in its English.
    Rootfs(String),
    CgroupV1Bound,
    NoInternalProcesses,
    NoSuchProcess,
    LeavesOnly,
    QuotaRange,
    CpuMaxNeedsCpu,
    GroupExists,
    GroupBusy,
    AlreadyGone,
    ShortWrite,
    NoMemsw,
    MemswSameLimit,
    /// A traced cgroupfs call failed (the same line is in the trace), with the lab's note.
    SyscallFailed {
        call: String,
        errno: i32,
        note: Option<Box<Msg>>,
    },
    NoCgroupFs(String),
    V2ControllerMissing {
        parent: String,
        controller: String,
        listed: String,
    },
    V1ControllerMissing {
        controller: String,
        mounted: String,
    },
    NotInGroup {
        group: String,
        controller: String,
    },
    CannotRead {
        path: String,
        error: OsError,
    },
    CannotReadProc(String),
    CannotParse {
        path: String,
        detail: String,
    },
    GroupVanished(String),
    Invalid(String),
    RefusedCleanup {
        path: String,
        why: String,
    },
    NotOnHost(String),
    SandboxStopped,
    NoGroupYet,
    NoSandboxYet,
    GroupMade,
    RecordGroup(OsError),
    NoBurner,
    MeasureStopped(Box<Msg>),
    /// A call refused by AppArmor's unprivileged_userns profile (capabilities listed, not usable).
    UsernsApparmor,
    /// A user namespace refused by AppArmor's restriction (its profile not loaded).
    UsernsApparmorCreate,
    UsernsCloneOff,
    UsernsMaxZero,
    ClassBack,
    ClassOffline(Box<Msg>),
    ClassUnreachable {
        url: String,
        why: String,
    },
    ClassRefused {
        status: u16,
        text: String,
    },
    ClassNotAck,
    ClassEncode(String),
    Symlink,
    OtherOwner,
    HardLinks,
    NotRegular,
}

/// A value of a message: text shown as it is, an OS error (whose common kinds have
/// Korean), or a message inside a message, rendered in the same language.
#[derive(Debug)]
pub enum Arg {
    Text(String),
    Os(OsError),
    Msg(Msg),
}

fn text(v: impl fmt::Display) -> Arg {
    Arg::Text(v.to_string())
}

fn desc(errno: i32) -> Arg {
    text(nix::errno::Errno::from_raw(errno).desc())
}

fn name(errno: i32) -> Arg {
    text(format!("{:?}", nix::errno::Errno::from_raw(errno)))
}

impl Msg {
    /// The key of this message's texts in [`TEXTS`] and its values, in order.
    pub fn parts(&self) -> (&'static str, Vec<Arg>) {
        use Msg as M;
        let os = |e: &OsError| Arg::Os(e.clone());
        match self {
            M::NoProgram => ("no_program", vec![]),
            M::Background => ("background", vec![]),
            M::ExitedAtOnce => ("exited_at_once", vec![]),
            M::ExitStatus(s) => ("cmd_exit_status", vec![text(s)]),
            M::MissingTool { tool, package } => ("missing_tool", vec![text(tool), text(package)]),
            M::StoppedByCtrlC => ("stopped_by_ctrl_c", vec![]),
            M::KilledAfter { secs } => ("cmd_killed_after", vec![text(secs)]),
            M::SpawnExited { cmd, status } => ("spawn_exited", vec![text(cmd), text(status)]),
            M::VethLeavesHost => ("veth_leaves_host", vec![]),
            M::VethEndsTogether => ("veth_ends_together", vec![]),
            M::RouteWhenUp => ("route_when_up", vec![]),
            M::BoundToCable => ("bound_to_cable", vec![]),
            M::ConnectRefused { times, secs } => ("connect_refused", vec![text(times), text(secs)]),
            M::VethNotOurs(n) => ("veth_not_ours", vec![text(n)]),
            M::VethExists(n) => ("veth_exists", vec![text(n)]),
            M::VethNotOurPeer(n) => ("veth_not_our_peer", vec![text(n)]),
            M::VethRouted { net, dev } => ("veth_routed", vec![text(net), text(dev)]),
            M::VethUnreachable(a) => ("veth_unreachable", vec![text(a)]),
            M::VethNotDocumentation(c) => ("veth_not_documentation", vec![text(c)]),
            M::NotUrl(u) => ("not_url", vec![text(u)]),
            M::RecordIface { name, error } => ("record_iface", vec![text(name), os(error)]),
            M::Failed { call, errno } => ("failed", vec![text(call), desc(*errno), name(*errno)]),
            M::CallError { what, errno } => ("call_error", vec![text(what), desc(*errno)]),
            M::IoError { what, error } => ("call_error", vec![text(what), os(error)]),
            M::HostNamespace { what, ns } => ("host_namespace", vec![text(what), text(ns)]),
            M::PrivatePropagation => ("private_propagation", vec![]),
            M::CapsDropped => ("caps_dropped", vec![]),
            M::NoNewPrivs => ("no_new_privs", vec![]),
            M::Interrupted => ("action_interrupted", vec![]),
            M::MountTargetMissing(p) => ("mount_target_missing", vec![text(p)]),
            M::YouStillInHostNs { ns, flag } => ("you_still_in_host_ns", vec![text(ns), text(flag)]),
            M::YouNsOwnedElsewhere { ns, flag } => ("you_ns_owned_elsewhere", vec![text(ns), text(flag)]),
            M::YouLackCap { cap, uid } => ("you_lack_cap", vec![text(cap), text(uid)]),
            M::YouNoProgram(p) => ("you_no_program", vec![text(p)]),
            M::YouNotInstalled(p) => ("you_not_installed", vec![text(p)]),
            M::YouCgroupValue => ("you_cgroup_value", vec![]),
            M::YouCgroupBusy => ("you_cgroup_busy", vec![]),
            M::YouLinkExists => ("you_link_exists", vec![]),
            M::YouUserNsInChroot => ("you_userns_in_chroot", vec![]),
            M::PivotShared => ("pivot_shared", vec![]),
            M::PivotNotMountPoint => ("pivot_not_mount_point", vec![]),
            M::PivotNotDir => ("pivot_not_dir", vec![]),
            M::PivotMissing => ("pivot_missing", vec![]),
            M::PidNsChild => ("pid_ns_child", vec![]),
            M::IdMapOnce => ("id_map_once", vec![]),
            M::MapOnlyOnce => ("map_only_once", vec![]),
            M::StressForks => ("stress_forks", vec![]),
            M::BusyLoop => ("busy_loop", vec![]),
            M::StressWorkerKilled => ("stress_worker_killed", vec![]),
            M::AlreadyThere => ("already_there", vec![]),
            M::NetnsBindKeeps => ("netns_bind_keeps", vec![]),
            M::NetnsDirLeft => ("netns_dir_left", vec![]),
            M::NetnsAfterUnshareMnt => ("netns_after_unshare_mnt", vec![]),
            M::IfNameTooLong(n) => ("if_name_too_long", vec![text(format!("{n:?}"))]),
            M::NoInterface { name, errno } => ("no_interface", vec![text(name), desc(*errno)]),
            M::NotIfName(n) => ("not_if_name", vec![text(format!("{n:?}"))]),
            M::NotCidr(c) => ("not_cidr", vec![text(c)]),
            M::MemoryLocked { mib } => ("memory_locked", vec![text(mib)]),
            M::MemoryAllocated { mib, code } => ("memory_allocated", vec![text(mib), text(code)]),
            M::MemoryOomKilled { signal, mib } => ("memory_oom_killed", vec![text(signal), text(mib)]),
            M::WaitStatus(s) => ("wait_status", vec![text(s)]),
            M::ProcessesStarted(n) => ("processes_started", vec![text(n)]),
            M::PidsMaxReached => ("pids_max_reached", vec![]),
            M::StressNotStarted(e) => ("stress_not_started", vec![os(e)]),
            M::BurnerNotStarted(e) => ("burner_not_started", vec![os(e)]),
            M::ThreadedFork(n) => ("threaded_fork", vec![text(n)]),
            M::CopySummary { files, dirs, symlinks, bytes, skipped, mount_points } => {
                let skipped = (*skipped > 0).then_some(Arg::Msg(M::CopySkipped(*skipped)));
                let empty = (*mount_points > 0).then_some(Arg::Msg(M::CopyMountPoints(*mount_points)));
                let none = || text("");
                let args = vec![text(files), text(dirs), text(symlinks), text(bytes)];
                (
                    "copy_summary",
                    args.into_iter().chain([skipped.unwrap_or_else(none), empty.unwrap_or_else(none)]).collect(),
                )
            }
            M::CopySkipped(n) => ("copy_skipped", vec![text(n)]),
            M::CopyMountPoints(n) => ("copy_mount_points", vec![text(n)]),
            M::FilesystemFull => ("filesystem_full", vec![]),
            M::RootfsNoSpace(p) => ("rootfs_no_space", vec![text(p)]),
            M::RootfsIo { op, path, error } => ("rootfs_io", vec![text(op), text(path), os(error)]),
            M::Rootfs(t) => ("rootfs_failed", vec![text(t)]),
            M::CgroupV1Bound => ("cgroup_v1_bound", vec![]),
            M::NoInternalProcesses => ("no_internal_processes", vec![]),
            M::NoSuchProcess => ("no_such_process", vec![]),
            M::LeavesOnly => ("leaves_only", vec![]),
            M::QuotaRange => ("quota_range", vec![]),
            M::CpuMaxNeedsCpu => ("cpu_max_needs_cpu", vec![]),
            M::GroupExists => ("group_exists", vec![]),
            M::GroupBusy => ("group_busy", vec![]),
            M::AlreadyGone => ("already_gone", vec![]),
            M::ShortWrite => ("short_write", vec![]),
            M::NoMemsw => ("no_memsw", vec![]),
            M::MemswSameLimit => ("memsw_same_limit", vec![]),
            M::SyscallFailed { call, errno, note: None } => {
                ("syscall_failed", vec![text(call), name(*errno), desc(*errno)])
            }
            M::SyscallFailed { call, errno, note: Some(n) } => {
                ("syscall_failed_note", vec![text(call), name(*errno), desc(*errno), Arg::Msg((**n).clone())])
            }
            M::NoCgroupFs(why) => ("no_cgroup_fs", vec![text(why)]),
            M::V2ControllerMissing { parent, controller, listed } => {
                ("v2_controller_missing", vec![text(parent), text(controller), text(listed)])
            }
            M::V1ControllerMissing { controller, mounted } => {
                ("v1_controller_missing", vec![text(controller), text(mounted)])
            }
            M::NotInGroup { group, controller } => ("not_in_group", vec![text(group), text(controller)]),
            M::CannotRead { path, error } => ("cannot_read", vec![text(path), os(error)]),
            M::CannotReadProc(what) => ("cannot_read_proc", vec![text(what)]),
            M::CannotParse { path, detail } => ("cannot_parse", vec![text(path), text(detail)]),
            M::GroupVanished(p) => ("group_vanished", vec![text(p)]),
            M::Invalid(what) => ("invalid", vec![text(what)]),
            M::RefusedCleanup { path, why } => ("refused_cleanup", vec![text(path), text(why)]),
            M::NotOnHost(a) => ("not_on_host", vec![text(a)]),
            M::SandboxStopped => ("sandbox_stopped", vec![]),
            M::NoGroupYet => ("no_group_yet", vec![]),
            M::NoSandboxYet => ("no_sandbox_yet", vec![]),
            M::GroupMade => ("group_made", vec![]),
            M::RecordGroup(e) => ("record_group", vec![os(e)]),
            M::NoBurner => ("no_burner", vec![]),
            M::MeasureStopped(why) => ("measure_stopped", vec![Arg::Msg((**why).clone())]),
            M::UsernsApparmor => ("userns_apparmor", vec![]),
            M::UsernsApparmorCreate => ("userns_apparmor_create", vec![]),
            M::UsernsCloneOff => ("userns_clone_off", vec![]),
            M::UsernsMaxZero => ("userns_max_zero", vec![]),
            M::ClassBack => ("class_back", vec![]),
            M::ClassOffline(why) => ("class_offline", vec![Arg::Msg((**why).clone())]),
            M::ClassUnreachable { url, why } => ("class_unreachable", vec![text(url), text(why)]),
            M::ClassRefused { status, text: t } => ("class_refused", vec![text(status), text(t)]),
            M::ClassNotAck => ("class_not_ack", vec![]),
            M::ClassEncode(e) => ("class_encode", vec![text(e)]),
            M::Symlink => ("symlink", vec![]),
            M::OtherOwner => ("other_owner", vec![]),
            M::HardLinks => ("hard_links", vec![]),
            M::NotRegular => ("not_regular", vec![]),
        }
    }

    /// This message with its values, from the column `pick` takes of [`TEXTS`]; OS errors
    /// through `os`. The UI calls it through `i18n::msg`; `Display` is the English.
    pub fn render(
        &self,
        pick: fn(&(&str, &'static str, &'static str)) -> &'static str,
        os: &dyn Fn(&OsError) -> String,
    ) -> String {
        let (key, args) = self.parts();
        let template = TEXTS.iter().find(|e| e.0 == key).map(pick).unwrap_or_else(|| {
            // As `i18n::t`: a debug build stops at a key without texts, a release shows the key.
            debug_assert!(false, "no texts for the message key `{key}`");
            key
        });
        let values: Vec<String> = args
            .iter()
            .map(|a| match a {
                Arg::Text(t) => t.clone(),
                Arg::Os(e) => os(e),
                Arg::Msg(m) => m.render(pick, os),
            })
            .collect();
        fill(template, &values)
    }
}

impl fmt::Display for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(|e| e.1, &|e| e.text.clone()))
    }
}

impl std::error::Error for Msg {}

/// `template` with `{0}`, `{1}` … replaced by `args` (an unknown `{…}` is kept).
pub fn fill(template: &str, args: &[String]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let arg = after.find('}').and_then(|close| Some((after[..close].parse::<usize>().ok()?, close)));
        match arg {
            Some((n, close)) => {
                if let Some(a) = args.get(n) {
                    out.push_str(a);
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The note under a pivot_root(2) that failed for a reason the lab has seen students hit
/// (nsdojo's own call, or the student's in `try`).
pub fn pivot_note(e: nix::errno::Errno) -> Option<Msg> {
    use nix::errno::Errno;
    match e {
        Errno::EINVAL => Some(Msg::PivotShared),
        Errno::EBUSY => Some(Msg::PivotNotMountPoint),
        Errno::ENOTDIR => Some(Msg::PivotNotDir),
        Errno::ENOENT => Some(Msg::PivotMissing),
        _ => None,
    }
}
