//! Parsers for the text files the kernel shows in cgroupfs (/proc/PID/cgroup is
//! `observe::procfs`'s: one /proc layer for the whole crate).
//!
//! They are pure functions over `&str` so every format quirk (v1 counts
//! `throttled_time` in nanoseconds, v2 `throttled_usec` in microseconds;
//! v1 reports OOM kills in `memory.oom_control`, v2 in `memory.events`) is
//! pinned by a unit test on the exact text the kernel prints, without
//! needing root or a particular host.

use serde::{Deserialize, Serialize};

/// CPU bandwidth counters of one group, in the same units on v1 and v2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuStat {
    /// Enforcement periods that have elapsed while the group had runnable tasks.
    pub nr_periods: u64,
    /// Periods in which the group used up its quota and was stopped.
    pub nr_throttled: u64,
    /// Total time the group spent throttled, in microseconds (v1 ns / 1000).
    pub throttled_usec: u64,
    /// CPU time used by the group (v2 `usage_usec`, v1 `cpuacct.usage` / 1000
    /// when cpuacct is co-mounted with cpu); `None` when no file says.
    pub usage_usec: Option<u64>,
}

/// What the memory controller says about out-of-memory events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MemoryEvents {
    /// Tasks killed by the OOM killer inside this group.
    pub oom_kill: u64,
    /// v2 only: times the group hit `memory.max` and reclaim failed.
    pub oom: Option<u64>,
    /// v1 only: whether the group is under OOM right now.
    pub under_oom: Option<bool>,
    /// Highest usage seen (v1 `memory.max_usage_in_bytes`, v2 `memory.peak`).
    pub max_usage_bytes: Option<u64>,
}

/// Value of `key` in a flat-keyed file (`key value` per line).
pub(super) fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let mut it = line.split_whitespace();
        (it.next() == Some(key)).then(|| it.next()?.parse().ok())?
    })
}

/// What a cgroup statistics file lacked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatError {
    #[error("no `{0}` line")]
    Missing(&'static str),
    #[error("expected a number, found {0:?}")]
    NotANumber(String),
}

fn required(text: &str, key: &'static str) -> Result<u64, StatError> {
    keyed(text, key).ok_or(StatError::Missing(key))
}

/// A file holding one number, such as `pids.current` or `cpuacct.usage`.
pub(super) fn single_u64(text: &str) -> Result<u64, StatError> {
    let t = text.trim();
    t.parse().map_err(|_| StatError::NotANumber(t.to_string()))
}

/// v1 `cpu.stat` (`throttled_time` in ns) plus, if readable, `cpuacct.usage` (ns).
pub(super) fn parse_cpu_stat_v1(cpu_stat: &str, cpuacct_usage: Option<&str>) -> Result<CpuStat, StatError> {
    Ok(CpuStat {
        nr_periods: required(cpu_stat, "nr_periods")?,
        nr_throttled: required(cpu_stat, "nr_throttled")?,
        throttled_usec: required(cpu_stat, "throttled_time")? / 1000,
        usage_usec: match cpuacct_usage {
            Some(t) => Some(single_u64(t)? / 1000),
            None => None,
        },
    })
}

/// v2 `cpu.stat`; the throttling lines exist only once the cpu controller
/// is enabled for the group, so their absence is an error here.
pub(super) fn parse_cpu_stat_v2(cpu_stat: &str) -> Result<CpuStat, StatError> {
    Ok(CpuStat {
        nr_periods: required(cpu_stat, "nr_periods")?,
        nr_throttled: required(cpu_stat, "nr_throttled")?,
        throttled_usec: required(cpu_stat, "throttled_usec")?,
        usage_usec: Some(required(cpu_stat, "usage_usec")?),
    })
}

/// v1 `memory.oom_control` (`oom_kill` exists since Linux 4.13) and `memory.max_usage_in_bytes`.
pub(super) fn parse_memory_events_v1(oom_control: &str, max_usage: Option<&str>) -> Result<MemoryEvents, StatError> {
    Ok(MemoryEvents {
        oom_kill: keyed(oom_control, "oom_kill").unwrap_or(0),
        oom: None,
        under_oom: Some(required(oom_control, "under_oom")? != 0),
        max_usage_bytes: max_usage.map(single_u64).transpose()?,
    })
}

/// v2 `memory.events` and, on Linux 5.19+, `memory.peak`.
pub(super) fn parse_memory_events_v2(events: &str, peak: Option<&str>) -> Result<MemoryEvents, StatError> {
    Ok(MemoryEvents {
        oom_kill: required(events, "oom_kill")?,
        oom: Some(required(events, "oom")?),
        under_oom: None,
        max_usage_bytes: peak.map(single_u64).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1_CPU_STAT: &str = "nr_periods 93\nnr_throttled 91\nthrottled_time 6302726918\nnr_bursts 0\nburst_time 0\n";
    const V2_CPU_STAT: &str = "usage_usec 2813024\nuser_usec 2800000\nsystem_usec 13024\n\
        core_sched.force_idle_usec 0\nnr_periods 93\nnr_throttled 91\nthrottled_usec 6302726\n\
        nr_bursts 0\nburst_usec 0\n";

    #[test]
    fn v1_cpu_stat_converts_throttled_ns_to_us() {
        let s = parse_cpu_stat_v1(V1_CPU_STAT, None).unwrap();
        assert_eq!((s.nr_periods, s.nr_throttled, s.throttled_usec), (93, 91, 6_302_726));
        assert_eq!(s.usage_usec, None);
        let s = parse_cpu_stat_v1(V1_CPU_STAT, Some("2813024981\n")).unwrap();
        assert_eq!(s.usage_usec, Some(2_813_024));
    }

    #[test]
    fn v2_cpu_stat_is_already_in_us() {
        let s = parse_cpu_stat_v2(V2_CPU_STAT).unwrap();
        assert_eq!(
            s,
            CpuStat { nr_periods: 93, nr_throttled: 91, throttled_usec: 6_302_726, usage_usec: Some(2_813_024) }
        );
    }

    #[test]
    fn v2_cpu_stat_without_cpu_controller_is_an_error() {
        // What a v2 child shows when cpu is not enabled in the parent's subtree_control.
        let e = parse_cpu_stat_v2("usage_usec 5\nuser_usec 3\nsystem_usec 2\n").unwrap_err();
        assert_eq!(e, StatError::Missing("nr_periods"));
    }

    #[test]
    fn keyed_matches_whole_keys_only() {
        // `nr_throttled` must not be read from a `nr_throttled_something` line, nor `oom` from `oom_kill`.
        assert_eq!(keyed("oom_kill 4\noom 7\n", "oom"), Some(7));
        assert_eq!(keyed("nr_throttledx 1\nnr_throttled 2\n", "nr_throttled"), Some(2));
        assert_eq!(keyed("a 1\n", "b"), None);
    }

    #[test]
    fn memory_events_both_formats() {
        let v1 = parse_memory_events_v1("oom_kill_disable 0\nunder_oom 1\noom_kill 3\n", Some("52428800\n")).unwrap();
        assert_eq!(
            v1,
            MemoryEvents { oom_kill: 3, oom: None, under_oom: Some(true), max_usage_bytes: Some(52_428_800) }
        );
        // Kernels before 4.13 have no oom_kill line: count 0, not an error.
        let old = parse_memory_events_v1("oom_kill_disable 0\nunder_oom 0\n", None).unwrap();
        assert_eq!((old.oom_kill, old.under_oom), (0, Some(false)));

        let v2 = parse_memory_events_v2("low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n", None).unwrap();
        assert_eq!(v2, MemoryEvents { oom_kill: 1, oom: Some(2), under_oom: None, max_usage_bytes: None });
    }

    #[test]
    fn single_number_files() {
        assert_eq!(single_u64("17\n"), Ok(17));
        assert!(single_u64("max\n").is_err());
    }
}
