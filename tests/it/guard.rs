//! However a session ends, the host is as it was.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::harness::{alive, require_root, HostState, Test};
use crate::repl::{lesson_steps, repl};

fn pid_of_repl(p: &rexpect::session::PtySession) -> i32 {
    p.process.child_pid.as_raw()
}

#[test]
fn sigterm_and_sighup_mid_lesson_need_no_cleanup_command() {
    let _g = require_root!();
    for sig in [Signal::SIGTERM, Signal::SIGHUP] {
        let before = HostState::now();
        let (mut p, _home) = repl(&[]);
        // Two mnt steps: a tmpfs is mounted inside and the work dir exists on the host.
        let sandbox = lesson_steps(&mut p, "mnt", 2);
        assert!(!before.leftovers.iter().any(|l| l.starts_with("/tmp/nsdojo-")));
        kill(Pid::from_raw(pid_of_repl(&p)), sig).unwrap();
        p.exp_eof().unwrap();
        for _ in 0..100 {
            if !alive(sandbox) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(!alive(sandbox), "{sig}: sandbox killed");
        before.assert_unchanged_since(&format!("{sig}"));
    }
}

#[test]
fn sigkill_of_everything_then_nsdojo_cleanup() {
    let _g = require_root!();
    let before = HostState::now();
    let (mut p, _home) = repl(&[]);
    let sandbox = lesson_steps(&mut p, "mnt", 2);
    // Kill the watchdog first so only `nsdojo cleanup` can help, then the host.
    let watchdogs = std::process::Command::new("pgrep").args(["-x", "nsdojo-watchdog"]).output().unwrap();
    for w in String::from_utf8_lossy(&watchdogs.stdout).lines() {
        kill(Pid::from_raw(w.trim().parse().unwrap()), Signal::SIGKILL).unwrap();
    }
    kill(Pid::from_raw(pid_of_repl(&p)), Signal::SIGKILL).unwrap();
    let _ = p.exp_eof();
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(!alive(sandbox), "PR_SET_PDEATHSIG killed the sandbox with its host");
    let left = HostState::now();
    assert!(left.leftovers.iter().any(|l| l.starts_with("/tmp/nsdojo-")), "something was left to clean: {left:?}");
    Test::new().args(["cleanup"]).succeeds().stdout_has("removed dir /tmp/nsdojo-");
    before.assert_unchanged_since("SIGKILL + nsdojo cleanup");
    Test::new().args(["cleanup"]).succeeds().stdout_has("nothing to clean up");
}

#[test]
fn sigkill_of_the_host_alone_is_cleaned_by_the_watchdog() {
    let _g = require_root!();
    let before = HostState::now();
    let (mut p, _home) = repl(&[]);
    lesson_steps(&mut p, "mnt", 2);
    kill(Pid::from_raw(pid_of_repl(&p)), Signal::SIGKILL).unwrap();
    let _ = p.exp_eof();
    before.assert_unchanged_since("SIGKILL of the host (watchdog)");
}
