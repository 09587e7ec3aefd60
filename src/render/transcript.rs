//! Transcripts: a Markdown handout of what was shown, without colour codes,
//! for students to keep (`record FILE` in the REPL, `nsdojo run --record FILE`).

use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::lab::event::{Event, Scene, Sink};
use crate::lab::StepReport;
use crate::lesson::Lesson;

pub struct Transcript {
    file: File,
    pub path: String,
}

impl Transcript {
    pub fn create(path: &Path) -> std::io::Result<Transcript> {
        // Opened as the invoking user (or refused if a link could redirect root's write).
        let mut file = crate::userfile::create_for_invoker(path)?;
        writeln!(file, "# nsdojo transcript\n")?;
        writeln!(file, "{}\n", crate::machine::kernel())?;
        Ok(Transcript { file, path: path.display().to_string() })
    }

    pub fn lesson(&mut self, style: &super::Style, lesson: &Lesson, expand: &dyn Fn(&str) -> String) {
        let _ = writeln!(self.file, "## {} — {}\n", lesson.id, lesson.title.get(style.lang));
        if !lesson.intro.is_empty() {
            let _ = writeln!(self.file, "{}\n", expand(&lesson.intro.get(style.lang)));
        }
    }

    /// The step exactly as shown, colours off, in a fenced block under a heading.
    pub fn step(&mut self, style: &super::Style, lesson: &Lesson, r: &StepReport, expand: &dyn Fn(&str) -> String) {
        let was = colored::control::SHOULD_COLORIZE.should_colorize();
        colored::control::set_override(false);
        let text = super::step(style, lesson, r, expand);
        colored::control::set_override(was);
        let verdict = if r.passed() { "✔" } else { "✘" };
        let _ = writeln!(self.file, "### {} step {}/{} {verdict}\n", lesson.id, r.index + 1, r.total);
        let _ = writeln!(self.file, "```text\n{}\n```\n", text.trim_end());
        let _ = self.file.flush();
    }
}

impl Transcript {
    /// What the student's own commands asked of the kernel in a `try` of step `step` (1-based).
    pub(crate) fn student_calls(
        &mut self,
        lang: crate::lesson::Lang,
        lesson: &str,
        step: usize,
        calls: &[crate::narrate::StudentCall],
    ) {
        if calls.is_empty() {
            return;
        }
        let _ = writeln!(self.file, "#### {lesson} step {step}: {}\n", crate::i18n::t(lang, "try_calls_heading"));
        let _ = writeln!(self.file, "```text");
        for c in calls {
            let _ = writeln!(self.file, "[{}] {}", crate::i18n::t(lang, "narrate_you"), c.call);
            if let Some(note) = &c.call.note {
                let _ = writeln!(self.file, "      ↳ {}", crate::i18n::msg(lang, note));
            }
        }
        let _ = writeln!(self.file, "```\n");
        let _ = self.file.flush();
    }
}

/// The transcript as a sink: each step as it is done.
pub struct Recording<'a> {
    transcript: &'a mut Transcript,
    style: super::Style,
    /// A lesson's heading and introduction before its first step (`run`; the REPL's
    /// transcript has steps only, as a student may go back and forth).
    headings: bool,
}

impl Recording<'_> {
    pub fn new(transcript: &mut Transcript, style: super::Style, headings: bool) -> Recording<'_> {
        Recording { transcript, style, headings }
    }
}

impl Sink for Recording<'_> {
    fn event(&mut self, scene: &dyn Scene, event: &Event<'_>) {
        if let Event::StepDone { report } = event {
            let expand = |s: &str| scene.expand(s);
            if self.headings && report.index == 0 {
                self.transcript.lesson(&self.style, scene.lesson(), &expand);
            }
            self.transcript.step(&self.style, scene.lesson(), report, &expand);
        }
    }
}
