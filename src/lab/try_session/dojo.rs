//! `dojo`, the try shell's small command (`src/rootfs/dojo.sh`), answered here. The shell
//! inherits one end of a socket pair as fd 9: a descriptor survives `unshare`, `nsenter`,
//! `chroot` and `pivot_root`, where a path or an address would not. A request is one line
//! (`hint`, `check`, `solve`, `task`, `pid`); an answer is lines ending with one that holds
//! only `.`. The session polls the socket between its looks at the shell, so there is no
//! thread and nothing blocks.
//!
//! The answer itself is a pure function of the request, the step as this lab words it
//! ([`Asked`]) and, for `check` and `hint`, a fresh look's checks: tested without a socket.
//!
//! The script is in every rootfs nsdojo builds (`/usr/local/bin/dojo`), and for a shell whose
//! root is still the host's, in the session's work directory, which `try` puts on `PATH`.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::i18n::t;
use crate::lab::CheckReport;
use crate::lesson::{LabLine, Lang, Terminal};

/// The scripts, as every rootfs has them: `dojo`, and `burn` (one CPU kept busy).
const SCRIPTS: [(&str, &str); 2] =
    [("dojo", include_str!("../../rootfs/dojo.sh")), ("burn", include_str!("../../rootfs/burn.sh"))];

/// The try shell's PATH: the host's, then each standard directory it lacks, then `dojo`'s
/// directory on the host. A shell that chroots or pivots into a rootfs nsdojo built finds
/// `dojo`, `burn` and `escape_chroot` (its `/usr/local/bin`) only through PATH, and a root
/// shell's PATH may lack that directory (a minimal system's `PATH=/bin`; the second-kernel VM
/// showed `dojo solve`, `burn` and `escape_chroot` "not found" there).
pub(crate) fn shell_path(host: &str, dojo: Option<&Path>) -> String {
    let mut dirs: Vec<String> = host.split(':').filter(|d| !d.is_empty()).map(str::to_string).collect();
    for d in crate::sandbox::agent::STANDARD_PATH.split(':') {
        if !dirs.iter().any(|h| h.trim_end_matches('/') == d) {
            dirs.push(d.to_string());
        }
    }
    dirs.extend(dojo.map(|p| p.display().to_string()));
    dirs.join(":")
}

/// `$WORK/.dojo`, holding the scripts, for a try shell on the host's root. A shell that is not
/// root (after `setuid 1000`) must be able to reach it: `$WORK` (0700) lets others through, not
/// list it, while the try lasts.
pub(crate) fn dir_in(work: &Path) -> std::io::Result<PathBuf> {
    std::fs::set_permissions(work, std::fs::Permissions::from_mode(0o711))?;
    let dir = work.join(".dojo");
    std::fs::create_dir_all(&dir)?;
    for (name, text) in SCRIPTS {
        let script = dir.join(name);
        std::fs::write(&script, text)?;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(dir)
}

pub(crate) fn remove_dir_in(work: &Path) {
    let _ = std::fs::remove_dir_all(work.join(".dojo"));
    let _ = std::fs::set_permissions(work, std::fs::Permissions::from_mode(0o700));
}

/// A `dojo` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ask {
    Task,
    Pid,
    Check,
    Hint,
    Solve,
    /// The last of the student's calls that failed, and why (`crate::narrate`).
    Why,
    Unknown(String),
}

impl Ask {
    pub(crate) fn parse(line: &str) -> Ask {
        match line.trim() {
            "task" => Ask::Task,
            "pid" => Ask::Pid,
            "check" => Ask::Check,
            "hint" => Ask::Hint,
            "solve" => Ask::Solve,
            "why" => Ask::Why,
            other => Ask::Unknown(other.to_string()),
        }
    }
}

/// What the answers say about the step, worded for this lab (variables expanded).
#[derive(Debug, Clone, Default)]
pub(crate) struct Asked {
    pub lang: Lang,
    pub task: String,
    pub hint: Option<String>,
    /// The step's lab command (none: empty), each line with its terminal.
    pub solve: Vec<LabLine>,
    /// The shell that asked, as the host numbers it.
    pub shell: Option<i32>,
    /// The shell's calls are narrated (not `try --no-trace`).
    pub narrated: bool,
    /// The last of its calls that failed: its line and note, as the shell showed them.
    pub last_failed: Option<crate::trace::Syscall>,
}

/// Whether answering `ask` needs a look at the shell, `hints` being the hints asked for so
/// far, this one included (a hint the step has is given before the failing checks are).
pub(crate) fn needs_look(ask: &Ask, hints: usize, has_hint: bool) -> bool {
    match ask {
        Ask::Check => true,
        Ask::Hint => matches!((hints, has_hint), (1, false) | (2, _)),
        _ => false,
    }
}

/// The answer's lines, each ending in a newline (not yet the closing `.`). `checks`: a fresh
/// look's, `None` when the shell could not be read (or no look was needed).
pub(crate) fn answer(ask: &Ask, step: &Asked, hints: usize, checks: Option<&[CheckReport]>) -> String {
    let lang = step.lang;
    let mut out = String::new();
    let mut say = |s: &str| {
        // A line of only "." would end the answer early.
        for l in s.lines() {
            out.push_str(if l == "." { ". " } else { l });
            out.push('\n');
        }
    };
    match ask {
        Ask::Task => say(&step.task),
        Ask::Pid => say(&step.shell.map_or_else(|| "?".into(), |p| p.to_string())),
        Ask::Check => match checks {
            Some(checks) => {
                for c in checks {
                    let mark = if c.verdict.passed { "✔" } else { "✘" };
                    say(&format!("{mark} {}   ({})", c.src, c.verdict.left));
                }
                if checks.iter().all(|c| c.verdict.passed) {
                    say(t(lang, "dojo_checks_hold"));
                }
            }
            None => say("?"),
        },
        Ask::Why => match (&step.last_failed, step.narrated) {
            (Some(call), _) => {
                say(t(lang, "dojo_why_last"));
                say(&format!("  {call}"));
                if let Some(note) = &call.note {
                    say(&format!("  ↳ {}", crate::i18n::msg(lang, note)));
                }
            }
            (None, true) => say(t(lang, "dojo_why_none")),
            (None, false) => say(t(lang, "dojo_why_untraced")),
        },
        Ask::Hint => match (hints, &step.hint) {
            (1, Some(h)) => {
                say(h);
                // The hint meets the student where the kernel said no.
                if let Some(call) = &step.last_failed {
                    say(t(lang, "dojo_why_last"));
                    say(&format!("  {call}"));
                }
            }
            (1 | 2, _) => {
                say(t(lang, "dojo_hint_missing"));
                for c in checks.unwrap_or_default().iter().filter(|c| !c.verdict.passed) {
                    say(&format!("  ✘ {}", c.src));
                }
            }
            _ => say(t(lang, "dojo_hint_more")),
        },
        Ask::Solve if step.solve.is_empty() => say(t(lang, "dojo_no_solve")),
        Ask::Solve => {
            say(t(lang, "dojo_solve"));
            for line in &step.solve {
                say(&format!("  {}", crate::i18n::lab_line(lang, line)));
            }
            if step.solve.iter().any(|l| l.terminal == Terminal::Two) {
                say(t(lang, "dojo_solve_host"));
            }
        }
        Ask::Unknown(other) => say(&crate::i18n::tf(lang, "dojo_unknown", &[other])),
    }
    out
}

/// The REPL's end of fd 9: requests in, answers out, never blocking.
pub(crate) struct Channel {
    sock: UnixStream,
    pending: Vec<u8>,
    /// Hints asked for so far.
    pub hints: usize,
}

impl Channel {
    /// `sock` must be non-blocking.
    pub(crate) fn new(sock: UnixStream) -> Channel {
        Channel { sock, pending: Vec::new(), hints: 0 }
    }

    /// Every whole request that has arrived.
    pub(crate) fn requests(&mut self) -> Vec<Ask> {
        let mut chunk = [0u8; 256];
        while let Ok(n @ 1..) = self.sock.read(&mut chunk) {
            self.pending.extend_from_slice(&chunk[..n]);
        }
        let mut out = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            out.push(Ask::parse(&String::from_utf8_lossy(&line)));
        }
        out
    }

    pub(crate) fn reply(&mut self, mut answer: String) {
        answer.push_str(".\n");
        let _ = self.sock.write_all(answer.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    //! The answers without a socket (`try_session::tests` asks them through fd 9).

    use super::*;
    use crate::lesson::expect::Verdict;
    use crate::observe::Value;

    fn check(src: &str, passed: bool) -> CheckReport {
        CheckReport {
            src: src.into(),
            verdict: Verdict { passed, left: Value::Text("x".into()), right: Value::Int(0) },
        }
    }

    fn asked() -> Asked {
        Asked {
            lang: Lang::En,
            task: "do it".into(),
            hint: None,
            solve: vec![LabLine { terminal: Terminal::One, text: "unshare -u sh".into() }],
            shell: Some(9),
            narrated: true,
            last_failed: None,
        }
    }

    #[test]
    fn why_says_the_last_failed_call_and_its_reason() {
        let mut step = asked();
        assert_eq!(answer(&Ask::Why, &step, 0, None), "no call of yours has failed in this try yet\n");
        let failed = crate::trace::Syscall::failed("sethostname(\"web1\", 4)", nix::errno::Errno::EPERM)
            .with_note(crate::msg::Msg::YouStillInHostNs { ns: "uts".into(), flag: "-u".into() });
        step.last_failed = Some(failed);
        let why = answer(&Ask::Why, &step, 0, None);
        assert!(why.contains("sethostname(\"web1\", 4) = -1 EPERM"), "{why}");
        assert!(why.contains("still in the host's uts namespace"), "{why}");
        // The first hint meets the student at the refused call too.
        step.hint = Some("use unshare".into());
        assert!(answer(&Ask::Hint, &step, 1, None).contains("= -1 EPERM"));
        step.narrated = false;
        step.last_failed = None;
        assert!(answer(&Ask::Why, &step, 0, None).contains("--no-trace"));
    }

    #[test]
    fn requests_are_read_as_words() {
        assert_eq!(Ask::parse(" hint \n"), Ask::Hint);
        assert_eq!(Ask::parse("check"), Ask::Check);
        assert_eq!(Ask::parse("sudo"), Ask::Unknown("sudo".into()));
    }

    #[test]
    fn only_check_and_a_hint_about_failing_checks_need_a_look() {
        assert!(needs_look(&Ask::Check, 0, true));
        assert!(!needs_look(&Ask::Hint, 1, true), "the step's own hint first");
        assert!(needs_look(&Ask::Hint, 1, false));
        assert!(needs_look(&Ask::Hint, 2, true));
        assert!(!needs_look(&Ask::Hint, 3, true));
        assert!(!needs_look(&Ask::Solve, 0, false) && !needs_look(&Ask::Pid, 0, false));
    }

    #[test]
    fn a_line_of_only_a_dot_cannot_end_an_answer_early() {
        let step = Asked { task: "first\n.\nlast".into(), ..asked() };
        assert_eq!(answer(&Ask::Task, &step, 0, None), "first\n. \nlast\n");
    }

    #[test]
    fn solve_says_when_part_of_it_is_terminal_2s_and_when_there_is_none() {
        let alone = answer(&Ask::Solve, &asked(), 0, None);
        assert_eq!(alone, "the lab command for this step:\n  $ unshare -u sh\n");
        let mut host = asked();
        host.solve.push(LabLine { terminal: Terminal::Two, text: "echo $PID".into() });
        let a = answer(&Ask::Solve, &host, 0, None);
        assert!(
            a.contains("  $ unshare -u sh\n  terminal #2 $ echo $PID\n") && a.contains("marked terminal #2"),
            "{a}"
        );
        let ko = answer(&Ask::Solve, &Asked { lang: Lang::Ko, ..host }, 0, None);
        assert!(ko.contains("  터미널 #2 $ echo $PID\n"), "{ko}");
        let none = Asked { solve: Vec::new(), ..asked() };
        assert!(answer(&Ask::Solve, &none, 0, None).starts_with("this step has no single command"));
    }

    #[test]
    fn without_a_hint_the_first_hint_lists_only_what_fails() {
        let checks = [check("a == 1", true), check("b == 2", false)];
        assert_eq!(answer(&Ask::Hint, &asked(), 1, Some(&checks)), "what still does not hold:\n  ✘ b == 2\n");
    }

    #[test]
    fn check_marks_each_and_says_when_all_hold() {
        let held = [check("a == 1", true)];
        assert_eq!(
            answer(&Ask::Check, &asked(), 0, Some(&held)),
            "✔ a == 1   (\"x\")\nall checks hold: `exit` to go on\n"
        );
    }

    #[test]
    fn a_pid_that_cannot_be_told_is_a_question_mark_and_unknown_requests_are_named() {
        let lost = Asked { shell: None, ..asked() };
        assert_eq!(answer(&Ask::Pid, &lost, 0, None), "?\n");
        assert_eq!(
            answer(&Ask::Unknown("x".into()), &asked(), 0, None),
            "dojo: unknown request `x` (hint, check, solve, task, pid)\n"
        );
    }

    #[test]
    fn dojo_answers_in_the_sessions_language() {
        let ko = Asked { lang: Lang::Ko, ..asked() };
        assert!(answer(&Ask::Solve, &ko, 0, None).starts_with("이 단계의 실습 명령:"));
        assert!(answer(&Ask::Hint, &ko, 3, None).starts_with("힌트는 여기까지입니다"));
    }

    #[test]
    fn the_shell_path_keeps_the_hosts_and_adds_the_standard_directories_it_lacks_then_dojos() {
        let dojo = Path::new("/w/.dojo");
        assert_eq!(
            shell_path("/bin", Some(dojo)),
            "/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/w/.dojo",
            "a root shell with PATH=/bin still finds the rootfs's /usr/local/bin"
        );
        let full = "/root/.cargo/bin:/usr/local/sbin:/usr/local/bin/:/usr/sbin:/usr/bin:/sbin:/bin";
        assert_eq!(shell_path(full, None), full, "nothing twice, the host's order kept");
        assert_eq!(shell_path("", None), crate::sandbox::agent::STANDARD_PATH);
    }
}
