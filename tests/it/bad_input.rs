use crate::harness::Test;

fn write_lesson(dir: &std::path::Path, name: &str, body: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

const GOOD_HEAD: &str = "id = \"x\"\ntitle.en = \"X\"\n\n[[step]]\ntext.en = \"t\"\n";

#[test]
fn check_points_at_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_lesson(dir.path(), "bad.toml", &format!("{GOOD_HEAD}do = [\"unshare mnt bogus\"]\n"));
    Test::new()
        .args(["check".as_ref(), p.as_os_str()])
        .fails_with(1)
        .stderr_has(&format!("{}:6:20: unknown namespace `bogus`", p.display()))
        .stderr_is_one_line();
}

#[test]
fn check_reports_toml_syntax_and_unknown_actions() {
    let dir = tempfile::tempdir().unwrap();
    write_lesson(dir.path(), "a.toml", &format!("{GOOD_HEAD}do = [\"mout tmpfs /x\"]\n"));
    write_lesson(dir.path(), "b.toml", "id = \"b\"\ntitle.en = \"B\"\n[[step]\n");
    write_lesson(dir.path(), "c.toml", &format!("{GOOD_HEAD}expect = [\"sandbox.ns.mnt ~= host.ns.mnt\"]\n"));
    let d = Test::new().args(["check".as_ref(), dir.path().as_os_str()]).fails_with(1);
    let err = d.stderr();
    assert!(err.contains("a.toml:6:8: unknown action `mout` (did you mean `mount`?)"), "{err}");
    assert!(err.contains("b.toml:3:"), "{err}");
    assert!(err.contains("c.toml:6:26: expected an operator"), "{err}");
    assert_eq!(err.lines().count(), 3, "{err}");
}

#[test]
fn builtin_lessons_check_clean() {
    Test::new().args(["check"]).succeeds().stdout_has("built-in lessons are valid");
    Test::new().args(["check".as_ref(), crate::harness::repo("lessons").as_os_str()]).succeeds().stdout_has("ok (mnt");
}

#[test]
fn unknown_lesson_suggests_the_nearest() {
    Test::new().args(["run", "mtn"]).fails_with(2).stderr_has("did you mean `mnt`?").stderr_is_one_line();
}

#[test]
fn not_root_is_told_to_use_sudo() {
    // As root, drop to nobody with setpriv (util-linux) to see what a student without sudo sees.
    let _g = crate::harness::require_root!();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(crate::harness::bin())
        .args(["run", "mnt"])
        .env("NO_COLOR", "1")
        .output()
        .expect("setpriv");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("run `sudo nsdojo`"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}
