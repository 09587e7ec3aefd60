//! `nsdojo bench`: in-process measurements for BENCHMARKS.md (run by
//! bench/run.sh, which adds the side-by-side comparisons with util-linux).
//!
//! - step: a full step (`unshare mnt` + `mkdir` + `mount tmpfs`, with the
//!   before/after snapshots of both sides, checks and rendering) against the
//!   same system calls made bare in a forked child;
//! - rootfs: building the rootfs (busybox, host-binary fallback) into a fresh
//!   cache, and copying it with copy_tree against `cp -a` of the same tree.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::unistd::{pipe, read, write, ForkResult};

use crate::hostguard::Session;
use crate::lab::runner::Runner;
use crate::render::{self, Style};

pub struct Stats {
    pub median: Duration,
    pub p99: Duration,
    pub min: Duration,
    pub max: Duration,
}

pub fn stats(mut v: Vec<Duration>) -> Stats {
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    Stats { median: at(0.5), p99: at(0.99), min: v[0], max: v[v.len() - 1] }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn line(name: &str, s: &Stats) -> String {
    format!(
        "{name}: median {:.3} ms, p99 {:.3} ms, min {:.3} ms, max {:.3} ms",
        ms(s.median),
        ms(s.p99),
        ms(s.min),
        ms(s.max)
    )
}

/// The bare syscalls of the steps, timed inside a forked child (sent back over a pipe):
/// the first step's (unshare, make private, mkdir, mount) and, after that, a later step's
/// (mkdir, mount).
fn raw_syscalls(dir: &Path) -> (Duration, Duration) {
    let (r, w) = pipe().expect("pipe");
    let later = dir.with_extension("2");
    // The child makes syscalls and _exits.
    match crate::process::fork().expect("fork") {
        ForkResult::Child => {
            let t = Instant::now();
            let ok = unshare(CloneFlags::CLONE_NEWNS).is_ok()
                && mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>).is_ok()
                && std::fs::create_dir(dir).is_ok()
                && mount(Some("tmpfs"), dir, Some("tmpfs"), MsFlags::empty(), Some("size=1m")).is_ok();
            let first = t.elapsed().as_nanos() as u64;
            let t = Instant::now();
            let ok = ok
                && std::fs::create_dir(&later).is_ok()
                && mount(Some("tmpfs"), &later, Some("tmpfs"), MsFlags::empty(), Some("size=1m")).is_ok();
            let second = t.elapsed().as_nanos() as u64;
            let msg = if ok { [first.to_le_bytes(), second.to_le_bytes()].concat() } else { vec![0xff; 16] };
            let _ = write(&w, &msg);
            // SAFETY: _exit in a forked child.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => {
            drop(w);
            let mut buf = [0u8; 16];
            let _ = read(&r, &mut buf);
            crate::process::reap(child.as_raw());
            let _ = std::fs::remove_dir(dir);
            let _ = std::fs::remove_dir(&later);
            let n = |b: &[u8]| Duration::from_nanos(u64::from_le_bytes(b.try_into().expect("8 bytes")));
            (n(&buf[..8]), n(&buf[8..]))
        }
    }
}

const STEP_LESSON: &str = r#"
id = "bench"
title.en = "bench"
[[step]]
text.en = "new mount namespace and a tmpfs"
do = ["unshare mnt", "mkdir $WORK/m", "mount tmpfs $WORK/m size=1m"]
show = ["ns", "mounts $WORK"]
expect = ["sandbox.ns.mnt != host.ns.mnt", "sandbox.mounts has $WORK/m", "host.mounts lacks $WORK/m"]
[[step]]
text.en = "a second tmpfs"
do = ["mkdir $WORK/m2", "mount tmpfs $WORK/m2 size=1m"]
show = ["mounts $WORK"]
expect = ["sandbox.mounts has $WORK/m2", "host.mounts lacks $WORK/m2"]
"#;

/// The bench lesson's runner, quiet (it needs no rootfs: the provider is never asked).
fn start(lesson: &crate::lesson::Lesson, session: &mut Session) -> Runner {
    let mut rootfs = crate::rootfs::Provider::new(crate::rootfs::Source::Auto);
    Runner::start(lesson.clone(), session, &mut rootfs, crate::lesson::Lang::En, &mut ()).expect("lab")
}

/// Step overhead: (full step + render) − (its bare syscalls), for the first step of a fresh
/// sandbox and for a later step, `n` times each.
pub fn step(n: usize, session: &mut Session) -> String {
    let lesson = crate::lesson::parse_lesson("bench", STEP_LESSON).expect("valid");
    let style = Style { lang: crate::lesson::Lang::En, width: 100 };
    let (mut raw1, mut raw2, mut full1, mut full2, mut spawn) = (vec![], vec![], vec![], vec![], vec![]);
    let scratch = std::env::temp_dir().join(format!("nsdojo-bench-{}", session.id()));
    for _ in 0..n {
        let (a, b) = raw_syscalls(&scratch);
        raw1.push(a);
        raw2.push(b);
        let mut runner = start(&lesson, session);
        // The sandbox is forked on first use; time it apart from the steps.
        let t = Instant::now();
        let _ = runner.lab_mut().sandbox_pid();
        spawn.push(t.elapsed());
        for (i, into) in [&mut full1, &mut full2].into_iter().enumerate() {
            let t = Instant::now();
            let report = runner.step(i, &mut ()).expect("step");
            let lab = runner.lab();
            let text = render::step(&style, &lab.lesson, &report, &|s| lab.expand(s));
            into.push(t.elapsed());
            assert!(report.passed() && !text.is_empty(), "bench step {} failed", i + 1);
        }
        runner.finish(session, &mut ());
    }
    // Where the time goes: the parts of a step, measured alone.
    let host_pid = std::process::id() as i32;
    let (mut proc_read, mut host_snap, mut rendering) = (vec![], vec![], vec![]);
    let needs = crate::observe::Needs::default();
    let mut runner = start(&lesson, session);
    let report = runner.step(0, &mut ()).expect("step");
    let lab = runner.lab();
    for _ in 0..n {
        let t = Instant::now();
        std::hint::black_box(crate::observe::ProcFacts::read(host_pid));
        proc_read.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(crate::observe::Snapshot::of_host(&needs));
        host_snap.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(render::step(&style, &lab.lesson, &report, &|s| lab.expand(s)));
        rendering.push(t.elapsed());
    }
    runner.finish(session, &mut ());
    let over = |full: &[Duration], raw: &[Duration]| {
        let m = stats(raw.to_vec()).median;
        stats(full.iter().map(|f| f.saturating_sub(m)).collect())
    };
    [
        line("first step: bare syscalls (unshare+make-rprivate+mkdir+mount)", &stats(raw1.clone())),
        line("first step: full (2 snapshots x 2 sides, actions, checks, render)", &stats(full1.clone())),
        line("first step: overhead over its syscalls", &over(&full1, &raw1)),
        line("later step: bare syscalls (mkdir+mount)", &stats(raw2.clone())),
        line("later step: full", &stats(full2.clone())),
        line("later step: overhead over its syscalls", &over(&full2, &raw2)),
        line("forking a sandbox (once per lesson)", &stats(spawn)),
        line("  part: /proc/PID reads of one side (all of them)", &stats(proc_read)),
        line("  part: the host's snapshot", &stats(host_snap)),
        line("  part: rendering a step", &stats(rendering)),
    ]
    .join("\n")
}

/// Rootfs build (fresh cache each time) and copy_tree vs `cp -a`.
pub fn rootfs(n: usize) -> String {
    use crate::rootfs::{copy_tree, prepare_with_path, Source};
    let mut out = Vec::new();
    let path_env = std::env::var("PATH").unwrap_or_default();
    // The fallback: a PATH of links to the usual host programs, without busybox among them.
    let bins = tempfile_dir("bins");
    for prog in
        ["sh", "ls", "ps", "cat", "echo", "mount", "umount", "hostname", "id", "mkdir", "grep", "sleep", "uname"]
    {
        if let Some(p) = std::env::split_paths(&path_env).map(|d| d.join(prog)).find(|p| p.exists()) {
            let _ = std::os::unix::fs::symlink(p, bins.join(prog));
        }
    }
    let no_busybox = bins.display().to_string();
    for (label, path) in [("busybox", path_env.as_str()), ("host-binary fallback", no_busybox.as_str())] {
        let mut times = Vec::new();
        let mut tree = None;
        for _ in 0..n {
            let cache = tempfile_dir("cache");
            let t = Instant::now();
            let r = match prepare_with_path(&Source::Auto, &cache, path) {
                Ok(r) => r,
                Err(e) => return format!("rootfs build ({label}) failed: {e}"),
            };
            times.push(t.elapsed());
            if let Some((_, old)) = tree.replace((r, cache)) {
                let _ = std::fs::remove_dir_all(old);
            }
        }
        let (r, cache) = tree.expect("n > 0");
        out.push(line(&format!("rootfs build, {label} ({} files, {} KiB)", r.files, r.bytes / 1024), &stats(times)));
        let (mut ours, mut cp) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let dst = tempfile_dir("copy");
            let t = Instant::now();
            copy_tree(&r.path, &dst.join("t"), &mut crate::trace::Trace::default()).expect("copy");
            ours.push(t.elapsed());
            let t = Instant::now();
            let ok = std::process::Command::new("cp")
                .arg("-a")
                .arg(&r.path)
                .arg(dst.join("c"))
                .status()
                .map(|s| s.success());
            cp.push(t.elapsed());
            assert!(matches!(ok, Ok(true)));
            let _ = std::fs::remove_dir_all(&dst);
        }
        let (a, b) = (stats(ours), stats(cp));
        let ratio = a.median.as_secs_f64() / b.median.as_secs_f64();
        out.push(line("  copy_tree of it", &a));
        out.push(line("  cp -a of it", &b));
        out.push(format!("  copy_tree / cp -a = {ratio:.2}"));
        let _ = std::fs::remove_dir_all(&cache);
    }
    let _ = std::fs::remove_dir_all(&bins);
    out.join("\n")
}

fn tempfile_dir(what: &str) -> std::path::PathBuf {
    let base = std::env::var_os("NSDOJO_BENCH_DIR").map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let d = base.join(format!("nsdojo-bench-{what}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&d).expect("bench dir");
    d
}
