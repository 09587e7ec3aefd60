//! `try`: the student does the next step by hand. nsdojo prints the step's task, opens an
//! interactive shell in terminal #1 as it is before the step (its namespaces, root and
//! working directory), and about four times a second judges the step's checks against the
//! process the student is typing into (the terminal's foreground process group, so through
//! `unshare`, `nsenter`, `chroot` and nested shells). When they all hold it says so in that
//! terminal. After `exit`, whatever the shell changed on the host is put back and said; a
//! step done by hand is then run in the lesson's own sandbox too, so the lesson goes on
//! from a state it knows.

use std::time::{Duration, Instant};

use colored::Colorize;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::{sinks, Repl};
use crate::i18n::{t, tf};

const EVERY: Duration = Duration::from_millis(250);

/// The process the student is typing into: the terminal's foreground process group, if a
/// process of the shell's owns it; else the shell itself (a grandchild of `child`: the first
/// child forks again for a PID namespace).
fn watched(child: Pid) -> Option<i32> {
    let ours = nix::unistd::getpgrp();
    match nix::unistd::tcgetpgrp(std::io::stdin()) {
        Ok(fg) if fg != ours => Some(fg.as_raw()),
        _ => crate::observe::procfs::children_of(child.as_raw()).into_iter().next(),
    }
}

/// The terminal back to the REPL's process group (the shell may have left it with its own).
fn take_back_terminal() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: SIG_IGN for SIGTTOU only, restored right after; no handler code runs.
    unsafe {
        let old = signal(Signal::SIGTTOU, SigHandler::SigIgn);
        let _ = nix::unistd::tcsetpgrp(std::io::stdin(), nix::unistd::getpgrp());
        if let Ok(old) = old {
            let _ = signal(Signal::SIGTTOU, old);
        }
    }
}

impl Repl {
    pub(super) fn try_step(&mut self) {
        let lang = self.style.lang;
        let Some(runner) = self.runner.as_mut() else { return };
        let lab = runner.lab_mut();
        let (index, total) = (lab.next, lab.lesson.steps.len());
        if index >= total {
            println!("{}", t(lang, "lesson_done_reset").green());
            return;
        }
        let step = lab.lesson.steps[index].clone();
        let Some(task) = &step.task else {
            println!("{}", t(lang, "try_no_task"));
            return;
        };
        println!("{}", tf(lang, "try_header", &[&(index + 1), &total]).bold().cyan());
        println!("{}", lab.expand(&task.get(lang)));
        if step.task_needs_host {
            println!("{}", t(lang, "try_needs_host").yellow());
        }
        let audit = crate::audit::HostAudit::now();
        let started = lab.watch(index).and_then(|w| Ok((w, lab.sandbox_pid()?)));
        let (watch, pid) = match started {
            Ok(x) => x,
            Err(e) => return self.error(e),
        };
        println!("{}", t(lang, "try_shell").dimmed());
        let child = match crate::sandbox::attach::spawn(lang, pid, &[]) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("nsdojo: {}", e.localized(lang));
                return;
            }
        };
        let mut done = false;
        let mut last = Vec::new();
        let mut next_look = Instant::now() + EVERY;
        while let Ok(WaitStatus::StillAlive) = waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            if Instant::now() < next_look {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            next_look = Instant::now() + EVERY;
            let Some(checks) = watched(child).and_then(|p| lab.judge(&watch, p)) else { continue };
            let all = !checks.is_empty() && checks.iter().all(|c| c.verdict.passed);
            if all && !done {
                done = true;
                print!("\r\n{}\r\n", tf(lang, "try_done", &[&(index + 1)]).green().bold());
                let _ = std::io::Write::flush(&mut std::io::stdout());
            }
            last = checks;
        }
        take_back_terminal();
        for line in crate::undo::since(&audit) {
            println!("{}", crate::i18n::machine_text(lang, &line).yellow());
        }
        if !done {
            println!("{}", tf(lang, "try_not_yet", &[&(index + 1)]));
            for c in last.iter().filter(|c| !c.verdict.passed) {
                println!("  ✘ {}", c.src);
            }
            return;
        }
        println!("{}", tf(lang, "try_by_hand", &[&(index + 1)]).green());
        if let Some(c) = &mut self.class {
            c.send(crate::class::protocol::ClassEvent::StepDone {
                lesson: lab.lesson.id.clone(),
                step: index + 1,
                done: crate::class::protocol::Done::ByHand,
            });
        }
        // The class heard "by hand" already: no second, "watched" report of the same step.
        let mut no_class = None;
        let mut sink = sinks(self.style, &mut no_class, &mut self.transcript, &mut self.progress);
        let ran = runner.step(index, &mut sink);
        drop(sink);
        if ran.as_ref().is_ok_and(|r| r.passed()) {
            self.progress.mark_by_hand(&runner.lab().lesson.id, index + 1);
        }
        if let Err(e) = ran {
            self.error(e);
        }
    }
}
