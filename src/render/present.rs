//! A step as the classroom's presenter view draws it (`--present`): the same text, lab
//! command, system calls, both-side tables and checks the terminal shows, as plain data.

use super::views;
use crate::class::protocol::{PresentedStep, PresentedTable};
use crate::lab::event::{Event, Scene, Sink};
use crate::lab::StepReport;
use crate::lesson::{Lang, Lesson};
use crate::observe::View;

pub fn presented(lang: Lang, lesson: &Lesson, r: &StepReport, expand: &dyn Fn(&str) -> String) -> PresentedStep {
    let st = &lesson.steps[r.index];
    let mut syscalls = Vec::new();
    for a in &r.actions {
        syscalls.push(format!("[{}] {}", if a.on_host { "host" } else { "sandbox" }, a.src));
        syscalls.extend(a.outcome.trace.calls.iter().map(|c| format!("  {c}")));
    }
    let tables = st
        .show
        .iter()
        .map(|v| v.map_arg(expand))
        .filter(|v| *v != View::CgroupFiles)
        .map(|v| {
            let (title, rows) = views::rows(lang, &v, &r.before, &r.after);
            PresentedTable { title, rows: rows.into_iter().map(|row| [row.label, row.sandbox, row.host]).collect() }
        })
        .filter(|t| !t.rows.is_empty())
        .collect();
    PresentedStep {
        lesson: lesson.id.clone(),
        title: lesson.title.get(lang).to_string(),
        step: r.index + 1,
        steps: r.total,
        text: expand(&st.text.get(lang)),
        command: r.shell.iter().map(|l| crate::i18n::lab_line(lang, l)).collect::<Vec<_>>().join("\n"),
        syscalls,
        tables,
        checks: r.checks.iter().map(|c| (c.src.clone(), c.verdict.passed)).collect(),
    }
}

/// The class link as a sink: the class hears that a lesson started (once its lab is ready)
/// and each step done (not the quiet replays of `again` and `back`), with the whole step for
/// the presenter view when the link asks for it.
pub struct Classroom<'a> {
    link: &'a mut crate::class::ClassLink,
    lang: Lang,
}

impl Classroom<'_> {
    pub fn new(link: &mut crate::class::ClassLink, lang: Lang) -> Classroom<'_> {
        Classroom { link, lang }
    }
}

impl Sink for Classroom<'_> {
    fn event(&mut self, scene: &dyn Scene, event: &Event<'_>) {
        match event {
            Event::LabReady { .. } => self.link.lesson_started(scene.lesson()),
            Event::StepDone { report } => {
                let (lesson, lang) = (scene.lesson(), self.lang);
                self.link.step(lesson, report, || presented(lang, lesson, report, &|s| scene.expand(s)));
            }
            _ => {}
        }
    }
}
