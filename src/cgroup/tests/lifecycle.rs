//! Creating and removing groups: directories, subtree_control, rollback, crash cleanup.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use tempfile::TempDir;

use super::*;
use Controller::{Cpu, Memory, Pids};

#[test]
fn v1_create_makes_one_dir_per_hierarchy_and_nothing_else() {
    let (tmp, layout) = v1_tree();
    let mut t = Trace::default();
    let g = Group::create(&layout, "nsdojo-ab12", &[Memory, Cpu], &mut t).unwrap();
    let cpu = tmp.path().join("cpu/nsdojo-ab12");
    let mem = tmp.path().join("memory/nsdojo-ab12");
    assert_eq!(lines(&t), vec![format!("mkdir({:?}, 0755) = 0", s(&cpu)), format!("mkdir({:?}, 0755) = 0", s(&mem))]);
    assert_eq!(g.paths(), vec![cpu.clone(), mem]);
    assert!(cpu.is_dir());
    assert!(!tmp.path().join("pids/nsdojo-ab12").exists());
}

#[test]
fn v2_enables_only_missing_controllers_and_restores_them() {
    let (tmp, layout) = v2_tree("cpuset cpu io memory hugetlb pids\n", "memory\n");
    let sc = tmp.path().join("cgroup.subtree_control");
    let mut t = Trace::default();
    let g = Group::create(&layout, "g", &[Pids, Memory, Cpu], &mut t).unwrap();
    let dir = tmp.path().join("g");
    assert_eq!(
        lines(&t),
        vec![
            format!("write({:?}, \"+cpu\") = 4", s(&sc)),
            format!("write({:?}, \"+pids\") = 5", s(&sc)),
            format!("mkdir({:?}, 0755) = 0", s(&dir)),
        ]
    );
    populate_v2(&dir);
    unpopulate(&g.paths());
    let mut t = Trace::default();
    g.remove(&mut t).unwrap();
    assert_eq!(
        lines(&t),
        vec![
            format!("rmdir({:?}) = 0", s(&dir)),
            format!("write({:?}, \"-pids\") = 5", s(&sc)),
            format!("write({:?}, \"-cpu\") = 4", s(&sc)),
        ]
    );
    assert!(!dir.exists());
}

#[test]
fn v2_leaves_controllers_on_while_another_sessions_group_needs_them() {
    let (tmp, layout) = v2_tree("cpuset cpu io memory hugetlb pids\n", "\n");
    let mut t = Trace::default();
    let g = Group::create(&layout, "nsdojo-a", &[Cpu], &mut t).unwrap();
    populate_v2(&tmp.path().join("nsdojo-a"));
    // A second session's group appears while the first is running.
    std::fs::create_dir(tmp.path().join("nsdojo-b")).unwrap();
    unpopulate(&g.paths());
    let mut t = Trace::default();
    g.remove(&mut t).unwrap();
    assert!(!lines(&t).iter().any(|l| l.contains("\"-cpu\"")), "{:?}", lines(&t));
}

#[test]
fn v2_with_controllers_already_enabled_leaves_subtree_control_alone() {
    let (tmp, layout) = v2_tree("cpu memory pids\n", "cpu memory pids\n");
    let mut t = Trace::default();
    let g = Group::create(&layout, "g", &[Cpu, Memory], &mut t).unwrap();
    unpopulate(&g.paths());
    g.remove(&mut t).unwrap();
    assert!(!lines(&t).iter().any(|l| l.contains("subtree_control")), "{:?}", lines(&t));
    assert_eq!(get(&tmp.path().join("cgroup.subtree_control")), "cpu memory pids\n");
}

#[test]
fn v2_without_the_controller_says_why_and_changes_nothing() {
    // The lab machine's /sys/fs/cgroup/unified: only hugetlb is free for v2.
    let (tmp, layout) = v2_tree("hugetlb\n", "");
    let mut t = Trace::default();
    let e = Group::create(&layout, "g", &[Cpu], &mut t).unwrap_err().to_string();
    assert!(
        e.contains(&format!(
            "cgroup v2 at {} has no cpu controller: it is bound to a cgroup v1 hierarchy",
            s(tmp.path())
        )),
        "{e}"
    );
    assert!(e.contains("lists hugetlb"), "{e}");
    assert!(t.calls.is_empty());
    assert!(!tmp.path().join("g").exists());
}

#[test]
fn v2_mkdir_failure_undoes_subtree_control() {
    let (tmp, layout) = v2_tree("cpu pids\n", "");
    fs::create_dir(tmp.path().join("g")).unwrap(); // left over from a crash
    let mut t = Trace::default();
    let e = Group::create(&layout, "g", &[Cpu], &mut t).unwrap_err();
    assert!(matches!(e, CgroupError::Syscall { errno: nix::errno::Errno::EEXIST, .. }), "{e}");
    let l = lines(&t);
    assert_eq!(l.len(), 3, "{l:?}");
    assert!(l[1].ends_with("= -1 EEXIST (File exists)"), "{l:?}");
    assert!(l[2].ends_with("\"-cpu\") = 4"), "{l:?}");
    assert_eq!(t.calls[1].note, Some(crate::msg::Msg::GroupExists));
}

#[test]
fn v1_partial_create_is_rolled_back() {
    let (tmp, layout) = v1_tree();
    fs::create_dir(tmp.path().join("memory/g")).unwrap();
    let mut t = Trace::default();
    assert!(Group::create(&layout, "g", &[Cpu, Memory], &mut t).is_err());
    let l = lines(&t);
    assert!(l[1].contains("memory/g") && l[1].contains("EEXIST"), "{l:?}");
    assert_eq!(l[2], format!("rmdir({:?}) = 0", s(&tmp.path().join("cpu/g"))));
    assert!(!tmp.path().join("cpu/g").exists());
}

#[test]
fn bad_names_and_missing_controllers_are_refused_before_any_call() {
    let (_tmp, layout) = v1_tree();
    let mut t = Trace::default();
    for name in ["", "a/b", "..", "."] {
        assert!(matches!(Group::create(&layout, name, &[Cpu], &mut t), Err(CgroupError::Invalid(_))), "{name:?}");
    }
    assert!(matches!(Group::create(&layout, "g", &[], &mut t), Err(CgroupError::Invalid(_))));
    let Layout::V1 { mut controllers, unified } = layout else { unreachable!() };
    controllers.remove("memory");
    let e = Group::create(&Layout::V1 { controllers, unified }, "g", &[Cpu, Memory], &mut t).unwrap_err();
    assert!(e.to_string().contains("no hierarchy is mounted for the memory controller"), "{e}");
    assert!(t.calls.is_empty(), "{:?}", lines(&t));
}

#[test]
fn comounted_controllers_share_one_directory() {
    // cpu,cpuacct as on Ubuntu 18.04; memory,pids co-mounted too, so that
    // two requested controllers land in one directory.
    let tmp = TempDir::new().unwrap();
    let (cpu, mem) = (tmp.path().join("cpu,cpuacct"), tmp.path().join("memory,pids"));
    let mut controllers = BTreeMap::new();
    for (c, d) in [("cpu", &cpu), ("cpuacct", &cpu), ("memory", &mem), ("pids", &mem)] {
        fs::create_dir_all(d).unwrap();
        controllers.insert(c.to_string(), d.clone());
    }
    let mut t = Trace::default();
    let g = Group::create(&Layout::V1 { controllers, unified: None }, "g", &[Cpu, Memory, Pids], &mut t).unwrap();
    assert_eq!(g.paths(), vec![cpu.join("g"), mem.join("g")]);
    assert_eq!(t.calls.len(), 2, "{:?}", lines(&t));
    for d in g.paths() {
        put(&d.join("cgroup.procs"), "");
    }
    g.add_process(42, &mut t).unwrap();
    assert_eq!(t.calls.len(), 4, "one cgroup.procs write per directory: {:?}", lines(&t));
}

#[test]
fn remove_tolerates_enoent_and_reports_other_errors() {
    let (_tmp, layout) = v1_tree();
    let mut t = Trace::default();
    let g = Group::create(&layout, "g", &[Cpu, Memory], &mut t).unwrap();
    fs::remove_dir(&g.paths()[0]).unwrap();
    populate_v1(&g.paths()[1], "memory"); // still has files: ENOTEMPTY on a fake tree
    let mut t = Trace::default();
    let e = g.remove(&mut t).unwrap_err();
    let l = lines(&t);
    assert!(l[0].ends_with("= -1 ENOENT (No such file or directory)"), "{l:?}");
    assert!(l[1].contains("ENOTEMPTY"), "{l:?}");
    assert_eq!(l.len(), 2, "ENOTEMPTY is not retried: {l:?}");
    assert!(matches!(e, CgroupError::Syscall { errno: nix::errno::Errno::ENOTEMPTY, .. }));
}

#[test]
fn remove_paths_kills_listed_pids_but_never_itself_and_refuses_roots() {
    let (tmp, _layout) = v1_tree();
    let g = tmp.path().join("cpu/g");
    fs::create_dir_all(g.join("child")).unwrap();
    populate_v1(&g, "cpu");
    put(&g.join("child/cgroup.procs"), "");
    // Our own pid must be skipped; 999999999 is above any pid_max, so kill() says ESRCH.
    put(&g.join("cgroup.procs"), &format!("{}\n999999999\n", std::process::id()));
    let mut t = Trace::default();
    let e = remove_paths(std::slice::from_ref(&g), &mut t).unwrap_err();
    let l = lines(&t);
    assert!(l[0].starts_with(&format!("rmdir({:?}", s(&g.join("child")))), "child group first: {l:?}");
    assert_eq!(l[1], "kill(999999999, SIGKILL) = -1 ESRCH (No such process)");
    assert!(l[2].contains("ENOTEMPTY"), "{l:?}"); // the fake group still holds its files
    assert!(matches!(e, CgroupError::Syscall { .. }));

    for root in [tmp.path().join("cpu"), PathBuf::from("cpu/g"), tmp.path().to_path_buf()] {
        let e = remove_paths(std::slice::from_ref(&root), &mut t).unwrap_err();
        assert!(matches!(e, CgroupError::Refused { .. }), "{}: {e}", s(&root));
    }
    let mut t = Trace::default();
    remove_paths(&[tmp.path().join("cpu/gone")], &mut t).unwrap();
    assert!(lines(&t)[0].ends_with("= -1 ENOENT (No such file or directory)"));
}
