//! `dojo`, the try shell's small command (`src/rootfs/dojo.sh`), answered here. The shell
//! inherits one end of a socket pair as fd 9: a descriptor survives `unshare`, `nsenter`,
//! `chroot` and `pivot_root`, where a path or an address would not. A request is one line
//! (`hint`, `check`, `solve`, `task`, `pid`); an answer is lines ending with one that holds
//! only `.`. The REPL's loop polls the socket between its looks at the shell, so there is no
//! thread and nothing blocks.
//!
//! The script is in every rootfs nsdojo builds (`/usr/local/bin/dojo`), and for a shell whose
//! root is still the host's, in the session's work directory, which `try` puts on `PATH`.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::i18n::t;
use crate::lab::watch::Watch;
use crate::lab::Lab;
use crate::lesson::{Lang, Step};

/// The scripts, as every rootfs has them: `dojo`, and `burn` (one CPU kept busy).
const SCRIPTS: [(&str, &str); 2] =
    [("dojo", include_str!("../rootfs/dojo.sh")), ("burn", include_str!("../rootfs/burn.sh"))];

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

pub(crate) struct Dojo {
    sock: UnixStream,
    pending: Vec<u8>,
    lang: Lang,
    hints: usize,
}

impl Dojo {
    pub(crate) fn new(sock: UnixStream, lang: Lang) -> Dojo {
        Dojo { sock, pending: Vec::new(), lang, hints: 0 }
    }

    /// Answer every whole request that has arrived; `fg` names the process typed into.
    pub(crate) fn serve(&mut self, lab: &Lab, watch: &Watch, step: &Step, fg: impl Fn() -> Option<i32>) {
        let mut chunk = [0u8; 256];
        while let Ok(n @ 1..) = self.sock.read(&mut chunk) {
            self.pending.extend_from_slice(&chunk[..n]);
        }
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let request = String::from_utf8_lossy(&line).trim().to_string();
            let mut answer = self.answer(&request, lab, watch, step, &fg);
            answer.push_str(".\n");
            let _ = self.sock.write_all(answer.as_bytes());
        }
    }

    fn answer(&mut self, request: &str, lab: &Lab, watch: &Watch, step: &Step, fg: &dyn Fn() -> Option<i32>) -> String {
        let lang = self.lang;
        let mut out = String::new();
        let mut say = |s: &str| {
            // A line of only "." would end the answer early.
            for l in s.lines() {
                out.push_str(if l == "." { ". " } else { l });
                out.push('\n');
            }
        };
        // The shell, not `dojo` itself: the script runs in the foreground as a child of it.
        let shell = fg().map(|p| match crate::observe::procfs::stat(p) {
            Ok(st) if st.comm == "dojo" => st.ppid,
            _ => p,
        });
        match request {
            "task" => say(&lab.expand(&step.task.as_ref().map(|t| t.get(lang)).unwrap_or_default())),
            "pid" => say(&shell.map_or_else(|| "?".into(), |p| p.to_string())),
            "check" => match shell.and_then(|p| lab.judge(watch, p)) {
                Some(r) => {
                    for c in &r.checks {
                        let mark = if c.verdict.passed { "✔" } else { "✘" };
                        say(&format!("{mark} {}   ({})", c.src, c.verdict.left));
                    }
                    if r.passed() {
                        say(t(lang, "dojo_checks_hold"));
                    }
                }
                None => say("?"),
            },
            "hint" => {
                self.hints += 1;
                match (self.hints, &step.hint) {
                    (1, Some(h)) => say(&lab.expand(&h.get(lang))),
                    (1 | 2, _) => {
                        say(t(lang, "dojo_hint_missing"));
                        let failing = shell.and_then(|p| lab.judge(watch, p)).map(|r| r.checks).unwrap_or_default();
                        for c in failing.iter().filter(|c| !c.verdict.passed) {
                            say(&format!("  ✘ {}", c.src));
                        }
                    }
                    _ => say(t(lang, "dojo_hint_more")),
                }
            }
            "solve" => match lab.shell_line(step) {
                Some(line) => {
                    say(t(lang, "dojo_solve"));
                    say(&format!("  {line}"));
                    if step.task_needs_host {
                        say(t(lang, "dojo_solve_host"));
                    }
                }
                None => say(t(lang, "dojo_no_solve")),
            },
            other => say(&format!("dojo: unknown request `{other}`")),
        }
        out
    }
}
