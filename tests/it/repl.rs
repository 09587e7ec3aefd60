//! The interactive path, driven on a real pty.

use std::process::Command;

use rexpect::session::{spawn_command, PtySession};

use crate::harness::{alive, bin, require_root, HostState};

pub(crate) fn repl(extra_env: &[(&str, &str)]) -> (PtySession, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin());
    cmd.env("NO_COLOR", "1").env("COLUMNS", "120").env("NSDOJO_HISTORY", home.path().join("history"));
    // Progress in the test's own home, not root's (a test may name another file in extra_env).
    cmd.env("NSDOJO_PROGRESS", home.path().join("progress.json"));
    cmd.env_remove("LANG").env_remove("LC_ALL");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut p = spawn_command(cmd, Some(20_000)).expect("spawn nsdojo on a pty");
    p.exp_string("nsdojo> ").expect("first prompt");
    (p, home)
}

fn readlink_ns(pid: i32, ns: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap().display().to_string()
}

/// Start `lesson`, run `steps` steps, return the sandbox PID the REPL printed.
pub(crate) fn lesson_steps(p: &mut PtySession, lesson: &str, steps: usize) -> i32 {
    p.send_line(&format!("lesson {lesson}")).unwrap();
    p.exp_regex(&format!(r"nsdojo\[{lesson} 0/\d+\]> ")).unwrap();
    let mut pid = 0;
    for i in 1..=steps {
        p.send_line("next").unwrap();
        // Every step ends with how to enter terminal #1 from a second terminal.
        let (_, m) = p.exp_regex(r"nsenter -t \d+ -a -r -w sh").unwrap();
        pid = m.split_whitespace().nth(2).unwrap().parse().unwrap();
        p.exp_regex(&format!(r"nsdojo\[{lesson} {i}/\d+\]> ")).unwrap();
    }
    pid
}

#[test]
fn the_mnt_inode_shown_is_the_one_a_second_terminal_reads() {
    let _g = require_root!();
    let before = HostState::now();
    let (mut p, _home) = repl(&[]);
    p.send_line("lesson mnt").unwrap();
    p.exp_regex(r"nsdojo\[mnt 0/4\]> ").unwrap();
    p.send_line("next").unwrap();
    let (_, pid) = p.exp_regex(r"PID \d+").unwrap();
    let pid: i32 = pid.trim_start_matches("PID ").parse().unwrap();
    let (_, shown) = p.exp_regex(r"\* mnt:\[\d+\]").unwrap();
    // Read by the test itself, as terminal #2 would, while the sandbox lives.
    assert_eq!(shown.trim_start_matches("* "), readlink_ns(pid, "mnt"));
    assert_ne!(readlink_ns(pid, "mnt"), readlink_ns(std::process::id() as i32, "mnt"));
    p.exp_string(&format!("readlink /proc/{pid}/ns/mnt")).unwrap();
    p.exp_regex(r"nsdojo\[mnt 1/4\]> ").unwrap();

    p.send_line("nxt").unwrap();
    p.exp_string("did you mean `next`?").unwrap();
    p.exp_regex(r"nsdojo\[mnt 1/4\]> ").unwrap();
    p.send_line("").unwrap();
    p.exp_regex(r"nsdojo\[mnt 1/4\]> ").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("nothing to stop").unwrap();
    p.send_line("next").unwrap();
    p.exp_string("host.mounts lacks").unwrap();
    p.exp_regex(r"nsdojo\[mnt 2/4\]> ").unwrap();
    p.send_line("hint").unwrap();
    p.exp_string("hint:").unwrap();
    p.send_line("lesson bogus").unwrap();
    p.exp_string("no lesson `bogus`").unwrap();
    p.send_line("quit").unwrap();
    p.exp_eof().unwrap();
    assert!(!alive(pid), "the sandbox died with the session");
    before.assert_unchanged_since("a REPL session");
}

#[test]
fn again_back_reset_and_eof() {
    let _g = require_root!();
    let before = HostState::now();
    let (mut p, home) = repl(&[]);
    let pid = lesson_steps(&mut p, "uts", 2);
    p.send_line("again").unwrap();
    let (_, m) = p.exp_regex(r"PID (\d+) ").unwrap();
    let again_pid: i32 = m.trim_start_matches("PID ").trim().parse().unwrap();
    assert_ne!(pid, again_pid, "again starts from a fresh sandbox");
    assert!(!alive(pid));
    p.exp_string("sandbox.hostname == container-test").unwrap();
    p.exp_regex(r"nsdojo\[uts 2/3\]> ").unwrap();
    p.send_line("back").unwrap();
    p.exp_regex(r"nsdojo\[uts 1/3\]> ").unwrap();
    p.send_line("diff").unwrap();
    p.exp_string("no step has run yet").unwrap();
    p.send_line("next").unwrap();
    p.exp_regex(r"nsdojo\[uts 2/3\]> ").unwrap();
    p.send_line("diff").unwrap();
    p.exp_string("container-test").unwrap();
    p.send_line("reset").unwrap();
    p.exp_regex(r"nsdojo\[uts 0/3\]> ").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
    let history = std::fs::read_to_string(home.path().join("history")).unwrap();
    assert!(history.contains("lesson uts"), "history kept: {history}");
    before.assert_unchanged_since("again/back/reset/EOF");
}

/// Two terminals: the REPL in one, `nsdojo attach` in the other.
#[test]
fn attach_from_a_second_terminal_sees_the_sandbox() {
    let _g = require_root!();
    let before = HostState::now();
    crate::harness::Test::new()
        .args(["attach", "--", "hostname"])
        .fails_with(2)
        .stderr_has("no nsdojo session with a running sandbox")
        .stderr_is_one_line();
    let (mut p, _home) = repl(&[]);
    let pid = lesson_steps(&mut p, "uts", 2);
    let mut second = Command::new(bin());
    second.args(["attach", "--", "hostname"]).env("NO_COLOR", "1");
    let mut t2 = spawn_command(second, Some(10_000)).unwrap();
    t2.exp_string("container-test").unwrap();
    t2.exp_eof().unwrap();
    let host = nix::unistd::gethostname().unwrap();
    assert_ne!(host.to_string_lossy(), "container-test");
    // The attached shell is really in terminal #1's namespaces.
    let out = crate::harness::Test::new().args(["attach", "--", "readlink", "/proc/self/ns/uts"]).succeeds();
    assert_eq!(out.stdout().trim(), readlink_ns(pid, "uts"));
    p.send_line("quit").unwrap();
    p.exp_eof().unwrap();
    before.assert_unchanged_since("attach");
}

/// `again` over the step that makes a named netns: the lesson's netns is removed with the
/// sandbox, so making it again works, and nothing is left when the lesson ends.
#[test]
fn again_over_the_named_netns_step() {
    let _g = require_root!();
    let before = HostState::now();
    let (mut p, _home) = repl(&[]);
    lesson_steps(&mut p, "net", 4);
    p.send_line("again").unwrap();
    let (seen, _) = p.exp_regex(r"nsdojo\[net 4/\d+\]> ").unwrap();
    assert!(seen.contains("bind mount keeps the namespace alive"), "{seen}");
    assert!(!seen.contains("File exists") && !seen.contains("step stopped"), "{seen}");
    p.send_line("quit").unwrap();
    p.exp_eof().unwrap();
    before.assert_unchanged_since("again over netns add");
}

/// Ctrl-C during a `host sh` command stops the command (its whole process group) *and* the
/// step: the actions after it do not run.
#[test]
fn ctrl_c_during_a_host_command_stops_it_and_the_step() {
    let _g = require_root!();
    let before = HostState::now();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("slow.toml"),
        "id = \"slow\"\ntitle.en = \"slow\"\n[[step]]\ntext.en = \"a slow host command\"\n\
         do = [\"host sh sleep 3517; true\", \"unshare uts\", \"sethostname after-ctrl-c\"]\n\
         expect = [\"sandbox.hostname == after-ctrl-c\"]\n",
    )
    .unwrap();
    let mut cmd = Command::new(bin());
    cmd.env("NO_COLOR", "1").env("COLUMNS", "120").env("NSDOJO_HISTORY", dir.path().join("history"));
    cmd.env_remove("LANG").env_remove("LC_ALL").arg("--lessons").arg(dir.path());
    let mut p = spawn_command(cmd, Some(20_000)).unwrap();
    p.exp_string("nsdojo> ").unwrap();
    p.send_line("lesson slow").unwrap();
    p.exp_regex(r"nsdojo\[slow 0/1\]> ").unwrap();
    p.send_line("next").unwrap();
    let sleeping = || {
        std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            std::fs::read(e.path().join("cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).contains("3517"))
        })
    };
    let t0 = std::time::Instant::now();
    while !sleeping() && t0.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(sleeping(), "the host command started");
    p.send_control('c').unwrap();
    p.exp_string("stopped by Ctrl-C").unwrap();
    p.exp_regex(r"nsdojo\[slow \d/1\]> ").unwrap();
    assert!(!sleeping(), "the command and its group are gone");
    p.send_line("state").unwrap();
    p.exp_string("hostname").unwrap();
    p.send_line("quit").unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(!rest.contains("after-ctrl-c"), "the step stopped before its later actions: {rest}");
    before.assert_unchanged_since("Ctrl-C during a host command");
}
