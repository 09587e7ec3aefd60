//! A step's lab command as the lines a student types, each with the terminal it belongs to.
//! `dojo solve`, the printed `lab command:` and `nsdojo check --solve` (which types them into
//! a real try shell and a host shell) read the same lines through [`Shell::lines`], so what is
//! printed is what is proved to pass.
//!
//! In a lesson file (`docs/lessons.md`), `shell` is one line for terminal #1, or a list whose
//! items are a string (terminal #1) or `{ t2 = "…" }` (terminal #2, a root shell on the host),
//! or, only where the cgroup layouts need different commands, `{ v1 = …, v2 = … }` holding one
//! of those each. Which terminal a line is typed in is data, not a comment a reader must spot.

use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

/// Where a lab line is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Terminal {
    /// Terminal #1: the student's shell, the one `try` opens.
    One,
    /// Terminal #2: a root shell on the host.
    Two,
}

/// One line of a lab command.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LabLine {
    pub terminal: Terminal,
    pub text: String,
}

/// A step's lab command, validated: the same lines on every layout, or one list per layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shell {
    Any(Vec<LabLine>),
    ByCgroup { v1: Vec<LabLine>, v2: Vec<LabLine> },
}

impl Shell {
    /// The lines for this machine's cgroup layout (`v2` on a unified host), in the order typed.
    pub fn lines(&self, cgroup_v2: bool) -> Vec<LabLine> {
        self.pick(cgroup_v2).to_vec()
    }

    /// The lines for one layout, borrowed.
    pub fn pick(&self, cgroup_v2: bool) -> &[LabLine] {
        match self {
            Shell::Any(l) => l,
            Shell::ByCgroup { v2, .. } if cgroup_v2 => v2,
            Shell::ByCgroup { v1, .. } => v1,
        }
    }

    /// Every line of every layout, for checks over the whole lesson.
    pub fn all_lines(&self) -> impl Iterator<Item = &LabLine> {
        self.pick(false).iter().chain(match self {
            Shell::Any(_) => [].iter(),
            Shell::ByCgroup { v2, .. } => v2.iter(),
        })
    }
}

/// `shell` as the file holds it, each line with the byte range of its string where it has one
/// (a bare string's line has none: the span of the value around it is the line's).
#[derive(Debug)]
pub(super) enum RawShell {
    Any(RawLines),
    ByCgroup { v1: Spanned<RawLines>, v2: Spanned<RawLines> },
}

#[derive(Debug)]
pub(super) struct RawLines(Vec<(Option<Range<usize>>, LabLine)>);

/// What a list item may be.
const LINE_SHAPE: &str = "a string (a terminal #1 line) or { t2 = \"…\" } (a terminal #2 line)";
const SHELL_SHAPE: &str = "a string, a list of lines (each a string for terminal #1 or { t2 = \"…\" } for terminal #2), or { v1 = …, v2 = … } where the cgroup layouts differ";

struct RawLine(LabLine);

impl<'de> Deserialize<'de> for RawLine {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawLine;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(LINE_SHAPE)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawLine, E> {
                Ok(RawLine(LabLine { terminal: Terminal::One, text: s.to_string() }))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawLine, A::Error> {
                let mut text = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key != "t2" || text.is_some() {
                        return Err(de::Error::custom(format!("unknown key `{key}` in a lab line: {LINE_SHAPE}")));
                    }
                    text = Some(map.next_value::<String>()?);
                }
                let text = text.ok_or_else(|| de::Error::custom(format!("an empty table: {LINE_SHAPE}")))?;
                Ok(RawLine(LabLine { terminal: Terminal::Two, text }))
            }
        }
        d.deserialize_any(V)
    }
}

/// A string or a list of lines: one layout's.
struct LinesVisitor;

impl<'de> Visitor<'de> for LinesVisitor {
    type Value = RawLines;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(SHELL_SHAPE)
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<RawLines, E> {
        Ok(RawLines(vec![(None, LabLine { terminal: Terminal::One, text: s.to_string() })]))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawLines, A::Error> {
        let mut lines = Vec::new();
        while let Some(l) = seq.next_element::<Spanned<RawLine>>()? {
            let span = l.span();
            lines.push((Some(span), l.into_inner().0));
        }
        Ok(RawLines(lines))
    }
}

impl<'de> Deserialize<'de> for RawLines {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LinesVisitor)
    }
}

impl<'de> Deserialize<'de> for RawShell {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawShell;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(SHELL_SHAPE)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawShell, E> {
                LinesVisitor.visit_str(s).map(RawShell::Any)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RawShell, A::Error> {
                LinesVisitor.visit_seq(seq).map(RawShell::Any)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawShell, A::Error> {
                let (mut v1, mut v2) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    let slot = match key.as_str() {
                        "v1" if v1.is_none() => &mut v1,
                        "v2" if v2.is_none() => &mut v2,
                        "t2" => {
                            return Err(de::Error::custom(
                                "a terminal #2 line goes in a list: shell = [\"…\", { t2 = \"…\" }]",
                            ))
                        }
                        _ => return Err(de::Error::custom(format!("unknown key `{key}`: {SHELL_SHAPE}"))),
                    };
                    *slot = Some(map.next_value::<Spanned<RawLines>>()?);
                }
                match (v1, v2) {
                    (Some(v1), Some(v2)) => Ok(RawShell::ByCgroup { v1, v2 }),
                    _ => Err(de::Error::custom(format!("both v1 = … and v2 = … are needed: {SHELL_SHAPE}"))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A line that cannot be typed as written: what is wrong, and the byte in the file where.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct LineError {
    pub at: usize,
    pub message: String,
}

impl RawShell {
    /// Check every line; `at` is the span of the whole `shell` value, `content` maps a string's
    /// span start to its first character.
    pub(super) fn validate(self, at: Range<usize>, content: impl Fn(usize) -> usize) -> Result<Shell, LineError> {
        let check = |lines: RawLines, around: Range<usize>| -> Result<Vec<LabLine>, LineError> {
            if lines.0.is_empty() {
                return Err(LineError {
                    at: around.start,
                    message: "a lab command with no lines: give at least one".into(),
                });
            }
            let mut out = Vec::with_capacity(lines.0.len());
            for (span, line) in lines.0 {
                let at = content(span.unwrap_or(around.clone()).start);
                if let Some(message) = line_problem(&line) {
                    return Err(LineError { at, message });
                }
                out.push(line);
            }
            Ok(out)
        };
        Ok(match self {
            RawShell::Any(lines) => Shell::Any(check(lines, at)?),
            RawShell::ByCgroup { v1, v2 } => {
                let (s1, s2) = (v1.span(), v2.span());
                Shell::ByCgroup { v1: check(v1.into_inner(), s1)?, v2: check(v2.into_inner(), s2)? }
            }
        })
    }
}

/// What makes a line wrong to print: what a student would type and fail with.
fn line_problem(line: &LabLine) -> Option<String> {
    let text = line.text.as_str();
    if text.trim().is_empty() {
        return Some("an empty lab line".into());
    }
    if text.contains('\n') {
        return Some("a lab line holds one command line: make each its own item of a list".into());
    }
    if text.trim_end().ends_with("# terminal #2") || text.contains("# in terminal #2") {
        return Some("mark a terminal #2 line as { t2 = \"…\" }, not with a comment".into());
    }
    if text.contains("<PID>") {
        return Some("`<PID>` is typed literally: use $PID, which the printout fills in".into());
    }
    if line.terminal == Terminal::Two && text.contains("$$") {
        return Some("`$$` in terminal #2 is terminal #2's own shell: use $PID for terminal #1's shell".into());
    }
    None
}

#[cfg(test)]
#[path = "lab_command_tests.rs"]
mod tests;
