//! cgroup lessons on this machine's real cgroups.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{bin, require_root, HostState, Test};
use crate::repl::{lesson_steps, repl};

#[test]
fn cpu_memory_and_pids_lessons_pass_and_leave_no_group_behind() {
    let _g = require_root!();
    let before = HostState::now();
    let d = Test::new().args(["run", "cgroup-memory", "cgroup-pids", "--check"]).succeeds();
    let out = d.stdout();
    assert!(out.contains("OOM killer enforced the memory limit"), "{out}");
    assert!(out.contains("fork() = -1 EAGAIN"), "{out}");
    // Lab commands and texts name the group's real directory, for this machine's layout.
    assert!(!out.contains("$CGROUP"), "every $CGROUP is expanded: {out}");
    let v2 = matches!(nsdojo::cgroup::Layout::detect(), Ok(nsdojo::cgroup::Layout::V2 { .. }));
    let create = if v2 { "lab command: $ echo +memory > " } else { "lab command: $ cgcreate -g memory:mycgroup" };
    assert!(out.contains(create), "{out}");
    before.assert_unchanged_since("the cgroup lessons");
}

fn comm(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|c| c.trim().to_string())
}

/// The process that burns: nsdojo's own loop, or the worker of `stress -c 1` (a stress whose
/// parent is stress).
fn burner_pid() -> Option<i32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let ppid: i32 = stat[stat.rfind(')')? + 2..].split(' ').nth(1)?.parse().ok()?;
        match comm(pid)?.as_str() {
            "nsdojo-burner" => Some(pid),
            "stress" if comm(ppid).as_deref() == Some("stress") => Some(pid),
            _ => None,
        }
    })
}

fn ticks(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
    Some(f[11].parse::<u64>().ok()? + f[12].parse::<u64>().ok()?)
}

/// An independent sampler of the burner's /proc/PID/stat agrees with the meter within ±2 points.
#[test]
fn the_meter_agrees_with_an_independent_sampler() {
    let _g = require_root!();
    let before = HostState::now();
    let mut child = Command::new(bin())
        .args(["run", "cgroup-cpu", "--check"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // SAFETY-free: sysconf through nix.
    let clk = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).unwrap().unwrap() as f64;
    let mut ours: Vec<f64> = Vec::new();
    let mut cur: Option<(i32, Instant, u64, Instant, u64)> = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let seen = burner_pid().and_then(|p| ticks(p).map(|t| (p, t)));
        match (seen, cur) {
            (Some((p, t)), Some((cp, t0, k0, _, _))) if p == cp => cur = Some((cp, t0, k0, Instant::now(), t)),
            (seen, Some((_, t0, k0, t1, k1))) => {
                ours.push((k1 - k0) as f64 / clk / (t1 - t0).as_secs_f64() * 100.0);
                cur = seen.map(|(p, t)| (p, Instant::now(), t, Instant::now(), t));
            }
            (Some((p, t)), None) => cur = Some((p, Instant::now(), t, Instant::now(), t)),
            (None, None) => {}
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // The last burner ends just before nsdojo exits: count what was seen of it.
    if let Some((_, t0, k0, t1, k1)) = cur {
        ours.push((k1 - k0) as f64 / clk / (t1 - t0).as_secs_f64() * 100.0);
    }
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(child.wait().unwrap().success(), "{out}");
    let meter: Vec<f64> =
        out.lines().filter_map(|l| l.split("average ").nth(1)?.split('%').next()?.parse().ok()).collect();
    assert_eq!(meter.len(), 2, "two burns (unlimited, limited): {out}");
    assert_eq!(ours.len(), 2, "the independent sampler saw both burners: {ours:?}");
    for (m, o) in meter.iter().zip(&ours) {
        assert!((m - o).abs() <= 2.0, "meter {m:.1}% vs independent {o:.1}%");
    }
    assert!(meter[0] > 80.0 && (25.0..=35.0).contains(&meter[1]), "{meter:?}");
    eprintln!("meter {meter:?} vs independent sampler {ours:?}");
    before.assert_unchanged_since("run cgroup-cpu");
}

#[test]
fn ctrl_c_during_the_burn_stops_it_and_removes_the_group() {
    let _g = require_root!();
    let before = HostState::now();
    let (mut p, _home) = repl(&[]);
    lesson_steps(&mut p, "cgroup-cpu", 4);
    let groups = || {
        std::fs::read_dir("/sys/fs/cgroup/cpu")
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("nsdojo-"))
            .count()
    };
    assert_eq!(groups(), 1, "the lesson's group exists");
    p.send_line("next").unwrap();
    let start = Instant::now();
    while burner_pid().is_none() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let burner = burner_pid().expect("the burner runs");
    std::thread::sleep(Duration::from_millis(600));
    p.send_control('c').unwrap();
    p.exp_string("interrupted").unwrap();
    p.exp_regex(r"nsdojo\[cgroup-cpu 0/5\]> ").unwrap();
    assert!(!crate::harness::alive(burner), "the burner is gone");
    assert_eq!(groups(), 0, "the group was removed with the reset");
    p.send_line("quit").unwrap();
    p.exp_eof().unwrap();
    before.assert_unchanged_since("Ctrl-C during a burn");
}
