//! `Lab::run_step` as an ordinary user: the lab's legs, checks and events against the
//! in-process agent (`lab::fake`), which performs through the recording kernel with the
//! agent's own loop. Nothing is forked, unshared or mounted.

use nix::errno::Errno;

use super::event::Collect;
use super::fake::{inode, FakeWorld, FIRST_AGENT, HOST_NAME};
use super::{Lab, LabError};
use crate::lesson::{Lesson, Ns};
use crate::sandbox::kernel::Call;

pub(crate) fn builtin(id: &str) -> Lesson {
    crate::lesson::builtin().into_iter().find(|l| l.id == id).expect("a built-in lesson")
}

/// A lesson of one step per `(do, expect)` pair.
pub(crate) fn lesson_of(steps: &[(&[&str], &[&str])]) -> Lesson {
    let mut src = String::from("id = \"t\"\ntitle.en = \"T\"\ntitle.ko = \"T\"\nintro.en = \"i\"\nintro.ko = \"i\"\n");
    let list = |xs: &[&str]| xs.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>().join(", ");
    for (actions, expects) in steps {
        src.push_str(&format!(
            "\n[[step]]\ntext.en = \"s\"\ntext.ko = \"s\"\ndo = [{}]\nexpect = [{}]\n",
            list(actions),
            list(expects)
        ));
    }
    crate::lesson::parse_lesson("test.toml", &src).expect("the test lesson parses")
}

/// A lab on `world`, in a temporary work directory (kept alive beside it).
pub(crate) fn lab_in(lesson: Lesson, world: &FakeWorld) -> (Lab, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    (Lab::in_world(lesson, dir.path().to_path_buf(), Box::new(world.clone())), dir)
}

#[test]
fn the_uts_lessons_first_step_passes_through_the_in_process_agent() {
    let world = FakeWorld::new();
    let (mut lab, _dir) = lab_in(builtin("uts"), &world);
    let report = lab.run_step(0, &mut ()).expect("the step runs");
    assert!(report.passed(), "{:?}", report.checks);
    assert_eq!(world.calls(), [Call::Unshare(vec![Ns::Uts])]);
    assert_eq!(report.after.sandbox.proc.ns[&Ns::Uts], inode(Ns::Uts, true, FIRST_AGENT));
    assert_eq!((lab.next, report.sandbox_pid), (1, FIRST_AGENT));
}

#[test]
fn a_step_tells_its_sink_start_syscalls_checks_then_done_in_that_order() {
    let world = FakeWorld::new();
    let (mut lab, _dir) = lab_in(builtin("uts"), &world);
    let mut events = Collect::default();
    lab.run_step(0, &mut events).unwrap();
    assert_eq!(events.kinds(), ["step_started", "syscall", "check", "check", "check", "step_done"]);
    assert_eq!(events.0[1]["call"]["call"], "unshare(CLONE_NEWUTS)");
    assert_eq!(events.0[2]["check"]["verdict"]["passed"], true);
}

#[test]
fn the_agent_starts_with_the_first_step_once_and_is_published() {
    let world = FakeWorld::new();
    let (mut lab, _dir) = lab_in(builtin("uts"), &world);
    assert_eq!(world.spawned(), 0, "no agent before a step needs one");
    lab.run_step(0, &mut ()).unwrap();
    lab.run_step(1, &mut ()).unwrap();
    assert_eq!(world.spawned(), 1);
    assert_eq!(world.0.borrow().published, [Some(FIRST_AGENT)]);
}

#[test]
fn a_refused_unshare_aborts_the_step_and_its_checks_fail() {
    let world = FakeWorld::new().failing("unshare", Errno::EPERM);
    let (mut lab, _dir) = lab_in(builtin("uts"), &world);
    let report = lab.run_step(0, &mut ()).unwrap();
    assert_eq!(
        report.aborted.as_ref().map(|m| m.to_string()).as_deref(),
        Some("unshare failed: Operation not permitted (EPERM)")
    );
    assert!(!report.passed());
    assert!(!report.checks[0].verdict.passed, "the uts namespace is still the host's");
    assert_eq!(lab.next, 1, "the lab goes past a failed step");
}

#[test]
fn a_batch_stops_at_its_first_failure() {
    let lesson = lesson_of(&[(&["unshare mnt", "mkdir /w/x", "mount tmpfs /w/x"], &["sandbox.ns.mnt != host.ns.mnt"])]);
    let world = FakeWorld::new().failing("mkdir", Errno::EACCES);
    let (mut lab, _dir) = lab_in(lesson, &world);
    let report = lab.run_step(0, &mut ()).unwrap();
    assert_eq!(world.calls().iter().map(Call::name).collect::<Vec<_>>(), ["unshare", "mount", "mkdir"]);
    assert_eq!(report.actions.len(), 2, "the mount after the failed mkdir was never performed");
    assert!(report.aborted.unwrap().to_string().starts_with("mkdir"));
    assert!(report.checks[0].verdict.passed, "what was done before the failure still shows");
}

#[test]
fn a_tried_action_that_fails_does_not_stop_the_step() {
    let lesson = lesson_of(&[(&["try sethostname oops", "unshare uts"], &["sandbox.ns.uts != host.ns.uts"])]);
    let world = FakeWorld::new();
    let (mut lab, _dir) = lab_in(lesson, &world);
    let report = lab.run_step(0, &mut ()).unwrap();
    assert!(report.passed(), "{:?}", report.aborted);
    assert!(report.actions[0].outcome.trace.calls.is_empty(), "refused before the kernel: the host's uts");
    assert_eq!(world.calls(), [Call::Unshare(vec![Ns::Uts])]);
}

#[test]
fn a_failed_host_action_aborts_before_the_sandbox_leg_after_it_is_sent() {
    let lesson = lesson_of(&[(&["cgroup join", "unshare uts"], &["sandbox.ns.uts != host.ns.uts"])]);
    let world = FakeWorld::new();
    let (mut lab, _dir) = lab_in(lesson, &world);
    let report = lab.run_step(0, &mut ()).unwrap();
    assert_eq!(
        report.aborted.as_ref().map(|m| m.to_string()).as_deref(),
        Some("no cgroup yet: `cgroup create …` first")
    );
    assert!(report.actions[0].on_host);
    assert!(world.calls().is_empty(), "the unshare after it never reached the agent");
}

#[test]
fn a_host_action_is_never_sent_to_the_agent() {
    let lesson = lesson_of(&[(&["unshare uts", "cgroup limit cpu 30%", "sethostname x"], &["sandbox.hostname == x"])]);
    let world = FakeWorld::new();
    let (mut lab, _dir) = lab_in(lesson, &world);
    let report = lab.run_step(0, &mut ()).unwrap();
    assert_eq!(world.calls(), [Call::Unshare(vec![Ns::Uts])], "the host action stopped the step");
    assert_eq!(report.actions.len(), 2);
    assert!(!report.actions[0].on_host && report.actions[1].on_host);
}

#[test]
fn the_hostname_step_sees_terminal_1s_new_name_and_the_hosts_old_one() {
    let world = FakeWorld::new();
    let (mut lab, _dir) = lab_in(builtin("uts"), &world);
    lab.run_step(0, &mut ()).unwrap();
    let report = lab.run_step(1, &mut ()).unwrap();
    assert!(report.passed(), "{:?}", report.checks);
    assert_eq!(report.after.sandbox.inside.hostname, "container-test");
    assert_eq!(report.after.host.inside.hostname, HOST_NAME);
    assert_eq!(report.before.sandbox.inside.hostname, HOST_NAME);
}

#[test]
fn a_command_s_output_feeds_the_step_s_stdout_check() {
    let world = FakeWorld::new().sh("uname -n", "container-test\n", 0);
    let (mut lab, _dir) = lab_in(builtin("uts"), &world);
    for i in 0..3 {
        let report = lab.run_step(i, &mut ()).unwrap();
        assert!(report.passed(), "step {}: {:?}", i + 1, report.checks);
    }
    let wrong = FakeWorld::new().sh("uname -n", "host\n", 0);
    let (mut lab, _dir) = lab_in(builtin("uts"), &wrong);
    let failed: Vec<bool> = (0..3).map(|i| lab.run_step(i, &mut ()).unwrap().passed()).collect();
    assert_eq!(failed, [true, true, false]);
}

#[test]
fn after_unshare_pid_the_lab_follows_the_new_agent() {
    let world = FakeWorld::new();
    let (mut lab, _dir) = lab_in(builtin("pid"), &world);
    let report = lab.run_step(0, &mut ()).unwrap();
    assert_eq!(report.sandbox_pid, FIRST_AGENT + 1);
    assert_eq!(world.0.borrow().published, [Some(FIRST_AGENT), Some(FIRST_AGENT + 1)]);
    assert_eq!(lab.expand("$PID"), (FIRST_AGENT + 1).to_string());
}

#[test]
fn a_step_that_does_not_exist_is_an_error() {
    let world = FakeWorld::new();
    let (mut lab, _dir) = lab_in(builtin("uts"), &world);
    assert!(matches!(lab.run_step(3, &mut ()), Err(LabError::NoStep(4))));
    assert_eq!(world.spawned(), 0);
}

#[test]
fn a_mutant_leaves_its_action_out_and_a_check_notices() {
    let world = FakeWorld::new();
    let (mut lab, _dir) = lab_in(builtin("uts"), &world);
    let report = lab.run_step_without(0, Some(0), &mut ()).unwrap();
    assert!(report.actions[0].removed && report.actions[0].src.starts_with('✂'));
    assert!(world.calls().is_empty());
    assert!(!report.passed());
}

#[test]
fn a_replay_starts_a_fresh_agent_and_takes_the_steps_again_quietly() {
    let world = FakeWorld::new();
    let (mut lab, _dir) = lab_in(builtin("uts"), &world);
    lab.run_step(0, &mut ()).unwrap();
    lab.run_step(1, &mut ()).unwrap();
    let mut events = Collect::default();
    lab.replay(2, &mut events).unwrap();
    assert!(events.0.is_empty(), "only a meter would be shown");
    let shared = world.0.borrow();
    assert_eq!((shared.spawned, shared.alive), (2, 1), "the old agent is gone");
    assert_eq!(shared.published, [Some(FIRST_AGENT), None, Some(FIRST_AGENT + 10)]);
    assert_eq!(shared.calls.len(), 4, "both steps twice");
    assert_eq!((lab.next, lab.last.is_none()), (2, true));
}

#[test]
fn a_reset_empties_the_work_directory_only_while_it_is_ours() {
    let world = FakeWorld::new();
    let (mut lab, dir) = lab_in(builtin("uts"), &world);
    std::fs::write(dir.path().join("left"), "x").unwrap();
    world.0.borrow_mut().work_not_ours = true;
    lab.reset();
    assert!(dir.path().join("left").exists(), "someone else's directory is left alone");
    world.0.borrow_mut().work_not_ours = false;
    lab.reset();
    assert!(!dir.path().join("left").exists());
}
