//! Lessons: the curriculum as data.
//!
//! A lesson is a TOML file (see `docs/lessons.md`). Loading it validates
//! everything a workshop would otherwise trip over later: TOML syntax and
//! types, every action line, every expectation line, non-empty steps. Every
//! error names the file, line and column. The built-in lessons are compiled
//! into the binary so `sudo nsdojo` works from any folder.

pub mod action;
pub mod expect;
pub mod fact;
pub mod lab_command;
mod load;
mod shelf;
pub mod text;
pub mod trust;

use serde::Deserialize;
use toml::Spanned;

use crate::observe::View;

pub use action::{Action, HostAction, Ns, SandboxAction};
pub use expect::Expect;
pub use lab_command::{LabLine, Shell, Terminal};
pub use load::{
    builtin, builtin_selected, check_paths, duplicate_id, find, load_file, load_file_checked, load_paths,
    load_paths_checked, Checked, LoadError, BUILTIN,
};
pub use shelf::{Header, Shelf};
pub use text::{Lang, Text};

/// A validated lesson.
#[derive(Debug, Clone)]
pub struct Lesson {
    pub id: String,
    pub title: Text,
    pub intro: Text,
    /// Whether the lesson needs a root filesystem (`$ROOTFS`).
    pub rootfs: bool,
    pub steps: Vec<Step>,
    /// Where it came from (`builtin:mnt.toml` or a path), for messages.
    pub origin: String,
    /// Line and column of the id's value, for a duplicate-id error.
    pub id_at: (usize, usize),
}

#[derive(Debug, Clone)]
pub struct Step {
    pub text: Text,
    pub shell: Option<Shell>,
    pub actions: Vec<Action>,
    /// The action lines as written, for display (`$WORK` unexpanded).
    pub action_src: Vec<String>,
    pub show: Vec<View>,
    pub expects: Vec<Expect>,
    pub hint: Option<Text>,
    /// What the student is to achieve when doing the step themselves (`try` in the REPL): the
    /// goal in terms of the state the checks look at, never the command (that is `shell`).
    pub task: Option<Text>,
    /// The task cannot be done from terminal #1's shell alone: some of it is terminal #2's
    /// (the step's `do` has a host action), so the student needs a second terminal.
    pub task_needs_host: bool,
    /// Checks `try` judges besides `expects`: a student's shell has no action results
    /// (`step.X`, `action[N].X`), so a step checked only through them says here which kernel
    /// state shows it was done, or, for a step that only looks, the state it looks at.
    pub try_expects: Vec<Expect>,
    /// Actions whose removal no check of this step is expected to notice, with why.
    pub waivers: Vec<Waiver>,
    /// Why the step cannot be done by hand from its printed lab command: `nsdojo check --solve`
    /// reports it as waived, with this reason, instead of typing it.
    pub solve_waiver: Option<String>,
}

impl Step {
    /// What `try` judges: the checks of kernel state (a shell has no action results, so
    /// `step.X` and `action[N].X` are left to the lab) and the step's `try_expect`.
    pub fn try_checks(&self) -> Vec<&Expect> {
        let kernel = self.expects.iter().filter(|e| !e.facts().any(|f| matches!(f, fact::Fact::Result { .. })));
        kernel.chain(&self.try_expects).collect()
    }
}

/// `mutation_waiver = [{ action = N, why = "…" }]`: `nsdojo check --mutate` reports
/// this mutant as waived, with the reason, instead of as a survivor.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    /// 1-based, as in `action[N]`.
    pub action: usize,
    pub why: String,
}

/// `solve_waiver = { why = "…" }`: the step cannot be done by hand as printed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct SolveWaiver {
    why: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLesson {
    id: Spanned<String>,
    title: RawText,
    #[serde(default)]
    intro: Option<Text>,
    #[serde(default)]
    rootfs: bool,
    #[serde(default, rename = "step")]
    steps: Vec<Spanned<RawStep>>,
}

/// A [`Text`] that remembers where its `en` is (`Spanned<Text>` fails on dotted keys like `title.en`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawText {
    en: Spanned<String>,
    #[serde(default)]
    ko: Option<String>,
}

impl RawText {
    fn into_text(self) -> Text {
        Text { en: self.en.into_inner(), ko: self.ko }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    text: RawText,
    #[serde(default)]
    shell: Option<Spanned<lab_command::RawShell>>,
    #[serde(default, rename = "do")]
    actions: Vec<Spanned<String>>,
    #[serde(default)]
    show: Vec<Spanned<String>>,
    #[serde(default)]
    expect: Vec<Spanned<String>>,
    #[serde(default)]
    hint: Option<Text>,
    #[serde(default)]
    task: Option<RawText>,
    #[serde(default)]
    task_needs_host: Option<Spanned<bool>>,
    #[serde(default)]
    try_expect: Vec<Spanned<String>>,
    #[serde(default)]
    mutation_waiver: Vec<Spanned<Waiver>>,
    #[serde(default)]
    solve_waiver: Option<Spanned<SolveWaiver>>,
}

pub use crate::observe::view::SHOW_VIEWS;

/// A lesson file error: `file:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{col}: {message}")]
pub struct LessonError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..src.floor_char_boundary_compat(offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

trait FloorBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorBoundary for str {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        while i > 0 && !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

/// Largest lesson file we accept; a workshop lesson is a few KiB.
pub const MAX_LESSON_BYTES: usize = 1 << 20;

/// Parse and validate one lesson from its source text.
pub fn parse_lesson(file: &str, src: &str) -> Result<Lesson, LessonError> {
    let err_at = |offset: usize, message: String| {
        let (line, col) = line_col(src, offset);
        LessonError { file: file.to_string(), line, col, message }
    };
    if src.len() > MAX_LESSON_BYTES {
        return Err(LessonError {
            file: file.into(),
            line: 1,
            col: 1,
            message: format!("file is {} bytes; lessons are limited to {} bytes", src.len(), MAX_LESSON_BYTES),
        });
    }
    let raw: RawLesson = toml::from_str(src).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        let message = e.message().trim().replace('\n', " ");
        // toml gives no message when the input ends where a value should be (`key =`).
        let message = if message.is_empty() { "expected a value here".to_string() } else { message };
        err_at(offset, message)
    })?;

    let id = raw.id.get_ref().trim().to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(err_at(raw.id.span().start, "lesson id must be non-empty letters, digits, `-` or `_`".into()));
    }
    let id_at = line_col(src, raw.id.span().start);
    if raw.title.en.get_ref().trim().is_empty() {
        return Err(err_at(raw.title.en.span().start, "lesson title.en is empty".into()));
    }
    if raw.steps.is_empty() {
        return Err(err_at(src.len(), "lesson has no steps: add at least one [[step]]".into()));
    }

    let mut steps = Vec::with_capacity(raw.steps.len());
    for spanned in raw.steps {
        let step_at = spanned.span().start;
        let raw_step = spanned.into_inner();
        if raw_step.text.en.get_ref().trim().is_empty() {
            return Err(err_at(raw_step.text.en.span().start, "step text.en is empty".into()));
        }
        if raw_step.actions.is_empty() && raw_step.expect.is_empty() && raw_step.show.is_empty() {
            return Err(err_at(step_at, "step has nothing to do, show or expect".into()));
        }
        let mut actions = Vec::new();
        let mut action_src = Vec::new();
        for a in &raw_step.actions {
            let (start, line) = (string_content_start(src, a.span().start), a.get_ref());
            let parsed = action::parse_action(line).map_err(|e| err_at(start + e.offset, e.message))?;
            actions.push(parsed);
            action_src.push(line.clone());
        }
        let mut expects = Vec::new();
        for x in &raw_step.expect {
            let start = string_content_start(src, x.span().start);
            let parsed = expect::parse_expect(x.get_ref()).map_err(|e| err_at(start + e.offset, e.message))?;
            for f in parsed.facts() {
                if let fact::Fact::Result { action: Some(n), .. } = f {
                    if *n > actions.len() {
                        let msg = format!("`action[{n}]`: this step has {} action(s) in `do`", actions.len());
                        return Err(err_at(start, msg));
                    }
                }
            }
            expects.push(parsed);
        }
        let mut try_expects = Vec::new();
        for x in &raw_step.try_expect {
            let start = string_content_start(src, x.span().start);
            let parsed = expect::parse_expect(x.get_ref()).map_err(|e| err_at(start + e.offset, e.message))?;
            if parsed.facts().any(|f| matches!(f, fact::Fact::Result { .. })) {
                let msg =
                    "try_expect: a student's shell has no action results (`step.X`, `action[N].X`); check kernel state"
                        .into();
                return Err(err_at(start, msg));
            }
            try_expects.push(parsed);
        }
        if raw_step.task.is_none() && !try_expects.is_empty() {
            return Err(err_at(src.len().min(step_at), "try_expect without a task: add `task.en = \"…\"`".into()));
        }
        let mut waivers = Vec::new();
        for w in raw_step.mutation_waiver {
            let at = w.span().start;
            let w = w.into_inner();
            if w.action == 0 || w.action > actions.len() {
                return Err(err_at(
                    at,
                    format!("mutation_waiver: action {} is not in `do` (1 to {})", w.action, actions.len()),
                ));
            }
            if w.why.trim().len() < 10 {
                return Err(err_at(
                    at,
                    "mutation_waiver: say why no check can notice this action (`why = \"…\"`)".into(),
                ));
            }
            waivers.push(w);
        }
        let solve_waiver = match raw_step.solve_waiver {
            Some(w) if w.get_ref().why.trim().len() < 10 => {
                let msg = "solve_waiver: say why the step cannot be done by hand (`why = \"…\"`)".into();
                return Err(err_at(w.span().start, msg));
            }
            Some(w) => Some(w.into_inner().why.trim().to_string()),
            None => None,
        };
        if let Some(t) = &raw_step.task {
            if t.en.get_ref().trim().is_empty() {
                return Err(err_at(t.en.span().start, "step task.en is empty".into()));
            }
        }
        if let (None, Some(needs)) = (&raw_step.task, &raw_step.task_needs_host) {
            return Err(err_at(needs.span().start, "task_needs_host without a task: add `task.en = \"…\"`".into()));
        }
        let mut show = Vec::new();
        for s in &raw_step.show {
            let view = View::parse(s.get_ref())
                .map_err(|e| err_at(string_content_start(src, s.span().start), e.to_string()))?;
            show.push(view);
        }
        let shell = match raw_step.shell {
            Some(sh) => {
                let at = sh.span();
                // A list item `{ t2 = "…" }` is pointed at its brace, a string at its first character.
                let content = |start: usize| match src.as_bytes().get(start) {
                    Some(b'"' | b'\'') => string_content_start(src, start),
                    _ => start,
                };
                Some(sh.into_inner().validate(at, content).map_err(|e| err_at(e.at, e.message))?)
            }
            None => None,
        };
        steps.push(Step {
            text: raw_step.text.into_text(),
            shell,
            actions,
            action_src,
            show,
            expects,
            hint: raw_step.hint,
            task: raw_step.task.map(RawText::into_text),
            task_needs_host: raw_step.task_needs_host.is_some_and(|b| *b.get_ref()),
            try_expects,
            waivers,
            solve_waiver,
        });
    }
    Ok(Lesson {
        id,
        title: raw.title.into_text(),
        intro: raw.intro.unwrap_or_default(),
        rootfs: raw.rootfs,
        steps,
        origin: file.to_string(),
        id_at,
    })
}

/// A TOML string's span starts at its opening quote; positions inside the
/// string are one (basic/literal) or three (multi-line) bytes further.
fn string_content_start(src: &str, span_start: usize) -> usize {
    let rest = &src[span_start.min(src.len())..];
    if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
        span_start + 3
    } else {
        span_start + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "demo"
title.en = "Demo"
title.ko = "데모"

[[step]]
text.en = "Give terminal #1 its own mount table."
shell = "unshare -m"
do = ["unshare mnt"]
show = ["ns"]
expect = ["sandbox.ns.mnt != host.ns.mnt"]
"#;

    #[test]
    fn builtin_lessons_parse() {
        let all = builtin();
        assert!(all.len() >= 2);
        assert!(all.iter().all(|l| !l.steps.is_empty()));
    }

    #[test]
    fn every_builtin_text_has_korean() {
        for l in builtin() {
            let mut texts = vec![(format!("{} title", l.id), &l.title)];
            if !l.intro.is_empty() {
                texts.push((format!("{} intro", l.id), &l.intro));
            }
            for (i, s) in l.steps.iter().enumerate() {
                texts.push((format!("{} step {}", l.id, i + 1), &s.text));
                if let Some(h) = &s.hint {
                    texts.push((format!("{} hint {}", l.id, i + 1), h));
                }
                if let Some(t) = &s.task {
                    texts.push((format!("{} task {}", l.id, i + 1), t));
                }
            }
            for (what, t) in texts {
                let ko = t.get(Lang::Ko);
                assert!(!ko.starts_with("[en]"), "{what} has no Korean");
                // Korean text, or deliberately the same (a formula reads the same in both).
                let hangul = ko.chars().any(|c| ('\u{ac00}'..='\u{d7a3}').contains(&c));
                assert!(hangul || ko == t.get(Lang::En), "{what}: {ko}");
            }
            assert!(l.steps.iter().all(|s| s.hint.is_some()), "{}: every step has a hint", l.id);
        }
    }

    /// `try` (issue 15) shows a step's task: every built-in step has one, in both languages,
    /// that does not give the solution away, and `task_needs_host` is set exactly where part of
    /// the step is terminal #2's (a host action in `do`, alone or mixed with sandbox actions).
    #[test]
    fn every_builtin_step_has_a_task_and_says_whether_it_needs_terminal_2() {
        let mut missing = Vec::new();
        for l in builtin() {
            for (i, s) in l.steps.iter().enumerate() {
                let at = format!("{} step {}", l.id, i + 1);
                let Some(task) = &s.task else {
                    missing.push(at);
                    continue;
                };
                let ko = task.ko.as_deref().unwrap_or_else(|| panic!("{at}: the task has no task.ko"));
                assert!(
                    ko.chars().any(|c| ('\u{ac00}'..='\u{d7a3}').contains(&c)),
                    "{at}: task.ko is not Korean: {ko}"
                );
                let host = s.actions.iter().any(Action::is_host);
                assert_eq!(
                    s.task_needs_host,
                    host,
                    "{at}: task_needs_host must be {host}: its `do` {} a host action ({:?})",
                    if host { "has" } else { "has no" },
                    s.action_src
                );
                if host {
                    let both = [task.en.as_str(), ko];
                    assert!(both.iter().all(|t| t.contains("#2")), "{at}: the task must say what terminal #2 does");
                }
                for line in s.shell.iter().flat_map(|sh| sh.all_lines()).map(|l| l.text.as_str()) {
                    assert!(
                        !task.en.contains(line) && !ko.contains(line),
                        "{at}: the task gives the solution away (`{line}`): say what to achieve, not the command"
                    );
                }
            }
        }
        assert!(missing.is_empty(), "steps without a task (task.en, task.ko): {missing:?}");
    }

    /// `try` ticks a step when its try checks hold: every built-in step with a task has at least
    /// one, so no task can be done without a tick or ticked without being judged.
    #[test]
    fn every_builtin_task_has_checks_a_shell_can_satisfy() {
        let unjudged: Vec<String> = builtin()
            .iter()
            .flat_map(|l| {
                l.steps
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.task.is_some() && s.try_checks().is_empty())
                    .map(move |(i, _)| format!("{} step {}", l.id, i + 1))
            })
            .collect();
        assert!(unjudged.is_empty(), "tasks checked only through action results; add try_expect: {unjudged:?}");
    }

    #[test]
    fn try_expect_names_kernel_state_only_and_needs_a_task() {
        let task = "show = [\"ns\"]\ntask.en = \"Look.\"\n";
        let ok = GOOD.replace("show = [\"ns\"]", &format!("{task}try_expect = [\"sandbox.hostname == box\"]"));
        let s = &parse_lesson("demo.toml", &ok).unwrap().steps[0];
        assert_eq!(s.try_expects.len(), 1);
        let srcs: Vec<String> = s.try_checks().iter().map(|e| e.to_string()).collect();
        assert_eq!(srcs.last().map(String::as_str), Some("sandbox.hostname == box"));
        let e = error_of(&GOOD.replace("show = [\"ns\"]", &format!("{task}try_expect = [\"step.status == 0\"]")));
        assert!(e.message.contains("no action results"), "{e}");
        assert_eq!(e.line, 12, "{e}");
        let e = error_of(&GOOD.replace("show = [\"ns\"]", "show = [\"ns\"]\ntry_expect = [\"sandbox.uid == 0\"]"));
        assert!(e.message.contains("without a task"), "{e}");
    }

    #[test]
    fn parses_a_good_lesson() {
        let l = parse_lesson("demo.toml", GOOD).unwrap();
        assert_eq!(l.id, "demo");
        assert_eq!(l.steps.len(), 1);
        assert_eq!(l.steps[0].actions, vec![Action::Sandbox(SandboxAction::Unshare(vec![Ns::Mnt]))]);
        assert_eq!(l.title.get(Lang::Ko), "데모");
    }

    fn error_of(src: &str) -> LessonError {
        parse_lesson("x.toml", src).unwrap_err()
    }

    #[test]
    fn bad_action_points_into_the_string() {
        let src = GOOD.replace("\"unshare mnt\"", "\"unshare mnt bogus\"");
        let e = error_of(&src);
        assert_eq!((e.line, e.col), (9, 20), "{e}");
        assert!(e.message.contains("unknown namespace"));
        assert!(e.to_string().starts_with("x.toml:9:20: "));
    }

    #[test]
    fn bad_expectation_and_unknown_key_and_syntax() {
        let e = error_of(&GOOD.replace("!= host", "~= host"));
        assert_eq!(e.line, 11);
        assert_eq!(e.col, 26);
        let e = error_of(&GOOD.replace("shell =", "shel ="));
        assert_eq!(e.line, 8);
        assert!(e.message.contains("unknown field"), "{e}");
        let e = error_of(&GOOD.replace("show = [\"ns\"]", "show = [\"ns\""));
        assert!(e.line >= 10, "{e}");
        let e = error_of(&GOOD.replace("show = [\"ns\"]", "show = [\"nope\"]"));
        assert!(e.message.contains("unknown view"), "{e}");
        let e = error_of("id = \"x\"\ntitle.en = \"X\"\n");
        assert!(e.message.contains("no steps"), "{e}");
    }

    #[test]
    fn a_step_may_have_a_task_for_try() {
        let l = parse_lesson("demo.toml", GOOD).unwrap();
        assert_eq!((l.steps[0].task.as_ref(), l.steps[0].task_needs_host), (None, false));
        let with = GOOD.replace(
            "show = [\"ns\"]",
            "show = [\"ns\"]\ntask.en = \"Give terminal #1 its own mount table.\"\ntask.ko = \"터미널 #1에 자기만의 마운트 테이블을 주세요.\"\ntask_needs_host = true",
        );
        let s = &parse_lesson("demo.toml", &with).unwrap().steps[0];
        assert_eq!(
            s.task.as_ref().map(|t| t.get(Lang::Ko)).as_deref(),
            Some("터미널 #1에 자기만의 마운트 테이블을 주세요.")
        );
        assert!(s.task_needs_host);
        let inline =
            GOOD.replace("show = [\"ns\"]", "show = [\"ns\"]\ntask = { en = \"Find out.\" }\ntask_needs_host = false");
        let s = &parse_lesson("demo.toml", &inline).unwrap().steps[0];
        assert_eq!(
            (s.task.as_ref().map(|t| t.get(Lang::Ko)).as_deref(), s.task_needs_host),
            (Some("[en] Find out."), false)
        );

        let e = error_of(&GOOD.replace("show = [\"ns\"]", "show = [\"ns\"]\ntask.en = \" \""));
        assert_eq!((e.line, e.message.as_str()), (11, "step task.en is empty"), "{e}");
        let e = error_of(&GOOD.replace("show = [\"ns\"]", "show = [\"ns\"]\ntask.ko = \"한국어만\""));
        assert!(e.message.contains("en"), "{e}");
        let e = error_of(&GOOD.replace("show = [\"ns\"]", "show = [\"ns\"]\ntask.en = \"x\"\ntask.fr = \"y\""));
        assert!(e.message.contains("unknown field"), "{e}");
        let e = error_of(&GOOD.replace("show = [\"ns\"]", "show = [\"ns\"]\ntask_needs_host = true"));
        assert_eq!(e.line, 11, "{e}");
        assert!(e.message.contains("without a task"), "{e}");
        let e =
            error_of(&GOOD.replace("show = [\"ns\"]", "show = [\"ns\"]\ntask.en = \"x\"\ntask_needs_host = \"yes\""));
        assert!(e.message.contains("bool"), "{e}");
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\n한글x", 3 + 6), (2, 3));
        assert_eq!(line_col("abc", 0), (1, 1));
    }

    #[test]
    fn selected_builtins_match_the_full_list() {
        let all = builtin();
        for (i, l) in all.iter().enumerate() {
            assert_eq!(load::declared_id(BUILTIN[i].1), Some(l.id.as_str()));
            let by_id = builtin_selected(std::slice::from_ref(&l.id)).unwrap();
            let by_number = builtin_selected(&[(i + 1).to_string()]).unwrap();
            assert_eq!((by_id[0].id.as_str(), by_number[0].id.as_str()), (l.id.as_str(), l.id.as_str()));
        }
        assert!(builtin_selected(&["nope".into()]).is_none());
        assert!(builtin_selected(&["0".into()]).is_none());
    }

    #[test]
    fn find_by_number_or_id() {
        let all = builtin();
        assert_eq!(find(&all, "1").map(|(i, _)| i), Some(0));
        assert_eq!(find(&all, "uts").map(|(_, l)| l.id.as_str()), Some("uts"));
        assert!(find(&all, "0").is_none());
        assert!(find(&all, "99").is_none());
    }
}
