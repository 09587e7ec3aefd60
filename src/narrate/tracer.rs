//! The tracer: a process of its own (forked by the host process, never the host process
//! itself), which follows every process of the student's shell tree and says each taught call
//! as it returns. It stops tracees only where the seccomp filter (`super::filter`) sends them,
//! and, while a process holds a followed descriptor (a cgroupfs file, an id map, an rtnetlink
//! socket), at each of its calls, until it holds none.
//!
//! A tracee is resumed only after its line is written, so the line comes before anything the
//! command prints next. The tracer dies with nsdojo (PR_SET_PDEATHSIG), and the tree with it
//! (PTRACE_O_EXITKILL): nothing is left traced or stopped.

use std::collections::{BTreeMap, BTreeSet};

use nix::errno::Errno;
use nix::sys::ptrace;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::decode::{self, FileKind, Pending, Topic, Watched};
use super::explain::{self, Facts};
use super::inspect::{syscall_info, Live, Memory, Stop};
use crate::lesson::Ns;
use crate::observe::tracee::{fs_of_fd, fs_of_path, Fs};
use crate::trace::Syscall;

/// Where a said call goes (the terminal, the host process).
pub(crate) trait Hears {
    fn said(&mut self, pid: i32, call: &Syscall);
}

#[derive(Debug, Clone, Default)]
struct Tracee {
    fds: decode::Fds,
    pending: Option<Pending>,
    /// nsdojo's own process that joins the sandbox: none of its calls are the student's.
    quiet: bool,
    /// The shell, until its own execve (which the student did not type).
    launching: bool,
    /// A failed execve kept back: execvp tries each directory of PATH in turn, so a failure
    /// is said only if no later execve of the process succeeds (said when it exits).
    held: Option<Syscall>,
    /// The process's successful execve, said just before its first taught call: a program is
    /// named where it matters (`unshare`, then its unshare(2)), and the many a shell runs
    /// that make none (`ls`, a prompt's helpers) pass silently.
    ran: Option<Syscall>,
}

impl Tracee {
    fn stepping(&self) -> bool {
        !self.fds.is_empty()
    }
}

pub(crate) struct Tracer<'a> {
    tracees: BTreeMap<Pid, Tracee>,
    /// New children stopped before their parent's fork event told what they inherit.
    unclaimed: BTreeSet<Pid>,
    host_ns: BTreeMap<Ns, u64>,
    hears: &'a mut dyn Hears,
}

/// The options every tracee gets (children inherit them).
pub(crate) fn options() -> ptrace::Options {
    use ptrace::Options as O;
    O::PTRACE_O_TRACESECCOMP
        | O::PTRACE_O_TRACESYSGOOD
        | O::PTRACE_O_TRACEFORK
        | O::PTRACE_O_TRACEVFORK
        | O::PTRACE_O_TRACECLONE
        | O::PTRACE_O_EXITKILL
}

const PTRACE_EVENT_STOP: i32 = 128;
const PTRACE_LISTEN: libc::c_uint = 0x4208;

impl<'a> Tracer<'a> {
    /// `first` is already seized: nsdojo's process that will join the sandbox and fork the shell.
    pub(crate) fn new(first: Pid, hears: &'a mut dyn Hears) -> Tracer<'a> {
        let host_ns = crate::observe::ProcFacts::read(std::process::id() as i32).ns;
        let mut tracees = BTreeMap::new();
        tracees.insert(first, Tracee { quiet: true, ..Tracee::default() });
        Tracer { tracees, unclaimed: BTreeSet::new(), host_ns, hears }
    }

    /// Follow the tree until no tracee is left.
    pub(crate) fn run(&mut self) {
        loop {
            match waitpid(None, Some(WaitPidFlag::__WALL)) {
                Ok(WaitStatus::PtraceEvent(pid, sig, event)) => self.event(pid, sig, event),
                Ok(WaitStatus::PtraceSyscall(pid)) => match syscall_info(pid) {
                    Ok(Stop::Entry { nr, args }) => self.stepped_entry(pid, nr, args),
                    Ok(Stop::Exit { rval, is_error }) => self.exit(pid, rval, is_error),
                    _ => self.resume(pid, None),
                },
                Ok(WaitStatus::Stopped(pid, sig)) => self.resume(pid, Some(sig)),
                Ok(WaitStatus::Exited(pid, _) | WaitStatus::Signaled(pid, _, _)) => {
                    if let Some(held) = self.tracees.remove(&pid).and_then(|t| t.held) {
                        self.hears.said(pid.as_raw(), &held);
                    }
                    self.unclaimed.remove(&pid);
                }
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => return,
            }
        }
    }

    fn event(&mut self, pid: Pid, sig: Signal, event: i32) {
        match event {
            libc::PTRACE_EVENT_SECCOMP => match syscall_info(pid) {
                Ok(Stop::Entry { nr, args }) => self.entry(pid, nr, args),
                _ => self.resume(pid, None),
            },
            libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE => {
                if let Ok(child) = ptrace::getevent(pid) {
                    let child = Pid::from_raw(child as i32);
                    // A child inherits the followed descriptors; nsdojo's joining process forks
                    // the shell, which is the student's once it has exec'd.
                    let born = match self.tracees.get(&pid) {
                        Some(parent) => Tracee {
                            fds: parent.fds.clone(),
                            launching: parent.quiet || parent.launching,
                            ..Tracee::default()
                        },
                        None => Tracee::default(),
                    };
                    self.tracees.insert(child, born);
                    if self.unclaimed.remove(&child) {
                        self.resume(child, None);
                    }
                }
                self.resume(pid, None);
            }
            PTRACE_EVENT_STOP => match sig {
                // A group stop (Ctrl-Z, SIGSTOP): stay stopped, as job control expects,
                // until SIGCONT, without holding the tracer.
                Signal::SIGSTOP | Signal::SIGTSTP | Signal::SIGTTIN | Signal::SIGTTOU => {
                    // SAFETY: PTRACE_LISTEN on a tracee in a group stop; no memory involved.
                    unsafe { libc::ptrace(PTRACE_LISTEN as _, pid.as_raw(), 0, 0) };
                }
                // A new child's first stop: wait for its parent's fork event if need be.
                _ if !self.tracees.contains_key(&pid) => {
                    self.unclaimed.insert(pid);
                }
                _ => self.resume(pid, None),
            },
            _ => self.resume(pid, None),
        }
    }

    /// Resume: to the next taught call, or, while it holds a followed descriptor or a call is
    /// awaited, to the next call of any kind.
    fn resume(&mut self, pid: Pid, sig: Option<Signal>) {
        let step = self.tracees.get(&pid).is_some_and(|t| t.stepping() || t.pending.is_some());
        let _ = if step { ptrace::syscall(pid, sig) } else { ptrace::cont(pid, sig) };
    }

    /// A seccomp stop: a call the filter picked out.
    fn entry(&mut self, pid: Pid, nr: i64, args: [u64; 6]) {
        let t = self.tracees.entry(pid).or_default();
        if t.quiet {
            return self.resume(pid, None);
        }
        if t.launching && (nr == libc::SYS_execve || nr == libc::SYS_execveat) {
            // execvp tries each directory of PATH: launched only once one succeeds.
            return self.await_exit(pid, Some(Pending::Launch));
        }
        let pending = decode::entry(nr, args, &Live(pid), &t.fds).and_then(|p| self.probe_dir(pid, p));
        self.await_exit(pid, pending);
    }

    /// A syscall-entry stop while stepping: only the followed descriptors' calls matter (the
    /// taught ones come again as a seccomp stop).
    fn stepped_entry(&mut self, pid: Pid, nr: i64, args: [u64; 6]) {
        let pending = self.tracees.get(&pid).and_then(|t| decode::followed(nr, args, &Live(pid), &t.fds));
        self.await_exit(pid, pending);
    }

    fn await_exit(&mut self, pid: Pid, pending: Option<Pending>) {
        if let Some(t) = self.tracees.get_mut(&pid) {
            if pending.is_some() {
                t.pending = pending;
            }
        }
        self.resume(pid, None);
    }

    /// mkdir and rmdir are said only in cgroupfs, where they make and remove groups.
    fn probe_dir(&self, pid: Pid, p: Pending) -> Option<Pending> {
        match p {
            Pending::Dir { call, dirfd, path, remove } => (fs_of_path(pid.as_raw(), dirfd as i32, &path, !remove)
                == Some(Fs::Cgroup))
            .then_some(Pending::Say { call, topic: Topic::Plain }),
            other => Some(other),
        }
    }

    fn exit(&mut self, pid: Pid, rval: i64, is_error: bool) {
        let Some(pending) = self.tracees.get_mut(&pid).and_then(|t| t.pending.take()) else {
            return self.resume(pid, None);
        };
        let result = decode::result(rval, is_error);
        match pending {
            Pending::Say { call, topic } => self.say(pid, call, result, &topic),
            Pending::Exec { call, path } => {
                let line = self.line(pid, call, result, &Topic::Exec { path });
                if let Some(t) = self.tracees.get_mut(&pid) {
                    if result.is_ok() {
                        t.fds.retain(|_, (_, cloexec)| !*cloexec);
                        t.held = None;
                        t.ran = Some(line);
                    } else {
                        t.held = Some(line);
                    }
                }
            }
            Pending::Open { call, path, cloexec } => self.opened(pid, call, path, cloexec, result),
            Pending::Socket { cloexec } => {
                if let (Ok(fd), Some(t)) = (result, self.tracees.get_mut(&pid)) {
                    t.fds.insert(fd as i32, (Watched::Rtnl { asked: Vec::new() }, cloexec));
                }
            }
            Pending::Send { fd, asked } => {
                if let (Ok(_), Some(t)) = (result, self.tracees.get_mut(&pid)) {
                    if let Some((Watched::Rtnl { asked: all }, _)) = t.fds.get_mut(&fd) {
                        all.extend(asked);
                        let extra = all.len().saturating_sub(16);
                        all.drain(..extra);
                    }
                }
            }
            Pending::Recv { fd, buf, cap } => {
                if let Ok(n) = result {
                    let bytes = Live(pid).bytes(buf, (n.max(0) as usize).min(cap));
                    for (seq, error) in super::rtnl::answers(&bytes) {
                        let asked = self.tracees.get_mut(&pid).and_then(|t| match t.fds.get_mut(&fd) {
                            Some((Watched::Rtnl { asked }, _)) => {
                                asked.iter().position(|r| r.seq == seq).map(|i| asked.remove(i))
                            }
                            _ => None,
                        });
                        if let Some(r) = asked {
                            let res = if error == 0 { Ok(0) } else { Err(-error) };
                            self.say(pid, r.text, res, &Topic::Rtnl);
                        }
                    }
                }
            }
            Pending::Close { fd } => {
                if let (Ok(_), Some(t)) = (result, self.tracees.get_mut(&pid)) {
                    t.fds.remove(&fd);
                }
            }
            Pending::Dup { from, to, cloexec } => {
                if let (Ok(r), Some(t)) = (result, self.tracees.get_mut(&pid)) {
                    let new = to.unwrap_or(r as i32);
                    match t.fds.get(&from).cloned() {
                        Some((w, _)) => t.fds.insert(new, (w, cloexec)),
                        None => t.fds.remove(&new),
                    };
                }
            }
            Pending::Launch => {
                if let (Ok(_), Some(t)) = (result, self.tracees.get_mut(&pid)) {
                    t.launching = false;
                }
            }
            Pending::Dir { .. } => {}
        }
        self.resume(pid, None);
    }

    /// An open for writing returned: follow a cgroupfs file or an id map; say a failed one.
    fn opened(&mut self, pid: Pid, call: String, path: String, cloexec: bool, result: Result<i64, i32>) {
        let name = path.rsplit('/').next().unwrap_or(&path).to_string();
        let id_map = matches!(name.as_str(), "uid_map" | "gid_map" | "setgroups");
        let fs = match result {
            Ok(fd) => fs_of_fd(pid.as_raw(), fd as i32),
            Err(_) => fs_of_path(pid.as_raw(), libc::AT_FDCWD, &path, true),
        };
        let kind = match fs {
            Some(Fs::Cgroup) => FileKind::Cgroup,
            Some(Fs::Proc) if id_map => FileKind::IdMap,
            _ => return,
        };
        match result {
            Ok(fd) => {
                if let Some(t) = self.tracees.get_mut(&pid) {
                    t.fds.insert(fd as i32, (Watched::File { name: path, kind }, cloexec));
                }
            }
            Err(_) => self.say(pid, call, result, &Topic::File(kind)),
        }
    }

    fn say(&mut self, pid: Pid, call: String, result: Result<i64, i32>, topic: &Topic) {
        let line = self.line(pid, call, result, topic);
        if let Some(ran) = self.tracees.get_mut(&pid).and_then(|t| t.ran.take()) {
            self.hears.said(pid.as_raw(), &ran);
        }
        self.hears.said(pid.as_raw(), &line);
    }

    /// The call as said, with the reason under it when it failed.
    fn line(&self, pid: Pid, call: String, result: Result<i64, i32>, topic: &Topic) -> Syscall {
        let mut line = Syscall { call, result, note: None };
        if let Some(errno) = line.errno() {
            line.note = explain::why(topic, errno, &self.facts(pid));
        }
        line
    }

    fn facts(&self, pid: Pid) -> Facts {
        let status = crate::observe::procfs::status(crate::observe::procfs::Proc::Pid(pid.as_raw())).ok();
        Facts {
            ns: crate::observe::ProcFacts::read(pid.as_raw()).ns,
            host_ns: self.host_ns.clone(),
            cap_eff: status.as_ref().and_then(|s| s.cap_eff),
            uid: status.and_then(|s| s.uids.first().copied()).unwrap_or(0),
            owners: Ns::ALL
                .into_iter()
                .filter_map(|ns| crate::observe::tracee::owner_userns(pid.as_raw(), ns.name()).map(|o| (ns, o)))
                .collect(),
            own_root: crate::observe::tracee::has_host_root(pid.as_raw()) == Some(false),
            apparmor_restricted: crate::observe::apparmor::under_restriction(&pid.as_raw().to_string()),
        }
    }
}
