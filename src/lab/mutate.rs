//! Check mutation testing: does each step's check notice when its action is missing?
//!
//! A lesson teaches an effect and proves it with checks. A check that still
//! passes when the action it is about was never made proves nothing, so for every
//! action that changes state (all but the observation-only `sh` and `host sh`), a
//! mutant runs the lesson up to that step with that one action left out, and at
//! least one check *of that same step* must fail. A later step noticing is not
//! enough: the student reads the checks of the step they are on. Where no check can
//! notice, the lesson says why in a `mutation_waiver`, and the report prints it.
//!
//! Two rules keep the score honest. A check kills a mutant only if it *held* in the
//! unmutated run (a check that always fails would otherwise kill everything), which
//! is run once per lesson first. And a check about the removed action's own result
//! (`action[N].…`) kills only where that result is what the action teaches (`exec-as`,
//! `hog`, `forks`, `burn`, a `try`): a `chroot` or `chdir` must be noticed by the state
//! it changes or by a later action that needed it, not by "it was not performed".

use super::event::Sink;
use super::runner::{Runner, StartError};
use super::LabError;
use crate::hostguard::Session;
use crate::lesson::{Action, HostAction, Lang, Lesson, SandboxAction};
use crate::rootfs::Provider;

/// One action left out of one step.
#[derive(Debug, Clone)]
pub struct Mutant {
    pub lesson: String,
    /// 0-based step and action.
    pub step: usize,
    pub action: usize,
    /// The action line as written.
    pub src: String,
    pub verdict: MutantVerdict,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MutantVerdict {
    /// These checks of the step failed without the action.
    Killed(Vec<String>),
    /// Every check of the step still held (the step may have stopped early, with why).
    Survived(Option<crate::msg::Msg>),
    /// The lesson waives this mutant, for this reason.
    Waived(String),
    /// An earlier step (0-based) failed on its own: the mutant says nothing.
    Broken(usize),
}

/// An action whose point is what it returns (an exit status, an errno, a CPU share), so a
/// check of its own result is a fair witness that it ran.
pub fn teaches_its_result(a: &Action) -> bool {
    a.is_try()
        || matches!(
            a.sandbox(),
            Some(
                SandboxAction::ExecAs { .. }
                    | SandboxAction::Hog { .. }
                    | SandboxAction::Forks { .. }
                    | SandboxAction::Burn { .. }
            )
        )
}

/// Only observes: running it or not changes nothing a check could see.
pub fn observes_only(a: &Action) -> bool {
    matches!(a.sandbox(), Some(SandboxAction::Sh(_)))
        || matches!(a.host(), Some(HostAction::Sh(_) | HostAction::Fetch(_)))
}

/// (step, action) of every mutant of a lesson, in order.
pub fn mutants_of(lesson: &Lesson) -> Vec<(usize, usize)> {
    lesson
        .steps
        .iter()
        .enumerate()
        .flat_map(|(s, step)| {
            step.actions.iter().enumerate().filter(|(_, a)| !observes_only(a)).map(move |(a, _)| (s, a))
        })
        .collect()
}

/// Run every mutant of the runner's lesson, calling `each` as each is decided. Steps run
/// quietly: the verdicts are the output.
pub fn run_lesson(runner: &mut Runner, each: &mut dyn FnMut(&Mutant)) -> Result<Vec<Mutant>, LabError> {
    let lesson = runner.lab().lesson.clone();
    // The unmutated run: which checks of each step hold; a step that fails on its own
    // leaves its mutants (and every later step's) nothing to say.
    let mut held: Vec<Vec<bool>> = Vec::new();
    let mut first_failing = None;
    for i in 0..lesson.steps.len() {
        let r = runner.step(i, &mut ())?;
        held.push(r.checks.iter().map(|c| c.verdict.passed).collect());
        if !r.passed() {
            first_failing = Some(i);
            break;
        }
    }
    let mut out = Vec::new();
    for (step, action) in mutants_of(&lesson) {
        let s = &lesson.steps[step];
        let waiver = s.waivers.iter().find(|w| w.action == action + 1);
        let verdict = match (waiver, first_failing) {
            (_, Some(f)) if f <= step => MutantVerdict::Broken(f),
            (Some(w), _) => MutantVerdict::Waived(w.why.trim().to_string()),
            (None, _) => run_one(runner, step, action, &held[step])?,
        };
        let m = Mutant { lesson: lesson.id.clone(), step, action, src: s.action_src[action].clone(), verdict };
        each(&m);
        out.push(m);
    }
    Ok(out)
}

/// `check --mutate`: every mutant of each lesson, one lesson after the other in the session,
/// calling `each` as each is decided; `sink` says what else a lesson's start and end show
/// (the host audit). A lesson that cannot start ends the run.
pub fn run_lessons<S: Sink>(
    lessons: Vec<Lesson>,
    session: &mut Session,
    provider: &mut Provider,
    lang: Lang,
    mut sink: impl FnMut() -> S,
    each: &mut dyn FnMut(&Mutant),
) -> Result<Vec<Mutant>, StartError> {
    let mut all = Vec::new();
    for l in lessons {
        let mut sink = sink();
        let mut runner = Runner::start(l, session, provider, lang, &mut sink)?;
        all.extend(run_lesson(&mut runner, each)?);
        runner.finish(session, &mut sink);
    }
    Ok(all)
}

fn run_one(runner: &mut Runner, step: usize, action: usize, held: &[bool]) -> Result<MutantVerdict, LabError> {
    runner.lab_mut().reset();
    for i in 0..step {
        let r = runner.step(i, &mut ())?;
        if !r.passed() {
            return Ok(MutantVerdict::Broken(i));
        }
    }
    let r = runner.step_without(step, action, &mut ())?;
    let st = &runner.lab().lesson.steps[step];
    let own_result_counts = teaches_its_result(&st.actions[action]);
    let failed: Vec<String> = r
        .checks
        .iter()
        .zip(&st.expects)
        .zip(held)
        .filter(|((c, e), held)| **held && !c.verdict.passed && (own_result_counts || !names_action(e, action + 1)))
        .map(|((c, _), _)| c.src.clone())
        .collect();
    Ok(if failed.is_empty() { MutantVerdict::Survived(r.aborted) } else { MutantVerdict::Killed(failed) })
}

/// Does the check read action `n`'s own result (`action[n].…`)?
fn names_action(e: &crate::lesson::Expect, n: usize) -> bool {
    e.facts().any(|f| matches!(f, crate::lesson::fact::Fact::Result { action: Some(k), .. } if *k == n))
}

/// Killed, waived, and all, for the closing line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    pub killed: usize,
    pub waived: usize,
    pub survived: usize,
    pub broken: usize,
}

impl Score {
    pub fn of(mutants: &[Mutant]) -> Score {
        let mut s = Score::default();
        for m in mutants {
            match m.verdict {
                MutantVerdict::Killed(_) => s.killed += 1,
                MutantVerdict::Waived(_) => s.waived += 1,
                MutantVerdict::Survived(_) => s.survived += 1,
                MutantVerdict::Broken(_) => s.broken += 1,
            }
        }
        s
    }

    /// Killed among those not waived, in %.
    pub fn percent(&self) -> f64 {
        let judged = self.killed + self.survived + self.broken;
        if judged == 0 {
            100.0
        } else {
            self.killed as f64 * 100.0 / judged as f64
        }
    }

    pub fn all_killed(&self) -> bool {
        self.survived == 0 && self.broken == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observation_only_actions_are_not_mutated() {
        let src = r#"
id = "m"
title.en = "m"
[[step]]
text.en = "a"
do = ["unshare uts", "sh hostname", "try host sh true", "sethostname x", "try pivot_root . old"]
expect = ["sandbox.hostname == x"]
[[step]]
text.en = "b"
do = ["host sh ls"]
expect = ["step.status == 0"]
"#;
        let l = crate::lesson::parse_lesson("m.toml", src).unwrap();
        assert_eq!(mutants_of(&l), vec![(0, 0), (0, 3), (0, 4)]);
    }

    #[test]
    fn waivers_need_a_reason_and_a_real_action() {
        let base = "id = \"m\"\ntitle.en = \"m\"\n[[step]]\ntext.en = \"a\"\ndo = [\"unshare uts\"]\n";
        let ok = format!("{base}mutation_waiver = [{{ action = 1, why = \"the next step proves it\" }}]\n");
        let l = crate::lesson::parse_lesson("m.toml", &ok).unwrap();
        assert_eq!(l.steps[0].waivers[0].action, 1);
        let far = format!("{base}mutation_waiver = [{{ action = 2, why = \"the next step proves it\" }}]\n");
        let e = crate::lesson::parse_lesson("m.toml", &far).unwrap_err();
        assert!(e.message.contains("action 2 is not in `do`"), "{e}");
        let terse = format!("{base}mutation_waiver = [{{ action = 1, why = \"x\" }}]\n");
        assert!(crate::lesson::parse_lesson("m.toml", &terse).unwrap_err().message.contains("say why"));
    }

    #[test]
    fn the_score_counts_waivers_apart() {
        let m = |v| Mutant { lesson: "l".into(), step: 0, action: 0, src: String::new(), verdict: v };
        let s = Score::of(&[
            m(MutantVerdict::Killed(vec!["x".into()])),
            m(MutantVerdict::Killed(vec!["y".into()])),
            m(MutantVerdict::Survived(None)),
            m(MutantVerdict::Waived("because".into())),
        ]);
        assert_eq!(s, Score { killed: 2, waived: 1, survived: 1, broken: 0 });
        assert!((s.percent() - 66.666).abs() < 0.01);
        assert!(!s.all_killed());
    }

    fn action(line: &str) -> Action {
        crate::lesson::action::parse_action(line).expect("the line parses")
    }

    #[test]
    fn only_an_action_taught_by_its_result_may_be_caught_by_its_own_result() {
        for taught in ["exec-as -i /bin/sh", "hog 64M", "forks 50", "burn 3s", "try chroot .", "try host sh true"] {
            assert!(teaches_its_result(&action(taught)), "{taught}");
        }
        for state in ["chroot .", "chdir /", "unshare mnt", "cgroup join", "sh ls"] {
            assert!(!teaches_its_result(&action(state)), "{state}");
        }
    }

    #[test]
    fn commands_and_fetches_only_observe_on_either_side() {
        for seen in ["sh ls", "host sh ls", "try sh false", "fetch http://192.0.2.2/"] {
            assert!(observes_only(&action(seen)), "{seen}");
        }
        for changes in ["veth add a peer b", "write /x y", "try mkdir /x", "map-ids 0 1000 1"] {
            assert!(!observes_only(&action(changes)), "{changes}");
        }
    }
}
