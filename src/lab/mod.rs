//! Running a lesson's steps: the engine under [`runner::Runner`], which `nsdojo run`, the
//! REPL, `bench` and `check --mutate` all drive.
//!
//! For each step: snapshot both sides, perform the actions (in the sandbox,
//! or on the host for `host sh`), snapshot again, evaluate the checks. The
//! result is a [`StepReport`], pure data that the renderer turns into text,
//! so the REPL, `run` and transcripts all show the same thing. While a step runs
//! the lab tells a [`event::Sink`] what happens (system calls, the live meter,
//! checks); it prints nothing itself, so it needs no renderer.

mod actions;
pub mod event;
mod facts;
#[cfg(test)]
pub(crate) mod fake;
mod host_actions;
pub mod link;
#[cfg(test)]
pub(crate) mod link_tests;
pub mod mutate;
pub mod runner;
pub mod solve;
#[cfg(test)]
mod tests;
pub(crate) mod try_session;
mod veth;
pub(crate) mod watch;

use std::path::PathBuf;

use serde::Serialize;

use crate::hostguard::Session;
use crate::lesson::expect::Verdict;
use crate::lesson::{Lesson, SandboxAction, Step};
use crate::observe::{Needs, Snapshot};
use crate::sandbox::{Outcome, SandboxError};
use event::{Event, MeterOnly, Scene, Sink};

/// Both terminals at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct Sides {
    pub sandbox: Snapshot,
    pub host: Snapshot,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActionReport {
    pub src: String,
    pub on_host: bool,
    /// Left out on purpose (a mutant of `nsdojo check --mutate`): nothing was done.
    pub removed: bool,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub src: String,
    pub verdict: Verdict,
}

/// (file name, contents) pairs.
pub type Files = Vec<(String, String)>;

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub lesson: String,
    pub index: usize,
    pub total: usize,
    pub sandbox_pid: i32,
    pub actions: Vec<ActionReport>,
    /// Why the step stopped early (an action failed), if it did.
    pub aborted: Option<crate::msg::Msg>,
    pub before: Sides,
    pub after: Sides,
    pub checks: Vec<CheckReport>,
    pub work: String,
    /// The session cgroup's limit files (name, value), before and after the step.
    pub cgroup_files: (Files, Files),
    /// The step's lab command for this machine's layout, variables expanded (none: empty).
    pub shell: Vec<crate::lesson::LabLine>,
    /// Done by hand in `try`: `sandbox_pid` is the student's shell, gone by the time the
    /// report is shown, so no "enter it from terminal #2" commands go with it.
    pub by_hand: bool,
}

impl StepReport {
    pub fn passed(&self) -> bool {
        self.aborted.is_none() && self.checks.iter().all(|c| c.verdict.passed)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("could not prepare the work directory {path}: {source}")]
    Work { path: String, source: std::io::Error },
    #[error("the lesson has no step {0}")]
    NoStep(usize),
    #[error("this lesson needs a root filesystem, and none could be prepared")]
    NoRootfs,
    #[error("could not copy the root filesystem: {0}")]
    Rootfs(crate::msg::Msg),
}

impl LabError {
    /// The message in the session's language (Display stays English, for logs and scripts).
    pub fn localized(&self, lang: crate::lesson::Lang) -> String {
        use crate::i18n::{io_error, t, tf};
        match self {
            LabError::Sandbox(e) => e.localized(lang),
            LabError::Work { path, source } => tf(lang, "err_work", &[path, &io_error(lang, source)]),
            LabError::NoStep(n) => tf(lang, "err_no_step", &[n]),
            LabError::NoRootfs => t(lang, "err_no_rootfs").to_string(),
            LabError::Rootfs(e) => tf(lang, "err_rootfs_copy", &[&crate::i18n::msg(lang, e)]),
        }
    }
}

/// One lesson in progress: its sandbox, its work directory, where we are.
pub struct Lab {
    pub lesson: Lesson,
    pub sandbox: Option<Box<dyn link::Agent>>,
    /// Index of the next step to run.
    pub next: usize,
    pub last: Option<StepReport>,
    work: PathBuf,
    rootfs: Option<PathBuf>,
    session_id: String,
    /// The session's cgroup, made by `cgroup create` (host side).
    group: Option<crate::cgroup::Group>,
    /// The prepared rootfs this lesson copies from.
    rootfs_src: Option<PathBuf>,
    /// Named network namespaces recorded for this lesson (removed on reset and at the end).
    netns: std::cell::RefCell<Vec<PathBuf>>,
    /// Host interfaces this lesson made (`veth add`), recorded before they were made.
    links: std::cell::RefCell<Vec<crate::hostguard::LinkId>>,
    /// `$NET`: a documentation /24 the host routes nowhere (chosen once, before the lesson
    /// adds a route of its own).
    net: String,
    /// The language of what the lab prints itself (the meter, a failed reset).
    pub lang: crate::lesson::Lang,
    /// This host's cgroup layout (`None`: no usable cgroupfs), for `shell` and `$CGROUP`.
    layout: Option<crate::cgroup::Layout>,
    /// Where agents come from and what else the lab sees ([`link::RealWorld`] but in tests).
    world: Box<dyn link::World>,
}

impl Lab {
    /// `rootfs`: the prepared root filesystem, for lessons that need one; each lesson works on
    /// its own copy in the work directory, so the cache is never changed by a lesson.
    pub(crate) fn new(lesson: Lesson, session: &mut Session, rootfs: Option<PathBuf>) -> Result<Lab, LabError> {
        // One lesson at a time per session: its directory goes before the next lesson starts.
        let work = PathBuf::from(format!("/tmp/nsdojo-{}", session.id()));
        let err = |source| LabError::Work { path: work.display().to_string(), source };
        session.add_dir(work.clone()).map_err(err)?;
        // Made here, now, 0700 and not before by anyone else: a directory another user could
        // have created would let them swap the rootfs a root shell then runs from.
        {
            use std::os::unix::fs::DirBuilderExt;
            if let Err(e) = std::fs::DirBuilder::new().mode(0o700).create(&work) {
                // Someone else's (it existed already): not ours to clean up, ever.
                session.forget_dir(&work);
                return Err(err(e));
            }
            session.own_dir(&work).map_err(err)?;
        }
        let mut lab = Lab {
            lesson,
            sandbox: None,
            next: 0,
            last: None,
            work,
            rootfs: None,
            session_id: session.id().to_string(),
            group: None,
            rootfs_src: None,
            netns: std::cell::RefCell::new(Vec::new()),
            links: std::cell::RefCell::new(Vec::new()),
            net: veth::free_documentation_net(),
            lang: crate::lesson::Lang::default(),
            layout: crate::cgroup::Layout::detect().ok(),
            world: Box::new(link::RealWorld),
        };
        if lab.lesson.rootfs {
            lab.rootfs_src = Some(rootfs.ok_or(LabError::NoRootfs)?);
            lab.copy_rootfs()?;
        }
        Ok(lab)
    }

    /// A lab on `world` (an in-process agent), for unit tests: its work directory is `work`
    /// (a temporary one), no session record, no rootfs and no cgroup layout.
    #[cfg(test)]
    pub(crate) fn in_world(lesson: Lesson, work: PathBuf, world: Box<dyn link::World>) -> Lab {
        Lab {
            lesson,
            sandbox: None,
            next: 0,
            last: None,
            work,
            rootfs: None,
            session_id: "0-5e551011".into(),
            group: None,
            rootfs_src: None,
            netns: std::cell::RefCell::new(Vec::new()),
            links: std::cell::RefCell::new(Vec::new()),
            net: "192.0.2".into(),
            lang: crate::lesson::Lang::default(),
            layout: None,
            world,
        }
    }

    /// A fresh working copy of the rootfs at `$WORK/rootfs`.
    fn copy_rootfs(&mut self) -> Result<(), LabError> {
        let Some(src) = &self.rootfs_src else { return Ok(()) };
        let dst = self.work.join("rootfs");
        let mut trace = crate::trace::Trace::default();
        crate::rootfs::copy_tree(src, &dst, &mut trace).map_err(|e| LabError::Rootfs(e.msg()))?;
        self.rootfs = Some(dst);
        Ok(())
    }

    pub fn work_dir(&self) -> &std::path::Path {
        &self.work
    }

    /// The session this lab belongs to (its record's id).
    pub(crate) fn session_id(&self) -> &str {
        &self.session_id
    }

    /// `$WORK`, `$ROOTFS`, `$SESSION`, `$PID` (the live sandbox's host PID), `$HOST_PID`
    /// (nsdojo's own), and `$CGROUP`, `$CGROUP_PARENT` in a lesson that makes a cgroup.
    fn vars(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("WORK", self.work.display().to_string()),
            ("SESSION", self.session_id.clone()),
            ("HOST_PID", std::process::id().to_string()),
            // The session's random part: short enough for interface names (15 bytes).
            ("NETID", self.session_id.rsplit('-').next().unwrap_or_default().to_string()),
            ("NET", self.net.clone()),
        ];
        if let Some(r) = &self.rootfs {
            v.push(("ROOTFS", r.display().to_string()));
        }
        if let Some(sb) = &self.sandbox {
            v.push(("PID", sb.pid().to_string()));
        }
        if let Some(dir) = self.cgroup_dir() {
            let parent = dir.parent().map(|p| p.display().to_string()).unwrap_or_default();
            v.push(("CGROUP", dir.display().to_string()));
            v.push(("CGROUP_PARENT", parent));
        }
        // On v1 each controller is its own hierarchy, so a group of several is one directory
        // per controller: a lab command names each (on v2 they are all `$CGROUP`).
        for &c in self.group_plan() {
            if let Some(dir) = self.cgroup_dir_for(c) {
                v.push((controller_var(c), dir.display().to_string()));
            }
        }
        v
    }

    /// The session group's directory for controller `c`: the real one once made, before that
    /// where it will be made.
    fn cgroup_dir_for(&self, c: crate::cgroup::Controller) -> Option<PathBuf> {
        if let Some(dir) = self.group.as_ref().and_then(|g| g.dir_for(c)) {
            return Some(dir.to_path_buf());
        }
        let layout = self.layout.as_ref()?;
        layout.group_dir(&host_actions::group_parent(layout), &host_actions::group_name(&self.session_id), c)
    }

    /// `$CGROUP`: the directory of the session's group for the first controller the lesson's
    /// `cgroup create` names: the real one once made, before that where it will be made.
    fn cgroup_dir(&self) -> Option<PathBuf> {
        self.cgroup_dir_for(*self.group_plan().first()?)
    }

    /// The step's lab command for this machine's cgroup layout, variables expanded: what the
    /// printout, `dojo solve` and `check --solve` give the student (none: empty).
    pub fn lab_lines(&self, step: &Step) -> Vec<crate::lesson::LabLine> {
        let Some(shell) = &step.shell else { return Vec::new() };
        let mut lines = shell.lines(self.cgroup_v2());
        for l in &mut lines {
            l.text = self.expand(&l.text);
        }
        lines
    }

    /// Whether this machine's cgroups are the unified (v2) layout: which lines a step prints.
    pub fn cgroup_v2(&self) -> bool {
        matches!(self.layout, Some(crate::cgroup::Layout::V2 { .. }))
    }

    /// The same for a student's try shell (`dojo solve`): `$PID` is the process they type
    /// into, shown as `pid_shown` (the task's ⟨dojo pid⟩), not terminal #1's lab sandbox.
    pub fn try_lab_lines(&self, step: &Step, pid_shown: &str) -> Vec<crate::lesson::LabLine> {
        let Some(shell) = &step.shell else { return Vec::new() };
        let mut lines = shell.lines(self.cgroup_v2());
        for l in &mut lines {
            l.text = self.expand(&l.text.replace("$PID", pid_shown));
        }
        lines
    }

    pub fn expand(&self, s: &str) -> String {
        let vars = self.vars();
        let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        crate::lesson::action::expand_vars(s, &pairs)
    }

    fn sandbox(&mut self) -> Result<&mut dyn link::Agent, SandboxError> {
        if self.sandbox.is_none() {
            self.sandbox = Some(self.world.spawn()?);
            self.publish_pid();
        }
        Ok(self.sandbox.as_deref_mut().expect("just set"))
    }

    /// Tell `nsdojo attach` (through the session record) which process is terminal #1 now.
    fn publish_pid(&self) {
        let pid = self.sandbox.as_ref().map(|a| a.pid());
        let lesson = pid.map(|_| self.lesson.id.clone());
        self.world.publish(&self.session_id, pid, lesson);
    }

    /// Kill the sandbox; the next step starts a fresh one.
    pub fn reset(&mut self) {
        self.sandbox = None;
        self.publish_pid();
        self.remove_group();
        self.remove_netns();
        self.remove_links();
        self.next = 0;
        self.last = None;
        // Whatever the steps left in the work dir goes too (mounts died with the sandbox) — if
        // it still is the directory this session made (its name is public: a step may have
        // removed it, and someone else made one in its place).
        if !self.world.owns_dir(&self.session_id, &self.work) {
            eprintln!("nsdojo: {}", crate::i18n::tf(self.lang, "work_not_ours", &[&self.work.display()]));
            return;
        }
        if let Ok(entries) = std::fs::read_dir(&self.work) {
            for e in entries.flatten() {
                let _ = std::fs::remove_dir_all(e.path()).or_else(|_| std::fs::remove_file(e.path()));
            }
        }
        if let Err(e) = self.copy_rootfs() {
            eprintln!("nsdojo: {}", e.localized(self.lang));
        }
    }

    /// What the step's views and checks need from the inside (paths expanded).
    fn needs(&self, step: &Step) -> Needs {
        let mut needs = Needs::default();
        for e in step.expects.iter().chain(&step.try_expects) {
            for f in expand_expect(e, self).facts() {
                if let crate::lesson::fact::Fact::Side { fact, .. } = f {
                    fact.add_needs(&mut needs);
                }
            }
        }
        for v in &step.show {
            v.map_arg(&|p| self.expand(p)).add_needs(&mut needs);
        }
        needs.paths.sort();
        needs.paths.dedup();
        needs
    }

    /// Both sides now (for `state`), starting a sandbox if there is none.
    pub fn sides_now(&mut self) -> Result<Sides, LabError> {
        Ok(self.sides(&Needs::everything())?)
    }

    /// The live sandbox's host PID, starting one if needed.
    pub fn sandbox_pid(&mut self) -> Result<i32, LabError> {
        Ok(self.sandbox()?.pid())
    }

    /// `sh CMD` from the REPL: a real command inside the sandbox.
    pub fn sh(&mut self, cmd: &str) -> Result<crate::sandbox::ShellOutput, LabError> {
        let out = self.sandbox()?.perform(crate::sandbox::SandboxOp::Do(SandboxAction::Sh(cmd.to_string())))?;
        Ok(out.output.unwrap_or_default())
    }

    fn sides(&mut self, needs: &Needs) -> Result<Sides, SandboxError> {
        let sandbox = self.sandbox()?.observe(needs)?;
        Ok(Sides { sandbox, host: self.world.host(needs) })
    }

    /// Run step `index` (0-based) and advance past it, telling `sink` as it goes.
    pub(crate) fn run_step(&mut self, index: usize, sink: &mut dyn Sink) -> Result<StepReport, LabError> {
        self.run_step_without(index, None, sink)
    }

    /// Run step `index` with action `removed` (0-based) left out: a mutant for
    /// `nsdojo check --mutate`, which asks whether some check of the step notices.
    pub(crate) fn run_step_without(
        &mut self,
        index: usize,
        removed: Option<usize>,
        sink: &mut dyn Sink,
    ) -> Result<StepReport, LabError> {
        let step = self.lesson.steps.get(index).cloned().ok_or(LabError::NoStep(index + 1))?;
        let total = self.lesson.steps.len();
        sink.event(self, &Event::StepStarted { lesson: &self.lesson.id, step: index, total });
        let needs = self.needs(&step);
        let files_before = self.group_files();
        // A Ctrl-C pressed at the prompt (between readline calls) must not abort this step.
        let _ = crate::hostguard::interrupted();
        let before = self.sides(&needs)?;
        let (actions, aborted, sandbox_after) = self.perform_actions(&step, &needs, removed, sink)?;
        let after = match sandbox_after {
            Some(sandbox) => Sides { sandbox, host: self.world.host(&needs) },
            None => self.sides(&needs)?,
        };
        let cgroup_files = (files_before, self.group_files());
        let facts = facts::StepFacts {
            before: &before,
            after: &after,
            actions: &actions,
            planned: step.actions.len(),
            group: (&cgroup_files.0, &cgroup_files.1),
        };
        let checks: Vec<CheckReport> = step
            .expects
            .iter()
            .map(|e| {
                let e = expand_expect(e, self);
                CheckReport { src: e.to_string(), verdict: e.evaluate(&facts) }
            })
            .collect();
        for check in &checks {
            sink.event(self, &Event::Check { check });
        }
        let report = StepReport {
            lesson: self.lesson.id.clone(),
            index,
            total,
            sandbox_pid: self.sandbox.as_ref().map_or(0, |a| a.pid()),
            actions,
            aborted,
            before,
            after,
            checks,
            work: self.work.display().to_string(),
            cgroup_files,
            shell: self.lab_lines(&step),
            by_hand: false,
        };
        self.next = index + 1;
        sink.event(self, &Event::StepDone { report: &report });
        self.last = Some(report.clone());
        Ok(report)
    }

    /// Replay steps `0..upto` quietly in a fresh sandbox (for `again` and `back`): only the
    /// live meter reaches `sink`.
    pub(crate) fn replay(&mut self, upto: usize, sink: &mut dyn Sink) -> Result<(), LabError> {
        self.reset();
        let mut quiet = MeterOnly(sink);
        for i in 0..upto {
            self.run_step(i, &mut quiet)?;
        }
        self.last = None;
        Ok(())
    }
}

impl Scene for Lab {
    fn lesson(&self) -> &Lesson {
        &self.lesson
    }

    fn expand(&self, s: &str) -> String {
        Lab::expand(self, s)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.sandbox = None;
        self.remove_group();
        self.remove_netns();
        self.remove_links();
    }
}

fn expand_expect(e: &crate::lesson::Expect, lab: &Lab) -> crate::lesson::Expect {
    e.map_args(&|s: &str| lab.expand(s))
}

/// `$CGROUP_CPU`, `$CGROUP_MEMORY`, `$CGROUP_PIDS`: the session group's directory for one
/// controller.
fn controller_var(c: crate::cgroup::Controller) -> &'static str {
    match c {
        crate::cgroup::Controller::Cpu => "CGROUP_CPU",
        crate::cgroup::Controller::Memory => "CGROUP_MEMORY",
        crate::cgroup::Controller::Pids => "CGROUP_PIDS",
    }
}
