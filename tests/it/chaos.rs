//! Killed at any moment, two at once: the host ends as it began.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::harness::{bin, require_root, HostState, Test};

fn start(args: &[&str]) -> Child {
    Command::new(bin()).args(args).env("NO_COLOR", "1").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

/// A cheap varying number (no rand crate): nanoseconds of the clock.
fn jitter(max_ms: u64) -> Duration {
    let n = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().subsec_nanos() as u64;
    Duration::from_millis(n % max_ms)
}

#[test]
fn sigkill_at_random_points_then_cleanup_restores_the_host() {
    let _g = require_root!();
    let before = HostState::now();
    let lessons = ["mnt", "net", "cgroup-pids", "pid", "cgroupns", "uts", "ipc", "user", "cgroup-memory"];
    let started = Instant::now();
    for round in 0..24 {
        let lesson = lessons[round % lessons.len()];
        let mut child = start(&["run", lesson]);
        let watchdog = crate::harness::watchdog_of(child.id() as i32);
        std::thread::sleep(jitter(400));
        // Every other round the watchdog dies too, so only `nsdojo cleanup` can help.
        if round % 2 == 1 {
            if let Some(w) = watchdog {
                let _ = kill(Pid::from_raw(w), Signal::SIGKILL);
            }
        }
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
        let _ = child.wait();
        // Wait for a surviving watchdog to finish its work.
        let t = Instant::now();
        while watchdog.is_some_and(crate::harness::alive) && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        Test::new().args(["cleanup"]).succeeds();
        before.assert_unchanged_since(&format!("chaos round {round} ({lesson})"));
    }
    eprintln!("24 chaos rounds in {:.1} s", started.elapsed().as_secs_f64());
}

#[test]
fn two_sessions_and_cleanup_at_once_do_not_clash() {
    let _g = require_root!();
    let before = HostState::now();
    let lessons = ["run", "mnt", "uts", "net", "cgroupns", "cgroup-pids", "--check"];
    // stdout is not read, so it must not be a pipe (a full pipe would block the run).
    let session = || {
        Command::new(bin())
            .args(lessons)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (mut one, mut two) = (session(), session());
    // And `nsdojo cleanup` again and again meanwhile: it must touch only dead sessions, and
    // the records it reads while they are being written must never lose an entry (a lost
    // entry is a leak the host check below would see).
    while one.try_wait().unwrap().is_none() || two.try_wait().unwrap().is_none() {
        Test::new().args(["cleanup"]).succeeds();
    }
    let (s1, s2) = (one.wait().unwrap(), two.wait().unwrap());
    let err = |c: &mut Child| {
        let mut s = String::new();
        std::io::Read::read_to_string(c.stderr.as_mut().unwrap(), &mut s).unwrap();
        s
    };
    let (e1, e2) = (err(&mut one), err(&mut two));
    assert!(s1.success() && s2.success(), "first: {e1}\nsecond: {e2}");
    assert!(!e1.contains("WARNING") && !e2.contains("WARNING"), "leak audit: {e1}{e2}");
    before.assert_unchanged_since("two concurrent sessions");
}

#[test]
fn lessons_writable_by_others_are_refused_as_root() {
    let _g = require_root!();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("l.toml");
    std::fs::copy(crate::harness::repo("lessons/05-uts.toml"), &file).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    Test::new()
        .args(["--lessons".as_ref(), dir.path().as_os_str(), "list".as_ref()])
        .fails_with(2)
        .stderr_has("writable by group or others (mode 0666)")
        .stderr_has("--trust-lessons")
        .stderr_is_one_line();
    Test::new()
        .args(["--trust-lessons".as_ref(), "--lessons".as_ref(), dir.path().as_os_str(), "list".as_ref()])
        .succeeds()
        .stdout_has("uts");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    Test::new().args(["--lessons".as_ref(), dir.path().as_os_str(), "list".as_ref()]).succeeds();
}
