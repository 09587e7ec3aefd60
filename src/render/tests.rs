use super::*;
use crate::lab::{ActionReport, CheckReport, Sides};
use crate::lesson::expect::{Value, Verdict};
use crate::observe::{InsideFacts, ProcFacts, Snapshot};
use crate::sandbox::Outcome;
use crate::trace::Syscall;

fn snap(mnt: u64, host: &str) -> Snapshot {
    let mut proc = ProcFacts::default();
    proc.ns.insert(Ns::Mnt, mnt);
    proc.ns.insert(Ns::Uts, 4026531838);
    proc.mounts =
        Ok(crate::observe::mountinfo::parse(include_str!("../../tests/fixtures/mountinfo-hybrid-private.txt")));
    Snapshot { proc, inside: InsideFacts { hostname: host.into(), ..Default::default() } }
}

/// A check long enough to wrap at 80 columns.
const LONG: &str = "sandbox.mount[/tmp/nsdojo-25116-6297-pivot_root/new-root/with/a/long/path].propagation == private";

pub(super) fn report() -> (Lesson, StepReport) {
    let lesson = crate::lesson::builtin().into_iter().find(|l| l.id == "mnt").unwrap();
    let before = Sides { sandbox: snap(4026531832, "vm"), host: snap(4026531832, "vm") };
    let after = Sides { sandbox: snap(4026532177, "vm"), host: snap(4026531832, "vm") };
    let mut outcome = Outcome::default();
    outcome.trace.push(Syscall::ok("unshare(CLONE_NEWNS)", 0));
    outcome.trace.push(
        Syscall::failed("pivot_root(\".\", \"old-root\")", nix::errno::Errno::EINVAL)
            .with_note(crate::msg::Msg::PivotShared),
    );
    let r = StepReport {
        lesson: "mnt".into(),
        index: 0,
        total: lesson.steps.len(),
        sandbox_pid: 4711,
        actions: vec![ActionReport { src: "unshare mnt".into(), on_host: false, removed: false, outcome }],
        aborted: None,
        before,
        after,
        checks: vec![
            CheckReport {
                src: "sandbox.ns.mnt != host.ns.mnt".into(),
                verdict: Verdict { passed: true, left: Value::Int(1), right: Value::Int(2) },
            },
            CheckReport {
                src: "sandbox.ns.uts != host.ns.uts".into(),
                verdict: Verdict { passed: false, left: Value::Int(3), right: Value::Int(3) },
            },
            CheckReport {
                src: LONG.into(),
                verdict: Verdict { passed: true, left: Value::Int(1), right: Value::Int(1) },
            },
        ],
        work: "/tmp/w".into(),
        cgroup_files: (vec![], vec![]),
        shell: vec![crate::lesson::LabLine {
            terminal: crate::lesson::Terminal::One,
            text: "unshare -m /bin/bash".into(),
        }],
        by_hand: false,
    };
    (lesson, r)
}

fn plain(width: u16) -> String {
    colored::control::set_override(false);
    let (lesson, r) = report();
    let style = Style { lang: Lang::En, width };
    step(&style, &lesson, &r, &|s| s.to_string())
}

#[test]
fn step_shows_syscalls_tables_checks_and_verify_commands() {
    let out = plain(100);
    assert!(out.contains("unshare(CLONE_NEWNS) = 0"), "{out}");
    assert!(out.contains("pivot_root(\".\", \"old-root\") = -1 EINVAL (Invalid argument)"), "{out}");
    assert!(out.contains("↳ new_root or the mount it sits on has shared propagation"));
    assert!(out.contains("* mnt:[4026532177]"), "changed cell is marked: {out}");
    assert!(out.contains("mnt:[4026531832]"));
    assert!(out.contains("✔ sandbox.ns.mnt != host.ns.mnt"));
    assert!(out.contains("✘ sandbox.ns.uts != host.ns.uts"));
    assert!(out.contains("(left = 3, right = 3)"));
    assert!(out.contains("readlink /proc/4711/ns/mnt"), "{out}");
    assert!(out.contains("PID 4711"));
}

#[test]
fn tables_fit_80_and_160_columns() {
    for width in [80u16, 160] {
        let out = plain(width);
        for line in out.lines() {
            let w = line.chars().count();
            assert!(w <= width as usize, "line of {w} > {width}: {line:?}");
        }
    }
}

#[test]
fn korean_labels() {
    colored::control::set_override(false);
    let (lesson, r) = report();
    let out = step(&Style { lang: Lang::Ko, width: 100 }, &lesson, &r, &|s| s.to_string());
    assert!(out.contains("터미널 #1 (샌드박스)"), "{out}");
    assert!(out.contains("시스템 콜"));
}

#[test]
fn unreadable_proc_files_are_unavailable_not_empty() {
    use crate::observe::{ProcError, View};
    let gone = || ProcError::Unreadable { path: "/proc/4711/uid_map".into(), reason: "No such process".into() };
    let mut sandbox = snap(4026532177, "vm");
    sandbox.proc.uid_map = Err(gone());
    sandbox.proc.mounts = Err(gone());
    sandbox.proc.cgroup = Err(gone());
    let mut host = snap(4026531832, "vm");
    host.proc.uid_map = Ok(String::new());
    host.proc.cgroup = Ok(crate::observe::procfs::parse_cgroup("0::/user.slice\n"));
    let sides = Sides { sandbox, host };
    let cell = |view: View, label: &str| {
        let (_, rows) = views::rows(Lang::En, &view, &sides, &sides);
        let r = rows.into_iter().find(|r| r.label == label).unwrap_or_else(|| panic!("no row {label}"));
        (r.sandbox, r.host)
    };
    let unavailable = "unavailable (/proc/4711/uid_map: No such process)".to_string();
    assert_eq!(cell(View::Ids, "uid_map"), (unavailable.clone(), "(empty)".into()));
    assert_eq!(cell(View::Mounts(Some("/".into())), "/").0, unavailable);
    assert_eq!(cell(View::Cgroup, "0:: (v2)"), (unavailable, "/user.slice".into()));
}

#[test]
fn a_step_done_by_hand_has_no_commands_for_a_shell_that_is_gone() {
    let (lesson, mut r) = report();
    r.by_hand = true;
    r.actions.clear();
    colored::control::set_override(false);
    let out = step(&Style { lang: Lang::En, width: 100 }, &lesson, &r, &|s| s.to_string());
    assert!(out.contains("sandbox.ns.mnt != host.ns.mnt"), "{out}");
    assert!(!out.contains("nsenter -t 4711"), "{out}");
    assert!(!out.contains("syscalls"), "{out}");
}

/// The note and the reason a step stopped come as variants and are drawn in the session's
/// language: the Korean from the variant, not from the English text.
#[test]
fn notes_and_the_stop_reason_are_drawn_in_korean() {
    colored::control::set_override(false);
    let (lesson, mut r) = report();
    r.aborted = Some(crate::msg::Msg::Failed { call: "pivot_root".into(), errno: libc::EINVAL });
    let out = step(&Style { lang: Lang::Ko, width: 200 }, &lesson, &r, &|s| s.to_string());
    assert!(out.contains("↳ new_root나 그 아래 마운트의 전파 방식이 shared이거나"), "{out}");
    assert!(out.contains("pivot_root 실패: Invalid argument (EINVAL)"), "{out}");
    assert!(!out.contains("has shared propagation"), "{out}");
}

/// One terminal #1 line follows the label; several lines, or any of terminal #2's, are listed
/// one per line under it with terminal #2's marked, in both languages.
#[test]
fn the_lab_command_marks_terminal_2_lines() {
    use crate::lesson::{LabLine, Terminal};
    colored::control::set_override(false);
    let (lesson, mut r) = report();
    let style = Style { lang: Lang::En, width: 100 };
    assert!(step(&style, &lesson, &r, &|s| s.to_string()).contains("lab command: $ unshare -m /bin/bash\n"));
    r.shell.push(LabLine { terminal: Terminal::Two, text: "readlink /proc/4711/ns/mnt".into() });
    let out = step(&style, &lesson, &r, &|s| s.to_string());
    assert!(
        out.contains("lab command:\n  $ unshare -m /bin/bash\n  terminal #2 $ readlink /proc/4711/ns/mnt\n"),
        "{out}"
    );
    let ko = step(&Style { lang: Lang::Ko, width: 100 }, &lesson, &r, &|s| s.to_string());
    assert!(ko.contains("실습 명령:\n  $ unshare -m /bin/bash\n  터미널 #2 $ readlink"), "{ko}");
}
