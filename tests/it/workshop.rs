//! The workshop around the lessons: transcripts, progress, compare, shell, doctor.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;

use crate::harness::{bin, require_root, HostState, Test};
use crate::repl::{lesson_steps, repl};

#[test]
fn a_recorded_run_is_a_markdown_handout() {
    let _g = require_root!();
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("mnt.md");
    Test::new().args(["run".as_ref(), "mnt".as_ref(), "--record".as_ref(), md.as_os_str()]).succeeds();
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.starts_with("# nsdojo transcript"), "{text}");
    assert!(text.contains("## mnt — Mount namespace"), "{text}");
    assert!(text.contains("### mnt step 2/4 ✔"), "{text}");
    assert!(text.contains("```text\n"), "{text}");
    assert!(text.contains("unshare(CLONE_NEWNS) = 0"), "syscalls: {text}");
    assert!(text.contains("│ mnt    ┆ * mnt:["), "tables: {text}");
    assert!(text.contains("✔ host.mounts lacks"), "checks: {text}");
    assert!(!text.contains('\u{1b}'), "no colour codes");
}

/// Run a REPL script as `sudo` would run it for user `student` (uid 1000), whose home is a
/// temp dir: in a mount namespace of the test's own, /etc/passwd is a copy that knows `student`.
fn as_student(home: &std::path::Path, script: &str) -> String {
    // A home as the student has it: theirs, under directories they may enter.
    std::fs::set_permissions(home.parent().unwrap(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(home, Some(1000), Some(1000)).unwrap();
    let passwd = home.parent().unwrap().join("passwd");
    let mut text = std::fs::read_to_string("/etc/passwd").unwrap();
    text.push_str(&format!("student:x:1000:1000::{}:/bin/sh\n", home.display()));
    std::fs::write(&passwd, text).unwrap();
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", "mount --bind \"$PASSWD\" /etc/passwd && printf \"$SCRIPT\" | \"$NSDOJO\""])
        .env("PASSWD", &passwd)
        .env("SCRIPT", script)
        .env("NSDOJO", bin())
        .env("NO_COLOR", "1")
        .env("SUDO_USER", "student")
        .env("SUDO_UID", "1000")
        .env("SUDO_GID", "1000")
        .env("HOME", "/root")
        .output()
        .unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{all}");
    all
}

#[test]
fn progress_survives_a_restart_in_the_invoking_users_home() {
    let _g = require_root!();
    let before = HostState::now();
    let top = tempfile::tempdir().unwrap();
    let home = top.path().join("student");
    std::fs::create_dir(&home).unwrap();
    as_student(&home, "lesson uts\\nnext\\nnext\\nquit\\n");
    let file = home.join(".local/state/nsdojo/progress.json");
    let json = std::fs::read_to_string(&file).expect("progress in the student's home, not root's");
    assert!(json.contains("\"uts\"") && json.contains('2'), "{json}");
    assert_eq!(std::fs::metadata(&file).unwrap().uid(), 1000, "owned by the student");
    let out = as_student(&home, "progress\\nlesson\\nnext\\nquit\\n");
    assert!(out.contains("2/"), "{out}");
    assert!(out.contains("uts            2/3"), "{out}");
    assert!(out.contains("resuming: replaying steps 1–2"), "{out}");
    assert!(out.contains("uts 3/3"), "{out}");
    before.assert_unchanged_since("progress runs");
}

#[test]
fn compare_and_shell_from_the_repl() {
    let _g = require_root!();
    let before = HostState::now();
    let (mut p, _home) = repl(&[]);
    lesson_steps(&mut p, "uts", 2);
    p.send_line("compare hostname").unwrap();
    p.exp_string("* container-test").unwrap();
    p.exp_string("1 line(s) differ").unwrap();
    p.send_line("shell").unwrap();
    p.exp_string("`exit` comes back").unwrap();
    p.send_line("hostname; exit").unwrap();
    p.exp_string("container-test").unwrap();
    p.exp_regex(r"nsdojo\[uts 2/3\]> ").unwrap();
    p.send_line("quit").unwrap();
    p.exp_eof().unwrap();
    before.assert_unchanged_since("compare and shell");
}

#[test]
fn doctor_tells_what_the_machine_offers() {
    let d = Test::new().args(["doctor"]).succeeds();
    let out = d.stdout();
    for line in ["root:", "kernel:", "cgroups:", "/ propagation:", "user namespaces:", "busybox", "nsenter"] {
        assert!(out.contains(line), "{line}: {out}");
    }
}

#[test]
fn root_does_not_follow_a_symlink_planted_in_the_students_home() {
    let _g = require_root!();
    let top = tempfile::tempdir().unwrap();
    let home = top.path().join("student");
    let victim = top.path().join("victim");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&victim).unwrap();
    std::os::unix::fs::symlink(&victim, home.join(".local")).unwrap();
    as_student(&home, "lesson uts\\nnext\\nquit\\n");
    let written: Vec<_> = walk(&victim);
    assert!(written.is_empty(), "nsdojo wrote through the symlink: {written:?}");
    assert_eq!(std::fs::metadata(&victim).unwrap().uid(), 0, "and chowned nothing there");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        out.push(e.path());
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        }
    }
    out
}

/// A classroom preflight: `doctor --json` says whether the lab can run, and the exit status
/// agrees (0 here as root; 1 for a user who is not, with the reason).
#[test]
fn doctor_json_and_its_exit_status_tell_whether_the_lab_can_run() {
    let _g = require_root!();
    let d = Test::new().args(["doctor", "--json"]).succeeds();
    let v: serde_json::Value = serde_json::from_str(&d.stdout()).unwrap();
    assert_eq!(v["can_run"], true, "{}", d.stdout());
    assert!(v["namespaces"].as_array().unwrap().iter().any(|n| n == "pid"), "{}", d.stdout());
    assert!(v["tools"]["nsenter"].is_string(), "{}", d.stdout());
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin())
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["can_run"], false);
    assert!(v["problems"][0].as_str().unwrap().contains("not root"));
}

#[test]
fn color_always_and_never_override_the_terminal_check() {
    let d = Test::new().args(["--color", "always", "list"]).succeeds();
    assert!(d.stdout().contains("\u{1b}["), "always colours, even into a pipe");
    let d = Test::new().args(["--color", "never", "list"]).succeeds();
    assert!(!d.stdout().contains("\u{1b}["));
}

#[test]
fn completions_and_the_man_page_come_from_the_cli_itself() {
    let bash = Test::new().args(["completions", "bash"]).succeeds().stdout();
    for word in ["doctor", "cleanup", "--lessons", "--mutate"] {
        assert!(bash.contains(word), "bash completion lacks {word}");
    }
    let man = Test::new().args(["man"]).succeeds().stdout();
    assert!(man.contains(".TH nsdojo 1") && man.contains("\\-\\-rootfs"), "{}", &man[..man.len().min(400)]);
}
