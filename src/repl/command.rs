//! The REPL's command grammar: one word, then arguments, as one table ([`COMMANDS`]).

use crate::i18n::{t, tf};
use crate::lesson::Lang;
use crate::suggest;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Empty,
    Help,
    Lessons,
    /// `lesson` alone resumes the current one.
    Lesson(Option<String>),
    Next,
    Back,
    Again,
    Show,
    State,
    Diff,
    Hint,
    Reset,
    Quit,
    ResetProgress,
    Sh(String),
    Host(String),
    Compare(String),
    Shell,
    /// Do the next step by hand in terminal #1's shell; nsdojo watches the checks.
    /// `narrate`: say the student's system calls (not `try --no-trace`).
    Try {
        narrate: bool,
    },
    /// `progress` alone: every lesson; `progress ID|N`: that lesson's steps and the student's calls.
    Progress(Option<String>),
    /// `record FILE` starts a Markdown transcript; `record off` stops it.
    Record(Option<String>),
    Lang(Option<String>),
}

/// One REPL command: the word, its other spellings, its arguments as `help` shows them, the
/// catalog key of its help line, and how the rest of the line becomes a [`Command`]. Parsing,
/// "did you mean", completion and `help` all read [`COMMANDS`], so they cannot disagree.
pub struct CommandSpec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub args: &'static str,
    /// Key of the help line in `i18n::CATALOG`.
    pub help: &'static str,
    parse: fn(&Args) -> Result<Command, ParseError>,
}

/// The word as typed and the rest of the line, trimmed.
struct Args<'a> {
    word: &'a str,
    rest: &'a str,
}

impl Args<'_> {
    fn none(&self, c: Command) -> Result<Command, ParseError> {
        if self.rest.is_empty() {
            Ok(c)
        } else {
            Err(ParseError::NoArguments(self.word.to_string()))
        }
    }

    fn optional(&self) -> Option<String> {
        (!self.rest.is_empty()).then(|| self.rest.to_string())
    }

    fn command(&self) -> Result<String, ParseError> {
        nonempty(self.rest, self.word)
    }
}

const fn cmd(
    name: &'static str,
    args: &'static str,
    help: &'static str,
    parse: fn(&Args) -> Result<Command, ParseError>,
) -> CommandSpec {
    CommandSpec { name, aliases: &[], args, help, parse }
}

/// Every command, in the order `help` lists them.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec { aliases: &["?"], ..cmd("help", "", "help_help", |a| a.none(Command::Help)) },
    cmd("lessons", "", "help_lessons", |a| a.none(Command::Lessons)),
    cmd("lesson", "[ID|N]", "help_lesson", |a| Ok(Command::Lesson(a.optional()))),
    CommandSpec { aliases: &["n"], ..cmd("next", "", "help_next", |a| a.none(Command::Next)) },
    cmd("back", "", "help_back", |a| a.none(Command::Back)),
    cmd("again", "", "help_again", |a| a.none(Command::Again)),
    cmd("show", "", "help_show", |a| a.none(Command::Show)),
    cmd("state", "", "help_state", |a| a.none(Command::State)),
    cmd("diff", "", "help_diff", |a| a.none(Command::Diff)),
    cmd("hint", "", "help_hint", |a| a.none(Command::Hint)),
    cmd("reset", "", "help_reset", |a| match a.rest {
        "progress" => Ok(Command::ResetProgress),
        _ => a.none(Command::Reset),
    }),
    cmd("sh", "CMD", "help_sh", |a| a.command().map(Command::Sh)),
    cmd("host", "CMD", "help_host", |a| a.command().map(Command::Host)),
    cmd("compare", "CMD", "help_compare", |a| a.command().map(Command::Compare)),
    cmd("shell", "", "help_shell", |a| a.none(Command::Shell)),
    cmd("try", "[--no-trace]", "help_try", |a| match a.rest {
        "--no-trace" => Ok(Command::Try { narrate: false }),
        _ => a.none(Command::Try { narrate: true }),
    }),
    cmd("progress", "[ID|N]", "help_progress", |a| Ok(Command::Progress(a.optional()))),
    cmd("record", "FILE|off", "help_record", |a| Ok(Command::Record(a.optional()))),
    cmd("lang", "en|ko", "help_lang", |a| Ok(Command::Lang(a.optional()))),
    CommandSpec { aliases: &["exit", "q"], ..cmd("quit", "", "help_quit", |a| a.none(Command::Quit)) },
];

/// Every word that names a command, aliases too: what a typo is compared with.
pub fn names() -> Vec<&'static str> {
    COMMANDS.iter().flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied())).collect()
}

/// The command `word` names.
fn spec(word: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name == word || c.aliases.contains(&word))
}

/// `help`'s text: one line per command, in `lang`.
pub fn help(lang: Lang) -> String {
    let mut o = String::new();
    for c in COMMANDS {
        o.push_str(&format!("  {:<16} {}\n", format!("{} {}", c.name, c.args).trim_end(), t(lang, c.help)));
    }
    o
}

/// A line the grammar refuses; shown as one line in the session's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    NoArguments(String),
    NeedsCommand(String),
    Unknown { shown: String, nearest: Option<&'static str> },
}

impl ParseError {
    pub fn localized(&self, lang: Lang) -> String {
        match self {
            ParseError::NoArguments(w) => tf(lang, "no_args", &[w]),
            ParseError::NeedsCommand(w) => tf(lang, "needs_command", &[w]),
            ParseError::Unknown { shown, nearest: Some(s) } => tf(lang, "unknown_command_hint", &[shown, s]),
            ParseError::Unknown { shown, nearest: None } => tf(lang, "unknown_command", &[shown]),
        }
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.localized(Lang::En))
    }
}

pub fn parse(line: &str) -> Result<Command, ParseError> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(Command::Empty);
    }
    if let Some(cmd) = line.strip_prefix('!') {
        return nonempty(cmd, "!").map(Command::Sh);
    }
    let (word, rest) = match line.split_once(char::is_whitespace) {
        Some((w, r)) => (w, r.trim()),
        None => (line, ""),
    };
    match spec(word) {
        Some(c) => (c.parse)(&Args { word, rest }),
        None => {
            let shown: String = word.chars().take(40).collect();
            Err(ParseError::Unknown { shown, nearest: suggest::nearest(word, &names()) })
        }
    }
}

fn nonempty(s: &str, what: &str) -> Result<String, ParseError> {
    let s = s.trim();
    if s.is_empty() {
        Err(ParseError::NeedsCommand(what.to_string()))
    } else {
        Ok(s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_aliases() {
        assert_eq!(parse(""), Ok(Command::Empty));
        assert_eq!(parse("  next "), Ok(Command::Next));
        assert_eq!(parse("n"), Ok(Command::Next));
        assert_eq!(parse("lesson 4"), Ok(Command::Lesson(Some("4".into()))));
        assert_eq!(parse("lesson"), Ok(Command::Lesson(None)));
        assert_eq!(parse("!ls /"), Ok(Command::Sh("ls /".into())));
        assert_eq!(parse("host mount | grep x"), Ok(Command::Host("mount | grep x".into())));
        assert_eq!(parse("exit"), Ok(Command::Quit));
        assert_eq!(parse("reset progress"), Ok(Command::ResetProgress));
        assert_eq!(parse("compare hostname"), Ok(Command::Compare("hostname".into())));
        assert_eq!(parse("record /tmp/x.md"), Ok(Command::Record(Some("/tmp/x.md".into()))));
    }

    #[test]
    fn mistakes_get_one_clear_line() {
        let e = parse("nxt").unwrap_err().to_string();
        assert!(e.contains("did you mean `next`"), "{e}");
        assert!(parse("nxt").unwrap_err().localized(Lang::Ko).contains("혹시 `next` 말인가요?"));
        assert!(parse("next 3").unwrap_err().to_string().contains("takes no arguments"));
        assert!(parse("sh").is_err());
        assert!(parse("!").is_err());
        let e = parse("\u{0}\u{1b}[A").unwrap_err().to_string();
        assert!(!e.contains('\n'));
    }

    #[test]
    fn every_command_in_the_table_parses() {
        for c in COMMANDS {
            for word in std::iter::once(&c.name).chain(c.aliases) {
                let line = if c.args == "CMD" { format!("{word} ls /") } else { word.to_string() };
                let parsed = parse(&line);
                assert!(parsed.is_ok(), "`{line}`: {parsed:?}");
                assert_eq!(parsed, parse(&line.replacen(word, c.name, 1)), "`{word}` is not `{}`", c.name);
            }
        }
        let mut all = names();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), names().len(), "a word names two commands");
    }

    #[test]
    fn every_misspelt_command_suggests_its_name() {
        for c in COMMANDS.iter().filter(|c| c.name.len() > 2) {
            let typo = format!("{}{}", &c.name[..1], c.name);
            assert_eq!(parse(&typo), Err(ParseError::Unknown { shown: typo.clone(), nearest: Some(c.name) }), "{typo}");
        }
    }

    #[test]
    fn help_lists_every_command_in_both_languages() {
        let (en, ko) = (help(Lang::En), help(Lang::Ko));
        assert_eq!(en.lines().count(), COMMANDS.len());
        for (c, (e, k)) in COMMANDS.iter().zip(en.lines().zip(ko.lines())) {
            assert!(e.trim_start().starts_with(c.name) && k.trim_start().starts_with(c.name), "{e} / {k}");
            assert!(!t(Lang::En, c.help).is_empty(), "no help text `{}`", c.help);
            assert_ne!(e, k, "`{}` has no Korean help", c.name);
        }
        assert!(en.contains("record FILE|off") && en.contains("write what is shown to a Markdown file"));
        assert!(ko.contains("화면 내용을 Markdown 파일로 기록"));
    }
}
