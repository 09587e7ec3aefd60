//! The REPL's command grammar: one word, then arguments.

use crate::i18n::tf;
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
    Try,
    Progress,
    /// `record FILE` starts a Markdown transcript; `record off` stops it.
    Record(Option<String>),
    Lang(Option<String>),
}

/// (name, arguments, English help, Korean help)
pub const COMMANDS: &[(&str, &str, &str, &str)] = &[
    ("help", "", "this list", "이 목록"),
    ("lessons", "", "list the lessons", "레슨 목록"),
    (
        "lesson",
        "[ID|N]",
        "start a lesson by id or number (alone: where you are)",
        "id나 번호로 레슨 시작 (인자 없이: 현재 위치)",
    ),
    ("next", "", "run the next step", "다음 단계 실행"),
    ("back", "", "go back one step (replays the steps before it)", "한 단계 뒤로 (그 앞 단계들을 다시 실행)"),
    ("again", "", "re-run the current step from a fresh sandbox", "현재 단계를 새 샌드박스에서 다시 실행"),
    ("show", "", "show the current step's text again", "현재 단계 설명 다시 보기"),
    ("state", "", "full snapshot of both sides", "양쪽의 전체 상태 스냅샷"),
    ("diff", "", "what the last step changed", "마지막 단계에서 바뀐 것"),
    ("hint", "", "a hint for the current step", "현재 단계 힌트"),
    ("reset", "", "tear down the sandbox and restart the lesson", "샌드박스를 지우고 레슨 재시작"),
    ("sh", "CMD", "run CMD inside the sandbox (also !CMD)", "샌드박스 안에서 CMD 실행 (!CMD도 가능)"),
    ("host", "CMD", "run CMD on the host", "호스트에서 CMD 실행"),
    ("compare", "CMD", "run CMD on both sides, outputs side by side", "양쪽에서 CMD를 실행하고 출력을 나란히 비교"),
    ("shell", "", "an interactive shell inside the sandbox (exit returns)", "샌드박스 안의 대화형 셸 (exit로 복귀)"),
    (
        "try",
        "",
        "do the next step yourself in terminal #1's shell; nsdojo checks it live (exit returns)",
        "다음 단계를 터미널 #1의 셸에서 직접 해 보기; nsdojo가 실시간으로 확인 (exit로 복귀)",
    ),
    (
        "progress",
        "",
        "steps done so far (`reset progress` forgets them)",
        "지금까지 마친 단계 (`reset progress`로 초기화)",
    ),
    ("record", "FILE|off", "write what is shown to a Markdown file", "화면 내용을 Markdown 파일로 기록"),
    ("lang", "en|ko", "switch language", "언어 변경"),
    ("quit", "", "leave (also exit, Ctrl-D)", "종료 (exit, Ctrl-D도 가능)"),
];

const ALIASES: &[&str] = &["exit", "n", "q", "?"];

pub fn names() -> Vec<&'static str> {
    COMMANDS.iter().map(|c| c.0).chain(ALIASES.iter().copied()).collect()
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
    let no_args = |c: Command| {
        if rest.is_empty() {
            Ok(c)
        } else {
            Err(ParseError::NoArguments(word.to_string()))
        }
    };
    match word {
        "help" | "?" => no_args(Command::Help),
        "lessons" => no_args(Command::Lessons),
        "lesson" => Ok(Command::Lesson((!rest.is_empty()).then(|| rest.to_string()))),
        "next" | "n" => no_args(Command::Next),
        "back" => no_args(Command::Back),
        "again" => no_args(Command::Again),
        "show" => no_args(Command::Show),
        "state" => no_args(Command::State),
        "diff" => no_args(Command::Diff),
        "hint" => no_args(Command::Hint),
        "reset" if rest == "progress" => Ok(Command::ResetProgress),
        "reset" => no_args(Command::Reset),
        "compare" => nonempty(rest, "compare").map(Command::Compare),
        "shell" => no_args(Command::Shell),
        "try" => no_args(Command::Try),
        "progress" => no_args(Command::Progress),
        "record" => Ok(Command::Record((!rest.is_empty()).then(|| rest.to_string()))),
        "quit" | "exit" | "q" => no_args(Command::Quit),
        "sh" => nonempty(rest, "sh").map(Command::Sh),
        "host" => nonempty(rest, "host").map(Command::Host),
        "lang" => Ok(Command::Lang((!rest.is_empty()).then(|| rest.to_string()))),
        other => {
            let shown: String = other.chars().take(40).collect();
            Err(ParseError::Unknown { shown, nearest: suggest::nearest(other, &names()) })
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
}
