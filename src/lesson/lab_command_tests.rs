use super::*;
use crate::lesson::{parse_lesson, LessonError};

/// A one-step lesson whose step's `shell` is `shell` (on line 7).
fn lesson_with(shell: &str) -> Result<Shell, LessonError> {
    let src = format!(
        "id = \"demo\"\ntitle.en = \"Demo\"\n\n[[step]]\ntext.en = \"Demo.\"\ndo = [\"unshare mnt\"]\nshell = {shell}\n"
    );
    parse_lesson("demo.toml", &src).map(|l| l.steps[0].shell.clone().expect("a shell"))
}

fn one(text: &str) -> LabLine {
    LabLine { terminal: Terminal::One, text: text.into() }
}

fn two(text: &str) -> LabLine {
    LabLine { terminal: Terminal::Two, text: text.into() }
}

#[test]
fn a_string_is_one_terminal_1_line_and_a_list_names_each_lines_terminal() {
    assert_eq!(lesson_with("\"unshare -m\"").unwrap().lines(true), vec![one("unshare -m")]);
    let sh = lesson_with("[\"unshare -U /bin/sh\", { t2 = \"echo '0 1000 1' > /proc/$PID/uid_map\" }, \"id -u\"]");
    let lines = sh.unwrap().lines(false);
    assert_eq!(lines, vec![one("unshare -U /bin/sh"), two("echo '0 1000 1' > /proc/$PID/uid_map"), one("id -u")]);
}

#[test]
fn a_per_layout_table_gives_each_layout_its_own_lines() {
    let sh = lesson_with("{ v1 = \"echo 30000 > $CGROUP/cpu.cfs_quota_us\", v2 = [{ t2 = \"echo $PID > $CGROUP/cgroup.procs\" }, \"burn &\"] }")
        .unwrap();
    assert_eq!(sh.lines(false), vec![one("echo 30000 > $CGROUP/cpu.cfs_quota_us")]);
    assert_eq!(sh.lines(true), vec![two("echo $PID > $CGROUP/cgroup.procs"), one("burn &")]);
    assert_eq!(sh.all_lines().count(), 3);
}

/// Each malformed value is reported at its own line and column (line 7 holds `shell`; the
/// value starts at column 9).
#[test]
fn a_malformed_lab_command_is_an_error_at_its_place() {
    let cases: &[(&str, usize, &str)] = &[
        ("3", 9, "a string, a list of lines"),
        ("{ v1 = \"a\" }", 9, "both v1"),
        ("{ v1 = \"a\", v2 = \"b\", v3 = \"c\" }", 9, "unknown key `v3`"),
        ("{ t2 = \"a\" }", 9, "goes in a list"),
        ("[\"ok\", { t3 = \"a\" }]", 16, "unknown key `t3`"),
        ("[\"ok\", 4]", 16, "a string (a terminal #1 line) or { t2"),
        ("[]", 9, "no lines"),
        ("[\"ok\", \"  \"]", 17, "an empty lab line"),
        ("[\"ok\", \"echo $PID > x   # terminal #2\"]", 17, "{ t2 = "),
        ("[\"ok\", { t2 = \"echo $$ > x\" }]", 16, "`$$` in terminal #2"),
        ("\"kill <PID>\"", 10, "`<PID>`"),
        ("\"\"\"\na\nb\"\"\"", 12, "one command line"),
        ("{ v1 = \"ok\", v2 = [\"ok\", \"\"] }", 35, "an empty lab line"),
    ];
    for (value, col, says) in cases {
        let e = lesson_with(value).unwrap_err();
        assert_eq!((e.line, e.col), (7, *col), "{value}: {e}");
        assert!(e.message.contains(says), "{value}: {e}");
    }
}

/// A step whose task needs terminal #2 prints terminal #2's part as such, and a step that does
/// not prints none: the printout says where to type what the checks judge.
#[test]
fn a_builtin_step_has_terminal_2_lines_exactly_when_its_task_needs_terminal_2() {
    let mut wrong = Vec::new();
    for l in crate::lesson::builtin() {
        for (i, s) in l.steps.iter().enumerate() {
            let Some(sh) = &s.shell else { continue };
            for v2 in [false, true] {
                let t2 = sh.lines(v2).iter().any(|l| l.terminal == Terminal::Two);
                if t2 != s.task_needs_host {
                    wrong.push(format!("{} step {} (v2: {v2}): {:?}", l.id, i + 1, sh.lines(v2)));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Whether a command, as typed, starts an interactive shell: what comes after it on the same
/// line would run only once that shell exits, back where it was started.
fn starts_a_shell(command: &str) -> bool {
    let words: Vec<&str> = command.split_whitespace().collect();
    let last = words.last().copied().unwrap_or_default();
    let shells = ["sh", "bash", "/bin/sh", "/bin/bash"];
    match words.first().copied() {
        Some("unshare" | "nsenter") => shells.contains(&last) || words[1..].iter().all(|w| w.starts_with('-')),
        Some("chroot") => words.len() == 2 || shells.contains(&last),
        Some("setpriv" | "capsh") => shells.contains(&last),
        _ => false,
    }
}

#[test]
fn no_builtin_line_runs_commands_after_an_inner_shell() {
    assert!(starts_a_shell("unshare -m") && starts_a_shell("chroot $ROOTFS /bin/sh") && !starts_a_shell("ls /"));
    for l in crate::lesson::builtin() {
        for (i, s) in l.steps.iter().enumerate() {
            for line in s.shell.iter().flat_map(|sh| sh.all_lines()) {
                let parts: Vec<&str> = line.text.split([';', '&']).collect();
                let early = parts.iter().take(parts.len().saturating_sub(1)).find(|p| starts_a_shell(p));
                assert!(early.is_none(), "{} step {}: `{}` leaves the inner shell", l.id, i + 1, line.text);
            }
        }
    }
}
