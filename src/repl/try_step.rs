//! `try`: the student does the next step by hand. nsdojo prints the step's task, opens an
//! interactive shell in terminal #1 as it is before the step (its namespaces, cgroups, root
//! and working directory), and about four times a second judges the step's checks against the
//! process the student is typing into (the terminal's foreground process group, so through
//! `unshare`, `nsenter`, `chroot` and nested shells). When they all hold it says so in that
//! terminal. `dojo hint|check|solve|task|pid` in the shell asks this loop, over a socket the
//! shell inherits as fd 9 ([`super::dojo`]).
//!
//! After `exit`: what the shell left running is stopped (nsdojo is its subreaper meanwhile),
//! whatever it changed on the host is put back and said, the step is shown as the student's
//! shell left terminal #1 (no syscalls: nsdojo made none), and the lesson's own sandbox takes
//! the same step quietly, so the lesson goes on from a state it knows.

use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use colored::Colorize;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::dojo::{self, Dojo};
use super::Repl;
use crate::i18n::{t, tf};
use crate::lab::event::{Event, MeterOnly, Sink};
use crate::lab::watch::Look;
use crate::render::terminal::{Mode, Terminal};
use crate::render::transcript::Recording;

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

/// While the try shell runs, nsdojo adopts what it leaves behind (a `sleep 100 &`, a burner),
/// so those can be stopped when it ends instead of living on, orphaned, on the host.
struct Subreaper {
    before: Vec<i32>,
}

impl Subreaper {
    fn start() -> Subreaper {
        // SAFETY: prctl with integer arguments only.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        Subreaper { before: crate::observe::procfs::children_of(std::process::id() as i32) }
    }

    /// Stop and reap what was adopted (children that are neither old nor `shell`), round by
    /// round, since the children of one stopped are adopted next; say each.
    fn finish(self, shell: Pid) -> Vec<crate::hostguard::Undone> {
        let mut said = Vec::new();
        for _ in 0..16 {
            let adopted: Vec<i32> = crate::observe::procfs::children_of(std::process::id() as i32)
                .into_iter()
                .filter(|p| !self.before.contains(p) && *p != shell.as_raw())
                .collect();
            if adopted.is_empty() {
                break;
            }
            said.extend(crate::hostguard::undo::stop_orphans(&adopted));
        }
        // SAFETY: as above.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) };
        said
    }
}

/// SIGTERM and SIGHUP wait while a try shell is open (the shell itself starts with none
/// blocked): the host is put back first, then the signal does what it always does.
struct HeldSignals(nix::sys::signal::SigSet);

impl HeldSignals {
    fn hold() -> HeldSignals {
        use nix::sys::signal::{SigSet, SigmaskHow, Signal};
        let mut set = SigSet::empty();
        set.add(Signal::SIGTERM);
        set.add(Signal::SIGHUP);
        let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
        HeldSignals(set)
    }

    /// Whether one of them arrived.
    fn pending(&self) -> bool {
        // SAFETY: sigpending fills a sigset_t we own, and sigismember only reads it.
        unsafe {
            let mut raw: libc::sigset_t = std::mem::zeroed();
            libc::sigpending(&mut raw);
            [libc::SIGTERM, libc::SIGHUP].iter().any(|s| libc::sigismember(&raw, *s) == 1)
        }
    }
}

impl Drop for HeldSignals {
    fn drop(&mut self) {
        // A pending SIGTERM or SIGHUP is delivered here, to the usual handler.
        let _ = nix::sys::signal::pthread_sigmask(nix::sys::signal::SigmaskHow::SIG_UNBLOCK, Some(&self.0), None);
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
        // `$PID` is terminal #1's shell, which the student may replace (`unshare -p -f sh`).
        let task = task.get(lang);
        println!("{}", lab.expand(&task.replace("$PID", "⟨dojo pid⟩")));
        if task.contains("$PID") {
            println!("{}", t(lang, "try_pid_note").dimmed());
        }
        if step.task_needs_host {
            println!("{}", t(lang, "try_needs_host").yellow());
        }
        let session = lab.session_id().to_string();
        let started = lab.watch(index).and_then(|w| Ok((w, lab.sandbox_pid()?)));
        let (watch, pid) = match started {
            Ok(x) => x,
            Err(e) => return self.error(e),
        };
        // A step that only looks holds before anything is typed: say so rather than tick at once.
        let at_start = lab.judge(&watch, pid).filter(Look::passed);
        let looks_only = at_start.is_some();
        if looks_only {
            println!("{}", t(lang, "try_look").yellow());
        }
        println!("{}", t(lang, "try_shell").dimmed());
        println!("{}", t(lang, "try_shell_dojo").dimmed());
        let (ours, theirs) = match UnixStream::pair() {
            Ok(p) => p,
            Err(e) => return eprintln!("nsdojo: socketpair: {e}"),
        };
        let _ = ours.set_nonblocking(true);
        let mut path = std::env::var("PATH").unwrap_or_default();
        match dojo::dir_in(lab.work_dir()) {
            Ok(dir) => path = format!("{path}:{}", dir.display()),
            Err(e) => eprintln!("nsdojo: {e}"),
        }
        let extras = crate::sandbox::attach::Extras {
            cgroups: true,
            fd9: Some(theirs.into()),
            env: vec![
                ("NSDOJO_TRY".into(), format!("{}", index + 1)),
                ("NSDOJO_TRY_LANG".into(), lang.code().into()),
                (crate::hostguard::undo::TRY_MARK.into(), session.clone()),
                ("PATH".into(), path),
            ],
        };
        // The host as the shell starts (the sandbox is up): what differs at its end is the shell's.
        let before = crate::hostguard::undo::Before::now();
        // Should nsdojo die while the shell runs, its session's cleanup puts the host back.
        if let Err(e) = crate::hostguard::record_add(&session, |r| r.trying = Some(before.clone())) {
            dojo::remove_dir_in(lab.work_dir());
            return eprintln!("nsdojo: {e}");
        }
        let held = HeldSignals::hold();
        let reaper = Subreaper::start();
        let child = match crate::sandbox::attach::spawn_with(lang, pid, &[], extras) {
            Ok(c) => c,
            Err(e) => {
                let _ = reaper.finish(Pid::from_raw(0));
                let _ = crate::hostguard::record_add(&session, |r| r.trying = None);
                dojo::remove_dir_in(lab.work_dir());
                return eprintln!("nsdojo: {}", e.localized(lang));
            }
        };
        let mut dojo = Dojo::new(ours, lang);
        let mut done = looks_only;
        // The latest look, and the latest look at which every check held: a student who ticks
        // the step and then leaves the `unshare` shell is shown terminal #1 as it was then.
        let mut last: Option<Look> = None;
        let mut held_last = at_start;
        let mut next_look = Instant::now() + EVERY;
        while let Ok(WaitStatus::StillAlive) = waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            if held.pending() {
                // nsdojo is being ended: end the shell (what it leaves is adopted, stopped
                // below) and put the host back before the signal goes on.
                let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
                let _ = waitpid(child, None);
                break;
            }
            dojo.serve(lab, &watch, &step, || watched(child));
            if Instant::now() < next_look {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            next_look = Instant::now() + EVERY;
            let Some(look) = watched(child).and_then(|p| lab.judge(&watch, p)) else { continue };
            if look.passed() && !done {
                done = true;
                print!("\r\n{}\r\n", tf(lang, "try_done", &[&(index + 1)]).green().bold());
                let _ = std::io::Write::flush(&mut std::io::stdout());
            }
            if look.passed() {
                held_last = Some(look);
            } else {
                last = Some(look);
            }
        }
        take_back_terminal();
        dojo::remove_dir_in(lab.work_dir());
        let mut said = reaper.finish(child);
        said.extend(crate::hostguard::undo::since(
            &before,
            &lab.group_dirs_to_be(),
            &crate::hostguard::recorded_by_sessions(),
        ));
        for line in said {
            println!("{}", line.line(lang).yellow());
        }
        let _ = crate::hostguard::audit::warn(&mut std::io::stdout(), &before.still_changed(), "try", lang);
        let _ = crate::hostguard::record_add(&session, |r| r.trying = None);
        drop(held);
        if !done {
            println!("{}", tf(lang, "try_not_yet", &[&(index + 1)]));
            for c in last.iter().flat_map(|r| &r.checks).filter(|c| !c.verdict.passed) {
                println!("  ✘ {}", c.src);
            }
            return;
        }
        println!("{}", tf(lang, "try_by_hand", &[&(index + 1)]).green());
        // The student's terminal #1 as the step's report: tables and checks, no syscalls. Only
        // the terminal and the transcript see it; progress and the class hear "by hand" below.
        let held_last = held_last.map(|look| lab.by_hand(watch, look));
        if let Some(report) = &held_last {
            let mut shown = (
                Terminal::new(self.style, Mode::Repl, false),
                self.transcript.as_mut().map(|t| Recording::new(t, self.style, false)),
            );
            shown.event(lab, &Event::StepDone { report });
        }
        println!("{}", t(lang, "try_lab_follows").dimmed());
        let mut meter = Terminal::new(self.style, Mode::Repl, true);
        let ran = runner.step(index, &mut MeterOnly(&mut meter));
        // What the shell did may stand in the lab's way (a `mknod /disk` made there already):
        // then a fresh sandbox replays the lesson up to and including this step.
        let ran = match ran {
            Ok(r) if r.passed() => Ok(()),
            _ => runner.replay(index + 1, &mut meter).map(|()| {
                println!("{}", tf(lang, "try_lab_rebuilt", &[&(index + 1)]).dimmed());
            }),
        };
        if let Some(report) = held_last {
            runner.lab_mut().last = Some(report);
        }
        if let Err(e) = ran {
            return self.error(e);
        }
        self.progress.mark_by_hand(&runner.lab().lesson.id, index + 1);
        if let Some(c) = &mut self.class {
            c.send(crate::class::protocol::ClassEvent::StepDone {
                lesson: runner.lab().lesson.id.clone(),
                step: index + 1,
                done: crate::class::protocol::Done::ByHand,
            });
        }
    }
}
