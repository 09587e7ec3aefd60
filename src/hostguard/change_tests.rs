//! What a change says, in both languages, and the reverts that need no root: directories,
//! a netns file that is not mounted, a queue that is not there, a process that is not it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{Cause, HostChange, Outcome, Undone};
use crate::hostguard::record::DirId;
use crate::lesson::Lang;

fn said(change: HostChange, outcome: Outcome, cause: Cause) -> (String, String) {
    let u = Undone { change, outcome, cause };
    (u.line(Lang::En), u.line(Lang::Ko))
}

fn mnt() -> HostChange {
    HostChange::Mount { point: "/mnt".into(), fstype: None }
}

#[test]
fn what_the_try_shell_changed_is_said_as_before_in_english_and_in_korean() {
    let host = HostChange::Hostname { was: "vm".into(), now: "oops".into() };
    let (en, ko) = said(host, Outcome::Reverted, Cause::Try);
    assert_eq!(
        en,
        "the host's hostname was changed to oops; put back to vm — make a UTS namespace first (`unshare -u`)"
    );
    assert!(ko.contains("oops") && ko.contains("vm") && ko.contains("되돌렸습니다"), "{ko}");
    let (en, ko) = said(mnt(), Outcome::Reverted, Cause::Try);
    assert!(en.starts_with("/mnt was mounted on the host; unmounted"), "{en}");
    assert!(ko.starts_with("/mnt 경로가"), "{ko}");
    let left = HostChange::LeftProcess { pid: 42, comm: "sleep".into() };
    let (en, ko) = said(left, Outcome::Reverted, Cause::Try);
    assert!(en.starts_with("a process the try shell left running (sleep 42) was stopped"), "{en}");
    assert!(ko.starts_with("try 셸이 실행해 둔 프로세스(sleep 42)를 멈췄습니다"), "{ko}");
    let sub = HostChange::SubtreeControl { parent: "/sys/fs/cgroup".into(), controller: "cpu".into() };
    let (en, ko) = said(sub, Outcome::Reverted, Cause::Try);
    assert!(en.starts_with("the cpu controller was enabled in /sys/fs/cgroup/cgroup.subtree_control;"), "{en}");
    assert!(ko.starts_with("/sys/fs/cgroup/cgroup.subtree_control에서 cpu 컨트롤러가"), "{ko}");
}

#[test]
fn a_failure_says_why_in_both_languages() {
    let (en, ko) = said(mnt(), Outcome::Failed("Device or resource busy".into()), Cause::Try);
    assert!(en.contains("could not be unmounted (Device or resource busy)"), "{en}");
    assert!(ko.contains("해제하지 못했습니다 (Device or resource busy)"), "{ko}");
    let dir = HostChange::Dir { path: "/tmp/nsdojo-1".into(), id: None };
    let (en, ko) = said(dir, Outcome::Failed("Permission denied".into()), Cause::Session);
    assert_eq!(en, "not removed: dir /tmp/nsdojo-1 (Permission denied); `nsdojo cleanup` tries again");
    assert!(ko.starts_with("삭제하지 못함: 디렉터리 /tmp/nsdojo-1 (Permission denied)"), "{ko}");
}

#[test]
fn what_a_session_removed_is_listed_as_cleanup_lists_it() {
    let dir = HostChange::Dir { path: "/tmp/nsdojo-1".into(), id: None };
    assert_eq!(
        said(dir, Outcome::Reverted, Cause::Session),
        ("removed dir /tmp/nsdojo-1".into(), "삭제함: 디렉터리 /tmp/nsdojo-1".into())
    );
    let netns = HostChange::Netns { path: "/run/netns/x".into() };
    let (en, ko) = said(netns, Outcome::Reverted, Cause::Session);
    assert_eq!(en, "removed netns /run/netns/x");
    assert_eq!(ko, "삭제함: 네트워크 네임스페이스 /run/netns/x");
    let rec = HostChange::SessionRecord { id: "7-ab".into() };
    assert_eq!(said(rec, Outcome::Reverted, Cause::Session).1, "삭제함: 세션 기록 7-ab");
    // A work dir is never the try shell's: said as the session's, whoever asks.
    let dir = HostChange::EmptyDir { path: "/run/netns".into() };
    assert_eq!(said(dir, Outcome::Reverted, Cause::DeadTry).0, "unfinished try: removed empty dir /run/netns");
}

#[test]
fn a_dead_sessions_try_is_said_as_try_says_it_after_its_own_words() {
    let (en, ko) = said(mnt(), Outcome::Reverted, Cause::DeadTry);
    assert!(en.starts_with("unfinished try: /mnt was mounted on the host; unmounted"), "{en}");
    assert!(ko.starts_with("끝나지 않은 try: /mnt 경로가"), "{ko}");
    let marked = HostChange::MarkedProcess { pid: 77, mark: "X=1".into() };
    assert_eq!(
        said(marked, Outcome::Reverted, Cause::DeadTry).0,
        "unfinished try: process 77 of the try shell stopped"
    );
    let (en, ko) = said(mnt(), Outcome::LeftAlone { mins: 12 }, Cause::DeadTry);
    assert_eq!(
        en,
        "unfinished try: not undone: mount /mnt (a try began 12 min ago; others may have changed the host since)"
    );
    assert!(ko.starts_with("끝나지 않은 try: 되돌리지 않음: 마운트 /mnt (try가 12분 전에"), "{ko}");
}

/// Every change, outcome and cause renders whole in both languages: every value filled in,
/// Korean in Korean.
#[test]
fn every_line_is_complete_in_both_languages() {
    let p = PathBuf::from("/p");
    let changes = [
        mnt(),
        HostChange::Hostname { was: "a".into(), now: "b".into() },
        HostChange::MsgQueue { key: "0x1".into() },
        HostChange::Link { name: "veth0".into(), index: Some(3) },
        HostChange::Netns { path: p.clone() },
        HostChange::CgroupDir { path: p.clone() },
        HostChange::SessionCgroup { path: p.clone() },
        HostChange::SubtreeControl { parent: p.clone(), controller: "cpu".into() },
        HostChange::Dir { path: p.clone(), id: None },
        HostChange::EmptyDir { path: p },
        HostChange::LeftProcess { pid: 1, comm: "sh".into() },
        HostChange::MarkedProcess { pid: 1, mark: "M=1".into() },
        HostChange::SessionRecord { id: "1-a".into() },
        HostChange::Route { route: "10.0.0.0/24 dev x".into() },
        HostChange::Mount { point: "/m".into(), fstype: Some("tmpfs".into()) },
    ];
    let outcomes = [Outcome::Reverted, Outcome::Failed("WHY".into()), Outcome::LeftAlone { mins: 11 }];
    for change in changes {
        for outcome in &outcomes {
            for cause in [Cause::Try, Cause::DeadTry, Cause::Session] {
                let (en, ko) = said(change.clone(), outcome.clone(), cause);
                for line in [&en, &ko] {
                    assert!(!line.contains('{') && !line.trim().is_empty(), "{change:?} {outcome:?}: {line}");
                    if let Outcome::Failed(_) = outcome {
                        assert!(line.contains("WHY"), "{change:?}: {line}");
                    }
                }
                assert!(ko.chars().any(|c| ('\u{ac00}'..='\u{d7a3}').contains(&c)), "{change:?}: {ko}");
                assert_ne!(en, ko);
            }
        }
    }
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nsdojo-change-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn an_empty_dir_goes_one_still_in_use_stays() {
    let d = temp("empty");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("in-use"), "").unwrap();
    let change = HostChange::EmptyDir { path: d.clone() };
    assert!(change.revert().is_err(), "a dir with something in it is not removed");
    std::fs::remove_file(d.join("in-use")).unwrap();
    assert!(change.revert().unwrap());
    assert!(!d.exists());
    // Gone already: nothing to say.
    assert_eq!(change.undo(Cause::Session), None);
}

#[test]
fn a_work_dir_goes_whole_only_while_it_is_the_one_made() {
    let d = temp("work");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("file"), "x").unwrap();
    let id = DirId::of(&d).unwrap();
    assert!(HostChange::Dir { path: d.clone(), id: Some(id.clone()) }.revert().unwrap());
    assert!(!d.exists());
    // Someone made another directory at that name: it is theirs, left alone.
    std::fs::create_dir(&d).unwrap();
    assert!(!HostChange::Dir { path: d.clone(), id: Some(id) }.revert().unwrap());
    assert!(d.exists());
    // Without an identity, only a bare mkdir of nsdojo's (root's, 0700, empty) goes.
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(!HostChange::Dir { path: d.clone(), id: None }.revert().unwrap());
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
    let root = nix::unistd::geteuid().is_root();
    assert_eq!(HostChange::Dir { path: d.clone(), id: None }.revert().unwrap(), root);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_netns_file_is_removed_even_when_not_mounted_and_once() {
    let d = temp("netns");
    std::fs::create_dir(&d).unwrap();
    let f = d.join("ns1");
    std::fs::write(&f, "").unwrap();
    let change = HostChange::Netns { path: f.clone() };
    assert!(change.revert().unwrap());
    assert!(!f.exists());
    assert!(!change.revert().unwrap(), "gone: nothing to remove");
    assert!(super::remove_netns_files(&[f]).is_empty());
    std::fs::remove_dir(&d).unwrap();
}

#[test]
fn nothing_is_touched_that_is_not_there_or_not_it() {
    // A queue key no one has.
    if Path::new("/proc/sysvipc/msg").exists() {
        assert!(!HostChange::MsgQueue { key: "0x7ffffff1".into() }.revert().unwrap());
    }
    // This very process, held, then found not to carry the mark: never signalled.
    let me = std::process::id() as i32;
    let not_it = HostChange::MarkedProcess { pid: me, mark: "NSDOJO_NO_SUCH_MARK=1".into() };
    assert!(!not_it.revert().unwrap());
    assert_eq!(super::marked("NSDOJO_NO_SUCH_MARK=1"), Vec::<i32>::new());
    // A cgroup directory that is not there.
    assert!(!HostChange::CgroupDir { path: temp("cg") }.revert().unwrap());
}

#[test]
fn what_a_step_moves_off_or_removes_by_name_is_its_own_what_it_adds_is_not() {
    use crate::hostguard::Difference;
    let own = vec!["veth0-ab".to_string(), "veth1-ab".to_string(), "/run/netns/nsdojo-1-ab".to_string()];
    let link = |n: &str| HostChange::Link { name: n.into(), index: None };
    let route = |r: &str| HostChange::Route { route: r.into() };
    assert!(link("veth1-ab").is_about(&own));
    assert!(!link("veth1-abc").is_about(&own), "a name is whole");
    assert!(route("198.51.100.0/24 dev veth0-ab proto kernel").is_about(&own));
    assert!(!route("198.51.100.0/24 dev eth0").is_about(&own));
    assert!(HostChange::Netns { path: "/run/netns/nsdojo-1-ab".into() }.is_about(&own));
    assert!(HostChange::Mount { point: "/run/netns/nsdojo-1-ab".into(), fstype: None }.is_about(&own));
    assert!(!mnt().is_about(&own));
    assert!(!HostChange::Hostname { was: "veth0-ab".into(), now: "x".into() }.is_about(&own));
    // Moved into terminal #1, deleted, a route its address brought: the step's design.
    assert!(Difference::Gone(link("veth1-ab")).made_by_step(&own));
    assert!(Difference::Added(route("198.51.100.0/24 dev veth0-ab")).made_by_step(&own));
    assert!(Difference::Gone(route("198.51.100.0/24 dev veth0-ab")).made_by_step(&own));
    // Added and still there after the try's undo: that failed, and is said.
    assert!(!Difference::Added(link("veth0-ab")).made_by_step(&own));
    assert!(!Difference::Gone(link("eth9")).made_by_step(&own));
    assert!(!Difference::Gone(link("veth1-ab")).made_by_step(&[]));
}
