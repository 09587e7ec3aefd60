//! %CPU of one process, measured the way top does.
//!
//! The kernel counts a process's CPU time in clock ticks (`utime` and
//! `stime` in `/proc/<pid>/stat`, `CLK_TCK` ticks per second). %CPU over an
//! interval is the ticks gained divided by the ticks the wall clock advanced:
//! 100 % is one full CPU. The lab measured a 30 % quota this way (30.0 %);
//! top's first frame is unreliable because its first interval is tiny, so
//! a sampler is created first and read after a real interval.
//!
//! The wall clock is `std::time::Instant`, which is CLOCK_MONOTONIC on
//! Linux: a clock change while sampling must not look like CPU use.

use std::io;
use std::time::Instant;

/// Parse (utime, stime) from the text of `/proc/<pid>/stat`.
///
/// Field 2 (`comm`) is in parentheses and may itself contain spaces and
/// `)` (a process may name itself `a) b`), so fields are counted from the
/// *last* `)`: after it come state (field 3) ... utime (14), stime (15).
pub fn parse_proc_stat_ticks(text: &str) -> Option<(u64, u64)> {
    crate::observe::procfs::parse_stat(text).map(|s| (s.utime, s.stime))
}

/// %CPU for `ticks` of CPU time over `seconds` of wall time.
pub fn cpu_percent(ticks: u64, clk_tck: u64, seconds: f64) -> f64 {
    if seconds <= 0.0 || clk_tck == 0 {
        return 0.0;
    }
    ticks as f64 / clk_tck as f64 / seconds * 100.0
}

/// Samples one process's %CPU; each [`CpuSampler::sample`] covers the time since the previous one.
#[derive(Debug, Clone)]
pub struct CpuSampler {
    pid: i32,
    clk_tck: u64,
    last_ticks: u64,
    last_at: Instant,
}

fn read_ticks(pid: i32) -> io::Result<u64> {
    let s = crate::observe::procfs::stat(pid)?;
    Ok(s.utime + s.stime)
}

impl CpuSampler {
    /// Start measuring `pid` now.
    pub fn new(pid: i32) -> io::Result<Self> {
        // SAFETY: sysconf only reads a constant of the C library.
        let clk_tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if clk_tck <= 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(CpuSampler { pid, clk_tck: clk_tck as u64, last_ticks: read_ticks(pid)?, last_at: Instant::now() })
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Ticks per second (`getconf CLK_TCK`, 100 on Linux).
    pub fn clk_tck(&self) -> u64 {
        self.clk_tck
    }

    /// %CPU since the previous sample (or since `new`). Fails once the process is gone.
    pub fn sample(&mut self) -> io::Result<f64> {
        let ticks = read_ticks(self.pid)?;
        let now = Instant::now();
        let pct = cpu_percent(ticks.saturating_sub(self.last_ticks), self.clk_tck, (now - self.last_at).as_secs_f64());
        self.last_ticks = ticks;
        self.last_at = now;
        Ok(pct)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_comm() {
        let line = "8473 (sh) R 8400 8473 8400 34816 8473 4194304 120 0 0 0 150 30 0 0 20 0 1 0 123456 2592 434 \
                    18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        assert_eq!(parse_proc_stat_ticks(line), Some((150, 30)));
    }

    #[test]
    fn comm_with_spaces_and_parens() {
        // prctl(PR_SET_NAME, "x) 1 2 (y") gives exactly this.
        let line = "42 (x) 1 2 (y) S 1 42 42 0 -1 4194560 9 0 0 0 7 3 0 0 20 0 1 0 99 0 0\n";
        assert_eq!(parse_proc_stat_ticks(line), Some((7, 3)));
    }

    #[test]
    fn truncated_or_garbage() {
        assert_eq!(parse_proc_stat_ticks("42 (sh) R 1 2 3"), None);
        assert_eq!(parse_proc_stat_ticks("no parens here"), None);
        assert_eq!(parse_proc_stat_ticks(""), None);
    }

    #[test]
    fn percent_formula_matches_the_lab() {
        // Lab step 10: 30 -> 180 ticks at CLK_TCK 100 over 5.008 s => 30.0 %.
        let p = cpu_percent(150, 100, 5.008);
        assert!((p - 29.95).abs() < 0.01, "{p}");
        assert_eq!(cpu_percent(10, 100, 0.0), 0.0);
    }

    #[test]
    fn sampler_reads_this_process() {
        let mut s = CpuSampler::new(std::process::id() as i32).unwrap();
        assert_eq!(s.clk_tck(), 100);
        let p = s.sample().unwrap();
        assert!((0.0..=400.0).contains(&p), "{p}");
        assert!(CpuSampler::new(-1).is_err());
    }
}
