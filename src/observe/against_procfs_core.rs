//! The hand-written /proc parsers against the `procfs-core` crate (a dev-dependency,
//! kept so the comparison can be run again): where they agree, and how fast each is.
//!
//! `cargo test --release --lib procfs_against_procfs_core -- --ignored --nocapture`
//! prints the figures quoted in `procfs`'s module doc.

use std::hint::black_box;
use std::time::{Duration, Instant};

use procfs_core::process::{MountInfos, Stat as CoreStat};
use procfs_core::{FromRead, ProcessCGroups};

use super::mountinfo;
use super::procfs::{parse_cgroup, parse_stat};

const MOUNTINFO: &str = include_str!("../../tests/fixtures/mountinfo-hybrid-private.txt");
const CGROUP_V1: &str = "12:pids:/user.slice/user-0.slice/session-1.scope\n11:memory:/process_api/d5eb\n\
    10:cpu,cpuacct:/nsdojo-ab12\n9:blkio:/user.slice\n8:devices:/user.slice\n7:freezer:/\n6:net_cls,net_prio:/\n\
    5:perf_event:/\n4:hugetlb:/\n3:cpuset:/\n2:rdma:/\n1:name=systemd:/user.slice/user-0.slice/session-1.scope\n0::/\n";
const STAT: &str = "4242 (stress (x)) R 1 4242 4242 34816 4242 4194304 131 0 0 0 1500 30 0 0 20 0 1 0 \
    987654 2277376 224 18446744073709551615 94 95 140 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 96 97 98 140 141 142 143 0\n";

#[test]
fn both_read_the_same_fields() {
    let ours = parse_stat(STAT).unwrap();
    let theirs = CoreStat::from_read(STAT.as_bytes()).unwrap();
    assert_eq!((ours.comm.as_str(), ours.state, ours.ppid), (theirs.comm.as_str(), theirs.state, theirs.ppid));
    assert_eq!((ours.utime, ours.stime, ours.start_time), (theirs.utime, theirs.stime, theirs.starttime));

    let ours = parse_cgroup(CGROUP_V1);
    let theirs = ProcessCGroups::from_read(CGROUP_V1.as_bytes()).unwrap().0;
    assert_eq!(ours.len(), theirs.len());
    for (o, t) in ours.iter().zip(&theirs) {
        assert_eq!((o.hierarchy_id, &o.controllers, &o.path), (t.hierarchy, &t.controllers, &t.pathname));
    }

    let ours = mountinfo::parse(MOUNTINFO);
    let theirs = MountInfos::from_read(MOUNTINFO.as_bytes()).unwrap().0;
    assert_eq!(ours.len(), theirs.len());
    for (o, t) in ours.iter().zip(&theirs) {
        assert_eq!((o.id, o.fstype.as_str()), (t.mnt_id as u32, t.fs_type.as_str()));
    }
}

#[test]
fn where_they_differ() {
    // A mount point with a space: the kernel writes `\040`; procfs-core keeps it so.
    let line = "40 22 0:4 net:[4026532246] /run/netns/my\\040net rw shared:5 - nsfs nsfs rw\n";
    assert_eq!(mountinfo::parse(line)[0].mount_point, "/run/netns/my net");
    let theirs = MountInfos::from_read(line.as_bytes()).unwrap().0;
    assert_eq!(theirs[0].mount_point.to_str(), Some("/run/netns/my\\040net"));
    // One odd line: ours skips it, procfs-core refuses the whole file.
    assert_eq!(parse_cgroup("0::/\nodd\n").len(), 1);
    assert!(ProcessCGroups::from_read("0::/\nodd\n".as_bytes()).is_err());
    // A stat line cut after the name: ours says None; procfs-core slices past the end.
    assert_eq!(parse_stat("1 (x)"), None);
    assert!(std::panic::catch_unwind(|| CoreStat::from_read("1 (x)".as_bytes())).is_err());
}

/// Median time of one call, over 21 batches of `n`.
fn time(n: u32, f: &dyn Fn()) -> Duration {
    let mut batches: Vec<Duration> = (0..21)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed() / n
        })
        .collect();
    batches.sort();
    batches[10]
}

#[test]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
fn procfs_against_procfs_core() {
    let own_stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rows: [(&str, Duration, Duration); 4] = [
        (
            "stat",
            time(20_000, &|| drop(black_box(parse_stat(black_box(STAT))))),
            time(20_000, &|| drop(black_box(CoreStat::from_read(black_box(STAT.as_bytes()))))),
        ),
        (
            "cgroup (v1, 13 lines)",
            time(20_000, &|| drop(black_box(parse_cgroup(black_box(CGROUP_V1))))),
            time(20_000, &|| drop(black_box(ProcessCGroups::from_read(black_box(CGROUP_V1.as_bytes()))))),
        ),
        (
            "mountinfo (fixture)",
            time(2_000, &|| drop(black_box(mountinfo::parse(black_box(MOUNTINFO))))),
            time(2_000, &|| drop(black_box(MountInfos::from_read(black_box(MOUNTINFO.as_bytes()))))),
        ),
        (
            "read + parse /proc/self/stat",
            time(5_000, &|| drop(black_box(super::procfs::stat(std::process::id() as i32)))),
            time(5_000, &|| drop(black_box(CoreStat::from_file("/proc/self/stat")))),
        ),
    ];
    assert!(!own_stat.is_empty());
    println!("{} mountinfo lines", MOUNTINFO.lines().count());
    for (what, ours, theirs) in rows {
        println!(
            "{what}: ours {:.2} µs, procfs-core {:.2} µs ({:.1}×)",
            ours.as_secs_f64() * 1e6,
            theirs.as_secs_f64() * 1e6,
            theirs.as_secs_f64() / ours.as_secs_f64()
        );
    }
}
