//! A Korean session through every REPL command: no English UI text may reach a student who
//! asked for Korean (issue 13). Driven on a real pty like `repl.rs`; what the session printed
//! is judged line by line (see `english_ui`).

use std::process::Command;

use rexpect::session::{spawn_command, PtySession};

use crate::harness::{bin, repo, require_root, HostState};

/// A lesson with no hints and a failing last step: the paths the built-in lessons never take.
const KOTEST: &str = r#"id = "kotest"
title.en = "Test lesson"
title.ko = "시험용 레슨"
intro.en = "For the Korean UI test."
intro.ko = "한국어 UI 시험용 레슨입니다."

[[step]]
text.en = "A new UTS namespace."
text.ko = "새 UTS 네임스페이스를 만듭니다."
do = ["unshare uts"]
show = ["ns", "hostname"]
expect = ["sandbox.ns.uts != host.ns.uts"]

[[step]]
text.en = "A command that fails."
text.ko = "실패하는 명령입니다."
do = ["sh false"]
expect = ["step.status == 0"]
"#;

struct Session {
    p: PtySession,
    /// Everything printed, in order (with the echoed input).
    seen: String,
    /// What was typed: its echo is not output.
    typed: Vec<String>,
}

impl Session {
    /// Send a line and wait for the prompt `prompt` (a regex) after its output.
    fn say(&mut self, line: &str, prompt: &str) {
        self.typed.push(line.to_string());
        self.p.send_line(line).unwrap();
        self.wait(prompt, line);
    }

    fn wait(&mut self, prompt: &str, what: &str) {
        let (out, _) = self
            .p
            .exp_regex(prompt)
            .unwrap_or_else(|e| panic!("after {what:?}: no prompt {prompt:?}: {e}\n{}", self.seen));
        self.seen.push_str(&utf8(&out));
        self.seen.push('\n');
    }
}

/// rexpect hands over each byte as a char: put the UTF-8 back together.
fn utf8(s: &str) -> String {
    String::from_utf8_lossy(&s.chars().map(|c| c as u32 as u8).collect::<Vec<u8>>()).into_owned()
}

/// ANSI escapes (colour, cursor moves from the line editor) and carriage returns out.
fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\u{1b}' => match it.next() {
                Some('[') => {
                    for c in it.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    for c in it.by_ref() {
                        if c == '\u{7}' {
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\r' => out.push('\n'),
            c => out.push(c),
        }
    }
    out
}

fn hangul(c: char) -> bool {
    ('\u{ac00}'..='\u{d7a3}').contains(&c) || ('\u{3130}'..='\u{318f}').contains(&c)
}

/// Drop `code` spans and "quoted" spans: what the user types or the system names stays as is.
fn without_code(line: &str) -> String {
    let mut out = String::new();
    let mut inside: Option<char> = None;
    for c in line.chars() {
        match inside {
            Some(q) if c == q => inside = None,
            Some(_) => {}
            None if c == '`' || c == '"' => inside = Some(c),
            None => out.push(c),
        }
    }
    out
}

/// English words of a line that is English UI text: a line with Hangul is Korean (the catalog
/// check below catches English left inside it); table rows, command output and syscall lines
/// are not UI text; a word is 3+ ASCII letters and not a command, tool or identifier.
fn english_ui(line: &str, allowed: &[String]) -> Vec<String> {
    let l = line.trim();
    if l.is_empty() || l.chars().any(hangul) {
        return Vec::new();
    }
    let first = l.chars().next().unwrap_or(' ');
    // Table borders and cells, the step header, output of a command (`│ `).
    if ('\u{2500}'..='\u{257f}').contains(&first) {
        return Vec::new();
    }
    // strace-style `call(args) = result`; the lesson's own code: its shell line and actions.
    if l.contains(") = ") || ["$ ", "[sandbox] ", "[host] "].iter().any(|p| l.starts_with(p)) {
        return Vec::new();
    }
    // A check is the lesson's expression; only the explanation after it is UI text.
    let l = match l.strip_prefix('✔').or_else(|| l.strip_prefix('✘')) {
        Some(check) => check.split_once("   (").map_or("", |(_, why)| why),
        None => l,
    };
    without_code(l)
        .split_whitespace()
        .filter(|t| !(t.starts_with('[') && t.ends_with(']')))
        .map(|t| t.trim_matches(|c: char| "()[]{},.:;!?'*".contains(c)))
        .filter(|t| t.len() >= 3 && t.chars().all(|c| c.is_ascii_alphabetic() || c == '\''))
        .filter(|t| !allowed.iter().any(|a| a.eq_ignore_ascii_case(t)))
        .map(str::to_string)
        .collect()
}

/// Commands, tools and names that stay as they are in any language.
fn allowed() -> Vec<String> {
    let mut v: Vec<String> = [
        "nsdojo",
        "help",
        "lessons",
        "lesson",
        "next",
        "back",
        "again",
        "show",
        "state",
        "diff",
        "hint",
        "reset",
        "host",
        "compare",
        "shell",
        "progress",
        "record",
        "lang",
        "quit",
        "exit",
        "off",
        "yes",
        "sudo",
        "nsenter",
        "readlink",
        "findmnt",
        "grep",
        "hostname",
        "uname",
        "ipcs",
        "cat",
        "Ctrl",
        "PID",
        "CPU",
        "UTS",
        "NIS",
        "UNIX",
        "cgroup",
        "cgroups",
        "netns",
        "rootfs",
        "tmpfs",
        "busybox",
        "Linux",
        "KiB",
        "MiB",
        "kotest",
        "uts",
        "mnt",
        "ipc",
        "net",
        "pid",
        "user",
        "time",
        "NSpid",
        "uid",
        "gid",
        "uid_map",
        "gid_map",
        "setgroups",
        "shared",
        "private",
        "slave",
        "UP",
        "DOWN",
        "aarch",
        "false",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // The machine's own name and architecture (in the banner) are names, not UI text.
    if let Ok(u) = nix::sys::utsname::uname() {
        v.push(u.machine().to_string_lossy().into_owned());
    }
    v
}

fn spawn(lessons: &std::path::Path, home: &std::path::Path) -> Session {
    let mut cmd = Command::new(bin());
    cmd.args(["--lang", "ko", "--trust-lessons", "--lessons"]).arg(lessons);
    cmd.env("NO_COLOR", "1").env("COLUMNS", "120").env("NSDOJO_HISTORY", home.join("history"));
    cmd.env("NSDOJO_PROGRESS", home.join("progress.json"));
    cmd.env_remove("LANG").env_remove("LC_ALL").env_remove("LC_MESSAGES");
    let p = spawn_command(cmd, Some(30_000)).expect("spawn nsdojo on a pty");
    let mut s = Session { p, seen: String::new(), typed: Vec::new() };
    s.wait("nsdojo> ", "start");
    s
}

#[test]
fn a_korean_session_prints_no_english_ui_text() {
    let _g = require_root!();
    let before = HostState::now();
    let home = tempfile::tempdir().unwrap();
    let lessons = home.path().join("lessons");
    std::fs::create_dir(&lessons).unwrap();
    std::fs::copy(repo("lessons/05-uts.toml"), lessons.join("05-uts.toml")).unwrap();
    std::fs::write(lessons.join("99-kotest.toml"), KOTEST).unwrap();
    let transcript = home.path().join("t.md");
    let mut s = spawn(&lessons, home.path());
    let idle = r"nsdojo> ";
    let uts = |n: usize| format!(r"nsdojo\[uts {n}/3\]> ");
    let ko = |n: usize| format!(r"nsdojo\[kotest {n}/2\]> ");

    // Outside a lesson: every command that answers without one, and every kind of mistake.
    for line in [
        "help",
        "lessons",
        "lesson",
        "next",
        "hint",
        "lesson 99",
        "lesson ust",
        "nxt",
        "frobnicate",
        "next 3",
        "sh",
        "compare",
        "host",
        "progress",
        "reset progress",
        "no",
        "record",
        "record off",
        "record /nonexistent/dir/t.md",
        "lang",
        "lang xx",
        "host id -u",
        "host false",
    ] {
        s.say(line, idle);
    }
    s.p.send_control('c').unwrap();
    s.wait(idle, "Ctrl-C");
    s.say(&format!("record {}", transcript.display()), idle);
    s.say("record", idle);

    // In a lesson: every step command, both sides, a shell and the end of the lesson.
    s.say("lesson uts", &uts(0));
    for line in ["diff", "hint", "show", "state", "sh id -u"] {
        s.say(line, &uts(0));
    }
    s.say("next", &uts(1));
    s.say("lesson", &uts(1));
    s.say("show", &uts(1));
    s.say("again", &uts(1));
    s.say("back", &uts(0));
    s.say("next", &uts(1));
    s.say("next", &uts(2));
    for line in ["diff", "hint", "state", "compare hostname", "sh hostname", "sh false", "!id -u"] {
        s.say(line, &uts(2));
    }
    s.p.send_line("shell").unwrap();
    s.p.exp_string("exit").unwrap();
    s.say("exit", &uts(2));
    s.say("next", &uts(3));
    s.say("next", &uts(3));
    s.say("progress", &uts(3));
    s.say("lessons", &uts(3));
    s.say("reset", &uts(0));
    s.say("lesson kotest", &ko(0));
    s.say("next", &ko(1));
    s.say("hint", &ko(1));
    s.say("next", &ko(2));
    s.say("record off", &ko(2));
    s.p.send_line("quit").unwrap();
    let rest = s.p.exp_eof().unwrap();
    s.seen.push_str(&utf8(&rest));
    before.assert_unchanged_since("a Korean session");

    let text = strip_ansi(&s.seen);
    let allowed = allowed();
    let mut typed = s.typed.clone();
    typed.extend(["shell", "exit", "# exit", "quit"].map(String::from));
    let bad: Vec<String> = text
        .lines()
        .filter(|l| !typed.iter().any(|t| t == l.trim()))
        .filter_map(|l| {
            let words = english_ui(l, &allowed);
            (!words.is_empty()).then(|| format!("{:?}   ← {}", l.trim(), words.join(" ")))
        })
        .collect();
    assert!(bad.is_empty(), "English UI text in a Korean session:\n{}\n\n--- session\n{text}", bad.join("\n"));
    let leaked = english_from_catalog(&text);
    assert!(leaked.is_empty(), "English messages in a Korean session: {leaked:?}\n\n--- session\n{text}");
}

/// The English side of the catalog, verbatim, in Korean output: catches English left inside a
/// line that also has Hangul. Each message is cut at its values; a piece counts when it has
/// words in it and is not also part of the Korean (a command in backticks, say).
fn english_from_catalog(text: &str) -> Vec<String> {
    let pairs = nsdojo::i18n::CATALOG.iter().chain(nsdojo::msg::TEXTS).map(|(_, en, ko)| (*en, *ko));
    let mut found = Vec::new();
    for (en, ko) in pairs {
        for piece in en.split(['{', '}']).filter(|p| p.parse::<usize>().is_err()) {
            let piece = piece.trim_matches(|c: char| !c.is_ascii_alphanumeric());
            let words = piece.split_whitespace().filter(|w| w.chars().filter(char::is_ascii_alphabetic).count() >= 3);
            if words.count() >= 2 && !ko.contains(piece) && text.contains(piece) && !found.iter().any(|f| f == piece) {
                found.push(piece.to_string());
            }
        }
    }
    found
}

#[test]
fn the_rule_catches_english_and_spares_code() {
    let a = allowed();
    assert_eq!(english_ui("back before step 4", &a), ["before", "step"]);
    assert!(english_ui("4단계 전으로 돌아갑니다", &a).is_empty());
    assert!(english_ui("│ hostname │ vm │", &a).is_empty());
    assert!(english_ui("  unshare(CLONE_NEWUTS) = 0", &a).is_empty());
    assert!(english_ui("  readlink /proc/42/ns/uts", &a).is_empty());
    assert!(english_ui("`sudo nsdojo cleanup`", &a).is_empty());
    assert!(english_ui("✔ step.stdout contains container-test", &a).is_empty());
    assert_eq!(english_from_catalog("nsdojo: 알 수 없는 명령 `nxt`: did you mean `next`?"), ["did you mean"]);
    assert_eq!(english_ui("✘ step.status == 0   (left = 1, right = \"0\")", &a), ["left", "right"]);
}
