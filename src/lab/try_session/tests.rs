//! A try, start to finish, as an ordinary user: the lab runs on the in-process agent
//! (`lab::fake`), and the shell, the host's undo and the clock are fakes that write down what
//! they are asked, in one shared log, so the order of what happens is checked too.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::seams::{Clock, HostUndo, Said, Seams, ShellSide};
use super::*;
use crate::hostguard::HostChange;
use crate::lab::fake::{FakeWorld, FIRST_AGENT};
use crate::lab::link_tests::{builtin, lab_in};
use crate::lesson::{Lesson, Ns};
use crate::sandbox::attach::{AttachError, Extras};
use crate::sandbox::kernel::Call;

/// The student's shell, as the host numbers it.
const SHELL: i32 = 7001;

#[derive(Default)]
struct Log {
    /// Seam calls and drawn events, in order.
    said: Vec<String>,
    alive: bool,
    pending: bool,
    open_fails: bool,
    begin_fails: bool,
    /// What `open` was given.
    target: Option<i32>,
    env: Vec<(String, String)>,
    cgroups: bool,
    fd9: Option<UnixStream>,
    adopted: Vec<Said>,
    undone: Vec<Said>,
    still: Vec<crate::hostguard::Difference>,
    at: Duration,
    /// What the tracer says next.
    calls: Vec<crate::narrate::StudentCall>,
}

#[derive(Clone, Default)]
struct Fakes(Rc<RefCell<Log>>);

impl Fakes {
    fn note(&self, s: &str) {
        self.0.borrow_mut().said.push(s.to_string());
    }
    fn said(&self) -> Vec<String> {
        self.0.borrow().said.clone()
    }
    fn seams(&self) -> Seams {
        Seams { shell: Box::new(self.clone()), undo: Box::new(Undo(self.clone())), clock: Box::new(self.clone()) }
    }
    fn advance(&self, d: Duration) {
        self.0.borrow_mut().at += d;
    }
}

impl ShellSide for Fakes {
    fn open(&mut self, _: Lang, target: i32, extras: Extras) -> Result<(), AttachError> {
        self.note("open");
        let mut log = self.0.borrow_mut();
        if log.open_fails {
            return Err(AttachError::Gone(target));
        }
        log.target = Some(target);
        log.env = extras.env;
        log.cgroups = extras.cgroups;
        log.fd9 = extras.fd9.map(UnixStream::from);
        log.alive = true;
        Ok(())
    }
    fn alive(&mut self) -> bool {
        self.0.borrow().alive
    }
    fn end(&mut self) {
        self.note("end shell");
        self.0.borrow_mut().alive = false;
    }
    fn typed_into(&self) -> Option<i32> {
        Some(SHELL)
    }
    fn asking(&self) -> Option<i32> {
        Some(SHELL)
    }
    fn signal_pending(&self) -> bool {
        self.0.borrow().pending
    }
    fn close(&mut self) -> Vec<Said> {
        self.note("close");
        self.0.borrow().adopted.clone()
    }
    fn release(&mut self) {
        self.note("release");
    }
    fn calls(&mut self) -> Vec<crate::narrate::StudentCall> {
        std::mem::take(&mut self.0.borrow_mut().calls)
    }
    fn narrated(&self) -> bool {
        true
    }
}

impl Clock for Fakes {
    fn now(&self) -> Instant {
        base() + self.0.borrow().at
    }
    fn sleep(&mut self, d: Duration) {
        self.advance(d);
    }
}

fn base() -> Instant {
    thread_local!(static BASE: Instant = Instant::now());
    BASE.with(|b| *b)
}

struct Undo(Fakes);

impl HostUndo for Undo {
    fn begin(&mut self, session: &str) -> std::io::Result<()> {
        self.0.note(&format!("begin {session}"));
        if self.0 .0.borrow().begin_fails {
            return Err(std::io::Error::from(Errno::EACCES));
        }
        Ok(())
    }
    fn undo(&mut self, _: &[std::path::PathBuf]) -> Vec<Said> {
        self.0.note("undo");
        self.0 .0.borrow().undone.clone()
    }
    fn still_changed(&self) -> Vec<crate::hostguard::Difference> {
        self.0.note("audit");
        self.0 .0.borrow().still.clone()
    }
    fn end(&mut self, _: &str) {
        self.0.note("forget");
    }
}

/// What a drawn event is called in the log.
fn name(e: &TryEvent<'_>) -> String {
    match e {
        TryEvent::Task { .. } => "draw task".into(),
        TryEvent::LooksOnly => "draw looks only".into(),
        TryEvent::ShellOpens { .. } => "draw shell opens".into(),
        TryEvent::Warning(w) => format!("draw warning {w}"),
        TryEvent::Undone(l) => {
            format!("draw undone {}", l.iter().map(|u| u.line(Lang::En)).collect::<Vec<_>>().join(" | "))
        }
        TryEvent::StillChanged(l) => {
            format!("draw still {}", l.iter().map(|d| d.line(Lang::En)).collect::<Vec<_>>().join(" | "))
        }
        TryEvent::NotYet { failing, .. } => {
            format!("draw not yet {}", failing.iter().map(|c| c.src.as_str()).collect::<Vec<_>>().join(" | "))
        }
        TryEvent::ByHand { report, .. } => format!("draw by hand {}", report.is_some()),
        TryEvent::LabFollows => "draw lab follows".into(),
        TryEvent::LabRebuilt { step } => format!("draw rebuilt {step}"),
    }
}

/// A lab on the uts lesson (maybe after some steps), a try of its next step, and the fakes.
struct Tried {
    world: FakeWorld,
    fakes: Fakes,
    lab: Lab,
    dir: tempfile::TempDir,
    tasks: Vec<(String, bool, bool)>,
}

impl Tried {
    fn new(lesson: Lesson, world: FakeWorld, steps_first: usize) -> Tried {
        let (mut lab, dir) = lab_in(lesson, &world);
        for i in 0..steps_first {
            lab.run_step(i, &mut ()).unwrap();
        }
        Tried { world, fakes: Fakes::default(), lab, dir, tasks: Vec::new() }
    }

    fn uts(steps_first: usize) -> Tried {
        Tried::new(builtin("uts"), FakeWorld::new(), steps_first)
    }

    fn start(&mut self) -> Result<TrySession, TryError> {
        let (fakes, tasks) = (self.fakes.clone(), &mut self.tasks);
        let mut draw = |_: &Lab, e: TryEvent<'_>| {
            if let TryEvent::Task { text, pid_note, needs_host, .. } = &e {
                tasks.push((text.clone(), *pid_note, *needs_host));
            }
            fakes.note(&name(&e));
        };
        TrySession::start(&mut self.lab, Lang::En, self.fakes.seams(), &mut draw)
    }

    fn finish(&mut self, s: TrySession) -> Result<Finished, LabError> {
        let fakes = self.fakes.clone();
        self.fakes.0.borrow_mut().alive = false;
        s.finish(&mut self.lab, &mut (), &mut |_, e| fakes.note(&name(&e)))
    }

    /// Poll until a look is taken (at most one judging).
    fn look(&mut self, s: &mut TrySession) -> Tick {
        self.fakes.advance(EVERY);
        s.poll(&self.lab)
    }

    /// Ask `dojo` through fd 9 and read the answer (one poll serves it).
    fn ask(&mut self, s: &mut TrySession, line: &str) -> String {
        let mut sock = self.fakes.0.borrow_mut().fd9.take().expect("the shell got fd 9");
        writeln!(sock, "{line}").unwrap();
        s.poll(&self.lab);
        let mut answer = Vec::new();
        let mut byte = [0u8; 1];
        while !answer.ends_with(b"\n.\n") && answer != b".\n" {
            sock.read_exact(&mut byte).unwrap();
            answer.push(byte[0]);
        }
        self.fakes.0.borrow_mut().fd9 = Some(sock);
        String::from_utf8(answer).unwrap()
    }
}

// start

#[test]
fn the_task_is_said_first_then_the_shell_opens_in_terminal_1() {
    let mut t = Tried::uts(0);
    let s = t.start().expect("the try starts");
    assert_eq!(t.fakes.said(), ["draw task", "begin 0-5e551011", "open", "draw shell opens"]);
    assert_eq!(t.fakes.0.borrow().target, Some(FIRST_AGENT), "the shell joins the lab's agent");
    assert!(t.tasks[0].0.starts_with("Give terminal #1 a UTS namespace"));
    assert_eq!(s.step_index(), 0);
}

#[test]
fn the_shell_gets_the_step_its_language_the_session_mark_and_dojo_on_its_path() {
    let mut t = Tried::uts(1);
    let _s = t.start().unwrap();
    let log = t.fakes.0.borrow();
    let env: std::collections::BTreeMap<_, _> = log.env.iter().cloned().collect();
    assert_eq!(env["NSDOJO_TRY"], "2");
    assert_eq!(env["NSDOJO_TRY_LANG"], "en");
    assert_eq!(env[crate::hostguard::undo::TRY_MARK], "0-5e551011");
    assert!(env["PATH"].ends_with(&format!(":{}", t.dir.path().join(".dojo").display())));
    assert!(log.cgroups && log.fd9.is_some(), "joins terminal #1's cgroups; fd 9 for dojo");
}

#[test]
fn pid_in_a_task_is_shown_as_the_dojo_pid_with_a_note() {
    let mut t = Tried::new(builtin("pid"), FakeWorld::new(), 2);
    let _ = t.start();
    let (text, pid_note, needs_host) = t.tasks[0].clone();
    assert!(text.contains("⟨dojo pid⟩") && !text.contains("$PID"), "{text}");
    assert!(!text.contains(&(FIRST_AGENT + 1).to_string()), "not the lab's agent: {text}");
    assert!(pid_note);
    assert!(needs_host, "it is done from terminal #2");
    let mut plain = Tried::uts(0);
    let _ = plain.start();
    assert!(!plain.tasks[0].1, "no $PID, no note");
}

#[test]
fn a_finished_lesson_or_a_step_without_a_task_opens_no_shell() {
    let mut done = Tried::uts(3);
    assert!(matches!(done.start(), Err(TryError::LessonDone)));
    let lesson = crate::lab::link_tests::lesson_of(&[(&["unshare uts"], &["sandbox.ns.uts != host.ns.uts"])]);
    let mut no_task = Tried::new(lesson, FakeWorld::new(), 0);
    assert!(matches!(no_task.start(), Err(TryError::NoTask)));
    assert!(done.fakes.said().is_empty() && no_task.fakes.said().is_empty());
}

#[test]
fn a_step_that_only_looks_is_said_so_and_is_done_before_anything_is_typed() {
    let mut t = Tried::uts(2);
    // Terminal #1 (the lab's agent) already has its name: uts step 3 only looks at it.
    t.world.shows(FIRST_AGENT, &[Ns::Uts], "container-test");
    let s = t.start().unwrap();
    assert!(t.fakes.said().contains(&"draw looks only".to_string()));
    t.world.gone(SHELL);
    assert_eq!(t.finish(s).unwrap(), Finished::ByHand, "done without a tick");
}

#[test]
fn a_step_that_changes_something_is_not_done_at_the_start() {
    let mut t = Tried::uts(0);
    t.world.shows(FIRST_AGENT, &[], "host");
    let s = t.start().unwrap();
    assert!(!t.fakes.said().contains(&"draw looks only".to_string()));
    assert_eq!(t.finish(s).unwrap(), Finished::NotYet);
}

#[test]
fn when_the_record_cannot_hold_the_try_no_shell_opens_and_dojo_is_gone() {
    let mut t = Tried::uts(0);
    t.fakes.0.borrow_mut().begin_fails = true;
    assert!(matches!(t.start(), Err(TryError::Record(_))));
    assert!(!t.fakes.said().contains(&"open".to_string()));
    assert!(!t.dir.path().join(".dojo").exists());
}

#[test]
fn a_shell_that_cannot_open_leaves_nothing_held() {
    let mut t = Tried::uts(0);
    t.fakes.0.borrow_mut().open_fails = true;
    assert!(matches!(t.start(), Err(TryError::Shell(AttachError::Gone(FIRST_AGENT)))));
    assert_eq!(t.fakes.said()[2..], ["open", "close", "forget", "release"]);
    assert!(!t.dir.path().join(".dojo").exists());
}

#[test]
fn the_dojo_scripts_are_on_hand_while_the_try_lasts_and_gone_after() {
    use std::os::unix::fs::PermissionsExt;
    let mut t = Tried::uts(0);
    let s = t.start().unwrap();
    let dojo = t.dir.path().join(".dojo/dojo");
    assert!(std::fs::metadata(&dojo).unwrap().permissions().mode() & 0o111 != 0, "executable");
    assert_eq!(std::fs::metadata(t.dir.path()).unwrap().permissions().mode() & 0o777, 0o711);
    t.finish(s).unwrap();
    assert!(!dojo.exists());
    assert_eq!(std::fs::metadata(t.dir.path()).unwrap().permissions().mode() & 0o777, 0o700);
}

// poll

#[test]
fn a_gone_shell_ends_the_polling_without_a_look() {
    let mut t = Tried::uts(0);
    let mut s = t.start().unwrap();
    let looked = t.world.0.borrow().looked;
    t.fakes.0.borrow_mut().alive = false;
    assert_eq!(t.look(&mut s), Tick::ShellGone);
    assert_eq!(t.world.0.borrow().looked, looked);
}

#[test]
fn a_pending_signal_ends_the_shell() {
    let mut t = Tried::uts(0);
    let mut s = t.start().unwrap();
    t.fakes.0.borrow_mut().pending = true;
    assert_eq!(s.poll(&t.lab), Tick::SignalPending);
    assert_eq!(t.fakes.said().last().unwrap(), "end shell");
}

#[test]
fn the_shell_is_judged_four_times_a_second_not_at_every_tick() {
    let mut t = Tried::uts(0);
    let mut s = t.start().unwrap();
    let looked = t.world.0.borrow().looked;
    assert_eq!(s.poll(&t.lab), Tick::StillOpen);
    assert_eq!(t.world.0.borrow().looked, looked, "not yet 250 ms");
    assert_eq!(t.fakes.0.borrow().at, NAP, "a nap between ticks");
    for _ in 0..12 {
        s.poll(&t.lab);
    }
    assert_eq!(t.world.0.borrow().looked, looked, "13 ticks of 20 ms: still not 250 ms");
    s.poll(&t.lab);
    assert_eq!(t.world.0.borrow().looked, looked + 1, "the 14th judges");
}

#[test]
fn the_step_ticks_once_when_every_check_holds() {
    let mut t = Tried::uts(0);
    let mut s = t.start().unwrap();
    t.world.shows(SHELL, &[], "host");
    assert_eq!(t.look(&mut s), Tick::StillOpen);
    t.world.shows(SHELL, &[Ns::Uts], "host");
    assert_eq!(t.look(&mut s), Tick::Ticked { step: 0 });
    assert_eq!(t.look(&mut s), Tick::StillOpen, "ticked once");
}

#[test]
fn a_process_that_cannot_be_read_is_no_tick() {
    let mut t = Tried::uts(0);
    let mut s = t.start().unwrap();
    t.world.gone(SHELL);
    assert_eq!(t.look(&mut s), Tick::StillOpen);
    assert_eq!(t.finish(s).unwrap(), Finished::NotYet);
}

#[test]
fn a_shell_with_more_than_the_step_asked_for_is_not_done() {
    let mut t = Tried::uts(0);
    let mut s = t.start().unwrap();
    t.world.shows(SHELL, &[Ns::Uts, Ns::Mnt], "host");
    assert_eq!(t.look(&mut s), Tick::StillOpen, "the task says: nothing else");
}

// finish

#[test]
fn not_yet_lists_the_checks_that_failed_at_the_last_look() {
    let mut t = Tried::uts(0);
    let mut s = t.start().unwrap();
    t.world.shows(SHELL, &[Ns::Mnt], "host");
    t.look(&mut s);
    assert_eq!(t.finish(s).unwrap(), Finished::NotYet);
    let said = t.fakes.said();
    assert_eq!(said.last().unwrap(), "draw not yet sandbox.ns.uts != host.ns.uts | sandbox.ns.mnt == host.ns.mnt");
    assert_eq!(t.lab.next, 0, "the lab did not take the step");
    assert_eq!(t.world.calls(), []);
}

#[test]
fn the_host_is_put_back_before_a_held_signal_goes_on() {
    let mut t = Tried::uts(0);
    let mut s = t.start().unwrap();
    t.fakes.0.borrow_mut().pending = true;
    assert_eq!(s.poll(&t.lab), Tick::SignalPending);
    t.fakes.0.borrow_mut().undone = vec![by_try(HostChange::Hostname { was: "vm".into(), now: "oops".into() })];
    t.finish(s).unwrap();
    let said = t.fakes.said();
    let at = |what: &str| said.iter().position(|s| s.starts_with(what)).unwrap_or_else(|| panic!("{what}: {said:?}"));
    assert!(at("end shell") < at("close"));
    assert!(at("undo") < at("draw undone the host's hostname was changed to oops"));
    assert!(at("draw undone") < at("release") && at("draw still") < at("release"));
    assert!(at("forget") < at("release"));
}

#[test]
fn what_was_stopped_and_undone_is_passed_on_in_order() {
    let mut t = Tried::uts(0);
    let s = t.start().unwrap();
    {
        let mut log = t.fakes.0.borrow_mut();
        log.adopted = vec![by_try(HostChange::LeftProcess { pid: 7, comm: "sleep".into() })];
        log.undone = vec![by_try(HostChange::Mount { point: "/mnt".into(), fstype: None })];
        log.still = vec![crate::hostguard::Difference::Added(HostChange::Mount { point: "/x".into(), fstype: None })];
    }
    t.finish(s).unwrap();
    let said = t.fakes.said();
    let undone = said.iter().find(|s| s.starts_with("draw undone ")).expect("the undo is drawn");
    let (adopted, unmounted) = undone.split_once(" | ").expect("two lines, in order");
    assert!(adopted.contains("sleep") && adopted.contains('7'), "{adopted}");
    assert!(unmounted.contains("/mnt") && unmounted.contains("unmounted"), "{unmounted}");
    let still = said.iter().find(|s| s.starts_with("draw still ")).expect("what still differs is drawn");
    assert!(still.contains("/x"), "{still}");
}

/// What a try's undo said it put back.
fn by_try(change: HostChange) -> crate::hostguard::Undone {
    use crate::hostguard::{Cause, Outcome, Undone};
    Undone { change, outcome: Outcome::Reverted, cause: Cause::Try }
}

#[test]
fn done_by_hand_shows_the_students_terminal_then_the_lab_takes_the_step() {
    let mut t = Tried::uts(0);
    let mut s = t.start().unwrap();
    t.world.shows(SHELL, &[Ns::Uts], "host");
    assert_eq!(t.look(&mut s), Tick::Ticked { step: 0 });
    assert_eq!(t.finish(s).unwrap(), Finished::ByHand);
    let said = t.fakes.said();
    let tail: Vec<&str> = said.iter().rev().take(2).rev().map(String::as_str).collect();
    assert_eq!(tail, ["draw by hand true", "draw lab follows"]);
    assert_eq!(t.world.calls(), [Call::Unshare(vec![Ns::Uts])], "the lab took the step itself");
    assert_eq!(t.lab.next, 1);
    let shown = t.lab.last.as_ref().expect("the by-hand report stays the last");
    assert!(shown.by_hand && shown.actions.is_empty());
    assert_eq!(shown.sandbox_pid, SHELL);
    assert_eq!(shown.after.sandbox.proc.ns[&Ns::Uts], crate::lab::fake::inode(Ns::Uts, true, SHELL));
}

#[test]
fn leaving_the_unshare_shell_after_the_tick_still_counts_as_the_tick() {
    let mut t = Tried::uts(0);
    let mut s = t.start().unwrap();
    t.world.shows(SHELL, &[Ns::Uts], "host");
    t.look(&mut s);
    t.world.shows(SHELL, &[], "host");
    assert_eq!(t.look(&mut s), Tick::StillOpen);
    assert_eq!(t.finish(s).unwrap(), Finished::ByHand);
    let shown = t.lab.last.as_ref().unwrap();
    assert!(shown.checks.iter().all(|c| c.verdict.passed), "terminal #1 as it was at the tick");
}

#[test]
fn when_the_labs_own_step_fails_after_the_students_a_fresh_sandbox_replays_to_it() {
    let mut t = Tried::new(builtin("uts"), FakeWorld::new(), 1);
    let mut s = t.start().unwrap();
    t.world.shows(SHELL, &[Ns::Uts], "container-test");
    assert_eq!(t.look(&mut s), Tick::Ticked { step: 1 });
    // The student's change stands in the lab's way: its sethostname fails now.
    t.world.0.borrow_mut().failing.push(("sethostname", Errno::EBUSY));
    t.lab.sandbox = None;
    assert_eq!(t.finish(s).unwrap(), Finished::ByHand);
    assert_eq!(t.fakes.said().last().unwrap(), "draw rebuilt 1");
    assert_eq!(t.world.spawned(), 3, "the first agent, the one that failed, and the rebuilt one");
    assert_eq!(t.lab.next, 2);
    assert!(t.lab.last.as_ref().unwrap().by_hand, "the student's report stays the one shown");
}

#[test]
fn when_the_labs_step_passes_nothing_is_rebuilt() {
    let mut t = Tried::uts(0);
    let mut s = t.start().unwrap();
    t.world.shows(SHELL, &[Ns::Uts], "host");
    t.look(&mut s);
    t.finish(s).unwrap();
    assert!(!t.fakes.said().iter().any(|s| s.starts_with("draw rebuilt")));
    assert_eq!(t.world.spawned(), 1);
}

// dojo, through fd 9

#[test]
fn dojo_task_is_the_task_with_the_labs_variables() {
    let mut t = Tried::uts(1);
    let mut s = t.start().unwrap();
    let answer = t.ask(&mut s, "task");
    assert!(answer.starts_with("Give terminal #1 a hostname of its own, `container-test`"), "{answer}");
    assert!(answer.ends_with("\n.\n"));
}

#[test]
fn dojo_pid_is_the_asking_shell() {
    let mut t = Tried::uts(0);
    let mut s = t.start().unwrap();
    assert_eq!(t.ask(&mut s, "pid"), format!("{SHELL}\n.\n"));
}

#[test]
fn dojo_check_judges_now() {
    let mut t = Tried::uts(0);
    let mut s = t.start().unwrap();
    t.world.shows(SHELL, &[], "host");
    let answer = t.ask(&mut s, "check");
    assert!(answer.starts_with("✘ sandbox.ns.uts != host.ns.uts"), "{answer}");
    assert!(!answer.contains("all checks hold"));
    t.world.shows(SHELL, &[Ns::Uts], "host");
    let answer = t.ask(&mut s, "check");
    assert_eq!(answer.lines().filter(|l| l.starts_with('✔')).count(), 3, "{answer}");
    assert!(answer.contains("all checks hold: `exit` to go on"));
    t.world.gone(SHELL);
    assert_eq!(t.ask(&mut s, "check"), "?\n.\n");
}

#[test]
fn dojo_hints_the_steps_hint_then_what_fails_then_no_more() {
    let mut t = Tried::uts(0);
    let mut s = t.start().unwrap();
    t.world.shows(SHELL, &[], "host");
    assert!(t.ask(&mut s, "hint").starts_with("hostname in both terminals prints the same name"));
    let second = t.ask(&mut s, "hint");
    assert_eq!(second, "what still does not hold:\n  ✘ sandbox.ns.uts != host.ns.uts\n.\n");
    assert!(t.ask(&mut s, "hint").starts_with("no more hints"));
}

#[test]
fn dojo_solve_is_the_lab_command_and_requests_come_in_order() {
    let mut t = Tried::uts(0);
    let mut s = t.start().unwrap();
    let mut sock = t.fakes.0.borrow_mut().fd9.take().unwrap();
    sock.write_all(b"solve\npid\nti").unwrap();
    s.poll(&t.lab);
    let mut got = vec![0u8; 200];
    let n = sock.read(&mut got).unwrap();
    let got = String::from_utf8_lossy(&got[..n]).to_string();
    assert_eq!(got, format!("the lab command for this step:\n  $ unshare -u /bin/bash\n.\n{SHELL}\n.\n"));
    sock.write_all(b"me\n").unwrap();
    s.poll(&t.lab);
    let n = sock.read(&mut [0u8; 200]).unwrap();
    assert!(n > 0, "the half request was kept until its newline");
}

// the judge

#[test]
fn try_judges_kernel_state_and_try_expect_never_action_results() {
    let mut t = Tried::uts(2);
    let watch = t.lab.watch(2).unwrap();
    t.world.shows(SHELL, &[Ns::Uts], "container-test");
    let look = t.lab.judge(&watch, SHELL).expect("the shell can be read");
    let srcs: Vec<&str> = look.checks.iter().map(|c| c.src.as_str()).collect();
    assert_eq!(srcs, ["sandbox.hostname == container-test", "host.hostname != container-test"]);
    assert!(look.passed());
    t.world.gone(SHELL);
    assert!(t.lab.judge(&watch, SHELL).is_none());
}

#[test]
fn the_by_hand_report_is_the_students_process_against_the_sandbox_before() {
    let mut t = Tried::uts(0);
    let watch = t.lab.watch(0).unwrap();
    t.world.shows(SHELL, &[Ns::Uts], "host");
    let look = t.lab.judge(&watch, SHELL).unwrap();
    let report = t.lab.by_hand(watch, look);
    assert!(report.by_hand && report.passed());
    assert_eq!(report.before.sandbox.proc.pid, FIRST_AGENT);
    assert_eq!(report.after.sandbox.proc.pid, SHELL);
    assert_eq!(report.shell.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["unshare -u /bin/bash"]);
}
