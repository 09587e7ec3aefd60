//! nsdojo runs as root and writes where the person at the keyboard asks: a link someone
//! planted there must not redirect root's write. The unprivileged user here is `nobody`
//! (65534), who exists on every Debian/Ubuntu machine, so the test adds no user to the host.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::harness::{require_root, Test};

const NOBODY: &str = "65534";

fn victim(dir: &Path) -> std::path::PathBuf {
    let v = dir.join("victim");
    std::fs::write(&v, "precious\n").unwrap();
    v
}

fn record(to: &Path) -> Test {
    Test::new().args(["run".as_ref(), "uts".as_ref(), "--record".as_ref(), to.as_os_str()])
}

/// As root (no sudo): a symlink or a hard link at the --record target is refused, and what it
/// points at is untouched.
#[test]
fn record_refuses_a_planted_link_as_root() {
    let _g = require_root!();
    let dir = tempfile::tempdir().unwrap();
    let victim = victim(dir.path());
    let sym = dir.path().join("handout.md");
    std::os::unix::fs::symlink(&victim, &sym).unwrap();
    record(&sym).without_env("SUDO_UID").without_env("SUDO_GID").fails_with(2).stderr_has("symbolic link");
    let hard = dir.path().join("hard.md");
    std::fs::hard_link(&victim, &hard).unwrap();
    record(&hard).without_env("SUDO_UID").without_env("SUDO_GID").fails_with(2).stderr_has("hard links");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    // And a plain new file works, owned by root.
    let fresh = dir.path().join("fresh.md");
    record(&fresh).without_env("SUDO_UID").without_env("SUDO_GID").succeeds();
    assert!(std::fs::read_to_string(&fresh).unwrap().contains("uts"));
}

/// Under sudo, the file is opened as the invoking user: where that user may not write (a
/// root-owned file, through a symlink or not), nsdojo does not write either; where they may,
/// the handout is theirs.
#[test]
fn record_under_sudo_writes_only_what_the_user_could() {
    let _g = require_root!();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let victim = victim(dir.path());
    let as_nobody = |t: Test| t.env("SUDO_UID", NOBODY).env("SUDO_GID", NOBODY).env("SUDO_USER", "nobody");
    // Straight at a root-owned file.
    as_nobody(record(&victim)).fails_with(2);
    // Through a symlink nobody planted (created as nobody would: the link's owner does not matter).
    let sym = dir.path().join("handout.md");
    std::os::unix::fs::symlink(&victim, &sym).unwrap();
    as_nobody(record(&sym)).fails_with(2);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let mine = dir.path().join("mine.md");
    as_nobody(record(&mine)).succeeds();
    let meta = std::fs::metadata(&mine).unwrap();
    assert_eq!(meta.uid(), 65534, "the handout belongs to the student");
    assert!(std::fs::read_to_string(&mine).unwrap().contains("uts"));
}

/// Progress and history (REPL) at planted symlinks to a root-owned file: as root and as
/// nobody under sudo, the file they point at is neither written nor read into the history.
#[test]
fn progress_and_history_never_go_through_a_planted_link() {
    let _g = require_root!();
    for sudo in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        let victim = victim(dir.path());
        let (progress, history) = (dir.path().join("progress.json"), dir.path().join("history"));
        std::os::unix::fs::symlink(&victim, &progress).unwrap();
        std::os::unix::fs::symlink(&victim, &history).unwrap();
        let mut cmd = std::process::Command::new(crate::harness::bin());
        cmd.env("NO_COLOR", "1").env("NSDOJO_PROGRESS", &progress).env("NSDOJO_HISTORY", &history);
        cmd.env_remove("SUDO_UID").env_remove("SUDO_GID").env_remove("SUDO_USER");
        if sudo {
            cmd.env("SUDO_UID", NOBODY).env("SUDO_GID", NOBODY).env("SUDO_USER", "nobody");
        }
        cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"lesson uts\nnext\nquit\n").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "sudo={sudo}: {}", String::from_utf8_lossy(&out.stdout));
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n", "sudo={sudo}");
        assert_eq!(std::fs::metadata(&victim).unwrap().uid(), 0, "sudo={sudo}: not chowned");
        // Nothing of the victim shows up as a resumed lesson or a history line.
        assert!(!String::from_utf8_lossy(&out.stdout).contains("precious"), "sudo={sudo}");
    }
}
