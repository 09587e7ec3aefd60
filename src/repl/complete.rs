//! Tab completion: command names, then lesson ids after `lesson`.

use rustyline::completion::{Completer as RlCompleter, Pair};
use rustyline::{Context, Helper, Highlighter, Hinter, Validator};

use crate::lesson::Header;

#[derive(Helper, Highlighter, Hinter, Validator)]
pub(super) struct Completer {
    commands: Vec<String>,
    lessons: Vec<String>,
}

impl Completer {
    pub(super) fn new(lessons: &[Header]) -> Completer {
        Completer {
            commands: super::command::COMMANDS.iter().map(|c| c.name.to_string()).collect(),
            lessons: lessons.iter().map(|l| l.id.clone()).collect(),
        }
    }

    /// Candidates for the text before the cursor (pure, for tests).
    pub(super) fn candidates(&self, line: &str) -> (usize, Vec<String>) {
        match line.split_once(char::is_whitespace) {
            None => (0, self.commands.iter().filter(|c| c.starts_with(line)).cloned().collect()),
            Some(("lesson", rest)) => {
                let start = line.len() - rest.trim_start().len();
                let typed = rest.trim_start();
                (start, self.lessons.iter().filter(|l| l.starts_with(typed)).cloned().collect())
            }
            Some(_) => (line.len(), Vec::new()),
        }
    }
}

impl RlCompleter for Completer {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, c) = self.candidates(&line[..pos]);
        Ok((start, c.into_iter().map(|s| Pair { display: s.clone(), replacement: s }).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_commands_and_lesson_ids() {
        let c = Completer::new(crate::lesson::Shelf::builtin().headers());
        assert_eq!(c.candidates("ne"), (0, vec!["next".to_string()]));
        assert!(c.candidates("les").1.contains(&"lessons".to_string()));
        assert_eq!(c.candidates("lesson u"), (7, vec!["uts".to_string(), "user".to_string()]));
        assert_eq!(c.candidates("lesson ut"), (7, vec!["uts".to_string()]));
        assert!(c.candidates("sh ls").1.is_empty());
    }
}
