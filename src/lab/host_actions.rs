//! Actions terminal #2 performs: `host sh`, the session's cgroup (create,
//! limit, join — the host writes cgroupfs but never joins a group itself),
//! and metering a burner in the sandbox like `top`.

use std::time::{Duration, Instant};

use super::event::{Event, Sink};
use super::{Lab, LabError};
use crate::cgroup::{self, Controller, CpuSampler, Group, Layout};
use crate::lesson::{Action, HostAction, SandboxAction};
use crate::msg::Msg;
use crate::observe::procfs::{self, CgroupLine, Proc};
use crate::sandbox::rpc::MeterSample;
use crate::sandbox::{shell, Outcome, SandboxOp};
use crate::trace::Syscall;

const METER_EVERY: Duration = Duration::from_millis(250);

/// The session's group name.
pub(super) fn group_name(session_id: &str) -> String {
    format!("nsdojo-{session_id}")
}

/// Where the session's group goes: on v1 inside nsdojo's own groups (this VM accounts memory
/// per process_api/<id>; Ubuntu 18.04 puts a login under user.slice); on v2 a leaf under the
/// root, since an inner node with processes cannot enable controllers for its children.
pub(super) fn group_parent(layout: &Layout) -> Vec<CgroupLine> {
    match layout {
        // Unreadable: directly under the hierarchy's root, as before (and the create step says
        // what the kernel answers there).
        Layout::V1 { .. } => procfs::cgroup(Proc::Myself).unwrap_or_default(),
        Layout::V2 { .. } => Vec::new(),
    }
}

/// Why a host action failed: the one line the student reads (`Outcome::error`; the Korean
/// translation in `i18n::machine` matches these words).
#[derive(Debug, thiserror::Error)]
pub(crate) enum HostError {
    /// Ctrl-C stopped it; the step stops with it.
    #[error("interrupted")]
    Interrupted,
    #[error("no cgroup yet: `cgroup create …` first")]
    NoGroup,
    #[error("no sandbox is running yet")]
    NoSandbox,
    #[error("this lesson already made its cgroup")]
    GroupExists,
    #[error("could not record the cgroup in the session file: {0}")]
    Record(std::io::Error),
    #[error(transparent)]
    Cgroup(#[from] cgroup::CgroupError),
    #[error(transparent)]
    Veth(#[from] super::veth::VethError),
    #[error("cannot read /proc/{pid}/stat: {source}")]
    Stat { pid: i32, source: std::io::Error },
    #[error("measurement stopped: {0}")]
    Measure(cgroup::CgroupError),
    #[error("the burner did not start")]
    NoBurner,
    #[error("write {path}: {}", .errno.desc())]
    Write { path: String, errno: nix::errno::Errno },
}

impl HostError {
    /// The one line the student reads.
    pub(crate) fn msg(&self) -> Msg {
        use HostError as E;
        match self {
            E::Interrupted => Msg::Interrupted,
            E::NoGroup => Msg::NoGroupYet,
            E::NoSandbox => Msg::NoSandboxYet,
            E::GroupExists => Msg::GroupMade,
            E::Record(e) => Msg::RecordGroup(e.into()),
            E::Cgroup(e) => e.msg(),
            E::Veth(e) => e.msg(),
            E::Stat { pid, source } => Msg::CannotRead { path: format!("/proc/{pid}/stat"), error: source.into() },
            E::Measure(e) => Msg::MeasureStopped(Box::new(e.msg())),
            E::NoBurner => Msg::NoBurner,
            E::Write { path, errno } => Msg::CallError { what: format!("write {path}"), errno: *errno as i32 },
        }
    }
}

impl Lab {
    /// Perform a host action (`try` keeps its failure out of the step's way).
    pub(super) fn host_perform(&mut self, action: &Action) -> Outcome {
        match (action.host(), action.is_try()) {
            (Some(h), false) => self.host_do(h),
            (Some(h), true) => Outcome { error: None, ..self.host_do(h) },
            (None, _) => Outcome { error: Some(Msg::NotOnHost(format!("{action:?}"))), ..Outcome::default() },
        }
    }

    fn host_do(&mut self, action: &HostAction) -> Outcome {
        let mut out = Outcome::default();
        let res = match action {
            HostAction::Sh(cmd) => {
                let (sc, output) = shell::run(cmd, shell::timeout());
                out.trace.push(sc);
                // Ctrl-C stopped the command: the step stops with it, as it does in the sandbox.
                let stopped = output.interrupted;
                // A missing tool stops the step with the package to install, not with failed checks.
                out.error = crate::sandbox::missing_tool::missing_tool_msg(&output);
                out.output = Some(output);
                if stopped {
                    Err(HostError::Interrupted)
                } else {
                    Ok(())
                }
            }
            HostAction::CgroupCreate(names) => self.create_group(names, &mut out),
            HostAction::CgroupLimit { controller: c, value } => match &self.group {
                None => Err(HostError::NoGroup),
                Some(g) => match c {
                    Controller::Cpu => g.set_cpu_limit(*value as u32, 100_000, &mut out.trace),
                    Controller::Memory => g.set_memory_limit(*value, &mut out.trace),
                    Controller::Pids => g.set_pids_max(*value, &mut out.trace),
                }
                .map_err(HostError::from),
            },
            HostAction::MapIds { inside, outside, count } => match &self.sandbox {
                None => Err(HostError::NoSandbox),
                Some(sb) => map_ids(sb.pid(), *inside, *outside, *count, &mut out),
            },
            HostAction::CgroupJoin => match (&self.group, &self.sandbox) {
                (None, _) => Err(HostError::NoGroup),
                (Some(_), None) => Err(HostError::NoSandbox),
                (Some(g), Some(sb)) => g.add_process(sb.pid(), &mut out.trace).map_err(HostError::from),
            },
            HostAction::VethAdd { name, peer } => self.veth_add(name, peer, &mut out).map_err(HostError::from),
            HostAction::VethMove { name, new_name } => {
                self.veth_move(name, new_name, &mut out).map_err(HostError::from)
            }
            HostAction::VethDelete(name) => self.veth_delete(name, &mut out).map_err(HostError::from),
            HostAction::HostLinkUp(name) => self.host_link_up(name, &mut out).map_err(HostError::from),
            HostAction::HostAddrAdd { cidr, iface } => {
                self.host_addr_add(cidr, iface, &mut out).map_err(HostError::from)
            }
            HostAction::Fetch(url) => self.fetch(url, &mut out).map_err(HostError::from),
        };
        if let Err(e) = res {
            out.error = Some(e.msg());
        }
        out
    }

    fn create_group(&mut self, controllers: &[Controller], out: &mut Outcome) -> Result<(), HostError> {
        if self.group.is_some() {
            return Err(HostError::GroupExists);
        }
        let layout = Layout::detect()?;
        let name = group_name(&self.session_id);
        let parent = group_parent(&layout);
        // Before anything is made: the name, and what v2 will enable in the parent.
        let to_enable = layout.controllers_to_enable(&parent, &name, controllers);
        let mut intended: Vec<std::path::PathBuf> =
            controllers.iter().filter_map(|c| layout.group_dir(&parent, &name, *c)).collect();
        intended.sort();
        intended.dedup();
        crate::hostguard::record_add(&self.session_id, |r| {
            r.cgroups_intended.extend(intended.iter().cloned());
            r.subtree_enabled.extend(to_enable.iter().map(|(p, c)| (p.clone(), c.name().to_string())));
        })
        .map_err(HostError::Record)?;
        let made = Group::create_within(&layout, &parent, &name, controllers, &mut out.trace);
        // What was really enabled (nothing, if creation failed): a failed create undid its own.
        let enabled: Vec<(std::path::PathBuf, String)> = made.as_ref().map_or_else(
            |_| Vec::new(),
            |g| g.enabled_in_parent().into_iter().map(|(p, c)| (p, c.name().to_string())).collect(),
        );
        let failed = made.is_err();
        let _ = crate::hostguard::record_add(&self.session_id, |r| {
            r.subtree_enabled.retain(|e| !to_enable.iter().any(|(p, c)| e.0 == *p && e.1 == c.name()));
            r.subtree_enabled.extend(enabled);
            // Not made (EEXIST: a directory someone else made there first): not ours to remove.
            if failed {
                r.cgroups_intended.retain(|p| !intended.contains(p));
            }
        });
        let group = made?;
        let paths = group.paths();
        if let Err(e) = crate::hostguard::record_add(&self.session_id, |r| r.cgroups.extend(paths.iter().cloned())) {
            let mut t = crate::trace::Trace::default();
            let _ = group.remove(&mut t);
            return Err(HostError::Record(e));
        }
        out.trace.push(Syscall::ok(format!("/* layout: {} */", layout.describe()), 0));
        self.group = Some(group);
        Ok(())
    }

    /// Write host-visible things into the session record *before* the sandbox makes them.
    pub(super) fn record_before(&self, action: &Action) -> std::io::Result<()> {
        if let Some(HostAction::VethAdd { name, .. }) = action.host() {
            return self.record_link(name);
        }
        match action.sandbox() {
            Some(SandboxAction::NetnsAdd(name)) => {
                let dir = std::path::Path::new(crate::sandbox::netdev::NETNS_DIR);
                let dir_is_new = !dir.exists();
                let path = std::path::PathBuf::from(crate::sandbox::netdev::netns_path(name));
                // A name that exists is someone else's: the sandbox's O_EXCL create will fail,
                // and cleanup must not remove it.
                if path.exists() {
                    return Ok(());
                }
                self.netns.borrow_mut().push(path.clone());
                crate::hostguard::record_add(&self.session_id, |r| {
                    r.mounts.push(path);
                    if dir_is_new {
                        r.empty_dirs.push(dir.to_path_buf());
                    }
                })
            }
            _ => Ok(()),
        }
    }

    /// The group's limit files as (short name, value), for before/after tables.
    pub(super) fn group_files(&self) -> Vec<(String, String)> {
        self.group.as_ref().map_or_else(Vec::new, Self::files_and_counters)
    }

    /// [`Self::group_files`], and before nsdojo made the group, the files of the one a student
    /// made by hand in `try` where the lesson's `cgroup create` would make it (`$CGROUP`).
    pub(super) fn group_files_by_hand(&self) -> Vec<(String, String)> {
        if self.group.is_some() {
            return self.group_files();
        }
        let Some(layout) = self.layout.as_ref() else { return Vec::new() };
        let controllers = self.group_plan();
        if controllers.is_empty() {
            return Vec::new();
        }
        let made = Group::existing(layout, &group_parent(layout), &group_name(&self.session_id), controllers);
        made.map_or_else(|_| Vec::new(), |g| Self::files_and_counters(&g))
    }

    /// Where the lesson's `cgroup create` makes its group (one directory per v1 hierarchy),
    /// while nsdojo has not made it: a directory there made by hand in `try` is taken away
    /// again before the lab makes its own.
    pub(crate) fn group_dirs_to_be(&self) -> Vec<std::path::PathBuf> {
        let (None, Some(layout)) = (&self.group, self.layout.as_ref()) else { return Vec::new() };
        let parent = group_parent(layout);
        let name = group_name(&self.session_id);
        self.group_plan().iter().filter_map(|c| layout.group_dir(&parent, &name, *c)).collect()
    }

    /// What step `index` itself adds to, moves off or removes from the host, by name: the
    /// interfaces its host actions name and the named netns files (and their mounts) it adds
    /// or deletes. In `try`, the same done by hand is the step done right, not the host changed
    /// behind the lesson's back: a veth moved into terminal #1 (`- interface veth1-…`), a netns
    /// deleted, the route `ip addr add` brings with it. (Additions are still taken back, so
    /// that the lab makes, records and later removes its own.)
    pub(crate) fn steps_own_host_names(&self, index: usize) -> Vec<String> {
        let Some(step) = self.lesson.steps.get(index) else { return Vec::new() };
        let mut names = Vec::new();
        for a in &step.actions {
            match a.host() {
                Some(HostAction::VethAdd { name, peer }) => names.extend([name.clone(), peer.clone()]),
                Some(HostAction::VethMove { name, .. }) | Some(HostAction::VethDelete(name)) => {
                    names.push(name.clone())
                }
                Some(HostAction::HostLinkUp(iface)) | Some(HostAction::HostAddrAdd { iface, .. }) => {
                    names.push(iface.clone())
                }
                _ => {}
            }
            if let Some(SandboxAction::NetnsAdd(n) | SandboxAction::NetnsDelete(n)) = a.sandbox() {
                names.push(crate::sandbox::netdev::netns_path(n));
            }
        }
        names.iter().map(|n| self.expand(n)).collect()
    }

    /// The controllers the lesson's `cgroup create` names (empty: the lesson makes no group).
    pub(super) fn group_plan(&self) -> &[Controller] {
        let create = self.lesson.steps.iter().flat_map(|s| &s.actions).find_map(|a| match a.host() {
            Some(HostAction::CgroupCreate(controllers)) => Some(controllers.as_slice()),
            _ => None,
        });
        create.unwrap_or_default()
    }

    fn files_and_counters(g: &Group) -> Vec<(String, String)> {
        let mut files = Self::files_of(g);
        if g.controllers().contains(&Controller::Memory) {
            if let Ok(ev) = g.memory_events() {
                files.push((super::facts::OOM_KILL_ROW.into(), ev.oom_kill.to_string()));
            }
        }
        if g.controllers().contains(&Controller::Cpu) {
            if let Ok(st) = g.cpu_stat() {
                files.push((super::facts::THROTTLED_ROW.into(), st.nr_throttled.to_string()));
            }
        }
        files
    }

    fn files_of(g: &Group) -> Vec<(String, String)> {
        g.limit_files()
            .into_iter()
            .map(|(p, v)| {
                let parent = p.parent().and_then(|d| d.parent()).map(|d| d.display().to_string()).unwrap_or_default();
                (p.display().to_string().trim_start_matches(&parent).trim_start_matches('/').to_string(), v)
            })
            .collect()
    }

    /// After `netns add`: if the file was there already (someone made it between our look and
    /// the sandbox's O_EXCL create), it is not ours: drop it from the record, touch nothing.
    pub(super) fn disown_netns_if_taken(&self, action: &Action, outcome: &Outcome) {
        let Some(SandboxAction::NetnsAdd(name)) = action.sandbox() else { return };
        let taken = outcome
            .trace
            .calls
            .iter()
            .any(|c| c.call.starts_with("openat") && c.errno() == Some(nix::errno::Errno::EEXIST));
        if taken {
            let path = std::path::PathBuf::from(crate::sandbox::netdev::netns_path(name));
            self.netns.borrow_mut().retain(|p| p != &path);
            let _ = crate::hostguard::record_add(&self.session_id, |r| r.mounts.retain(|m| m != &path));
        }
    }

    /// Unmount and remove the named network namespaces this lesson made (on reset and when
    /// the lesson ends), and /run/netns if this session made it and it is empty now.
    pub(super) fn remove_netns(&mut self) {
        let paths: Vec<std::path::PathBuf> = self.netns.borrow_mut().drain(..).collect();
        if paths.is_empty() {
            return;
        }
        // What could not be removed stays in the record, for quit, the watchdog or `cleanup`.
        let failed = crate::hostguard::remove_netns_files(&paths);
        let dir = std::path::PathBuf::from(crate::sandbox::netdev::NETNS_DIR);
        let _ = crate::hostguard::record_add(&self.session_id, |r| {
            r.mounts.retain(|m| !paths.contains(m) || failed.contains(m));
            let shared = crate::hostguard::HostChange::EmptyDir { path: dir.clone() };
            if r.empty_dirs.contains(&dir) && shared.revert().is_ok() {
                r.empty_dirs.retain(|d| d != &dir);
            }
        });
    }

    /// Kill what is in the group (the sandbox is gone by now) and remove it.
    pub(super) fn remove_group(&mut self) {
        if let Some(g) = self.group.take() {
            let paths = g.paths();
            let g_enabled = g.enabled_in_parent();
            let mut t = crate::trace::Trace::default();
            if g.remove(&mut t).is_err() {
                let _ = cgroup::remove_paths(&paths, &mut t);
            }
            let enabled: Vec<(std::path::PathBuf, String)> =
                g_enabled.into_iter().map(|(p, c)| (p, c.name().to_string())).collect();
            // remove() disabled these again, or left them on for another session's group:
            // then that session's record takes them over, so the last one out turns them off.
            for (parent, c) in &enabled {
                if cgroup::subtree_has(parent, c) {
                    crate::hostguard::hand_over_subtree(&self.session_id, parent, c);
                }
            }
            let _ = crate::hostguard::record_add(&self.session_id, |r| {
                r.cgroups.retain(|p| !paths.contains(p));
                r.subtree_enabled.retain(|e| !enabled.contains(e));
            });
        }
    }

    /// `burn N`: the sandbox starts a busy loop; the host meters it ~4×/s like `top`.
    pub(super) fn burn(&mut self, secs: u32, stress: bool, sink: &mut dyn Sink) -> Result<Outcome, LabError> {
        let agent = self.sandbox()?.pid();
        let mut out = self.sandbox()?.perform(SandboxOp::Do(SandboxAction::Burn { secs, stress }))?;
        if out.error.is_some() {
            return Ok(out);
        }
        // The agent names the burner by its own PID namespace's number; the host needs its host
        // PID: the agent's child whose innermost NSpid is that number. (Not by name: the child
        // renames itself only once it runs, which may be after this look.)
        let burner = out.burner_pid.and_then(|inner| {
            crate::observe::procfs::children_of(agent).into_iter().find(|p| {
                procfs::parent_of(*p) == Some(agent)
                    && procfs::status(Proc::Pid(*p)).is_ok_and(|s| s.nspid.last() == Some(&inner))
            })
        });
        // stress burns in its worker, a child it forks at once.
        let burner = if out.burner_is_stress { burner.and_then(stress_worker) } else { burner };
        let result = match burner {
            Some(pid) => {
                let r = self.meter(pid, secs, &mut out, sink);
                if out.burner_is_stress {
                    // Not our child: held by a pidfd, then checked to be the stress worker still.
                    if let Some(worker) = crate::process::Pidfd::open_checked(pid, |p| {
                        crate::observe::procfs::stat(p).is_ok_and(|s| s.comm == "stress" && s.state != 'Z')
                    }) {
                        worker.kill();
                    }
                    out.trace.push(Syscall::ok(format!("kill({pid}, SIGKILL)"), 0).with_note(Msg::StressWorkerKilled));
                }
                r
            }
            None => Err(HostError::NoBurner),
        };
        let stop = self.sandbox()?.perform(SandboxOp::BurnStop)?;
        out.trace.calls.extend(stop.trace.calls);
        sink.event(self, &Event::MeterDone);
        match result {
            Err(HostError::Interrupted) => return Err(crate::sandbox::SandboxError::Interrupted.into()),
            Err(e) => out.error = Some(e.msg()),
            Ok(()) => {}
        }
        Ok(out)
    }

    fn meter(&mut self, pid: i32, secs: u32, out: &mut Outcome, sink: &mut dyn Sink) -> Result<(), HostError> {
        let mut sampler = CpuSampler::new(pid).map_err(|source| HostError::Stat { pid, source })?;
        let start = Instant::now();
        let end = start + Duration::from_secs(secs.into());
        while Instant::now() < end {
            std::thread::sleep(METER_EVERY.min(end.saturating_duration_since(Instant::now())));
            if crate::hostguard::interrupted() {
                return Err(HostError::Interrupted);
            }
            let sample = match &self.group {
                Some(g) => {
                    let s = g.sample(&mut sampler).map_err(HostError::Measure)?;
                    MeterSample {
                        at_ms: 0,
                        percent: s.percent,
                        confined: Some(s.confined),
                        nr_throttled: s.nr_throttled,
                    }
                }
                None => {
                    let p = sampler.sample().map_err(|source| HostError::Stat { pid, source })?;
                    MeterSample { at_ms: 0, percent: p, confined: None, nr_throttled: None }
                }
            };
            let sample = MeterSample { at_ms: start.elapsed().as_millis() as u64, ..sample };
            sink.event(self, &Event::Meter { pid, sample: &sample });
            out.meter.push(sample);
        }
        let avg = super::facts::average(&out.meter);
        let avg = format!("{avg:.1}");
        let text = crate::i18n::tf(self.lang, "meter_average", &[&pid, &avg, &secs, &out.meter.len()]) + "\n";
        out.output = Some(crate::sandbox::ShellOutput { stdout: text, ..Default::default() });
        Ok(())
    }
}

/// The worker `stress -c 1` forks (waiting a little for it to appear).
fn stress_worker(master: i32) -> Option<i32> {
    for _ in 0..100 {
        if let Some(&w) = crate::observe::procfs::children_of(master).first() {
            return Some(w);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// What `unshare --map-root-user` does from outside: setgroups first (an unprivileged
/// writer must deny setgroups before writing gid_map), then the two maps.
fn map_ids(pid: i32, inside: u32, outside: u32, count: u32, out: &mut Outcome) -> Result<(), HostError> {
    let line = format!("{inside} {outside} {count}");
    for (file, text) in [("setgroups", "deny"), ("uid_map", line.as_str()), ("gid_map", line.as_str())] {
        let path = format!("/proc/{pid}/{file}");
        let res =
            std::fs::write(&path, text).map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)));
        let mut sc = Syscall::from_result(
            format!("write({}, {})", crate::trace::quote(&path), crate::trace::quote(text)),
            &res,
            text.len() as i64,
        );
        if res == Err(nix::errno::Errno::EPERM) && file != "setgroups" {
            sc = sc.with_note(Msg::MapOnlyOnce);
        }
        out.trace.push(sc);
        res.map_err(|errno| HostError::Write { path: path.clone(), errno })?;
    }
    Ok(())
}
