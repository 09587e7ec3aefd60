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
    // Terminal #2's lines make and fill the group the checks judge: no cgroup-tools, no group
    // at the hierarchy's root.
    let limit = if v2 {
        "terminal #2 $ echo 32M > /sys/fs/cgroup/nsdojo-"
    } else {
        "terminal #2 $ echo 32M > /sys/fs/cgroup/memory/"
    };
    assert!(out.contains("lab command:\n  terminal #2 $ ") && out.contains(limit), "{out}");
    assert!(!out.contains("cgcreate") && !out.contains("mycgroup"), "{out}");
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

fn ppid(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].split(' ').nth(1)?.parse().ok()
}

/// The cgroup v1 or v2 directory that holds `pid`'s CPU limit, as a second terminal finds it:
/// its /proc/PID/cgroup line, under the hierarchy mounted for the cpu controller.
fn cpu_limit_percent(pid: i32) -> Option<f64> {
    let lines = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    for line in lines.lines() {
        let mut f = line.splitn(3, ':');
        let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
        if controllers.is_empty() {
            let max = std::fs::read_to_string(format!("/sys/fs/cgroup{path}/cpu.max")).ok()?;
            let (quota, period) = max.trim().split_once(' ')?;
            return Some(quota.parse::<f64>().ok()? / period.parse::<f64>().ok()? * 100.0);
        }
        if controllers.split(',').any(|c| c == "cpu") {
            let dir = ["cpu", "cpu,cpuacct", "cpuacct,cpu"]
                .iter()
                .map(|m| format!("/sys/fs/cgroup/{m}{path}"))
                .find(|d| std::path::Path::new(d).join("cpu.cfs_quota_us").exists())?;
            let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).ok()?.trim().parse::<f64>().ok();
            return Some(read("cpu.cfs_quota_us")? / read("cpu.cfs_period_us")? * 100.0);
        }
    }
    None
}

/// Issue 14's capstone, seen from a second terminal while its burner runs: terminal #1 has mnt,
/// uts, ipc, pid, net and cgroup namespaces of its own, a tmpfs root and a cgroup limited to 30 %
/// of a CPU; an independent sampler of the burner's /proc/PID/stat measures 27–33 %.
#[test]
fn the_capstone_container_seen_from_a_second_terminal() {
    let _g = require_root!();
    let before = HostState::now();
    let mut child = Command::new(bin())
        .args(["run", "container", "--check"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let clk = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).unwrap().unwrap() as f64;
    let deadline = Instant::now() + Duration::from_secs(60);
    let burner = loop {
        if let Some(p) = burner_pid() {
            break p;
        }
        assert!(Instant::now() < deadline && child.try_wait().unwrap().is_none(), "the capstone's burner never ran");
        std::thread::sleep(Duration::from_millis(20));
    };
    // Terminal #1 is the burner's nearest ancestor named like the sandbox (PID 1 inside).
    let mut terminal1 = ppid(burner).unwrap();
    while comm(terminal1).as_deref() != Some("nsdojo-sandbox") {
        terminal1 = ppid(terminal1).expect("the burner descends from terminal #1");
    }
    let ns = |pid: &str, kind: &str| std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).unwrap();
    for kind in ["mnt", "uts", "ipc", "pid", "net", "cgroup"] {
        assert_ne!(ns(&terminal1.to_string(), kind), ns("self", kind), "terminal #1's {kind} namespace is its own");
    }
    let mountinfo = std::fs::read_to_string(format!("/proc/{terminal1}/mountinfo")).unwrap();
    let root_fs = mountinfo
        .lines()
        .rev()
        .filter(|l| l.split(' ').nth(4) == Some("/"))
        .find_map(|l| l.split(" - ").nth(1)?.split(' ').next());
    assert_eq!(root_fs, Some("tmpfs"), "terminal #1's / is a tmpfs: {mountinfo}");
    let limit = cpu_limit_percent(terminal1).expect("terminal #1's cgroup has a CPU limit");
    assert!((limit - 30.0).abs() < 0.01, "a 30 % CPU limit, not {limit}");
    // Sample for as long as the burner lives (the step burns for 4 s).
    let (t0, k0) = (Instant::now(), ticks(burner).unwrap());
    let (mut t1, mut k1) = (t0, k0);
    while let Some(k) = ticks(burner) {
        (t1, k1) = (Instant::now(), k);
        std::thread::sleep(Duration::from_millis(20));
    }
    let measured = (k1 - k0) as f64 / clk / (t1 - t0).as_secs_f64() * 100.0;
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(child.wait().unwrap().success(), "{out}");
    assert!((t1 - t0).as_secs_f64() > 2.0, "sampled {:?} of the burn", t1 - t0);
    assert!((27.0..=33.0).contains(&measured), "the burner used {measured:.1} % of a CPU");
    eprintln!("independent sampler: {measured:.1} % over {:?}", t1 - t0);
    before.assert_unchanged_since("run container");
}
