//! However a session ends, the host is as it was.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::harness::{alive, require_root, HostState, Test};
use crate::repl::{lesson_steps, repl};

fn pid_of_repl(p: &rexpect::session::PtySession) -> i32 {
    crate::harness::pty_pid(p)
}

#[test]
fn sigterm_and_sighup_mid_lesson_need_no_cleanup_command() {
    let _g = require_root!();
    for sig in [Signal::SIGTERM, Signal::SIGHUP] {
        let before = HostState::now();
        let (mut p, _home) = repl(&[]);
        // Two mnt steps: a tmpfs is mounted inside and the work dir exists on the host.
        let sandbox = lesson_steps(&mut p, "mnt", 2);
        let during = HostState::now();
        assert!(during.leftovers.len() > before.leftovers.len(), "the lesson's work dir exists: {during:?}");
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
    let watchdog = crate::harness::watchdog_of(pid_of_repl(&p)).expect("the session's watchdog");
    kill(Pid::from_raw(watchdog), Signal::SIGKILL).unwrap();
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

/// In a mount namespace of the test's own with `/` made rshared (as on systemd hosts), run
/// lessons that mount; report the mounts that appeared in that namespace afterwards.
fn leaks_under_shared_root(keep_propagation: bool) -> String {
    let script = r#"
        set -e
        mount --make-rshared /
        grep -q 'shared:' /proc/self/mountinfo
        # Our own procfs to read from: a leaked mount over /proc would hide /proc/self.
        mkdir "$T/proc" && mount -t proc proc "$T/proc"
        table() { awk '{print $5, $9}' "$T/proc/$$/mountinfo" | grep -v "^$T" | sort; }
        table > "$T/before"
        "$NSDOJO" run mnt pid uts >/dev/null 2>&1 || true
        table > "$T/after"
        diff "$T/before" "$T/after" | grep '^>' || true
    "#;
    let t = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["-m", "--propagation", "unchanged", "sh", "-c", script])
        .env("T", t.path())
        .env("NSDOJO", crate::harness::bin())
        .env("NO_COLOR", "1");
    if keep_propagation {
        cmd.env("NSDOJO_DEBUG_KEEP_PROPAGATION", "1");
    } else {
        cmd.env_remove("NSDOJO_DEBUG_KEEP_PROPAGATION");
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn with_root_rshared_nothing_propagates_and_the_test_can_see_a_leak() {
    let _g = require_root!();
    let before = HostState::now();
    let leaked = leaks_under_shared_root(false);
    assert_eq!(leaked, "", "mounts propagated out of the sandbox");
    // The same run with propagation handling switched off must show the leak,
    // or this test could not fail.
    let leaked = leaks_under_shared_root(true);
    assert!(leaked.contains("/proc proc"), "expected the sandbox's /proc to leak: {leaked:?}");
    before.assert_unchanged_since("the propagation test (all in its own mount namespace)");
}

#[test]
fn a_new_session_offers_to_clean_what_a_killed_one_left() {
    let _g = require_root!();
    let before = HostState::now();
    let (mut p, _home) = repl(&[]);
    lesson_steps(&mut p, "mnt", 2);
    let watchdog = crate::harness::watchdog_of(pid_of_repl(&p)).expect("the session's watchdog");
    kill(Pid::from_raw(watchdog), Signal::SIGKILL).unwrap();
    kill(Pid::from_raw(pid_of_repl(&p)), Signal::SIGKILL).unwrap();
    let _ = p.exp_eof();
    let _ = p.process().wait();
    let (mut q, _home2) = repl_without_prompt();
    q.exp_string("Clean them up now? [Y/n]").unwrap();
    q.send_line("").unwrap();
    q.exp_string("removed dir /tmp/nsdojo-").unwrap();
    q.exp_string("nsdojo> ").unwrap();
    q.send_line("quit").unwrap();
    q.exp_eof().unwrap();
    before.assert_unchanged_since("the cleanup offer");
}

fn repl_without_prompt() -> (rexpect::session::PtySession, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(crate::harness::bin());
    cmd.env("NO_COLOR", "1").env("NSDOJO_HISTORY", home.path().join("history"));
    (rexpect::session::spawn_command(cmd, Some(20_000)).unwrap(), home)
}

fn host_links() -> Vec<String> {
    std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// The veth lesson's cable while both ends are still on the host (after `veth add`): a session
/// killed there, watchdog and all, leaves the interfaces behind; `nsdojo cleanup` removes them
/// from the session record, and only them.
#[test]
fn a_killed_veth_lesson_leaves_no_interface_after_cleanup() {
    let _g = require_root!();
    let before = HostState::now();
    let links_before = host_links();
    let (mut p, _home) = repl(&[]);
    lesson_steps(&mut p, "veth", 2);
    let made: Vec<String> = host_links().into_iter().filter(|l| !links_before.contains(l)).collect();
    assert_eq!(made.len(), 2, "veth0-ID and veth1-ID on the host: {made:?}");
    let watchdog = crate::harness::watchdog_of(pid_of_repl(&p)).expect("the session's watchdog");
    kill(Pid::from_raw(watchdog), Signal::SIGKILL).unwrap();
    kill(Pid::from_raw(pid_of_repl(&p)), Signal::SIGKILL).unwrap();
    let _ = p.exp_eof();
    let _ = p.process().wait();
    // Nobody cleaned: the pair outlives the session (both ends are in the host's namespace).
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(made.iter().all(|l| host_links().contains(l)), "the killed session's veth pair is still there");
    let out = Test::new().args(["cleanup"]).succeeds().stdout();
    assert!(out.contains(&format!("interface {}", made.iter().find(|l| l.starts_with("veth0")).unwrap())), "{out}");
    assert_eq!(host_links(), links_before, "no interface left");
    before.assert_unchanged_since("a killed veth lesson and nsdojo cleanup");
}

/// `quit` and SIGTERM with the veth pair on the host: the session's own exit deletes it.
#[test]
fn quit_or_sigterm_mid_veth_lesson_leaves_no_interface() {
    let _g = require_root!();
    for how in ["quit", "SIGTERM"] {
        let before = HostState::now();
        let links_before = host_links();
        let (mut p, _home) = repl(&[]);
        lesson_steps(&mut p, "veth", 2);
        assert_eq!(host_links().len(), links_before.len() + 2, "{how}: the veth pair is on the host");
        if how == "quit" {
            p.send_line("quit").unwrap();
        } else {
            kill(Pid::from_raw(pid_of_repl(&p)), Signal::SIGTERM).unwrap();
        }
        p.exp_eof().unwrap();
        before.assert_unchanged_since(how);
        assert_eq!(host_links(), links_before, "{how}: no interface left");
    }
}

/// A session killed between writing its record's temp file and renaming it (what a SIGKILL in
/// the chaos test can hit) leaves `.ID.PID.tmp`: `nsdojo cleanup` takes it away, and the run
/// dir with it, so the host is as it was. (Before, /run/nsdojo stayed for good.)
#[test]
fn a_record_half_written_by_a_killed_session_is_cleaned_up() {
    let _g = require_root!();
    let before = HostState::now();
    std::fs::create_dir_all("/run/nsdojo").unwrap();
    std::fs::write("/run/nsdojo/.4242-0badcafe.4242.tmp", b"{\"id\": \"4242-0ba").unwrap();
    Test::new().args(["cleanup"]).succeeds();
    assert!(!std::path::Path::new("/run/nsdojo").exists(), "cleanup leaves the debris of a killed save");
    before.assert_unchanged_since("cleanup of a half-written record");
}
