//! The interactive lab: `sudo nsdojo`.
//!
//! A rustyline editor (history kept across runs, Tab completion of commands
//! and lesson ids) in front of a [`Lab`]. Every error is one line and the
//! session goes on; Ctrl-C at the prompt is harmless, Ctrl-C during a step
//! abandons it and resets the sandbox, Ctrl-D leaves.

pub mod command;
mod complete;
mod try_step;

use std::path::PathBuf;

use colored::Colorize;
use rustyline::error::ReadlineError;

use crate::hostguard::Session;
use crate::i18n::{did_you_mean, io_error, t, tf};
use crate::lab::event::{Event, Scene, Sink};
use crate::lab::runner::{Runner, StartError};
use crate::lab::{Lab, LabError, Sides};
use crate::lesson::{self, Lang};
use crate::progress::Progress;
use crate::render::present::Classroom;
use crate::render::terminal::{Mode, Terminal};
use crate::render::transcript::{Recording, Transcript};
use crate::render::{self, Style};
use crate::sandbox::SandboxError;
use command::Command;

pub struct Repl {
    /// Parsed when opened: the list at the prompt needs only their headers.
    pub lessons: lesson::Shelf,
    pub session: Session,
    pub style: Style,
    pub rootfs: crate::rootfs::Provider,
    /// The current lesson.
    runner: Option<Runner>,
    progress: Progress,
    transcript: Option<Transcript>,
    /// `reset progress` waits for a `yes`.
    confirm_reset: bool,
    /// `--class`: the sender that reports progress to the class server.
    pub class: Option<crate::class::ClassLink>,
}

impl Repl {
    pub fn new(lessons: lesson::Shelf, session: Session, style: Style, rootfs: crate::rootfs::Provider) -> Repl {
        Repl {
            lessons,
            session,
            style,
            rootfs,
            runner: None,
            progress: crate::progress::Progress::load(),
            transcript: None,
            confirm_reset: false,
            class: None,
        }
    }

    fn lab(&self) -> Option<&Lab> {
        self.runner.as_ref().map(Runner::lab)
    }

    fn prompt(&self) -> String {
        match self.lab() {
            Some(lab) => format!("nsdojo[{} {}/{}]> ", lab.lesson.id, lab.next, lab.lesson.steps.len()),
            None => "nsdojo> ".to_string(),
        }
    }

    pub fn run(&mut self, banner: &str) -> Result<(), ReadlineError> {
        let mut ed = rustyline::Editor::<complete::Completer, rustyline::history::DefaultHistory>::new()?;
        ed.set_helper(Some(complete::Completer::new(self.lessons.headers())));
        let history = history_path();
        // rustyline reads and writes history by path; as root it must not touch the student's
        // path itself. It works on a root-only copy, read and written back as the student.
        let scratch = history_scratch();
        if let (Some(h), Some(s)) = (&history, &scratch) {
            if let Ok(bytes) = crate::userfile::read_as_invoker(h) {
                if std::fs::write(s, bytes).is_ok() {
                    let _ = ed.load_history(s);
                }
                // Only for the moment rustyline reads it: a killed session leaves nothing.
                let _ = std::fs::remove_file(s);
            }
        }
        println!("{banner}");
        self.offer_cleanup(&mut ed);
        println!("{}", render::lesson_list(&self.style, self.lessons.headers(), None));
        println!("{}", t(self.style.lang, "hello").dimmed());
        loop {
            while let Some(note) = self.class.as_mut().and_then(|c| c.note()) {
                println!("{}", crate::i18n::msg(self.style.lang, &note).dimmed());
            }
            match ed.readline(&self.prompt()) {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        let _ = ed.add_history_entry(line.as_str());
                    }
                    let lang = self.style.lang;
                    if std::mem::take(&mut self.confirm_reset) {
                        if line.trim() == "yes" {
                            self.progress.clear();
                            println!("{}", t(lang, "progress_forgotten"));
                        } else {
                            println!("{}", t(lang, "progress_kept"));
                        }
                        continue;
                    }
                    match command::parse(&line) {
                        Ok(Command::Quit) => break,
                        Ok(cmd) => self.dispatch(cmd),
                        Err(e) => eprintln!("{} {}", "nsdojo:".red(), e.localized(lang)),
                    }
                }
                Err(ReadlineError::Interrupted) => {
                    println!("{}", t(self.style.lang, "ctrl_c").dimmed());
                }
                Err(ReadlineError::Eof) => break,
                Err(e) => {
                    eprintln!("nsdojo: {}", tf(self.style.lang, "terminal_error", &[&e]));
                    break;
                }
            }
        }
        if let (Some(h), Some(s)) = (&history, &scratch) {
            if ed.save_history(s).is_ok() {
                if let Ok(bytes) = std::fs::read(s) {
                    let _ = crate::userfile::replace_as_invoker(h, &bytes);
                }
            }
            let _ = std::fs::remove_file(s);
        }
        self.leave_lesson();
        Ok(())
    }

    /// Leftovers of killed sessions (their owner and watchdog both gone): offer to remove them.
    fn offer_cleanup<H: rustyline::Helper>(&self, ed: &mut rustyline::Editor<H, rustyline::history::DefaultHistory>) {
        let dead: Vec<_> = crate::hostguard::Record::load_all()
            .into_iter()
            .filter(|r| r.id != self.session.id() && !r.owner_alive() && !r.watchdog_alive())
            .collect();
        if dead.is_empty() {
            return;
        }
        let lang = self.style.lang;
        println!("{}", tf(lang, "cleanup_found", &[&dead.len()]).yellow());
        let answer = ed.readline(t(lang, "cleanup_ask")).unwrap_or_default();
        if answer.trim().is_empty() || answer.trim().eq_ignore_ascii_case("y") {
            for r in dead {
                for done in r.clean() {
                    println!("{}", done.line(lang));
                }
            }
        } else {
            println!("{}", t(lang, "cleanup_left").dimmed());
        }
    }

    fn leave_lesson(&mut self) {
        if let Some(runner) = self.runner.take() {
            runner.finish(
                &mut self.session,
                &mut sinks(self.style, &mut self.class, &mut self.transcript, &mut self.progress),
            );
        }
    }

    fn error(&mut self, e: LabError) {
        match e {
            LabError::Sandbox(SandboxError::Interrupted) => {
                eprintln!("{}", t(self.style.lang, "interrupted").yellow());
            }
            other => eprintln!("{} {}", "nsdojo:".red(), other.localized(self.style.lang)),
        }
        if let Some(runner) = &mut self.runner {
            runner.lab_mut().reset();
        }
    }

    pub fn dispatch(&mut self, cmd: Command) {
        let lang = self.style.lang;
        match cmd {
            Command::Empty | Command::Quit => {}
            Command::Help => print!("{}", command::help(lang)),
            Command::Lessons => {
                let current = self.lab().map(|l| l.lesson.id.as_str());
                print!("{}", render::lesson_list(&self.style, self.lessons.headers(), current))
            }
            Command::Lesson(None) => match (self.lab(), self.progress.current.clone()) {
                (Some(l), _) => {
                    println!("{}", tf(lang, "where", &[&l.lesson.title.get(lang), &l.next, &l.lesson.steps.len()]))
                }
                (None, Some(id)) => self.resume(&id),
                (None, None) => println!("{}", t(lang, "no_lesson_yet")),
            },
            Command::Progress(None) => print!("{}", self.progress.summary(lang, self.lessons.headers())),
            Command::Progress(Some(key)) => match self.lessons.find(&key) {
                Some((i, _)) => print!("{}", self.progress.detail(lang, &self.lessons.headers()[i])),
                None => self.no_such_lesson(&key),
            },
            Command::ResetProgress => {
                println!("{}", t(lang, "progress_confirm"));
                self.confirm_reset = true;
            }
            Command::Record(None) => match &self.transcript {
                Some(r) => println!("{}", tf(lang, "recording_to", &[&r.path])),
                None => println!("{}", t(lang, "not_recording_hint")),
            },
            Command::Record(Some(f)) if f == "off" => match self.transcript.take() {
                Some(r) => println!("{}", tf(lang, "transcript_written", &[&r.path])),
                None => println!("{}", t(lang, "not_recording")),
            },
            Command::Record(Some(f)) => match Transcript::create(std::path::Path::new(&f)) {
                Ok(r) => {
                    println!("{}", tf(lang, "recording_started", &[&f]));
                    self.transcript = Some(r);
                }
                Err(e) => eprintln!("nsdojo: {}", tf(lang, "cannot_write", &[&f, &io_error(lang, &e)])),
            },
            Command::Lesson(Some(key)) => self.start(&key),
            Command::Lang(None) => println!("{}", tf(lang, "language", &[&lang.code()])),
            Command::Lang(Some(l)) => match Lang::parse(&l) {
                Some(l) => {
                    self.style.lang = l;
                    if let Some(runner) = &mut self.runner {
                        runner.lab_mut().lang = l;
                    }
                }
                None => eprintln!("nsdojo: {}", tf(lang, "unknown_language", &[&l])),
            },
            Command::Host(cmd) => {
                let (_, out) = crate::sandbox::shell::run(&cmd, crate::sandbox::shell::timeout());
                print_output(lang, &out);
            }
            other => self.in_lesson(other),
        }
    }

    /// `lesson` alone: back to the lesson last worked on, at its first step not yet done.
    fn resume(&mut self, id: &str) {
        self.start(id);
        let Some(runner) = self.runner.as_mut() else { return };
        let lesson = &runner.lab().lesson;
        let at = self.progress.resume_at(lesson).min(lesson.steps.len().saturating_sub(1));
        if at > 0 {
            println!("{}", tf(self.style.lang, "resuming", &[&at]).dimmed());
            let replayed =
                runner.replay(at, &mut sinks(self.style, &mut self.class, &mut self.transcript, &mut self.progress));
            if let Err(e) = replayed {
                self.error(e);
            }
        }
        // Where yesterday's try of this step stopped, in the student's own calls.
        if let Some(stuck) = self.progress.stuck.get(id).filter(|s| s.step == at + 1) {
            println!("{}", crate::narrate::line(self.style.lang, &stuck.call).trim_end());
        }
    }

    fn start(&mut self, key: &str) {
        let Some((_, lesson)) = self.lessons.find(key) else {
            return self.no_such_lesson(key);
        };
        let lesson = lesson.clone();
        self.leave_lesson();
        let lang = self.style.lang;
        let mut sink = sinks(self.style, &mut self.class, &mut self.transcript, &mut self.progress);
        match Runner::start(lesson, &mut self.session, &mut self.rootfs, lang, &mut sink) {
            Ok(runner) => self.runner = Some(runner),
            Err(StartError::Rootfs(e)) => eprintln!("nsdojo: {}", tf(lang, "needs_rootfs", &[&e.localized(lang)])),
            Err(e) => eprintln!("nsdojo: {}", e.localized(lang)),
        }
    }

    /// One line for a lesson id or number that names none, with the nearest id.
    fn no_such_lesson(&self, key: &str) {
        let ids: Vec<&str> = self.lessons.headers().iter().map(|l| l.id.as_str()).collect();
        let lang = self.style.lang;
        let hint = did_you_mean(lang, crate::suggest::nearest(key, &ids));
        let shown: String = key.chars().take(40).collect();
        eprintln!("nsdojo: {}", tf(lang, "no_such_lesson", &[&shown, &hint]));
    }

    fn in_lesson(&mut self, cmd: Command) {
        let Some(runner) = self.runner.as_mut() else {
            eprintln!("nsdojo: {}", t(self.style.lang, "no_lesson_started"));
            return;
        };
        if let Command::Try { narrate } = cmd {
            return self.try_step(narrate);
        }
        let lang = self.style.lang;
        if let (Command::Hint, Some(c)) = (&cmd, &mut self.class) {
            let lab = runner.lab();
            c.hint(&lab.lesson, if lab.next == 0 { 1 } else { lab.next });
        }
        // A step is shown, recorded, told to the class and counted as progress by these.
        let mut sink = sinks(self.style, &mut self.class, &mut self.transcript, &mut self.progress);
        let (next, total) = (runner.lab().next, runner.lab().lesson.steps.len());
        let current = next.saturating_sub(1);
        let result: Result<(), LabError> = match cmd {
            Command::Next if next >= total => {
                println!("{}", t(lang, "lesson_done_reset").green());
                Ok(())
            }
            Command::Next => runner.step(next, &mut sink).map(|_| ()),
            Command::Again => {
                runner.replay(current, &mut sink).and_then(|_| runner.step(current, &mut sink)).map(|_| ())
            }
            Command::Back => {
                let to = current.min(next);
                runner.replay(to, &mut sink).map(|_| {
                    let lab = runner.lab();
                    let st = &lab.lesson.steps[to];
                    println!("{}\n{}", tf(lang, "back_before", &[&(to + 1)]).dimmed(), lab.expand(&st.text.get(lang)));
                })
            }
            other => {
                let lab = runner.lab_mut();
                match other {
                    Command::Show => {
                        let st = &lab.lesson.steps[current.min(lab.lesson.steps.len() - 1)];
                        println!("{}", lab.expand(&st.text.get(lang)));
                        for line in lab.lab_lines(st) {
                            println!("{}", crate::i18n::lab_line(lang, &line));
                        }
                        Ok(())
                    }
                    Command::Hint => {
                        let st = &lab.lesson.steps[if lab.next == 0 { 0 } else { current }];
                        match &st.hint {
                            Some(h) => println!("{}: {}", render::label(lang, "hint"), lab.expand(&h.get(lang))),
                            None => println!("{}", t(lang, "no_hint")),
                        }
                        Ok(())
                    }
                    Command::Reset => {
                        lab.reset();
                        println!("{}", t(lang, "reset_done"));
                        Ok(())
                    }
                    Command::Diff => {
                        match &lab.last {
                            Some(r) => print!("{}", render::diff(&self.style, r)),
                            None => println!("{}", t(lang, "no_step_yet")),
                        }
                        Ok(())
                    }
                    Command::State => match lab.sandbox.is_some() {
                        false => lab.replay(0, &mut sink).and_then(|_| state(lab, &self.style)),
                        true => state(lab, &self.style),
                    },
                    Command::Sh(c) => lab.sh(&c).map(|out| print_output(lang, &out)),
                    Command::Compare(c) => lab.sh(&c).map(|inside| {
                        let (_, outside) = crate::sandbox::shell::run(&c, crate::sandbox::shell::timeout());
                        let pid = lab.sandbox.as_ref().map_or(0, |s| s.pid());
                        print!("{}", render::compare(&self.style, pid, &inside.stdout, &outside.stdout));
                    }),
                    Command::Shell => lab.sandbox_pid().map(|pid| {
                        println!("{}", tf(lang, "shell_enter", &[&pid]).dimmed());
                        if let Err(e) = crate::sandbox::attach::attach(lang, pid, &[]) {
                            eprintln!("nsdojo: {}", e.localized(lang));
                        }
                    }),
                    _ => Ok(()),
                }
            }
        };
        drop(sink);
        if let Err(e) = result {
            self.error(e);
        }
    }
}

/// The REPL's sinks: the terminal, the class (`--class`), the transcript while recording,
/// and progress.
fn sinks<'a>(
    style: Style,
    class: &'a mut Option<crate::class::ClassLink>,
    transcript: &'a mut Option<Transcript>,
    progress: &'a mut Progress,
) -> impl Sink + 'a {
    let classroom = class.as_mut().map(|c| Classroom::new(c, style.lang));
    let recording = transcript.as_mut().map(|t| Recording::new(t, style, false));
    (Terminal::new(style, Mode::Repl, true), (classroom, (recording, Marks(progress))))
}

/// A step that passed is marked done in the student's progress.
struct Marks<'a>(&'a mut Progress);

impl Sink for Marks<'_> {
    fn event(&mut self, _: &dyn Scene, event: &Event<'_>) {
        if let Event::StepDone { report } = event {
            if report.passed() {
                self.0.mark(&report.lesson, report.index + 1);
            }
        }
    }
}

fn state(lab: &mut Lab, style: &Style) -> Result<(), LabError> {
    let sides: Sides = lab.sides_now()?;
    print!("{}", render::state(style, &sides, lab.sandbox.as_ref().map_or(0, |s| s.pid())));
    Ok(())
}

fn print_output(lang: Lang, out: &crate::sandbox::ShellOutput) {
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    if out.timed_out {
        eprintln!("nsdojo: {}", tf(lang, "killed_after", &[&crate::sandbox::shell::timeout().as_secs()]));
    } else if out.status != 0 {
        eprintln!("{}", tf(lang, "exit_status", &[&out.status]).dimmed());
    }
}

/// A root-only file for rustyline's copy of the history, in nsdojo's 0700 run directory.
fn history_scratch() -> Option<PathBuf> {
    let dir = std::path::Path::new(crate::hostguard::RUN_DIR);
    dir.is_dir().then(|| dir.join(format!(".history.{}", std::process::id())))
}

/// History lives in the invoking user's home (SUDO_USER under sudo).
fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NSDOJO_HISTORY") {
        return Some(PathBuf::from(p));
    }
    crate::progress::invoking_home().map(|home| home.join(".local/state/nsdojo/history"))
}
