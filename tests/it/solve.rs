//! `check --solve`: every step done as a student does it — the REPL on a pty, `try`, the
//! printed lab command typed in (terminal #2's part run on the host) — must tick and leave
//! the host as it was.

use crate::harness::{require_root, HostState, Test};

/// Every built-in lesson, on this machine's cgroup layout: each printed lab command passes its
/// step, but for a few waived steps (each with its reason printed): 78 of 79 solve here, doors
/// 5 is waived.
#[test]
fn every_printed_lab_command_passes_its_step() {
    let _g = require_root!();
    let before = HostState::now();
    let started = std::time::Instant::now();
    let d = Test::new().args(["--no-color", "check", "--solve"]).succeeds();
    let out = d.stdout();
    assert!(!out.contains("unsolved  "), "{out}");
    let score = out.lines().find(|l| l.starts_with("solve score:")).expect("a score line");
    assert!(score.contains("0 unsolved"), "{score}");
    assert!(out.lines().filter(|l| l.starts_with("waived")).count() <= 3, "at most 3 waivers: {out}");
    eprintln!("check --solve took {:?}: {score}", started.elapsed());
    before.assert_unchanged_since("check --solve");
}

/// The solver itself can fail: a printed command that does not do the task is unsolved (with
/// the check that failed), the right one is solved, and a waived step is printed with why.
#[test]
fn a_wrong_lab_command_is_unsolved_and_the_right_one_solved() {
    let _g = require_root!();
    let before = HostState::now();
    let dir = tempfile::tempdir().unwrap();
    let lesson = |name: &str| {
        format!(
            r#"id = "solvable"
title.en = "solvable"
[[step]]
text.en = "a UTS namespace"
shell = "unshare -u sh"
do = ["unshare uts"]
expect = ["sandbox.ns.uts != host.ns.uts"]
task.en = "Give terminal #1 a UTS namespace of its own."
[[step]]
text.en = "rename"
shell = "hostname {name}"
do = ["sethostname dojo-solved"]
expect = ["sandbox.hostname == dojo-solved"]
task.en = "Name terminal #1 dojo-solved."
[[step]]
text.en = "look"
do = ["sh hostname"]
expect = ["step.status == 0"]
task.en = "Look at the name."
solve_waiver = {{ why = "only looks: nothing to type" }}
"#
        )
    };
    let file = dir.path().join("solvable.toml");
    let args =
        ["--no-color".as_ref(), "--lessons".as_ref(), dir.path().as_os_str(), "check".as_ref(), "--solve".as_ref()];
    std::fs::write(&file, lesson("dojo-wrong")).unwrap();
    let out = Test::new().args(args).fails_with(1).stdout();
    assert!(out.contains("solved    solvable 1"), "{out}");
    assert!(out.contains("unsolved  solvable 2") && out.contains("✘ sandbox.hostname == dojo-solved"), "{out}");
    assert!(out.contains("$ hostname dojo-wrong"), "the command typed is shown: {out}");
    assert!(out.contains("waived    solvable 3") && out.contains("only looks: nothing to type"), "{out}");
    assert!(out.contains("1 of 2 steps solved (50.0%), 1 unsolved, 1 waived (solvable 3)"), "{out}");
    std::fs::write(&file, lesson("dojo-solved")).unwrap();
    let out = Test::new().args(args).succeeds().stdout();
    assert!(out.contains("solved    solvable 2") && out.contains("2 of 2 steps solved"), "{out}");
    before.assert_unchanged_since("check --solve of a lesson of ours");
}
