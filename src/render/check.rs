//! What `nsdojo check` prints: a line per lesson file, and with `--mutate` a line per mutant
//! and the score. The work is in `lesson::check_paths` and `lab::mutate`; this only words it.

use colored::Colorize;

use crate::i18n::{pad, t, tf};
use crate::lab::mutate::{Mutant, MutantVerdict, Score};
use crate::lab::solve::{self, SolveVerdict, StepSolve, Why};
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

/// One step of `check --solve`: its verdict and where it is; an unsolved one also why, the
/// checks that failed and what the commands printed (indented); a waived one its reason.
pub fn solve_line(lang: Lang, r: &StepSolve) -> String {
    let at = format!("{} {}", r.lesson, r.step + 1);
    let word = |key: &str| pad(t(lang, key), 9);
    match &r.verdict {
        SolveVerdict::Solved => format!("{} {at}", word("solve_solved").green()),
        SolveVerdict::Waived(why) => format!("{} {at:<16} {}", word("solve_waived").yellow(), why.dimmed()),
        SolveVerdict::Unsolved(u) => {
            let why = match &u.why {
                Why::NoLines => t(lang, "solve_no_lines").to_string(),
                Why::Docker => t(lang, "solve_docker").to_string(),
                Why::NoTick(secs) => tf(lang, "solve_no_tick", &[secs]),
                Why::NotByHand => t(lang, "solve_not_by_hand").to_string(),
                Why::HostChanged(lines) => format!("{} {}", t(lang, "solve_host_changed"), lines.join("; ")),
                Why::LeftInHome(files) => format!("{} {}", t(lang, "solve_left_home"), files.join(", ")),
                Why::NotReached => t(lang, "solve_not_reached").to_string(),
                Why::Repl(e) => tf(lang, "solve_repl", &[e]),
            };
            let mut out = format!("{} {at:<16} {why}", word("solve_unsolved").red().bold());
            if !u.failing.is_empty() {
                out.push_str(&format!("\n    {}", t(lang, "solve_failing")));
                for c in &u.failing {
                    out.push_str(&format!("\n      ✘ {c}"));
                }
            }
            if !u.output.trim().is_empty() {
                out.push_str(&format!("\n    {}", t(lang, "solve_output")));
                for l in u.output.trim_end().lines() {
                    out.push_str(&format!("\n      {}", l.dimmed()));
                }
            }
            out
        }
    }
}

/// The closing line of `check --solve`: solved of judged, the percentage, which were waived.
pub fn solve_score_line(lang: Lang, all: &[StepSolve]) -> String {
    let s = solve::Score::of(all);
    let waived: Vec<String> = all
        .iter()
        .filter(|r| matches!(r.verdict, SolveVerdict::Waived(_)))
        .map(|r| format!("{} {}", r.lesson, r.step + 1))
        .collect();
    let waived = if waived.is_empty() { String::new() } else { format!(" ({})", waived.join(", ")) };
    let percent = format!("{:.1}", s.percent());
    tf(lang, "solve_score", &[&s.solved, &(s.solved + s.unsolved), &percent, &s.unsolved, &s.waived, &waived])
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

    #[test]
    fn solved_unsolved_waived_and_the_score_in_both_languages() {
        colored::control::set_override(false);
        let r = |step, verdict| StepSolve { lesson: "uts".into(), step, verdict };
        let unsolved = solve::Unsolved {
            why: Why::NoTick(4),
            failing: vec!["sandbox.hostname == \"x\"".into()],
            output: "$ hostname x\nhostname: you must be root\n".into(),
        };
        let all = [
            r(0, SolveVerdict::Solved),
            r(1, SolveVerdict::Unsolved(unsolved)),
            r(2, SolveVerdict::Waived("no student can type this".into())),
        ];
        assert_eq!(solve_line(Lang::En, &all[0]).trim_end(), "solved    uts 1");
        let line = solve_line(Lang::En, &all[1]);
        assert!(line.starts_with("unsolved  uts 2") && line.contains("no ✔ within 4 s"), "{line}");
        assert!(
            line.contains("✘ sandbox.hostname == \"x\"") && line.contains("      hostname: you must be root"),
            "{line}"
        );
        assert!(solve_line(Lang::En, &all[2]).contains("no student can type this"));
        let score = solve_score_line(Lang::En, &all);
        assert!(score.contains("1 of 2 steps solved (50.0%)") && score.ends_with("(uts 3)"), "{score}");
        // Korean: every word of ours is Korean (what the commands and checks said stays as it is).
        let ko = solve_line(Lang::Ko, &all[1]);
        assert!(ko.contains("안 풀림") && ko.contains("통과하지 않은 확인") && !ko.contains("within"), "{ko}");
        let ko_score = solve_score_line(Lang::Ko, &all);
        assert!(ko_score.starts_with("풀이 점수") && !ko_score.contains("solved"), "{ko_score}");
        for why in [
            Why::NoLines,
            Why::Docker,
            Why::NotByHand,
            Why::NotReached,
            Why::HostChanged(vec!["x".into()]),
            Why::LeftInHome(vec!["new-root".into()]),
        ] {
            let u = solve::Unsolved { why, failing: vec![], output: String::new() };
            let (en, ko) = (
                solve_line(Lang::En, &r(0, SolveVerdict::Unsolved(u.clone()))),
                solve_line(Lang::Ko, &r(0, SolveVerdict::Unsolved(u))),
            );
            assert_ne!(en, ko);
        }
    }
}
