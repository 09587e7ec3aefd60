//! What `nsdojo check` prints: a line per lesson file, and with `--mutate` a line per mutant
//! and the score. The work is in `lesson::check_paths` and `lab::mutate`; this only words it.

use colored::Colorize;

use crate::i18n::{pad, t, tf};
use crate::lab::mutate::{Mutant, MutantVerdict, Score};
use crate::lesson::{Checked, Lang};

/// A checked file's line: `file: ok (id, N steps)`, or the error as `file:line:col: message`
/// (which goes to stderr).
pub fn checked_line(lang: Lang, c: &Checked) -> String {
    match c {
        Checked::Valid { file, lesson } => {
            tf(lang, "lesson_file_ok", &[&file.display(), &lesson.id, &lesson.steps.len()])
        }
        Checked::Invalid(e) => e.to_string(),
    }
}

/// One mutant: its verdict, where it is (`lesson step.action`), the action and why.
pub fn mutant_line(lang: Lang, m: &Mutant) -> String {
    let at = format!("{} {}.{}", m.lesson, m.step + 1, m.action + 1);
    // Padded before it is coloured: escape codes have no width.
    let word = |key: &str| pad(t(lang, key), 9);
    let (word, why) = match &m.verdict {
        MutantVerdict::Killed(by) => (word("mut_killed").green(), format!("✘ {}", by[0])),
        MutantVerdict::Survived(None) => (word("mut_survived").red().bold(), t(lang, "mut_holds").into()),
        MutantVerdict::Survived(Some(stop)) => {
            (word("mut_survived").red().bold(), tf(lang, "mut_stopped_holds", &[stop]))
        }
        MutantVerdict::Waived(why) => (word("mut_waived").yellow(), why.clone()),
        MutantVerdict::Broken(step) => (word("mut_broken").red().bold(), tf(lang, "mut_broken_step", &[&(step + 1)])),
    };
    format!("{word} {at:<16} {:<34} {}", m.src, why.dimmed())
}

/// The closing line: killed of judged, the percentage, and which mutants were waived.
pub fn score_line(lang: Lang, all: &[Mutant]) -> String {
    let s = Score::of(all);
    let waived: Vec<String> = all
        .iter()
        .filter_map(|m| match &m.verdict {
            MutantVerdict::Waived(_) => Some(format!("{} {}.{}", m.lesson, m.step + 1, m.action + 1)),
            _ => None,
        })
        .collect();
    let waived = if waived.is_empty() { String::new() } else { format!(" ({})", waived.join(", ")) };
    let percent = format!("{:.1}", s.percent());
    let judged = s.killed + s.survived + s.broken;
    tf(lang, "mut_score", &[&s.killed, &judged, &percent, &s.survived, &s.broken, &s.waived, &waived])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mutant(action: usize, verdict: MutantVerdict) -> Mutant {
        Mutant { lesson: "uts".into(), step: 1, action, src: "sethostname x".into(), verdict }
    }

    #[test]
    fn mutants_and_score_in_both_languages() {
        colored::control::set_override(false);
        let all = [
            mutant(0, MutantVerdict::Killed(vec!["sandbox.hostname == \"x\"".into()])),
            mutant(1, MutantVerdict::Waived("only shows".into())),
        ];
        let line = mutant_line(Lang::En, &all[0]);
        assert!(
            line.starts_with("killed") && line.contains("uts 2.1") && line.contains("✘ sandbox.hostname"),
            "{line}"
        );
        let score = score_line(Lang::En, &all);
        assert!(score.contains("(uts 2.2)"), "{score}");
        assert_ne!(score_line(Lang::Ko, &all), score);
    }
}
