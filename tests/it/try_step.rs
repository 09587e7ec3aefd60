//! `try` on a real pty: the student types the step into terminal #1's shell; nsdojo says ✔
//! when the step's checks hold, and puts back what the student changed on the host instead.

use crate::harness::{require_root, HostState};
use crate::repl::{lesson_steps, repl};
use rexpect::session::PtySession;

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
    done_by_hand(&mut p, "uts", 2);
    assert_ne!(hostname(), "container-test", "the host kept its name");
    // Progress knows which step was done by hand.
    let kept: serde_json::Value = serde_json::from_slice(&std::fs::read(&progress).unwrap()).unwrap();
    assert_eq!(kept["by_hand"]["uts"], serde_json::json!([2]), "{kept}");
    assert_eq!(kept["done"]["uts"], serde_json::json!([1, 2]), "{kept}");
    quit(&mut p);
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
    lesson_steps(&mut p, "uts", 0);
    open_try(&mut p);
    // `dojo check` judges now, as the watcher does four times a second: not done.
    let seen = run(&mut p, "hostname oops; dojo check");
    assert!(seen.contains("sandbox.ns.uts != host.ns.uts   (") && !seen.contains("all checks hold"), "{seen}");
    p.send_line("exit").unwrap();
    let seen = p.exp_string("step 1 is not done yet").unwrap();
    assert!(!seen.contains("exit to go on"), "no tick for a changed host: {seen}");
    assert!(seen.contains(&format!("the host's hostname was changed to oops; put back to {name}")), "{seen}");
    assert!(seen.contains("`unshare -u`"), "{seen}");
    assert_eq!(hostname(), name);
    p.exp_regex(r"nsdojo\[uts 0/\d+\]> ").unwrap();
    quit(&mut p);
    before.assert_unchanged_since("try, done wrong");
}

/// Type `cmd` into the try shell and wait until the shell has run it (the marker is computed
/// by the shell, so its echo of the command line does not match).
pub(crate) fn run(p: &mut PtySession, cmd: &str) -> String {
    p.send_line(cmd).unwrap();
    p.send_line("echo ran-$((40+2))").unwrap();
    p.exp_string("ran-42").unwrap()
}

/// rexpect reads bytes as Latin-1: text to match (Korean, ✔, ✘) is turned into the same.
pub(crate) fn latin1(s: &str) -> String {
    s.bytes().map(char::from).collect()
}

/// `try`, and wait for the shell.
fn open_try(p: &mut PtySession) {
    p.send_line("try").unwrap();
    p.exp_string("`exit` comes back").unwrap();
}

/// The try shell's host PID, as `dojo pid` prints it.
fn dojo_pid(p: &mut PtySession) -> i32 {
    let seen = run(p, "echo pid=$(dojo pid)=");
    seen.split("pid=").find_map(|t| t.split('=').next()?.parse().ok()).expect("dojo pid prints a PID")
}

/// After `exit`: step `n` done by hand, and the REPL's prompt at `lesson` n/….
fn done_by_hand(p: &mut PtySession, lesson: &str, n: usize) -> String {
    p.exp_string(&format!("step {n} done by hand")).unwrap();
    p.exp_regex(&format!(r"nsdojo\[{lesson} {n}/\d+\]> ")).unwrap().0
}

fn quit(p: &mut PtySession) {
    p.send_line("quit").unwrap();
    p.exp_eof().unwrap();
}

/// mnt step 1 done wrong: a tmpfs mounted before `unshare -m` lands in the host's mount table,
/// a cgroup made and a process left running stay on the host; on `exit` each is undone and
/// said, with what the step needed first.
#[test]
fn a_mount_a_cgroup_and_a_process_left_on_the_host_are_taken_away_again() {
    let _g = require_root!();
    let before = HostState::now();
    let (mut p, _home) = repl(&[]);
    lesson_steps(&mut p, "mnt", 0);
    open_try(&mut p);
    run(&mut p, "mount -t tmpfs oops /mnt");
    let hierarchy = ["/sys/fs/cgroup/pids", "/sys/fs/cgroup"]
        .into_iter()
        .find(|d| std::path::Path::new(d).join("cgroup.procs").exists())
        .unwrap();
    let group = format!("{hierarchy}/oops-try-{}", std::process::id());
    run(&mut p, &format!("mkdir {group}"));
    run(&mut p, "sleep 1000 &");
    p.send_line("exit").unwrap();
    let seen = p.exp_string("is not done yet").unwrap();
    assert!(seen.contains("/mnt was mounted on the host; unmounted"), "{seen}");
    assert!(seen.contains("`unshare -m`"), "{seen}");
    assert!(seen.contains(&format!("the cgroup {group} was left on the host; removed")), "{seen}");
    assert!(seen.contains("a process the try shell left running (sleep "), "{seen}");
    assert!(!std::path::Path::new(&group).exists());
    p.exp_regex(r"nsdojo\[mnt 0/\d+\]> ").unwrap();
    quit(&mut p);
    before.assert_unchanged_since("try, a mount, a cgroup and a process on the host");
}

/// The issue's walk-through: `lesson uts`, `try`, `unshare -u sh` ticks step 1 while the
/// shell is open; `exit`, `exit` come back at step 1 of 3, done by hand; `try` again and
/// `hostname container-test` ticks step 2 while the host keeps its name. `dojo` answers
/// inside the shell: the task, hints one by one, the checks now, the lab command.
#[test]
fn uts_by_hand_from_the_start_with_dojo_helping() {
    let _g = require_root!();
    let before = HostState::now();
    let host_name = hostname();
    let state = tempfile::tempdir().unwrap();
    let progress = state.path().join("progress.json");
    let (mut p, _home) = repl(&[("NSDOJO_PROGRESS", progress.to_str().unwrap())]);
    lesson_steps(&mut p, "uts", 0);
    open_try(&mut p);
    let seen = run(&mut p, "dojo hint; dojo hint; dojo check");
    assert!(seen.contains("readlink /proc/$$/ns/uts"), "the step's hint first: {seen}");
    assert!(seen.contains("what still does not hold"), "then what is missing: {seen}");
    assert!(seen.contains("sandbox.ns.uts != host.ns.uts   ("), "the check and its value: {seen}");
    assert!(run(&mut p, "dojo hint").contains("no more hints"));
    assert!(run(&mut p, "dojo solve").contains("unshare -u"));
    let shell_pid = dojo_pid(&mut p);
    assert!(std::path::Path::new(&format!("/proc/{shell_pid}")).exists(), "dojo pid names a live host PID");
    p.send_line("unshare -u sh").unwrap();
    p.exp_string("step 1 done").unwrap();
    p.exp_string("exit to go on").unwrap();
    assert!(run(&mut p, "dojo check").contains("all checks hold"));
    p.send_line("exit").unwrap();
    p.send_line("exit").unwrap();
    // Terminal #1 as it was when the step held (in `unshare -u sh`), not after its exit.
    let shown = done_by_hand(&mut p, "uts", 1);
    assert!(shown.contains("* uts:[") && shown.contains("sandbox.ns.uts != host.ns.uts"), "{shown}");
    assert!(!shown.contains("nsenter -t"), "no PID to enter: the shell is gone: {shown}");
    open_try(&mut p);
    p.send_line("hostname container-test").unwrap();
    p.exp_string("step 2 done").unwrap();
    assert_eq!(hostname(), host_name, "the host keeps its name while the shell has the new one");
    p.send_line("exit").unwrap();
    done_by_hand(&mut p, "uts", 2);
    let kept: serde_json::Value = serde_json::from_slice(&std::fs::read(&progress).unwrap()).unwrap();
    assert_eq!(kept["by_hand"]["uts"], serde_json::json!([1, 2]), "{kept}");
    quit(&mut p);
    assert_eq!(hostname(), host_name);
    before.assert_unchanged_since("uts by hand");
}

/// pid steps 1 and 2 by hand: `unshare -p -m -f sh` makes the shell PID 1 of a new PID
/// namespace (its /proc still the host's), and in the next try `mount -t proc proc /proc`
/// leaves only a few processes in sight.
#[test]
fn pid_by_hand() {
    let _g = require_root!();
    let before = HostState::now();
    let (mut p, _home) = repl(&[]);
    lesson_steps(&mut p, "pid", 0);
    open_try(&mut p);
    p.send_line("unshare -p -m -f sh").unwrap();
    p.exp_string("step 1 done").unwrap();
    p.send_line("exit").unwrap();
    p.send_line("exit").unwrap();
    done_by_hand(&mut p, "pid", 1);
    open_try(&mut p);
    p.send_line("mount -t proc proc /proc").unwrap();
    p.exp_string("step 2 done").unwrap();
    p.send_line("exit").unwrap();
    done_by_hand(&mut p, "pid", 2);
    quit(&mut p);
    before.assert_unchanged_since("pid by hand");
}

/// pivot_root step 3 by hand, after the lab made the tmpfs new root and the propagation
/// private: `pivot_root . old-root` from inside it swaps the roots of terminal #1's mount
/// namespace. The lab's own sandbox, which shares that namespace, then cannot take the same
/// step a second time, so nsdojo rebuilds it up to step 3.
#[test]
fn pivot_root_by_hand() {
    let _g = require_root!();
    let before = HostState::now();
    let (mut p, _home) = repl(&[]);
    lesson_steps(&mut p, "pivot_root", 2);
    open_try(&mut p);
    p.send_line("pivot_root . old-root").unwrap();
    p.exp_string("step 3 done").unwrap();
    let seen = run(&mut p, "cd /; ls /old-root");
    assert!(seen.contains("proc") && seen.contains("etc"), "the host's root hangs at /old-root: {seen}");
    p.send_line("exit").unwrap();
    let shown = done_by_hand(&mut p, "pivot_root", 3);
    assert!(shown.contains("was rebuilt to step 3"), "the lab took the step from a fresh sandbox: {shown}");
    // The lesson goes on from there: step 4 (the escape through /old-root) runs and passes.
    p.send_line("next").unwrap();
    let (step4, _) = p.exp_regex(r"nsdojo\[pivot_root 4/\d+\]> ").unwrap();
    assert!(step4.contains("checks:") && !step4.contains(&latin1("✘")), "{step4}");
    quit(&mut p);
    before.assert_unchanged_since("pivot_root by hand");
}

/// cgroup-cpu step 5 by hand: the try shell is born in the lesson's group (limited to 30% by
/// steps 2-4), so a busy loop typed into it is throttled by the kernel: the ✔ comes from
/// cpu.stat's nr_throttled growing. The loop left running in the background is stopped when
/// the shell exits.
#[test]
fn cgroup_cpu_by_hand_is_throttled_in_the_lessons_group() {
    let _g = require_root!();
    let before = HostState::now();
    let (mut p, _home) = repl(&[]);
    lesson_steps(&mut p, "cgroup-cpu", 4);
    open_try(&mut p);
    let seen = run(&mut p, "cat /proc/self/cgroup");
    assert!(seen.contains("nsdojo-"), "the try shell is in the lesson's group: {seen}");
    // `burn`: the rootfs's stand-in for the deck's `stress -c 1`, on the try shell's PATH.
    run(&mut p, "burn &");
    p.exp_string("step 5 done").unwrap();
    p.send_line("exit").unwrap();
    let seen = p.exp_string("step 5 done by hand").unwrap();
    assert!(seen.contains("a process the try shell left running ("), "{seen}");
    p.exp_regex(r"nsdojo\[cgroup-cpu 5/\d+\]> ").unwrap();
    quit(&mut p);
    before.assert_unchanged_since("cgroup-cpu by hand");
}

/// nsdojo ended by SIGTERM or SIGHUP (a closed terminal) while a try shell had mounted on the
/// host and left a process: the host is put back before the signal takes nsdojo down.
#[test]
fn a_try_ended_by_sigterm_or_sighup_still_puts_the_host_back() {
    let _g = require_root!();
    for sig in [nix::sys::signal::Signal::SIGTERM, nix::sys::signal::Signal::SIGHUP] {
        let before = HostState::now();
        let (mut p, _home) = repl(&[]);
        p.send_line("lesson mnt").unwrap();
        p.exp_regex(r"nsdojo\[mnt 0/\d+\]> ").unwrap();
        open_try(&mut p);
        run(&mut p, "mount -t tmpfs oops /mnt");
        run(&mut p, "sleep 1000 &");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(crate::harness::pty_pid(&p)), sig).unwrap();
        let seen = p.exp_eof().unwrap();
        assert!(seen.contains("/mnt was mounted on the host; unmounted"), "{sig}: {seen}");
        before.assert_unchanged_since(&format!("a try ended by {sig}"));
    }
}

/// cgroup-cpu steps 2-4 by hand, with terminal #2's part done the way a student does it, by
/// writing cgroupfs files from another shell (here: this test). The checks read the group
/// the student made where the lesson's `$CGROUP` is; nsdojo then makes its own in its place,
/// so the lesson (and its cleanup) go on as after `next`.
#[test]
fn cgroup_cpu_by_hand_from_terminal_2() {
    let _g = require_root!();
    let before = HostState::now();
    let state = tempfile::tempdir().unwrap();
    let progress = state.path().join("progress.json");
    let (mut p, _home) = repl(&[("NSDOJO_PROGRESS", progress.to_str().unwrap())]);
    lesson_steps(&mut p, "cgroup-cpu", 1);
    p.send_line("try").unwrap();
    let (_, m) = p.exp_regex(r"cgroup, /sys/fs/cgroup/\S+,").unwrap();
    let group = std::path::PathBuf::from(m.trim_start_matches("cgroup, ").trim_end_matches(','));
    p.exp_string("`exit` comes back").unwrap();
    let parent = group.parent().unwrap();
    let v2 = parent.join("cgroup.subtree_control").exists();
    if v2 {
        std::fs::write(parent.join("cgroup.subtree_control"), "+cpu").unwrap();
    }
    std::fs::create_dir(&group).unwrap();
    p.exp_string("step 2 done").unwrap();
    p.send_line("exit").unwrap();
    let seen = p.exp_string("step 2 done by hand").unwrap();
    assert!(!seen.contains("left on the host"), "the student's group is the step, not a leftover: {seen}");
    p.exp_regex(r"nsdojo\[cgroup-cpu 2/\d+\]> ").unwrap();

    open_try(&mut p);
    if v2 {
        std::fs::write(group.join("cpu.max"), "30000 100000").unwrap();
    } else {
        std::fs::write(group.join("cpu.cfs_quota_us"), "30000").unwrap();
    }
    p.exp_string("step 3 done").unwrap();
    p.send_line("exit").unwrap();
    p.exp_regex(r"nsdojo\[cgroup-cpu 3/\d+\]> ").unwrap();

    open_try(&mut p);
    let shell = dojo_pid(&mut p);
    std::fs::write(group.join("cgroup.procs"), shell.to_string()).unwrap();
    p.exp_string("step 4 done").unwrap();
    p.send_line("exit").unwrap();
    p.exp_regex(r"nsdojo\[cgroup-cpu 4/\d+\]> ").unwrap();
    let kept: serde_json::Value = serde_json::from_slice(&std::fs::read(&progress).unwrap()).unwrap();
    assert_eq!(kept["by_hand"]["cgroup-cpu"], serde_json::json!([2, 3, 4]), "{kept}");
    assert!(group.is_dir(), "nsdojo made the lesson's group in the student's place");
    quit(&mut p);
    before.assert_unchanged_since("cgroup-cpu by hand from terminal #2");
}

/// user steps 2 and 4 by hand. The try shell is terminal #1 as it is, uid 1000 after step 1,
/// so `unshare -U sh` makes a user namespace whose owner is 1000 and whose unmapped shell is
/// 65534; in step 4 terminal #2 (this test) writes the maps of the shell `dojo pid` names,
/// and it becomes root inside.
#[test]
fn user_by_hand_as_uid_1000_with_maps_from_terminal_2() {
    let _g = require_root!();
    let before = HostState::now();
    let (mut p, _home) = repl(&[]);
    lesson_steps(&mut p, "user", 1);
    open_try(&mut p);
    assert!(run(&mut p, "echo uid=$(id -u)=").contains("uid=1000="), "terminal #1 is uid 1000 after step 1");
    p.send_line("unshare -U sh").unwrap();
    p.exp_string("step 2 done").unwrap();
    p.send_line("exit").unwrap();
    p.send_line("exit").unwrap();
    p.exp_regex(r"nsdojo\[user 2/\d+\]> ").unwrap();
    p.send_line("next").unwrap();
    p.exp_regex(r"nsdojo\[user 3/\d+\]> ").unwrap();
    open_try(&mut p);
    let shell = dojo_pid(&mut p);
    std::fs::write(format!("/proc/{shell}/setgroups"), "deny").unwrap();
    std::fs::write(format!("/proc/{shell}/uid_map"), "0 1000 1").unwrap();
    std::fs::write(format!("/proc/{shell}/gid_map"), "0 1000 1").unwrap();
    p.exp_string("step 4 done").unwrap();
    assert!(run(&mut p, "echo uid=$(id -u)=").contains("uid=0="), "root inside once mapped");
    p.send_line("exit").unwrap();
    done_by_hand(&mut p, "user", 4);
    quit(&mut p);
    before.assert_unchanged_since("user by hand");
}

/// mnt steps 1 and 2 done right, in a Korean session: `unshare -m sh` (util-linux makes the
/// new namespace's propagation private) ticks step 1 in Korean; in the next try a tmpfs
/// mounted inside ticks step 2 and the host's mount table does not have it.
#[test]
fn mnt_by_hand_in_korean() {
    let _g = require_root!();
    let before = HostState::now();
    let ko = latin1;
    let (mut p, _home) = repl(&[("LANG", "ko_KR.UTF-8")]);
    lesson_steps(&mut p, "mnt", 0);
    p.send_line("try").unwrap();
    p.exp_string(&ko("`exit`로 돌아옵니다")).unwrap();
    p.send_line("unshare -m sh").unwrap();
    p.exp_string(&ko("1단계 완료")).unwrap();
    p.send_line("exit").unwrap();
    p.send_line("exit").unwrap();
    p.exp_string(&ko("1단계를 직접 마쳤습니다")).unwrap();
    p.exp_regex(r"nsdojo\[mnt 1/\d+\]> ").unwrap();
    p.send_line("try").unwrap();
    let (_, m) = p.exp_regex(r"/tmp/nsdojo-[0-9a-f-]+").unwrap();
    p.exp_string(&ko("`exit`로 돌아옵니다")).unwrap();
    let target = format!("{m}/mount_ns");
    run(&mut p, &format!("mkdir -p {target}; mount -t tmpfs inside {target}"));
    p.exp_string(&ko("2단계 완료")).unwrap();
    let host = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!host.contains(&target), "the tmpfs stays inside terminal #1");
    p.send_line("exit").unwrap();
    p.exp_string(&ko("2단계를 직접 마쳤습니다")).unwrap();
    quit(&mut p);
    before.assert_unchanged_since("mnt by hand");
}

/// nsdojo and its watchdog killed (-9) while an unnarrated try shell had mounted on the host
/// and started a background process: `nsdojo cleanup` stops the shell's processes and unmounts, from the
/// session record.
#[test]
fn sigkill_during_a_try_then_nsdojo_cleanup_puts_the_host_back() {
    let _g = require_root!();
    let before = HostState::now();
    let (mut p, _home) = repl(&[]);
    lesson_steps(&mut p, "mnt", 0);
    // Untraced: a narrated shell's tree dies with its tracer (narrate::
    // a_killed_nsdojo_leaves_nothing_traced_or_stopped); here `cleanup` must stop what is left.
    p.send_line("try --no-trace").unwrap();
    p.exp_string("`exit` comes back").unwrap();
    run(&mut p, "mount -t tmpfs oops /mnt");
    let seen = run(&mut p, "sleep 1000 & echo bg=$!=");
    let bg: i32 = seen.split("bg=").find_map(|t| t.split('=').next()?.parse().ok()).unwrap();
    let repl_pid = crate::harness::pty_pid(&p);
    let watchdog = crate::harness::watchdog_of(repl_pid).expect("the session's watchdog");
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    kill(Pid::from_raw(watchdog), Signal::SIGKILL).unwrap();
    kill(Pid::from_raw(repl_pid), Signal::SIGKILL).unwrap();
    for _ in 0..200 {
        if !crate::harness::alive(repl_pid) && !crate::harness::alive(watchdog) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(std::fs::read_to_string("/proc/self/mountinfo").unwrap().contains(" /mnt "), "still mounted");
    let out = std::process::Command::new(crate::harness::bin()).arg("cleanup").output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("unfinished try: /mnt was mounted on the host; unmounted"), "{said}");
    assert!(said.contains(&format!("unfinished try: process {bg} of the try shell stopped")), "{said}");
    for _ in 0..200 {
        if !crate::harness::alive(bg) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(!crate::harness::alive(bg), "the shell's background process is stopped");
    drop(p);
    before.assert_unchanged_since("SIGKILL during a try, then nsdojo cleanup");
}

/// Two sessions on one machine: while a try shell is open in one, the other's lab makes a named
/// netns on the host (net step 4). The try's undo takes as the shell's only what no session has
/// recorded as its own, so the other lesson keeps its netns.
#[test]
fn another_sessions_lab_is_not_undone_by_a_try() {
    let _g = require_root!();
    let before = HostState::now();
    let (mut a, _home_a) = repl(&[]);
    lesson_steps(&mut a, "mnt", 0);
    open_try(&mut a);
    let (mut b, _home_b) = repl(&[]);
    lesson_steps(&mut b, "net", 4);
    let theirs: Vec<String> = std::fs::read_dir("/run/netns")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("nsdojo-"))
        .collect();
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    a.send_line("exit").unwrap();
    let seen = a.exp_string("is not done yet").unwrap();
    assert!(!seen.contains("named network namespace"), "{seen}");
    assert!(std::path::Path::new("/run/netns").join(&theirs[0]).exists(), "the other session's netns stays");
    quit(&mut a);
    quit(&mut b);
    before.assert_unchanged_since("a try beside another session");
}
