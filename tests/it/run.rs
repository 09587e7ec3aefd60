use crate::harness::{require_root, HostState, Test};

#[test]
fn mnt_and_uts_pass_their_checks_and_leave_the_host_as_it_was() {
    let _g = require_root!();
    let before = HostState::now();
    let d = Test::new().args(["run", "mnt", "uts", "--check"]).succeeds();
    let out = d.stdout();
    assert!(out.contains("unshare(CLONE_NEWNS) = 0"), "{out}");
    assert!(out.contains("mount(\"tmpfs\", \"/tmp/nsdojo-"), "{out}");
    assert!(out.contains("sethostname(\"container-test\", 14) = 0"), "{out}");
    assert!(!out.contains('✘'), "{out}");
    assert!(out.matches('✔').count() >= 15, "{out}");
    before.assert_unchanged_since("run mnt uts");
}

#[test]
fn a_check_that_does_not_hold_fails_the_run() {
    let _g = require_root!();
    let lesson = crate::harness::repo("tests/lessons/fault-no-unshare.toml");
    Test::new()
        .args(["--lessons".as_ref(), lesson.as_os_str(), "run".as_ref(), "fault".as_ref(), "--check".as_ref()])
        .fails_with(1)
        .stdout_has("✘ sandbox.ns.mnt != host.ns.mnt")
        .stderr_has("1 step(s) failed their checks");
}

#[test]
fn without_check_a_failing_lesson_still_exits_zero() {
    let _g = require_root!();
    let lesson = crate::harness::repo("tests/lessons/fault-no-unshare.toml");
    Test::new()
        .args(["--lessons".as_ref(), lesson.as_os_str(), "run".as_ref(), "1".as_ref()])
        .succeeds()
        .stdout_has("✘");
}

#[test]
fn korean_text_when_asked() {
    let _g = require_root!();
    Test::new()
        .args(["run", "uts", "--lang", "ko"])
        .succeeds()
        .stdout_has("호스트 이름을 바꿉니다")
        .stdout_has("터미널 #1 (샌드박스)");
}

#[test]
fn a_command_that_closes_its_pipes_still_meets_the_time_limit() {
    let _g = require_root!();
    let before = HostState::now();
    let lesson = crate::harness::repo("tests/lessons/hanging-commands.toml");
    let t = std::time::Instant::now();
    let d = Test::new()
        .env("NSDOJO_SH_TIMEOUT", "1")
        .args(["--lessons".as_ref(), lesson.as_os_str(), "run".as_ref(), "hang".as_ref(), "--check".as_ref()])
        .succeeds();
    assert!(t.elapsed() < std::time::Duration::from_secs(10), "took {:?}", t.elapsed());
    assert_eq!(d.stdout().matches("killed after 1 s").count(), 2, "{}", d.stdout());
    before.assert_unchanged_since("hanging commands");
}

/// A step whose tool is missing (`ip` on the host, `lsns` in terminal #1) stops saying which
/// package installs it, in both languages, instead of failing its checks with exit 127.
#[test]
fn a_missing_tool_names_its_package() {
    let _g = require_root!();
    let before = HostState::now();
    let lesson = crate::harness::repo("tests/lessons/missing-tool.toml");
    let empty = tempfile::tempdir().expect("a temporary directory");
    let run = |lang: &str| {
        Test::new()
            .env("PATH", &empty.path().display().to_string())
            .env("COLUMNS", "300")
            .args(["--lessons".as_ref(), lesson.as_os_str(), "run".as_ref(), "missing".as_ref()])
            .args(["--check", "--lang", lang])
            .fails_with(1)
    };
    let en = run("en").text();
    assert!(en.contains("`ip` is not installed on this machine: install the package iproute2"), "{en}");
    assert!(en.contains("`lsns` is not installed on this machine: install the package util-linux"), "{en}");
    let ko = run("ko").text();
    assert!(ko.contains("`ip` 명령이 없습니다. iproute2 패키지를"), "{ko}");
    before.assert_unchanged_since("missing tools");
}
