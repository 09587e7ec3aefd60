//! `try` at the REPL: drawing a [`TrySession`] (the lab's), and what follows a step done by
//! hand here (progress, the class, the transcript). What a try does — the shell, judging,
//! `dojo`, putting the host back, the lab taking the step — is the session's; this file only
//! says it, in colour and in the session's language.

use colored::Colorize;

use super::Repl;
use crate::i18n::{t, tf};
use crate::lab::event::{Event, Sink};
use crate::lab::try_session::seams::Seams;
use crate::lab::try_session::{Finished, Tick, TryError, TryEvent, TrySession};
use crate::lab::Lab;
use crate::render::terminal::{Mode, Terminal};
use crate::render::transcript::{Recording, Transcript};
use crate::render::Style;

/// Say one event of a try.
fn draw(style: Style, transcript: &mut Option<Transcript>, lab: &Lab, event: TryEvent<'_>) {
    let lang = style.lang;
    match event {
        TryEvent::Task { step, total, text, pid_note, needs_host } => {
            println!("{}", tf(lang, "try_header", &[&(step + 1), &total]).bold().cyan());
            println!("{text}");
            if pid_note {
                println!("{}", t(lang, "try_pid_note").dimmed());
            }
            if needs_host {
                println!("{}", t(lang, "try_needs_host").yellow());
            }
        }
        TryEvent::LooksOnly => println!("{}", t(lang, "try_look").yellow()),
        TryEvent::ShellOpens { narrated } => {
            println!("{}", t(lang, "try_shell").dimmed());
            println!("{}", t(lang, "try_shell_dojo").dimmed());
            if narrated {
                println!("{}", t(lang, "try_narrated").dimmed());
            }
        }
        TryEvent::Warning(e) => eprintln!("nsdojo: {e}"),
        TryEvent::Undone(lines) => {
            for line in lines {
                println!("{}", line.line(lang).yellow());
            }
        }
        TryEvent::StillChanged(lines) => {
            let _ = crate::hostguard::audit::warn(&mut std::io::stdout(), lines, "try", lang);
        }
        TryEvent::NotYet { step, failing } => {
            println!("{}", tf(lang, "try_not_yet", &[&(step + 1)]));
            for c in failing {
                println!("  ✘ {}", c.src);
            }
        }
        TryEvent::ByHand { step, report } => {
            println!("{}", tf(lang, "try_by_hand", &[&(step + 1)]).green());
            // The student's terminal #1: tables and checks, no syscalls. Only the terminal and
            // the transcript see it; progress and the class hear "by hand" afterwards.
            if let Some(report) = report {
                let mut shown = (
                    Terminal::new(style, Mode::Repl, false),
                    transcript.as_mut().map(|t| Recording::new(t, style, false)),
                );
                shown.event(lab, &Event::StepDone { report });
            }
        }
        TryEvent::LabFollows => println!("{}", t(lang, "try_lab_follows").dimmed()),
        TryEvent::LabRebuilt { step } => println!("{}", tf(lang, "try_lab_rebuilt", &[&(step + 1)]).dimmed()),
    }
}

impl Repl {
    pub(super) fn try_step(&mut self, narrate: bool) {
        let (style, lang) = (self.style, self.style.lang);
        let Some(runner) = self.runner.as_mut() else { return };
        let transcript = &mut self.transcript;
        let mut shown = |lab: &Lab, e: TryEvent<'_>| draw(style, transcript, lab, e);
        let started = TrySession::start(runner.lab_mut(), lang, Seams::real(narrate), &mut shown);
        let mut session = match started {
            Ok(s) => s,
            Err(TryError::LessonDone) => return println!("{}", t(lang, "lesson_done_reset").green()),
            Err(TryError::NoTask) => return println!("{}", t(lang, "try_no_task")),
            Err(TryError::Lab(e)) => return self.error(e),
            Err(TryError::Shell(e)) => return eprintln!("nsdojo: {}", e.localized(lang)),
            Err(e @ (TryError::Socket(_) | TryError::Record(_))) => return eprintln!("nsdojo: {e}"),
        };
        let mut heard = Vec::new();
        loop {
            let tick = session.poll(runner.lab());
            for call in session.take_heard() {
                if let (Some(c), true) = (&mut self.class, call.call.result.is_err()) {
                    c.call_failed(&runner.lab().lesson, session.step_index() + 1, &call.call);
                }
                heard.push(call);
            }
            match tick {
                Tick::Ticked { step } => {
                    print!("\r\n{}\r\n", tf(lang, "try_done", &[&(step + 1)]).green().bold());
                    let _ = std::io::Write::flush(&mut std::io::stdout());
                }
                Tick::StillOpen => {}
                Tick::ShellGone | Tick::SignalPending => break,
            }
        }
        let index = session.step_index();
        let lesson = runner.lab().lesson.id.clone();
        let mut meter = Terminal::new(style, Mode::Repl, true);
        let calls: Vec<_> = heard.iter().map(|c| c.call.clone()).collect();
        match session.finish(runner, &mut meter, &mut shown) {
            Ok(Finished::NotYet) => self.progress.tried(&lesson, index + 1, false, &calls),
            Ok(Finished::ByHand) => {
                self.progress.tried(&lesson, index + 1, true, &calls);
                self.progress.mark_by_hand(&runner.lab().lesson.id, index + 1);
                if let Some(c) = &mut self.class {
                    c.send(crate::class::protocol::ClassEvent::StepDone {
                        lesson: runner.lab().lesson.id.clone(),
                        step: index + 1,
                        done: crate::class::protocol::Done::ByHand,
                    });
                }
            }
            Err(e) => self.error(e),
        }
        if let Some(t) = &mut self.transcript {
            t.student_calls(lang, &lesson, index + 1, &heard);
        }
    }
}
