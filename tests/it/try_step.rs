//! `try` on a real pty: the student types the step into terminal #1's shell; nsdojo says ✔
//! when the step's checks hold, and puts back what the student changed on the host instead.

use crate::harness::{require_root, HostState};
use crate::repl::{lesson_steps, repl};

fn hostname() -> String {
    nix::unistd::gethostname().unwrap().to_string_lossy().into_owned()
}

/// uts step 2 by hand: after step 1 made terminal #1's UTS namespace, `hostname
/// container-test` in the try shell is the step, and the ✔ comes while the shell is open.
#[test]
fn the_right_command_gets_the_tick_and_the_lesson_goes_on() {
    let _g = require_root!();
    let before = HostState::now();
    let state = tempfile::tempdir().unwrap();
    let progress = state.path().join("progress.json");
    let (mut p, _home) = repl(&[("NSDOJO_PROGRESS", progress.to_str().unwrap())]);
    lesson_steps(&mut p, "uts", 1);
    p.send_line("try").unwrap();
    p.exp_string("container-test").unwrap();
    p.exp_string("`exit` comes back").unwrap();
    p.send_line("hostname container-test").unwrap();
    // (rexpect reads bytes as Latin-1: the ✔ itself does not compare.)
    p.exp_string("step 2 done").unwrap();
    p.exp_string("exit to go on").unwrap();
    p.send_line("exit").unwrap();
    p.exp_string("step 2 done by hand").unwrap();
    p.exp_regex(r"nsdojo\[uts 2/\d+\]> ").unwrap();
    assert_ne!(hostname(), "container-test", "the host kept its name");
    // Progress knows which step was done by hand.
    let kept: serde_json::Value = serde_json::from_slice(&std::fs::read(&progress).unwrap()).unwrap();
    assert_eq!(kept["by_hand"]["uts"], serde_json::json!([2]), "{kept}");
    assert_eq!(kept["done"]["uts"], serde_json::json!([1, 2]), "{kept}");
    p.send_line("quit").unwrap();
    p.exp_eof().unwrap();
    before.assert_unchanged_since("try, done right");
}

/// uts step 1 done wrong: `hostname oops` without `unshare -u` renames the host. No ✔, and
/// on `exit` the host's name is put back and the student told what the step needed first.
#[test]
fn the_wrong_command_gets_no_tick_and_the_host_is_put_back() {
    let _g = require_root!();
    let before = HostState::now();
    let name = hostname();
    let (mut p, _home) = repl(&[]);
    p.send_line("lesson uts").unwrap();
    p.exp_regex(r"nsdojo\[uts 0/\d+\]> ").unwrap();
    p.send_line("try").unwrap();
    p.exp_string("`exit` comes back").unwrap();
    p.send_line("hostname oops").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    p.send_line("exit").unwrap();
    let seen = p.exp_string("step 1 is not done yet").unwrap();
    assert!(!seen.contains("exit to go on"), "no tick for a changed host: {seen}");
    assert!(seen.contains(&format!("the host's hostname was changed to oops; put back to {name}")), "{seen}");
    assert!(seen.contains("`unshare -u`"), "{seen}");
    assert_eq!(hostname(), name);
    p.exp_regex(r"nsdojo\[uts 0/\d+\]> ").unwrap();
    p.send_line("quit").unwrap();
    p.exp_eof().unwrap();
    before.assert_unchanged_since("try, done wrong");
}

/// mnt step 1 done wrong: a tmpfs mounted before `unshare -m` lands in the host's mount table;
/// on `exit` it is unmounted and the student told to make the mount namespace first.
#[test]
fn a_mount_on_the_host_is_taken_away_again() {
    let _g = require_root!();
    let before = HostState::now();
    let (mut p, _home) = repl(&[]);
    p.send_line("lesson mnt").unwrap();
    p.exp_regex(r"nsdojo\[mnt 0/\d+\]> ").unwrap();
    p.send_line("try").unwrap();
    p.exp_string("`exit` comes back").unwrap();
    p.send_line("mount -t tmpfs oops /mnt").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    p.send_line("exit").unwrap();
    let seen = p.exp_string("is not done yet").unwrap();
    assert!(seen.contains("/mnt was mounted on the host; unmounted"), "{seen}");
    assert!(seen.contains("`unshare -m`"), "{seen}");
    p.exp_regex(r"nsdojo\[mnt 0/\d+\]> ").unwrap();
    p.send_line("quit").unwrap();
    p.exp_eof().unwrap();
    before.assert_unchanged_since("try, a mount on the host");
}
