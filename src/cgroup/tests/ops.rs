//! Limits, stats and membership on both layouts: the exact bytes and trace lines.

use std::fs;

use super::*;
use crate::observe::procfs::parse_cgroup;
use Controller::{Cpu, Memory, Pids};

#[test]
fn v1_cpu_limit_writes_period_then_quota_30000() {
    let (_tmp, layout) = v1_tree();
    let mut t = Trace::default();
    let g = Group::create(&layout, "g", &[Cpu], &mut t).unwrap();
    let dir = g.paths()[0].clone();
    populate_v1(&dir, "cpu");
    g.set_cpu_limit(30, 100_000, &mut t).unwrap();
    assert_eq!(get(&dir.join("cpu.cfs_quota_us")), "30000");
    assert_eq!(get(&dir.join("cpu.cfs_period_us")), "100000");
    assert_eq!(
        lines(&t)[1..],
        [
            format!("write({:?}, \"100000\") = 6", s(&dir.join("cpu.cfs_period_us"))),
            format!("write({:?}, \"30000\") = 5", s(&dir.join("cpu.cfs_quota_us"))),
        ]
    );
    // 150 % of a 50 ms period is 75 ms: quotas above one CPU are legal.
    g.set_cpu_limit(150, 50_000, &mut t).unwrap();
    assert_eq!(get(&dir.join("cpu.cfs_quota_us")), "75000");
}

#[test]
fn v2_cpu_limit_writes_cpu_max() {
    let (tmp, layout) = v2_tree("cpuset cpu io memory hugetlb pids\n", "cpu memory pids\n");
    let mut t = Trace::default();
    let g = Group::create(&layout, "g", &[Cpu], &mut t).unwrap();
    populate_v2(&g.paths()[0]);
    g.set_cpu_limit(30, 100_000, &mut t).unwrap();
    let cpu_max = tmp.path().join("g/cpu.max");
    assert_eq!(get(&cpu_max), "30000 100000");
    assert_eq!(lines(&t).last().unwrap(), &format!("write({:?}, \"30000 100000\") = 12", s(&cpu_max)));
}

#[test]
fn bad_cpu_limits_touch_no_file() {
    let (_tmp, layout) = v1_tree();
    let mut t = Trace::default();
    let g = Group::create(&layout, "g", &[Cpu], &mut t).unwrap();
    populate_v1(&g.paths()[0], "cpu");
    for (pct, period) in [(0, 100_000), (30, 500), (30, 2_000_000), (1, 50_000)] {
        let e = g.set_cpu_limit(pct, period, &mut t).unwrap_err();
        assert!(matches!(e, CgroupError::Invalid(_)), "{pct} {period}: {e}");
    }
    assert_eq!(t.calls.len(), 1, "{:?}", lines(&t));
}

#[test]
fn add_process_writes_the_pid_into_every_hierarchy() {
    let (_tmp, layout) = v1_tree();
    let mut t = Trace::default();
    let g = Group::create(&layout, "g", &[Cpu, Pids], &mut t).unwrap();
    for (d, c) in g.paths().iter().zip(["cpu", "pids"]) {
        populate_v1(d, c);
    }
    g.add_process(8473, &mut t).unwrap();
    for d in g.paths() {
        assert_eq!(get(&d.join("cgroup.procs")), "8473");
    }
    assert_eq!(t.calls.len(), 4);
    assert!(lines(&t)[2].ends_with("cgroup.procs\", \"8473\") = 4"), "{:?}", lines(&t));
    assert!(g.add_process(0, &mut t).is_err());

    let (tmp, layout) = v2_tree("cpu\n", "cpu\n");
    let g = Group::create(&layout, "g", &[Cpu], &mut t).unwrap();
    populate_v2(&g.paths()[0]);
    g.add_process(8473, &mut t).unwrap();
    assert_eq!(get(&tmp.path().join("g/cgroup.procs")), "8473");
}

#[test]
fn memory_limits_on_both_layouts() {
    let (_tmp, layout) = v1_tree();
    let mut t = Trace::default();
    let g = Group::create(&layout, "g", &[Memory], &mut t).unwrap();
    populate_v1(&g.paths()[0], "memory");
    g.set_memory_limit(64 << 20, &mut t).unwrap();
    assert_eq!(get(&g.paths()[0].join("memory.limit_in_bytes")), "67108864");
    assert!(t.calls.last().unwrap().note.as_ref().unwrap().to_string().contains("swap"));
    assert_eq!(g.memory_events().unwrap().oom_kill, 2);
    assert_eq!(g.memory_events().unwrap().max_usage_bytes, Some(1_048_576));

    let (tmp, layout) = v2_tree("memory\n", "memory\n");
    let g = Group::create(&layout, "g", &[Memory], &mut t).unwrap();
    let dir = tmp.path().join("g");
    populate_v2(&dir);
    let before = t.calls.len();
    g.set_memory_limit(64 << 20, &mut t).unwrap();
    assert_eq!(t.calls.len(), before + 1, "no memory.swap.max, no write to it");
    put(&dir.join("memory.swap.max"), "max\n");
    g.set_memory_limit(64 << 20, &mut t).unwrap();
    assert_eq!((get(&dir.join("memory.max")), get(&dir.join("memory.swap.max"))), ("67108864".into(), "0".into()));
    let ev = g.memory_events().unwrap();
    assert_eq!((ev.oom_kill, ev.oom), (1, Some(1)));
}

/// With swap accounted (memory.memsw.*), v1 limits RAM + swap too, in the order the kernel
/// accepts (memsw >= limit at every moment): lowering writes the limit first, raising memsw.
#[test]
fn v1_memory_limit_covers_swap_when_the_kernel_accounts_it() {
    let (_tmp, layout) = v1_tree();
    let mut t = Trace::default();
    let g = Group::create(&layout, "g", &[Memory], &mut t).unwrap();
    let dir = g.paths()[0].clone();
    populate_v1(&dir, "memory");
    put(&dir.join("memory.memsw.limit_in_bytes"), "9223372036854771712\n");
    let n = t.calls.len();
    g.set_memory_limit(32 << 20, &mut t).unwrap();
    let written: Vec<String> = lines(&t)[n..].to_vec();
    assert_eq!(written.len(), 2, "{written:?}");
    assert!(written[0].contains("memory.limit_in_bytes") && written[1].contains("memory.memsw.limit_in_bytes"));
    assert_eq!(get(&dir.join("memory.memsw.limit_in_bytes")), "33554432");
    assert!(t.calls.last().unwrap().note.as_ref().unwrap().to_string().contains("swap"));
    let n = t.calls.len();
    g.set_memory_limit(64 << 20, &mut t).unwrap();
    let written: Vec<String> = lines(&t)[n..].to_vec();
    assert!(written[0].contains("memory.memsw.limit_in_bytes") && written[1].contains("memory.limit_in_bytes"));
    assert_eq!(
        (get(&dir.join("memory.limit_in_bytes")), get(&dir.join("memory.memsw.limit_in_bytes"))),
        ("67108864".into(), "67108864".into())
    );
    assert!(g.limit_files().iter().any(|(p, v)| p.ends_with("memory.memsw.limit_in_bytes") && v == "67108864"));
}

/// `Layout::group_dir` names the directory `create_within` makes, on both layouts, nested or not.
#[test]
fn group_dir_is_where_the_group_is_made() {
    let (tmp, layout) = v1_tree();
    fs::create_dir_all(tmp.path().join("memory/process_api/d5eb")).unwrap();
    let me = parse_cgroup("4:memory:/process_api/d5eb\n1:cpu:/\n0::/\n");
    assert_eq!(layout.group_dir(&me, "g", Memory), Some(tmp.path().join("memory/process_api/d5eb/g")));
    assert_eq!(layout.group_dir(&me, "g", Cpu), Some(tmp.path().join("cpu/g")));
    assert_eq!(layout.group_dir(&[], "g", Pids), Some(tmp.path().join("pids/g")));
    let mut t = Trace::default();
    let g = Group::create_within(&layout, &me, "g", &[Cpu, Memory], &mut t).unwrap();
    assert_eq!(g.paths(), vec![layout.group_dir(&me, "g", Cpu).unwrap(), layout.group_dir(&me, "g", Memory).unwrap()]);
    let no_pids = Layout::V1 { controllers: BTreeMap::new(), unified: None };
    assert_eq!(no_pids.group_dir(&[], "g", Pids), None);

    let (tmp, layout) = v2_tree("cpu\n", "cpu\n");
    assert_eq!(layout.group_dir(&[], "g", Cpu), Some(tmp.path().join("g")));
    let nested = parse_cgroup("0::/user.slice\n");
    assert_eq!(layout.group_dir(&nested, "g", Cpu), Some(tmp.path().join("user.slice/g")));
    let g = Group::create(&layout, "g", &[Cpu], &mut t).unwrap();
    assert_eq!(g.paths(), vec![layout.group_dir(&[], "g", Cpu).unwrap()]);
}

#[test]
fn pids_and_wrong_controller() {
    let (_tmp, layout) = v1_tree();
    let mut t = Trace::default();
    let g = Group::create(&layout, "g", &[Pids], &mut t).unwrap();
    populate_v1(&g.paths()[0], "pids");
    g.set_pids_max(64, &mut t).unwrap();
    assert_eq!(get(&g.paths()[0].join("pids.max")), "64");
    assert_eq!(g.pids_current().unwrap(), 3);
    let n = t.calls.len();
    assert!(matches!(g.set_cpu_limit(30, 100_000, &mut t), Err(CgroupError::NotInGroup { controller: Cpu, .. })));
    assert!(matches!(g.cpu_stat(), Err(CgroupError::NotInGroup { .. })));
    assert_eq!(t.calls.len(), n);
}

#[test]
fn cpu_stat_both_layouts_in_microseconds() {
    let (_tmp, layout) = v1_tree();
    let mut t = Trace::default();
    let g = Group::create(&layout, "g", &[Cpu], &mut t).unwrap();
    populate_v1(&g.paths()[0], "cpu");
    let st = g.cpu_stat().unwrap();
    assert_eq!((st.nr_periods, st.nr_throttled, st.throttled_usec, st.usage_usec), (63, 62, 4_325_825, None));
    // Co-mounted cpu,cpuacct (Ubuntu 18.04): one directory, usage from cpuacct.usage.
    put(&g.paths()[0].join("cpuacct.usage"), "1500000123\n");
    assert_eq!(g.cpu_stat().unwrap().usage_usec, Some(1_500_000));

    let (_tmp2, layout) = v2_tree("cpu\n", "cpu\n");
    let g = Group::create(&layout, "g", &[Cpu], &mut t).unwrap();
    populate_v2(&g.paths()[0]);
    let st = g.cpu_stat().unwrap();
    assert_eq!(
        (st.nr_periods, st.nr_throttled, st.throttled_usec, st.usage_usec),
        (63, 62, 4_325_825, Some(1_500_000))
    );
}

#[test]
fn membership_per_hierarchy_and_nested_placement() {
    let (tmp, layout) = v1_tree();
    fs::create_dir_all(tmp.path().join("memory/process_api/d5eb")).unwrap();
    let me = parse_cgroup("4:memory:/process_api/d5eb\n1:cpu:/\n0::/\n");
    let mut t = Trace::default();
    let g = Group::create_within(&layout, &me, "g", &[Cpu, Memory], &mut t).unwrap();
    assert_eq!(g.paths(), vec![tmp.path().join("cpu/g"), tmp.path().join("memory/process_api/d5eb/g")]);
    assert!(g.contains_in(&parse_cgroup("4:memory:/process_api/d5eb/g\n1:cpu:/g\n0::/\n")));
    assert!(!g.contains_in(&parse_cgroup("4:memory:/process_api/d5eb/g\n1:cpu:/\n0::/\n")), "not in cpu");
    assert!(!g.contains_in(&parse_cgroup("4:memory:/process_api/d5eb\n1:cpu:/g\n")), "not in memory");
    assert!(
        !g.contains_in(&parse_cgroup("1:cpu:/g/child\n4:memory:/process_api/d5eb/g\n")),
        "a child group is not the group"
    );
    assert!(!g.contains(std::process::id() as i32));

    let (_tmp2, layout) = v2_tree("cpu\n", "cpu\n");
    let g = Group::create(&layout, "g", &[Cpu], &mut t).unwrap();
    assert!(g.contains_in(&parse_cgroup("1:cpu:/\n0::/g\n")));
    assert!(!g.contains_in(&parse_cgroup("1:cpu:/g\n0::/\n")));
}

#[test]
fn limit_files_show_current_values() {
    let (_tmp, layout) = v1_tree();
    let mut t = Trace::default();
    let g = Group::create(&layout, "g", &[Cpu, Memory], &mut t).unwrap();
    populate_v1(&g.paths()[0], "cpu");
    let before = g.limit_files();
    g.set_cpu_limit(30, 100_000, &mut t).unwrap();
    let after = g.limit_files();
    let cpu = &g.paths()[0];
    assert_eq!(
        before,
        vec![(cpu.join("cpu.cfs_period_us"), "100000".into()), (cpu.join("cpu.cfs_quota_us"), "-1".into())]
    );
    assert_eq!(after[1], (cpu.join("cpu.cfs_quota_us"), "30000".into()));
}

#[test]
fn sample_reports_unconfined_and_vanished() {
    let (_tmp, layout) = v1_tree();
    let mut t = Trace::default();
    let g = Group::create(&layout, "g", &[Cpu], &mut t).unwrap();
    populate_v1(&g.paths()[0], "cpu");
    let mut sampler = CpuSampler::new(std::process::id() as i32).unwrap();
    let smp = g.sample(&mut sampler).unwrap();
    assert!(!smp.confined, "the test process is not in the fake group");
    assert_eq!(smp.nr_throttled, Some(62));
    unpopulate(&g.paths());
    fs::remove_dir(&g.paths()[0]).unwrap();
    let e = g.sample(&mut sampler).unwrap_err();
    assert!(matches!(&e, CgroupError::Vanished { path } if *path == g.paths()[0]), "{e}");
}
