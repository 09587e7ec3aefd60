//! The terminal sink: what `nsdojo run`, the REPL and `check --mutate` print as a lesson runs.
//!
//! The formatting is in the pure functions of [`super`]; this is only where their text goes
//! (stdout; stderr for failures and the host audit) and when: a step is shown whole once it
//! is done, the CPU meter redraws one line while `burn` runs. `run` and the REPL frame a
//! lesson differently (a title and the rootfs for a script; title, intro and step count for a
//! student at the prompt), so the sink knows which it serves.

use std::io::Write;

use colored::Colorize;

use super::Style;
use crate::i18n::{t, tf};
use crate::lab::event::{Event, Scene, Sink};

/// Which command is printing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `nsdojo run`: each step, and on stderr each step that failed.
    Run,
    /// The REPL: a lesson's introduction, each step, and the end of the lesson.
    Repl,
    /// `check --mutate`: its own lines per mutant; here only the host audit.
    Mutate,
}

pub struct Terminal {
    style: Style,
    mode: Mode,
    /// Redraw the meter live (only on a terminal: it rewrites one line with `\r`).
    live: bool,
    out: Box<dyn Write>,
    err: Box<dyn Write>,
}

impl Terminal {
    pub fn new(style: Style, mode: Mode, live: bool) -> Terminal {
        Terminal { style, mode, live, out: Box::new(std::io::stdout()), err: Box::new(std::io::stderr()) }
    }
}

impl Sink for Terminal {
    fn event(&mut self, scene: &dyn Scene, event: &Event<'_>) {
        let (out, err) = (&mut self.out, &mut self.err);
        let (shown, warned) = show(&self.style, self.mode, self.live, out, err, scene, event);
        // As print! and eprintln! do: a lesson does not go on unseen (`nsdojo run | head`).
        if let Err(e) = shown {
            panic!("failed printing to stdout: {e}");
        }
        if let Err(e) = warned {
            panic!("failed printing to stderr: {e}");
        }
    }
}

/// Print `event`: what went to `out`, and what went to `err`.
fn show(
    style: &Style,
    mode: Mode,
    live: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
    scene: &dyn Scene,
    event: &Event<'_>,
) -> (std::io::Result<()>, std::io::Result<()>) {
    let lang = style.lang;
    let shown = match (event, mode) {
        (Event::LessonStarted { title, .. }, Mode::Run) => writeln!(out, "\n{}", title.get(lang).bold().cyan()),
        (Event::Rootfs { source, .. }, Mode::Run) => writeln!(out, "{}", tf(lang, "rootfs_line", &[source])),
        (Event::LabReady { intro, steps, .. }, Mode::Repl) => {
            writeln!(out, "\n{}", scene.lesson().title.get(lang).bold().cyan())
                .and_then(|_| match intro.is_empty() {
                    true => Ok(()),
                    false => writeln!(out, "{}", scene.expand(&intro.get(lang))),
                })
                .and_then(|_| writeln!(out, "{}", tf(lang, "lesson_steps", &[steps]).dimmed()))
        }
        (Event::Meter { pid, sample }, _) if live => {
            write!(out, "\r{}", super::meter_line(lang, *pid, sample)).and_then(|_| out.flush())
        }
        (Event::MeterDone, _) if live => writeln!(out),
        (Event::StepDone { report: r }, Mode::Run | Mode::Repl) => {
            let shown = write!(out, "{}", super::step(style, scene.lesson(), r, &|s| scene.expand(s)));
            if mode == Mode::Run && !r.passed() {
                let warned = writeln!(err, "nsdojo: {}", tf(lang, "step_failed", &[&r.lesson, &(r.index + 1)]));
                return (shown, warned);
            }
            shown.and_then(|_| match (mode, r.index + 1 >= r.total, r.passed()) {
                (Mode::Repl, true, true) => writeln!(out, "{}", t(lang, "lesson_done").green().bold()),
                (Mode::Repl, true, false) => writeln!(out, "{}", t(lang, "lesson_end_failed").yellow()),
                _ => Ok(()),
            })
        }
        (Event::LessonDone { lesson, host_changes, .. }, mode) => {
            let key = if mode == Mode::Mutate { "mut_audit" } else { "audit_lesson" };
            return (Ok(()), crate::hostguard::audit::warn(err, host_changes, &tf(lang, key, &[lesson]), lang));
        }
        _ => Ok(()),
    };
    (shown, Ok(()))
}

#[cfg(test)]
mod tests;
