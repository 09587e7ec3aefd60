//! `try` narrates the student's own system calls (issue 25): typed into a real try shell on a
//! pty, each taught call comes back as a `[you]` line with its result, a refused one with its
//! reason; `attach --host` does the same for terminal #2; and a killed nsdojo leaves no process
//! traced or stopped.

use crate::harness::{pty_pid, require_root, HostState, Test};
use crate::repl::{lesson_steps, repl};
use crate::try_step::run as typed;
use rexpect::session::PtySession;

fn open_try(p: &mut PtySession) {
    p.send_line("try").unwrap();
    p.exp_string("`exit` comes back").unwrap();
    p.exp_string("as a [you] line").unwrap();
}

/// Leave the try (and the shells typed into it), and the REPL (at its prompt when `shells` is 0).
fn leave(p: &mut PtySession, shells: usize) {
    if shells > 0 {
        leave_try(p, shells);
    }
    p.send_line("quit").unwrap();
    p.exp_eof().unwrap();
}

/// uts, step 1 then step 2 as the lessons print them: `unshare(CLONE_NEWUTS)`, then
/// `sethostname`, each with its result, as the calls return.
#[test]
fn unshare_and_sethostname_are_said_as_they_return() {
    let _g = require_root!();
    let before = HostState::now();
    let (mut p, _home) = repl(&[]);
    lesson_steps(&mut p, "uts", 0);
    open_try(&mut p);
    let seen = typed(&mut p, "unshare -u sh");
    assert!(seen.contains(r#"[you] execve("/usr/bin/unshare", ["unshare", "-u", "sh"]) = 0"#), "{seen}");
    assert!(seen.contains("[you] unshare(CLONE_NEWUTS) = 0"), "{seen}");
    let seen = typed(&mut p, "hostname dojo-narrated");
    assert!(seen.contains(r#"[you] sethostname("dojo-narrated", 13) = 0"#), "{seen}");
    // Programs that ask nothing taught of the kernel pass silently.
    let seen = typed(&mut p, "ls / >/dev/null; cat /proc/self/status >/dev/null");
    assert!(!seen.contains("[you]"), "{seen}");
    let seen = typed(&mut p, "dojo why");
    assert!(seen.contains("no call of yours has failed in this try yet"), "{seen}");
    leave(&mut p, 2);
    before.assert_unchanged_since("a narrated try");
}

/// The refused call, explained: after the lab made terminal #1's UTS namespace (as root),
/// `unshare -U` and `hostname web1` fail with EPERM, and the line under it says why; `dojo why`
/// says it again.
#[test]
fn an_eperm_is_said_with_its_reason_and_dojo_why_repeats_it() {
    let _g = require_root!();
    let before = HostState::now();
    let (mut p, _home) = repl(&[]);
    lesson_steps(&mut p, "uts", 1);
    open_try(&mut p);
    let seen = typed(&mut p, "unshare -U sh");
    assert!(seen.contains("[you] unshare(CLONE_NEWUSER) = 0"), "{seen}");
    let seen = typed(&mut p, "hostname web1");
    assert!(seen.contains(r#"[you] sethostname("web1", 4) = -1 EPERM (Operation not permitted)"#), "{seen}");
    assert!(seen.contains("uts namespace was made in another user namespace"), "{seen}");
    let seen = typed(&mut p, "dojo why");
    assert!(seen.contains("your last failed call:"), "{seen}");
    assert!(seen.contains(r#"sethostname("web1", 4) = -1 EPERM"#), "{seen}");
    // The try ends without its tick: progress keeps the call it ended on, for tomorrow.
    leave_try(&mut p, 2);
    p.send_line("progress uts").unwrap();
    let (seen, _) = p.exp_regex(r"nsdojo\[uts \d+/\d+\]> ").unwrap();
    assert!(seen.contains(r#"last try: sethostname("web1", 4) = -1 EPERM"#), "{seen}");
    p.send_line("progress").unwrap();
    let (seen, _) = p.exp_regex(r"nsdojo\[uts \d+/\d+\]> ").unwrap();
    assert!(seen.contains(r#"last try of step 2 ended on: sethostname("web1", 4)"#), "{seen}");
    leave(&mut p, 0);
    before.assert_unchanged_since("a narrated EPERM");
}

/// A step done by hand keeps the calls that did it in progress (`progress LESSON`).
#[test]
fn progress_keeps_the_calls_a_step_was_done_with() {
    let _g = require_root!();
    let (mut p, home) = repl(&[]);
    lesson_steps(&mut p, "uts", 0);
    open_try(&mut p);
    p.send_line("unshare -u sh").unwrap();
    p.exp_string("step 1 done").unwrap();
    leave_try(&mut p, 2);
    p.send_line("progress uts").unwrap();
    let (seen, _) = p.exp_regex(r"nsdojo\[uts \d+/\d+\]> ").unwrap();
    assert!(seen.contains("unshare(CLONE_NEWUTS) = 0"), "{seen}");
    leave(&mut p, 0);
    let kept = std::fs::read_to_string(home.path().join("progress.json")).unwrap();
    assert!(kept.contains("unshare(CLONE_NEWUTS) = 0"), "{kept}");
}

/// Leave the try and the shells typed into it, back at the REPL's prompt.
fn leave_try(p: &mut PtySession, shells: usize) {
    for _ in 0..shells {
        p.send_line("exit").unwrap();
    }
    p.exp_regex(r"nsdojo\[\w+ \d+/\d+\]> ").unwrap();
}

/// mnt, step 2: the tmpfs mount, with its five arguments.
#[test]
fn a_tmpfs_mount_is_said_with_its_arguments() {
    let _g = require_root!();
    let before = HostState::now();
    let (mut p, _home) = repl(&[]);
    lesson_steps(&mut p, "mnt", 1);
    open_try(&mut p);
    let seen = typed(&mut p, "mount -n -t tmpfs -o size=1m tmpfs /mnt");
    assert!(seen.contains(r#"[you] mount("tmpfs", "/mnt", "tmpfs", 0, "size=1m") = 0"#), "{seen}");
    leave(&mut p, 1);
    before.assert_unchanged_since("a narrated mount");
}

/// `try --no-trace`: the same shell, no narration, and `dojo why` says so.
#[test]
fn try_no_trace_says_nothing() {
    let _g = require_root!();
    let (mut p, _home) = repl(&[]);
    lesson_steps(&mut p, "uts", 0);
    p.send_line("try --no-trace").unwrap();
    p.exp_string("`exit` comes back").unwrap();
    let seen = typed(&mut p, "unshare -u sh");
    assert!(!seen.contains("[you]"), "{seen}");
    let seen = typed(&mut p, "dojo why");
    assert!(seen.contains("--no-trace"), "{seen}");
    leave(&mut p, 2);
}

/// Terminal #2's part, traced: `attach --host` says the cgroupfs mkdir and write (cgroup-cpu,
/// either layout), an id map written (user), and the veth's RTM_NEWLINK (veth), each in a
/// namespace or group the test makes and removes.
#[test]
fn attach_host_says_the_cgroup_write_the_uid_map_and_the_veth() {
    let _g = require_root!();
    let before = HostState::now();
    let (dir, file, value) = if std::path::Path::new("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").exists() {
        ("/sys/fs/cgroup/cpu", "cpu.cfs_quota_us", "30000")
    } else {
        ("/sys/fs/cgroup", "cpu.max", "30000 100000")
    };
    let group = format!("{dir}/narrate-{}", std::process::id());
    let script = format!(
        "mkdir {group} && echo '{value}' > {group}/{file}; rmdir {group}; \
         unshare -U -r true; \
         unshare -n sh -c 'ip link add dojo0 type veth peer name dojo1'"
    );
    let d = Test::new().args(["--no-color", "attach", "--host", "--", "sh", "-c", &script]).succeeds();
    let said = d.stderr();
    assert!(said.contains(&format!("[you] mkdir(\"{group}\", 0777) = 0")), "{said}");
    let write = format!("[you] write(1<{group}/{file}>, \"{value}\\n\", {}) = {}", value.len() + 1, value.len() + 1);
    assert!(said.contains(&write), "{write} in {said}");
    assert!(said.contains(&format!("[you] rmdir(\"{group}\") = 0")), "{said}");
    assert!(said.contains("</proc/self/uid_map>, \"0 0 1\", 5) = 5"), "{said}");
    assert!(
        said.contains(r#"[you] sendmsg(NETLINK_ROUTE, RTM_NEWLINK {IFLA_IFNAME="dojo0", IFLA_LINKINFO={kind="veth", peer={IFLA_IFNAME="dojo1"}}}, NLM_F_CREATE|NLM_F_EXCL) = 0"#),
        "{said}"
    );
    assert!(!std::path::Path::new(&group).exists());
    before.assert_unchanged_since("attach --host");
}

/// Processes of the host in a ptrace stop or traced by anyone: none may be left by nsdojo.
fn traced_or_stopped() -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(status) = std::fs::read_to_string(e.path().join("status")) else { continue };
        let field = |k: &str| status.lines().find(|l| l.starts_with(k)).unwrap_or_default().to_string();
        let tracer = field("TracerPid:");
        let state = field("State:");
        if tracer.split_whitespace().nth(1).is_some_and(|t| t != "0") || state.contains("tracing stop") {
            found.push(format!("{}: {} {tracer} {state}", e.file_name().to_string_lossy(), field("Name:")));
        }
    }
    found
}

/// SIGKILL to nsdojo and its watchdog while a narrated try shell runs, with jobs in the
/// background: the tracer dies with nsdojo, and the traced tree with the tracer; nothing is
/// left traced or stopped, and `cleanup` leaves the host as it was.
#[test]
fn a_killed_nsdojo_leaves_nothing_traced_or_stopped() {
    let _g = require_root!();
    let before = HostState::now();
    let (mut p, _home) = repl(&[]);
    lesson_steps(&mut p, "uts", 0);
    open_try(&mut p);
    typed(&mut p, "sleep 300 & unshare -u sleep 301 &");
    assert!(!traced_or_stopped().is_empty(), "the try shell is traced while it runs");
    // The watchdog goes first: only the tracer's own ties (PR_SET_PDEATHSIG, then
    // PTRACE_O_EXITKILL) may end the traced tree here.
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let repl_pid = pty_pid(&p);
    let watchdog = crate::harness::watchdog_of(repl_pid).expect("the session's watchdog");
    kill(Pid::from_raw(watchdog), Signal::SIGKILL).unwrap();
    kill(Pid::from_raw(repl_pid), Signal::SIGKILL).unwrap();
    let mut left = traced_or_stopped();
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        left = traced_or_stopped();
    }
    assert!(left.is_empty(), "left traced or stopped: {left:?}");
    Test::new().args(["cleanup"]).succeeds();
    crate::harness::wait_until_quiet().unwrap();
    before.assert_unchanged_since("SIGKILL during a narrated try");
}

/// In a Korean session the label and the reason are Korean (the call itself is the kernel's).
#[test]
fn a_korean_session_says_its_calls_in_korean() {
    let _g = require_root!();
    let before = HostState::now();
    let ko = crate::try_step::latin1;
    let (mut p, _home) = repl(&[("LANG", "ko_KR.UTF-8")]);
    lesson_steps(&mut p, "uts", 1);
    p.send_line("try").unwrap();
    p.exp_string(&ko("`exit`로 돌아옵니다")).unwrap();
    p.exp_string(&ko("[나] 줄로 보여 줍니다")).unwrap();
    typed(&mut p, "unshare -U sh");
    let seen = typed(&mut p, "hostname web1");
    assert!(seen.contains(&ko(r#"[나] sethostname("web1", 4) = -1 EPERM"#)), "{seen}");
    assert!(seen.contains(&ko("다른 사용자 네임스페이스에서 만들어졌으므로")), "{seen}");
    leave(&mut p, 2);
    before.assert_unchanged_since("a narrated try in Korean");
}

/// Job control still works in a traced shell: Ctrl-Z stops a job (a group stop the tracer
/// holds with PTRACE_LISTEN), `fg` resumes it, Ctrl-C ends it, and the shell goes on.
#[test]
fn ctrl_z_fg_and_ctrl_c_work_in_a_narrated_shell() {
    let _g = require_root!();
    let mut cmd = std::process::Command::new(crate::harness::bin());
    cmd.args(["--no-color", "attach", "--host", "--", "sh", "-i"]).env("PS1", "ready$ ");
    let mut p = rexpect::session::spawn_command(cmd, Some(15_000)).unwrap();
    p.exp_string("ready$ ").unwrap();
    p.send_line("sleep 1234").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    p.send_control('z').unwrap();
    p.exp_regex("[Ss]topped").unwrap();
    p.exp_string("ready$ ").unwrap();
    // Really stopped, not only reported so: T (stopped) or t (tracing stop), never running.
    p.send_line("grep State /proc/$(pgrep -xf 'sleep 1234')/status").unwrap();
    p.exp_regex(r"State:\s+[tT] ").unwrap();
    p.exp_string("ready$ ").unwrap();
    p.send_line("fg").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    p.send_control('c').unwrap();
    p.exp_string("ready$ ").unwrap();
    p.send_line("unshare -u sh -c 'hostname jc-ok; hostname'").unwrap();
    p.exp_string("[you] unshare(CLONE_NEWUTS) = 0").unwrap();
    p.exp_string("\njc-ok").unwrap();
    p.send_line("exit").unwrap();
    p.exp_eof().unwrap();
}
