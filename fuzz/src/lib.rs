//! The invariants the fuzz targets check, one function per target.
//!
//! Each returns `Err(why)` when an invariant breaks (a fuzz target panics on
//! it, so libFuzzer records the input); a panic inside the parser itself
//! propagates as is. `tests/it/fuzz_corpus.rs` includes this file with
//! `#[path]` and runs the committed corpora and `fuzz/regressions/` through
//! the same functions, so the fuzzers and `cargo test` check one thing.

use nsdojo::lesson::{self, action, expect, LessonError};
use nsdojo::repl::command::{self, Command};

/// The file name every fuzzed lesson is parsed as.
pub(super) const FILE: &str = "fuzz.toml";

/// An error message is printed as the tail of one `file:line:col: message` line.
fn one_line(what: &str, message: &str) -> Result<(), String> {
    if message.trim().is_empty() {
        return Err(format!("{what}: empty error message"));
    }
    if message.contains(['\n', '\r']) {
        return Err(format!("{what}: error message spans lines: {message:?}"));
    }
    Ok(())
}

/// `nsdojo::lesson::parse_lesson` on arbitrary UTF-8.
pub(super) fn lesson(src: &str) -> Result<(), String> {
    match lesson::parse_lesson(FILE, src) {
        Ok(l) => {
            if l.id.is_empty() || !l.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(format!("accepted a lesson with id {:?}", l.id));
            }
            if l.title.is_empty() {
                return Err("accepted a lesson with an empty title".into());
            }
            if l.steps.is_empty() {
                return Err("accepted a lesson without steps".into());
            }
            for (i, s) in l.steps.iter().enumerate() {
                if s.text.is_empty() {
                    return Err(format!("step {}: accepted an empty text", i + 1));
                }
                if s.actions.is_empty() && s.show.is_empty() && s.expects.is_empty() {
                    return Err(format!("step {}: accepted a step with nothing to do", i + 1));
                }
                if s.actions.len() != s.action_src.len() {
                    return Err(format!(
                        "step {}: {} actions but {} sources",
                        i + 1,
                        s.actions.len(),
                        s.action_src.len()
                    ));
                }
                for (a, src) in s.actions.iter().zip(&s.action_src) {
                    if action::parse_action(src).as_ref() != Ok(a) {
                        return Err(format!("step {}: action source {src:?} does not parse back to {a:?}", i + 1));
                    }
                }
                for e in &s.expects {
                    expect_round_trips(e)?;
                }
            }
            Ok(())
        }
        Err(e) => lesson_error(src, &e),
    }
}

/// A lesson error names the file and a real position (1-based, inside the text or just past a line's end).
fn lesson_error(src: &str, e: &LessonError) -> Result<(), String> {
    one_line("lesson", &e.message)?;
    if e.file != FILE {
        return Err(format!("error names file {:?}, not {FILE:?}", e.file));
    }
    if e.line == 0 || e.col == 0 {
        return Err(format!("line and column are 1-based, got {}:{}", e.line, e.col));
    }
    let Some(text) = src.split('\n').nth(e.line - 1) else {
        return Err(format!("line {} is past the end ({} lines): {e}", e.line, src.split('\n').count()));
    };
    let width = text.chars().count() + 1;
    if e.col > width {
        return Err(format!("column {} is past the end of line {} ({width} columns): {e}", e.col, e.line));
    }
    let shown = e.to_string();
    if !shown.starts_with(&format!("{FILE}:{}:{}: ", e.line, e.col)) {
        return Err(format!("Display is not `file:line:col: message`: {shown:?}"));
    }
    Ok(())
}

/// `nsdojo::lesson::action::parse_action` on one line.
pub(super) fn action(line: &str) -> Result<(), String> {
    let first = action::parse_action(line);
    if let Err(e) = &first {
        if e.offset > line.len() {
            return Err(format!("error offset {} is past the line ({} bytes)", e.offset, line.len()));
        }
        one_line("action", &e.message)?;
    }
    // Blanks around the line move an error one byte right and change nothing else.
    if !line.trim().is_empty() {
        let padded = action::parse_action(&format!(" {line} "));
        let shifted = first.clone().map_err(|e| action::ParseError { offset: e.offset + 1, message: e.message });
        if padded != shifted {
            return Err(format!("{line:?} parses to {first:?} but padded with blanks to {padded:?}"));
        }
    }
    Ok(())
}

/// `nsdojo::lesson::expect::parse_expect` on one line.
pub(super) fn expect(line: &str) -> Result<(), String> {
    match expect::parse_expect(line) {
        Ok(e) => expect_round_trips(&e),
        Err(e) => {
            if e.offset > line.len() {
                return Err(format!("error offset {} is past the line ({} bytes)", e.offset, line.len()));
            }
            one_line("expect", &e.message)
        }
    }
}

/// What the REPL and the step view print for an expectation reads back as the same expectation.
fn expect_round_trips(e: &expect::Expect) -> Result<(), String> {
    let shown = e.to_string();
    match expect::parse_expect(&shown) {
        Ok(back) if back == *e => Ok(()),
        other => Err(format!("{e:?} prints as {shown:?}, which parses to {other:?}")),
    }
}

/// `nsdojo::repl::command::parse` on arbitrary bytes, as the terminal may send them.
pub(super) fn repl_command(bytes: &[u8]) -> Result<(), String> {
    let line = String::from_utf8_lossy(bytes);
    let parsed = command::parse(&line);
    match &parsed {
        Ok(Command::Sh(s) | Command::Host(s) | Command::Compare(s)) if s.is_empty() || s.trim() != s => {
            return Err(format!("{line:?}: command text {s:?} is empty or untrimmed"));
        }
        Ok(Command::Lesson(Some(s)) | Command::Lang(Some(s)) | Command::Record(Some(s)))
            if s.is_empty() || s.trim() != s =>
        {
            return Err(format!("{line:?}: argument {s:?} is empty or untrimmed"));
        }
        Ok(_) => {}
        Err(e) => {
            // The message is one line in either language.
            for lang in [nsdojo::lesson::Lang::En, nsdojo::lesson::Lang::Ko] {
                let m = e.localized(lang);
                one_line("repl", &m)?;
                if m.chars().count() > 200 {
                    return Err(format!("{line:?}: error message of {} characters", m.chars().count()));
                }
            }
        }
    }
    // The line editor may leave blanks around a line; they change nothing.
    let padded = command::parse(&format!(" {line}\t"));
    if padded != parsed {
        return Err(format!("{line:?} parses to {parsed:?} but padded with blanks to {padded:?}"));
    }
    Ok(())
}

/// A fresh, empty scratch directory for one input (no tempfile crate here: the fuzz crate
/// and `cargo test` both include this file).
fn scratch() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "fuzz-scratch-nsdojo-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir(&d).expect("scratch dir");
    d
}

/// `nsdojo::rootfs::read_elf` on arbitrary bytes: no panic (no overflow either, in debug
/// builds), and an error is one line.
pub(super) fn elf(bytes: &[u8]) -> Result<(), String> {
    let dir = scratch();
    let file = dir.join("prog");
    std::fs::write(&file, bytes).map_err(|e| e.to_string())?;
    let res = nsdojo::rootfs::read_elf(&file);
    let _ = std::fs::remove_dir_all(&dir);
    match res {
        Ok(_) => Ok(()),
        Err(e) => one_line("elf", &e.to_string()),
    }
}

/// `nsdojo::rootfs::unpack` on arbitrary bytes as a tarball: no panic, an error is one line,
/// and nothing appears outside the root it unpacks into (no `..`, no write through a link).
pub(super) fn tar(bytes: &[u8]) -> Result<(), String> {
    let dir = scratch();
    let tarball = dir.join("in.tar");
    let root = dir.join("root");
    let outside = dir.join("outside");
    std::fs::write(&tarball, bytes).map_err(|e| e.to_string())?;
    std::fs::create_dir(&root).map_err(|e| e.to_string())?;
    std::fs::create_dir(&outside).map_err(|e| e.to_string())?;
    let res = nsdojo::rootfs::unpack(&tarball, &root);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let outside_empty = std::fs::read_dir(&outside).map(|mut d| d.next().is_none()).unwrap_or(false);
    let _ = std::fs::remove_dir_all(&dir);
    if names != ["in.tar", "outside", "root"] || !outside_empty {
        return Err(format!("unpacking wrote outside the root: {names:?}, outside empty: {outside_empty}"));
    }
    match res {
        Ok(_) => Ok(()),
        Err(e) => one_line("tar", &e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn good_inputs_hold() {
        for l in nsdojo::lesson::BUILTIN {
            super::lesson(l.1).unwrap();
        }
        super::action("unshare mnt uts").unwrap();
        super::expect("sandbox.ns.mnt != host.ns.mnt").unwrap();
        super::repl_command(b"lesson uts").unwrap();
    }
}
