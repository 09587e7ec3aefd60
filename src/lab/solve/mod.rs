//! `nsdojo check --solve`: does every printed lab command pass its step?
//!
//! `check --mutate` proves each check can fail; this proves the other direction. For each
//! step, a student's session is played for real ([`drive`]): nsdojo's REPL on a pty, `try`,
//! terminal #1's lab lines typed into the try shell, terminal #2's run in a plain root shell on
//! the host, and the step must tick within a bound, end "done by hand" after `exit`, and leave
//! the host as it was (the REPL's own leak audit says nothing). A step that cannot be done by
//! hand says why in its `solve_waiver`, and the report prints it.
//!
//! This module is the part that needs no root: the verdicts, the score, and filling a lab
//! line's placeholders the way the printout (`dojo solve`) fills them.

pub mod drive;
pub mod pty;

/// How one step went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SolveVerdict {
    /// Ticked, done by hand, the host as it was.
    Solved,
    Unsolved(Unsolved),
    /// The lesson waives this step, for this reason.
    Waived(String),
}

/// Why a step was not solved, with what the commands printed and the checks that failed
/// (`dojo check` in the shell, at the end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsolved {
    pub why: Why,
    pub failing: Vec<String>,
    pub output: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// The step has no lab lines to type.
    NoLines,
    /// The lab command is the deck's `docker …` (nsdojo builds its rootfs without Docker).
    Docker,
    /// No tick within the bound (seconds).
    NoTick(u64),
    /// Ticked, but `exit` did not end with "done by hand".
    NotByHand,
    /// The host was left changed (the REPL's audit lines).
    HostChanged(Vec<String>),
    /// The lab lines left files in the student's home (a relative `mkdir`), seen at the
    /// lesson's end.
    LeftInHome(Vec<String>),
    /// The REPL did not reach this step (an earlier one could not be taken).
    NotReached,
    /// The REPL stopped answering or ended.
    Repl(String),
}

/// One step's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepSolve {
    pub lesson: String,
    /// 0-based.
    pub step: usize,
    pub verdict: SolveVerdict,
}

/// Solved, waived and the rest, for the closing line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    pub solved: usize,
    pub unsolved: usize,
    pub waived: usize,
}

impl Score {
    pub fn of(all: &[StepSolve]) -> Score {
        let mut s = Score::default();
        for r in all {
            match r.verdict {
                SolveVerdict::Solved => s.solved += 1,
                SolveVerdict::Unsolved(_) => s.unsolved += 1,
                SolveVerdict::Waived(_) => s.waived += 1,
            }
        }
        s
    }

    /// Solved among those not waived, in %.
    pub fn percent(&self) -> f64 {
        let judged = self.solved + self.unsolved;
        if judged == 0 {
            100.0
        } else {
            self.solved as f64 * 100.0 / judged as f64
        }
    }

    pub fn all_solved(&self) -> bool {
        self.unsolved == 0
    }
}

/// The lab's placeholders (`Lab::expand`), longest first as it replaces them.
const VARS: &[&str] = &[
    "CGROUP_PARENT",
    "CGROUP_MEMORY",
    "CGROUP_PIDS",
    "CGROUP_CPU",
    "HOST_PID",
    "SESSION",
    "ROOTFS",
    "CGROUP",
    "NETID",
    "WORK",
    "NET",
];

/// How `dojo solve` shows `$PID` (the process typed into): see `try_session::DOJO_PID`.
const PID_SHOWN: &str = super::try_session::DOJO_PID;

/// A lab line as the student types it: its placeholders filled as the printout (`printed`, the
/// output of `dojo solve`) fills them, and `$PID` as `dojo pid` gives it (`pid`). A line
/// the printout does not show keeps its placeholders but `$PID`.
pub fn fill(raw: &str, printed: &str, pid: &str) -> String {
    let pattern = pattern_of(&raw.replace("$PID", PID_SHOWN));
    let found = printed.lines().find_map(|line| {
        (0..=line.len())
            .filter(|&i| line.is_char_boundary(i))
            .find_map(|i| matches(&line[i..], &pattern).map(|n| &line[i..i + n]))
    });
    let line = found.map_or_else(|| raw.replace("$PID", PID_SHOWN), str::to_string);
    line.replace(PID_SHOWN, pid)
}

#[derive(Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    /// A placeholder: a non-empty run of non-blank characters in the printout.
    Hole,
}

fn pattern_of(raw: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = raw;
    while let Some(c) = rest.chars().next() {
        let var = rest.strip_prefix('$').and_then(|r| VARS.iter().find(|v| r.starts_with(**v)));
        match var {
            Some(v) => {
                if !text.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut text)));
                }
                out.push(Piece::Hole);
                rest = &rest[1 + v.len()..];
            }
            None => {
                text.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    out
}

/// How much of the start of `s` the pattern matches (backtracking over holes).
fn matches(s: &str, pattern: &[Piece]) -> Option<usize> {
    match pattern.split_first() {
        None => Some(0),
        Some((Piece::Text(t), rest)) => s.strip_prefix(t.as_str()).and_then(|r| matches(r, rest)).map(|n| n + t.len()),
        Some((Piece::Hole, rest)) => {
            let run = s.find(char::is_whitespace).unwrap_or(s.len());
            (1..=run).rev().filter(|&n| s.is_char_boundary(n)).find_map(|n| matches(&s[n..], rest).map(|m| m + n))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRINTED: &str = "the lab command for this step:\n  echo +cpu > /sys/fs/cgroup/nsdojo/cgroup.subtree_control; mkdir /sys/fs/cgroup/nsdojo/s-1\necho ⟨dojo pid⟩ > /sys/fs/cgroup/nsdojo/s-1/cgroup.procs   # terminal #2\n";

    #[test]
    fn placeholders_are_filled_as_the_printout_fills_them() {
        let two = fill("echo $PID > $CGROUP/cgroup.procs", PRINTED, "4242");
        assert_eq!(two, "echo 4242 > /sys/fs/cgroup/nsdojo/s-1/cgroup.procs");
        // The longer name is not cut by the shorter.
        let one = fill("echo +cpu > $CGROUP_PARENT/cgroup.subtree_control; mkdir $CGROUP", PRINTED, "1");
        assert_eq!(one, "echo +cpu > /sys/fs/cgroup/nsdojo/cgroup.subtree_control; mkdir /sys/fs/cgroup/nsdojo/s-1");
    }

    #[test]
    fn a_line_the_printout_does_not_show_keeps_its_placeholders_but_pid() {
        assert_eq!(fill("cat $CGROUP/cpu.max", PRINTED, "7"), "cat $CGROUP/cpu.max");
        assert_eq!(fill("kill $PID; echo $$", "", "7"), "kill 7; echo $$");
        assert_eq!(fill("hostname x", "hostname x\n", "7"), "hostname x");
    }

    #[test]
    fn the_score_counts_waivers_apart() {
        let r = |verdict| StepSolve { lesson: "l".into(), step: 0, verdict };
        let unsolved = Unsolved { why: Why::NoTick(4), failing: vec![], output: String::new() };
        let s = Score::of(&[
            r(SolveVerdict::Solved),
            r(SolveVerdict::Solved),
            r(SolveVerdict::Unsolved(unsolved)),
            r(SolveVerdict::Waived("because".into())),
        ]);
        assert_eq!(s, Score { solved: 2, unsolved: 1, waived: 1 });
        assert!((s.percent() - 66.666).abs() < 0.01);
        assert!(!s.all_solved());
        assert!(Score { solved: 1, unsolved: 0, waived: 3 }.all_solved());
    }

    #[test]
    fn a_solve_waiver_needs_a_reason_and_says_where_it_lacks_one() {
        let base = "id = \"m\"\ntitle.en = \"m\"\n[[step]]\ntext.en = \"a\"\ndo = [\"unshare uts\"]\n";
        let ok = format!("{base}solve_waiver = {{ why = \"  only the lab can make this netns  \" }}\n");
        let l = crate::lesson::parse_lesson("m.toml", &ok).unwrap();
        assert_eq!(l.steps[0].solve_waiver.as_deref(), Some("only the lab can make this netns"));
        assert_eq!(crate::lesson::parse_lesson("m.toml", base).unwrap().steps[0].solve_waiver, None);
        let terse = format!("{base}solve_waiver = {{ why = \"x\" }}\n");
        let e = crate::lesson::parse_lesson("m.toml", &terse).unwrap_err();
        assert_eq!((e.line, e.col), (6, 16), "{e}");
        assert!(e.to_string().starts_with("m.toml:6:16: solve_waiver: say why"), "{e}");
        let unknown = format!("{base}solve_waiver = {{ why = \"a good long reason\", step = 2 }}\n");
        let e = crate::lesson::parse_lesson("m.toml", &unknown).unwrap_err();
        assert_eq!(e.line, 6, "{e}");
    }
}
