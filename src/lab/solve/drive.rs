//! A student's session, played: one REPL per lesson on a [`Pty`], `try` for every step, the
//! lab lines typed or run as the printout says, and what came of it read from the screen.
//! The REPL runs in English whatever the report's language: what it prints is parsed here.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::pty::{after, Pty, PtyError};
use super::{SolveVerdict, StepSolve, Unsolved, Why};
use crate::lesson::lab_command::Terminal;
use crate::lesson::{Lesson, SandboxAction, Step};

/// How to start the REPL a student starts.
pub struct Options {
    pub exe: PathBuf,
    /// `--lessons …`, `--rootfs …` as given to `check --solve`.
    pub args: Vec<OsString>,
    /// Which of a step's lab lines apply (`Shell::lines`).
    pub cgroup_v2: bool,
}

/// How long a step may take to tick once its lines are in: the checks are judged four times a
/// second; a step that measures CPU time needs its window. Times `NSDOJO_SOLVE_PATIENCE` (a
/// whole factor, 1 to 10) on an emulated machine, where everything runs several times slower:
/// only an unsolved step waits the longer bound, a solved one goes on at its tick.
fn bound(step: &Step) -> Duration {
    let burns = step.actions.iter().any(|a| matches!(a.sandbox(), Some(SandboxAction::Burn { .. })));
    let stress = step
        .shell
        .as_ref()
        .is_some_and(|s| [false, true].iter().any(|v2| s.lines(*v2).iter().any(|l| l.text.contains("stress"))));
    Duration::from_secs(if burns || stress { 12 } else { 4 }) * patience(std::env::var("NSDOJO_SOLVE_PATIENCE").ok())
}

/// The factor `NSDOJO_SOLVE_PATIENCE` gives: 1 unless it is a whole number from 1 to 10.
fn patience(value: Option<String>) -> u32 {
    value.and_then(|v| v.trim().parse().ok()).filter(|n| (1..=10).contains(n)).unwrap_or(1)
}

/// Every step of every lesson, calling `each` as each is decided.
pub fn run_lessons(lessons: &[Lesson], opts: &Options, each: &mut dyn FnMut(&StepSolve)) -> Vec<StepSolve> {
    let mut all = Vec::new();
    for l in lessons {
        let mut push = |r: StepSolve| {
            each(&r);
            all.push(r);
        };
        let before = Snapshot::now();
        match Lessoning::start(l, opts) {
            Ok(mut s) => {
                let mut results: Vec<StepSolve> = (0..l.steps.len()).map(|i| s.step(i)).collect();
                // What the lesson left is the last step's to answer for (it is when it is seen).
                let (changed, files) = s.quit(&before);
                if let Some(last) = results.last_mut().filter(|_| !changed.is_empty() || !files.is_empty()) {
                    last.verdict = match std::mem::replace(&mut last.verdict, SolveVerdict::Solved) {
                        SolveVerdict::Unsolved(mut u) => {
                            u.output.extend(changed.iter().chain(&files).map(|l| format!("{l}\n")));
                            SolveVerdict::Unsolved(u)
                        }
                        _ => {
                            let why =
                                if changed.is_empty() { Why::LeftInHome(files) } else { Why::HostChanged(changed) };
                            SolveVerdict::Unsolved(Unsolved { why, failing: vec![], output: String::new() })
                        }
                    };
                }
                results.into_iter().for_each(&mut push);
            }
            Err(e) => {
                // The REPL never ran: nothing can be mounted in its scratch directory.
                let _ = std::fs::remove_dir_all(state_dir(l));
                for i in 0..l.steps.len() {
                    push(unsolved(&l.id, i, Why::Repl(e.to_string()), vec![], String::new()));
                }
            }
        }
    }
    all
}

fn unsolved(lesson: &str, step: usize, why: Why, failing: Vec<String>, output: String) -> StepSolve {
    StepSolve { lesson: lesson.into(), step, verdict: SolveVerdict::Unsolved(Unsolved { why, failing, output }) }
}

/// One lesson's REPL.
struct Lessoning<'a> {
    lesson: &'a Lesson,
    pty: Pty,
    v2: bool,
    /// The REPL's step (its prompt's `k/n`).
    at: usize,
    /// The markers typed so far (each is new, so an old one never matches).
    marks: usize,
    state: PathBuf,
}

impl<'a> Lessoning<'a> {
    fn start(lesson: &'a Lesson, opts: &Options) -> Result<Lessoning<'a>, PtyError> {
        let state = state_dir(lesson);
        std::fs::create_dir_all(&state).map_err(|e| PtyError::Io("state dir", e))?;
        let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
            .filter(|(k, _)| {
                let k = k.to_string_lossy();
                !(k.starts_with("LC_")
                    || k.starts_with("NSDOJO_")
                    || ["LANG", "LANGUAGE", "TERM", "COLUMNS"].contains(&&*k))
            })
            .collect();
        for (k, v) in [("NO_COLOR", "1".into()), ("TERM", "dumb".into()), ("COLUMNS", "200".into())] {
            env.push((k.into(), v));
        }
        env.push(("NSDOJO_HISTORY".into(), state.join("history").into()));
        env.push(("NSDOJO_PROGRESS".into(), state.join("progress.json").into()));
        let mut args: Vec<OsString> = vec!["--lang".into(), "en".into(), "--no-color".into()];
        args.extend(opts.args.iter().cloned());
        // The student's home: where the REPL starts and terminal #2's shell runs, so what the
        // lab lines leave there by a relative path is seen (and removed) afterwards.
        let home = state.join("home");
        std::fs::create_dir_all(&home).map_err(|e| PtyError::Io("home dir", e))?;
        let pty = Pty::spawn(&opts.exe, &args, &env, &home)?;
        let mut s = Lessoning { lesson, pty, v2: opts.cgroup_v2, at: 0, marks: 0, state };
        if s.pty.expect(Duration::from_secs(30), after("nsdojo> ")).is_none() {
            return Err(s.pty.ended().unwrap_or(PtyError::Ended(s.pty.take(Duration::ZERO))));
        }
        s.pty.line(&format!("lesson {}", lesson.id))?;
        if s.prompt(Duration::from_secs(30)).is_none() {
            return Err(PtyError::Ended(s.pty.take(Duration::ZERO)));
        }
        Ok(s)
    }

    /// Wait for the lesson's prompt; the step it is at.
    fn prompt(&mut self, wait: Duration) -> Option<usize> {
        let head = format!("nsdojo[{} ", self.lesson.id);
        let seen = self.pty.expect(wait, |h| {
            let i = h.rfind(&head)?;
            h[i..].find("]> ").map(|j| i + j + 3)
        })?;
        let i = seen.rfind(&head)? + head.len();
        let k = seen[i..].split('/').next()?.parse().ok()?;
        self.at = k;
        Some(k)
    }

    /// Type `cmd` into the shell and wait (up to `wait`) until it has run: what it printed.
    /// The marker is computed by the shell, so the echo of the typed line does not match. It
    /// is a line of its own, typed ahead as a student types the next line: a line that starts a
    /// shell (`unshare --user /bin/sh`) is answered by that shell, and a line that ends in `&`
    /// or a `# comment` stays what the student types (`cmd & ; echo` is a syntax error).
    fn run(&mut self, cmd: &str, wait: Duration) -> Option<String> {
        self.marks += 1;
        let n = 1000 + self.marks;
        self.pty.line(cmd).ok()?;
        self.pty.line(&format!("echo \"@@$(({n}-1))@@\"")).ok()?;
        self.pty.expect(wait, after(&format!("@@{}@@", n - 1)))
    }

    fn step(&mut self, i: usize) -> StepSolve {
        let (id, step) = (self.lesson.id.clone(), &self.lesson.steps[i]);
        if self.at != i {
            return unsolved(&id, i, Why::NotReached, vec![], String::new());
        }
        if let Some(why) = &step.solve_waiver {
            self.next(i);
            return StepSolve { lesson: id, step: i, verdict: SolveVerdict::Waived(why.clone()) };
        }
        let lines = step.shell.as_ref().map(|s| s.lines(self.v2)).unwrap_or_default();
        let r = if lines.is_empty() {
            unsolved(&id, i, Why::NoLines, vec![], String::new())
        } else if lines.iter().any(|l| l.text.contains("docker ")) {
            unsolved(&id, i, Why::Docker, vec![], String::new())
        } else {
            self.solve(i, &lines)
        };
        if self.at == i {
            self.next(i);
        }
        r
    }

    /// Let the lab take step `i` (a waived or unsolved one), so the next can be tried.
    fn next(&mut self, i: usize) {
        if self.pty.line("next").is_ok() {
            // A `burn` step takes its seconds.
            let _ = self.prompt(Duration::from_secs(60));
        }
        if self.at != i + 1 {
            self.at = usize::MAX;
        }
    }

    fn solve(&mut self, i: usize, lines: &[crate::lesson::lab_command::LabLine]) -> StepSolve {
        let id = self.lesson.id.clone();
        let step = &self.lesson.steps[i];
        let tick = format!("step {} done", i + 1);
        let _ = self.pty.line("try");
        let Some(opened) = self.pty.expect(Duration::from_secs(30), after("`dojo solve` shows the lab command\n"))
        else {
            let out = self.pty.take(Duration::from_millis(200));
            let _ = self.prompt(Duration::from_secs(5));
            return unsolved(&id, i, Why::Repl("try opened no shell".into()), vec![], out);
        };
        let looks_only = opened.contains("this step changes nothing");
        // Asked only when a line needs them: each is a round trip to the shell.
        let printed = match lines.iter().any(|l| l.text.contains('$')) {
            true => self.run("dojo solve", Duration::from_secs(5)).unwrap_or_default(),
            false => String::new(),
        };
        let mut pid = match lines.iter().any(|l| l.text.contains("$PID")) {
            true => self.dojo_pid().unwrap_or_default(),
            false => String::new(),
        };
        let mut seen = String::new();
        let mut output = String::new();
        let mut blocked = false;
        for line in lines {
            match line.terminal {
                Terminal::One => {
                    let text = super::fill(&line.text, &printed, &pid);
                    output.push_str(&format!("$ {text}\n"));
                    if blocked {
                        let _ = self.pty.line(&text);
                        continue;
                    }
                    match self.run(&text, Duration::from_secs(3)) {
                        Some(out) => {
                            seen.push_str(&out);
                            output.push_str(&strip_typed(&out));
                        }
                        // Still running in the foreground (`top`): what follows is typed into it.
                        None => blocked = true,
                    }
                }
                Terminal::Two => {
                    if !blocked && line.text.contains("$PID") {
                        pid = self.dojo_pid().unwrap_or(pid);
                    }
                    let text = super::fill(&line.text, &printed, &pid);
                    let home = self.state.join("home");
                    output.push_str(&format!("# terminal #2: {text}\n{}", host_sh(&text, &home)));
                }
            }
        }
        let mut ticked = looks_only || seen.contains(&tick) || self.tick_within(bound(step), &tick, &mut seen);
        if !ticked {
            // A slow machine (emulated, or loaded) may judge later than the bound: if every
            // check holds now, the tick is on its way, so it gets two bounds more (the arm64
            // stage, emulated on x86_64, needed more than one). A step whose checks do not hold
            // is not waited for again. `dojo check` itself may take seconds there.
            let now = self.run("dojo check", Duration::from_secs(20)).unwrap_or_default();
            ticked = now.contains(&tick) || (all_hold(&now) && self.tick_within(2 * bound(step), &tick, &mut seen));
            seen.push_str(&now);
        }
        if blocked {
            let _ = self.pty.send(b"\x03");
            std::thread::sleep(Duration::from_millis(300));
        }
        let failing = if ticked { vec![] } else { self.failing() };
        let ended = self.exit_all(i);
        let by_hand = ended.contains(&format!("step {} done by hand", i + 1));
        let changed = host_changed(&ended, self.pty.pid());
        let why = if !ticked {
            Some(Why::NoTick(bound(step).as_secs()))
        } else if !changed.is_empty() {
            Some(Why::HostChanged(changed))
        } else if !by_hand {
            Some(Why::NotByHand)
        } else {
            None
        };
        match why {
            None => StepSolve { lesson: id, step: i, verdict: SolveVerdict::Solved },
            Some(why) => unsolved(&id, i, why, failing, output),
        }
    }

    /// Wait up to `wait` for the tick; what came meanwhile goes to `seen`.
    fn tick_within(&mut self, wait: Duration, tick: &str, seen: &mut String) -> bool {
        match self.pty.expect(wait, after(tick)) {
            Some(t) => {
                seen.push_str(&t);
                true
            }
            None => {
                seen.push_str(&self.pty.take(Duration::ZERO));
                false
            }
        }
    }

    /// `dojo pid` in the shell being typed into.
    fn dojo_pid(&mut self) -> Option<String> {
        let out = self.run("echo \"pid=$(dojo pid)=\"", Duration::from_secs(3))?;
        out.rsplit("pid=").find_map(|t| t.split('=').next().filter(|p| p.parse::<u32>().is_ok())).map(str::to_string)
    }

    /// The checks that do not hold now (`dojo check`).
    fn failing(&mut self) -> Vec<String> {
        let out = self.run("dojo check", Duration::from_secs(5)).unwrap_or_default();
        out.lines().filter_map(|l| l.trim_start().strip_prefix("✘ ")).map(|l| l.trim().to_string()).collect()
    }

    /// `exit` until the REPL takes over again: what it said from the first `exit` on.
    fn exit_all(&mut self, i: usize) -> String {
        let (done, not_yet) = (format!("step {} done by hand", i + 1), format!("step {} is not done yet", i + 1));
        let mut said = String::new();
        for _ in 0..8 {
            // An `echo` after the `exit` answers only if a shell is still there (the REPL
            // calls `echo` an unknown command, and a REPL `exit` would quit it).
            self.marks += 1;
            let n = 1000 + self.marks;
            let marker = format!("@@{}@@", n - 1);
            let _ = self.pty.line("exit");
            let _ = self.pty.line(&format!("echo \"@@$(({n}-1))@@\""));
            let got = self.pty.expect(Duration::from_secs(60), |h| {
                [&marker, &done, &not_yet].iter().filter_map(|m| h.find(m.as_str()).map(|p| p + m.len())).min()
            });
            let Some(got) = got else { break };
            said.push_str(&got);
            if !got.ends_with(&marker) {
                break;
            }
        }
        let _ = self.prompt(Duration::from_secs(60));
        // The REPL's answer to the stray `echo`, and its prompt again.
        let _ = self.pty.take(Duration::from_millis(100));
        said
    }

    /// End the REPL; what it or the lab lines left behind (its end-of-lesson audit, files in
    /// the student's home), one line each.
    /// End the REPL: what the lab lines left on the host by the names they typed, and files
    /// they left in the student's home. (The REPL's own end-of-lesson audit is not read: it
    /// sees the whole host over the whole lesson, other programs included; each try's audit
    /// and the test's before/after comparison of the host are the narrower witnesses.)
    fn quit(mut self, before: &Snapshot) -> (Vec<String>, Vec<String>) {
        let _ = self.pty.line("quit");
        let _ = self.pty.close(Duration::from_secs(30));
        let changed = before.left_by(self.lesson);
        let files: Vec<String> = std::fs::read_dir(self.state.join("home"))
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        // Never through a mount a lab line left there (a bind of the host's `/` would be
        // emptied): then the scratch directory stays, and is said.
        let mut changed = changed;
        match mounted_under(&self.state) {
            Some(m) => changed.push(format!("+ mount {m}")),
            None => {
                let _ = std::fs::remove_dir_all(&self.state);
            }
        }
        (changed, files)
    }
}

/// Where a lab line may leave something on the host by a name of its own (`mkdir
/// /tmp/mount_ns`, `ip netns add mynet`), which neither the REPL's audit nor a try's undo
/// knows to look for.
const WATCHED: &[&str] = &["/", "/tmp", "/run", "/run/netns", "/mnt"];

/// The names in [`WATCHED`], before a lesson.
struct Snapshot(Vec<(&'static str, std::collections::BTreeSet<String>)>);

impl Snapshot {
    fn now() -> Snapshot {
        Snapshot(WATCHED.iter().map(|d| (*d, names_in(d))).collect())
    }

    /// What is new since, and named in the lesson's lab lines (other programs come and go in
    /// /tmp meanwhile); an empty directory is removed again, and said so.
    fn left_by(&self, lesson: &Lesson) -> Vec<String> {
        let typed: String = lesson
            .steps
            .iter()
            .filter_map(|s| s.shell.as_ref())
            .flat_map(|s| [s.lines(false), s.lines(true)])
            .flatten()
            .map(|l| l.text + "\n")
            .collect();
        let mut left = Vec::new();
        for (dir, was) in &self.0 {
            for name in names_in(dir).difference(was).filter(|n| typed.contains(n.as_str())) {
                let path = std::path::Path::new(dir).join(name);
                let removed = if std::fs::remove_dir(&path).is_ok() { " (rmdir)" } else { "" };
                left.push(format!("+ {}{removed}", path.display()));
            }
        }
        left
    }
}

/// A lesson's scratch directory: the REPL's history and progress, and the student's home.
fn state_dir(lesson: &Lesson) -> PathBuf {
    std::env::temp_dir().join(format!("nsdojo-solve-{}-{}", std::process::id(), lesson.id))
}

/// The first mount point at or under `dir` in this process's mount table.
fn mounted_under(dir: &std::path::Path) -> Option<String> {
    let table = crate::observe::mountinfo::read(crate::observe::procfs::Proc::Myself).ok()?;
    table.into_iter().map(|m| m.mount_point).find(|point| std::path::Path::new(point).starts_with(dir))
}

fn names_in(dir: &str) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

/// Did `dojo check` answer with checks, every one of them holding?
fn all_hold(answer: &str) -> bool {
    let marks: Vec<&str> = answer.lines().map(str::trim_start).filter(|l| l.starts_with(['✔', '✘'])).collect();
    !marks.is_empty() && marks.iter().all(|l| l.starts_with('✔'))
}

/// Drop the echo of the typed line and the marker from a command's output.
fn strip_typed(out: &str) -> String {
    let body = out.split_once('\n').map_or("", |(_, b)| b);
    let body = body.rsplit_once("@@").and_then(|(b, _)| b.rsplit_once("@@")).map_or(body, |(b, _)| b);
    // The typed line comes back once more after the shell's prompt.
    // So does a bare prompt.
    body.lines()
        .filter(|l| !l.contains("echo \"@@$((") && !matches!(l.trim(), "#" | "$" | "/ #"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The REPL's leak audit after a try: the lines under its warning, but those about another
/// nsdojo session's own things (`nsdojo-PID-…` of a PID not `repl`'s: a session that ended on
/// this machine meanwhile), which no lab line made.
fn host_changed(said: &str, repl: i32) -> Vec<String> {
    let Some(i) = said.find("WARNING: the host changed") else { return vec![] };
    let ours = format!("nsdojo-{repl}-");
    let others = |l: &str| {
        l.match_indices("nsdojo-").any(|(at, _)| {
            let digits: String = l[at + 7..].chars().take_while(char::is_ascii_digit).collect();
            !digits.is_empty() && l[at..].starts_with(&format!("nsdojo-{digits}-")) && !l[at..].starts_with(&ours)
        })
    };
    said[i..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(str::trim)
        .filter(|l| !l.starts_with('(') && !others(l))
        .map(str::to_string)
        .collect()
}

/// Terminal #2: a plain root shell on the host, bounded to 20 s. Its output and status.
fn host_sh(cmd: &str, cwd: &std::path::Path) -> String {
    use std::process::{Command, Stdio};
    let child = Command::new("/bin/sh")
        .args(["-c", cmd])
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return format!("sh: {e}\n"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                break;
            }
        }
    }
    match child.wait_with_output() {
        Ok(o) => {
            let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&o.stderr));
            if !o.status.success() {
                s.push_str(&format!("[{}]\n", o.status));
            }
            s
        }
        Err(e) => format!("sh: {e}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patience_is_a_small_whole_factor_or_one() {
        assert_eq!(patience(None), 1);
        assert_eq!(patience(Some("3".into())), 3);
        for odd in ["0", "11", "-2", "1.5", "slow", ""] {
            assert_eq!(patience(Some(odd.into())), 1, "{odd:?}");
        }
    }

    #[test]
    fn the_audit_lines_after_a_try_are_read() {
        let said = "exit\nnsdojo: WARNING: the host changed during try:\n  + mount /mnt\n  (other programs…)\nstep 1 is not done yet\n";
        assert_eq!(host_changed(said, 7), ["+ mount /mnt"]);
        assert!(host_changed("step 1 done by hand\n", 7).is_empty());
        let other = "nsdojo: WARNING: the host changed during try:\n  - path /sys/fs/cgroup/pids/nsdojo-25162-ad11\n  + path /tmp/nsdojo-7-ab/x\n";
        assert_eq!(host_changed(other, 7), ["+ path /tmp/nsdojo-7-ab/x"]);
    }

    #[test]
    fn a_commands_output_loses_the_typed_line_and_the_marker() {
        assert_eq!(strip_typed("hostname; echo \"@@$((1001-1))@@\"\nbox\n@@1000@@"), "box\n");
        let echoed_again = "ls; echo \"@@$((1001-1))@@\"\n/ # ls; echo \"@@$((1001-1))@@\"\nbin\n# \n@@1000@@";
        assert_eq!(strip_typed(echoed_again), "bin\n");
    }

    #[test]
    fn only_a_check_answer_whose_every_check_holds_is_waited_on_again() {
        let held = "dojo check\n✔ sandbox.ns.cgroup != host.ns.cgroup   (4026532180)\n  ✔ sandbox.cgroup[cpu] == /   (\"/\")\nevery check holds\n@@1003@@";
        assert!(all_hold(held));
        assert!(!all_hold("✔ a == 1   (1)\n✘ b == 2   (3)\n"), "one fails");
        assert!(!all_hold("?\n"), "no look was possible");
        assert!(!all_hold(""), "no answer");
    }
}
