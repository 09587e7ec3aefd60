//! The user interface in two languages: every message the REPL and the CLI
//! show a student, by key, in English and Korean.
//!
//! Lesson texts carry their own translations (`lesson::Text`); this is the
//! rest. Messages with values use `{0}`, `{1}` … in both languages, so the
//! Korean word order is free. Keys missing from the catalog are a bug: a
//! debug build panics, a release build shows the key rather than nothing.

mod catalog;
mod message;

pub use catalog::CATALOG;
pub use message::{io_error, msg, os_error};

use std::fmt::Display;

use crate::lesson::Lang;

/// The message `key` in `lang`, as is: from the catalog, or from the texts of the
/// typed messages (`crate::msg::TEXTS`, the same form), one table of keys for the UI.
pub fn t(lang: Lang, key: &str) -> &'static str {
    match CATALOG.iter().chain(crate::msg::TEXTS).find(|(k, _, _)| *k == key) {
        Some((_, en, ko)) => match lang {
            Lang::En => en,
            Lang::Ko => ko,
        },
        None => {
            debug_assert!(false, "no message `{key}` in the catalog");
            ""
        }
    }
}

/// The message `key` in `lang` with `{0}`, `{1}` … replaced by `args`.
pub fn tf(lang: Lang, key: &str, args: &[&dyn Display]) -> String {
    fill(t(lang, key), args)
}

/// The catalog's `{0}`, `{1}` … filled in: the one filler, `msg::fill`, which typed messages use too.
fn fill(template: &str, args: &[&dyn Display]) -> String {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    crate::msg::fill(template, &args)
}

/// "did you mean `x`?" after a message, or nothing.
pub fn did_you_mean(lang: Lang, suggestion: Option<&str>) -> String {
    suggestion.map(|s| tf(lang, "did_you_mean", &[&s])).unwrap_or_default()
}

/// Pad to `width` terminal columns (Korean letters take two).
pub fn pad(text: &str, width: usize) -> String {
    let w = textwrap::core::display_width(text);
    format!("{text}{}", " ".repeat(width.saturating_sub(w)))
}

/// A lab line as printed (`lab command:`, `dojo solve`): `$ …` for terminal #1, `terminal #2
/// $ …` for terminal #2, in the session's language.
pub fn lab_line(lang: Lang, line: &crate::lesson::LabLine) -> String {
    match line.terminal {
        crate::lesson::Terminal::One => format!("$ {}", line.text),
        crate::lesson::Terminal::Two => format!("{} $ {}", t(lang, "lab_terminal_2"), line.text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages that may read the same in both languages (only names and numbers in them).
    const SAME_IN_BOTH: &[&str] = &["rootfs_line", "cgroup_v1", "doctor_wsl", "doctor_wsl_value"];

    fn placeholders(s: &str) -> Vec<String> {
        let mut v: Vec<String> = s
            .match_indices('{')
            .filter_map(|(i, _)| {
                let n: String = s[i + 1..].chars().take_while(char::is_ascii_digit).collect();
                (!n.is_empty()).then_some(n)
            })
            .collect();
        v.sort();
        v.dedup();
        v
    }

    #[test]
    fn every_message_has_korean_with_the_same_values() {
        for (key, en, ko) in CATALOG {
            assert!(!en.trim().is_empty(), "{key}: empty English");
            assert!(!ko.trim().is_empty(), "{key}: empty Korean");
            if !SAME_IN_BOTH.contains(key) {
                assert_ne!(en, ko, "{key}: Korean is the English text");
                assert!(ko.chars().any(|c| ('\u{ac00}'..='\u{d7a3}').contains(&c)), "{key}: no Hangul in {ko:?}");
            }
            assert_eq!(placeholders(en), placeholders(ko), "{key}: the two languages take different values");
            // "30%", not "30 %"; no space before a particle glued to a value.
            assert!(!ko.contains(" %"), "{key}: {ko:?}");
        }
    }

    #[test]
    fn keys_are_unique() {
        for (i, (key, _, _)) in CATALOG.iter().enumerate() {
            assert!(!CATALOG[i + 1..].iter().any(|(k, _, _)| k == key), "{key} twice");
        }
    }

    #[test]
    fn values_fill_in_any_order() {
        assert_eq!(fill("{1} then {0}", &[&"a", &2]), "2 then a");
        assert_eq!(fill("{x} and {", &[]), "{x} and {");
        assert_eq!(tf(Lang::Ko, "back_before", &[&4]), "4단계 직전으로 돌아왔습니다");
        assert_eq!(tf(Lang::En, "back_before", &[&4]), "back before step 4");
    }

    #[test]
    fn padding_counts_korean_as_double_width() {
        assert_eq!(pad("커널:", 8), "커널:   ");
        assert_eq!(pad("kernel:", 8), "kernel: ");
    }
}

#[cfg(test)]
mod lab_line_tests {
    use super::*;
    use crate::lesson::{LabLine, Terminal};

    #[test]
    fn a_terminal_2_line_says_so_in_both_languages() {
        let line = |terminal| LabLine { terminal, text: "id".into() };
        assert_eq!(lab_line(Lang::En, &line(Terminal::One)), "$ id");
        assert_eq!(lab_line(Lang::En, &line(Terminal::Two)), "terminal #2 $ id");
        assert_eq!(lab_line(Lang::Ko, &line(Terminal::Two)), "터미널 #2 $ id");
    }
}
