//! The curriculum as a test of nsdojo and of the kernel: every lesson passes,
//! every lesson fails without its namespace, and what is shown is real.

use rexpect::session::PtySession;

use crate::harness::{repo, require_root, HostState, Test};
use crate::repl::{lesson_steps, repl};

#[test]
fn the_whole_curriculum_passes_and_the_host_is_unchanged() {
    let _g = require_root!();
    let before = HostState::now();
    let d = Test::new().args(["run", "--all", "--check"]).succeeds();
    assert!(!d.stdout().contains('✘'), "{}", d.stdout());
    before.assert_unchanged_since("run --all --check");
}

/// Remove every `unshare …` action: each lesson must then fail, and the host must still be safe.
#[test]
fn without_its_unshare_every_namespace_lesson_fails() {
    let _g = require_root!();
    let before = HostState::now();
    let dir = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    for e in std::fs::read_dir(repo("lessons")).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        if !text.contains("\"unshare ") {
            continue;
        }
        let stripped: String = text
            .lines()
            .map(|l| {
                // `do = ["unshare mnt", "x"]` → `do = ["sh true", "x"]`
                let mut out = l.to_string();
                while let Some(start) = out.find("\"unshare ") {
                    let end = out[start + 1..].find('"').map(|e| start + e + 2).unwrap();
                    out.replace_range(start..end, "\"sh true\"");
                }
                out
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(dir.path().join(e.file_name()), stripped).unwrap();
        let id = text.lines().find_map(|l| l.strip_prefix("id = \"")).unwrap().trim_end_matches('"').to_string();
        ids.push(id);
    }
    assert!(ids.len() >= 7, "{ids:?}");
    for id in &ids {
        let d = Test::new()
            .args(["--lessons".as_ref(), dir.path().as_os_str(), "run".as_ref(), id.as_ref(), "--check".as_ref()])
            .fails_with(1);
        assert!(d.stdout().contains('✘'), "{id}: {}", d.stdout());
    }
    before.assert_unchanged_since("lessons without their unshare (the guards refused)");
}

fn nsenter(pid: i32, args: &[&str]) -> String {
    let out = std::process::Command::new("nsenter").arg("-t").arg(pid.to_string()).args(args).output().unwrap();
    assert!(out.status.success(), "nsenter {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn quit(mut p: PtySession) {
    p.send_line("quit").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn shown_facts_match_what_standard_tools_read() {
    let _g = require_root!();
    let before = HostState::now();

    // uts: the hostname shown is what `nsenter -u hostname` prints.
    let (mut p, _h) = repl(&[]);
    let pid = lesson_steps(&mut p, "uts", 2);
    assert_eq!(nsenter(pid, &["-u", "hostname"]).trim(), "container-test");
    assert_ne!(nix::unistd::gethostname().unwrap().to_string_lossy(), "container-test");
    quit(p);

    // net: `nsenter -n ip -br link` lists only lo, and it is DOWN as shown (besides the fallback
    // devices of tunnel modules the host has loaded, `tunl0@NONE` and the like).
    let (mut p, _h) = repl(&[]);
    let pid = lesson_steps(&mut p, "net", 1);
    let links = nsenter(pid, &["-n", "ip", "-br", "link"]);
    assert_eq!(links.lines().filter(|l| !l.contains("@NONE")).count(), 1, "{links}");
    assert!(links.starts_with("lo ") && links.contains("DOWN"), "{links}");
    quit(p);

    // pid: the agent is PID 1 inside; NSpid says so from the host.
    let (mut p, _h) = repl(&[]);
    let pid = lesson_steps(&mut p, "pid", 2);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let nspid = status.lines().find(|l| l.starts_with("NSpid:")).unwrap();
    assert!(nspid.ends_with("\t1"), "{nspid}");
    let ps = nsenter(pid, &["-p", "-m", "ps", "-e", "-o", "pid="]);
    assert!(ps.split_whitespace().count() <= 3, "ps inside sees only the sandbox: {ps}");
    quit(p);

    // user: uid_map as shown (step 4 writes it).
    let (mut p, _h) = repl(&[]);
    let pid = lesson_steps(&mut p, "user", 4);
    let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    assert_eq!(map.split_whitespace().collect::<Vec<_>>(), ["0", "1000", "1"]);
    quit(p);

    before.assert_unchanged_since("sampled lessons");
}

/// `check --mutate` over the built-in lessons: each state-changing action, left out, makes a
/// check of its own step fail; the few waivers are printed with their reasons.
#[test]
fn every_builtin_mutant_is_killed_by_its_own_step() {
    let _g = require_root!();
    let before = HostState::now();
    let d = Test::new().args(["--no-color", "check", "--mutate"]).succeeds();
    let out = d.stdout();
    assert!(!out.contains("survived ") && !out.contains("broken "), "{out}");
    let score = out.lines().find(|l| l.starts_with("mutation score:")).expect("a score line");
    let (killed, judged) = score["mutation score: ".len()..].split_once(' ').unwrap().0.split_once('/').unwrap();
    assert_eq!(killed, judged, "{score}");
    assert!(killed.parse::<usize>().unwrap() >= 60, "{score}");
    // The waivers are equivalent mutants (chdir after pivot_root ., chdir .. at the root of a
    // mount namespace), one per lesson that pivots at most.
    let waived = out.lines().filter(|l| l.starts_with("waived")).count();
    assert!(waived <= 5, "at most a handful of waivers: {out}");
    before.assert_unchanged_since("check --mutate");
}

/// The mutation tester itself can fail: a check that holds without its action survives.
#[test]
fn a_check_blind_to_its_action_is_reported_as_a_survivor() {
    let _g = require_root!();
    let dir = tempfile::tempdir().unwrap();
    let lesson = |expect: &str| {
        format!(
            "id = \"blind\"\ntitle.en = \"blind\"\n[[step]]\ntext.en = \"rename\"\n\
             do = [\"unshare uts\", \"sethostname dojo-mutant\"]\nexpect = [{expect}]\n"
        )
    };
    let file = dir.path().join("blind.toml");
    std::fs::write(&file, lesson("\"sandbox.ns.uts != host.ns.uts\"")).unwrap();
    let args = |d: &std::path::Path| {
        vec!["--no-color".into(), "--lessons".into(), d.as_os_str().to_owned(), "check".into(), "--mutate".into()]
    };
    let d = Test::new().args(args(dir.path())).fails_with(1);
    assert!(d.stdout().contains("killed    blind 1.1"), "{}", d.stdout());
    assert!(d.stdout().contains("survived  blind 1.2"), "{}", d.stdout());
    assert!(d.stdout().contains("1/2 killed"), "{}", d.stdout());
    std::fs::write(&file, lesson("\"sandbox.ns.uts != host.ns.uts\", \"sandbox.hostname == dojo-mutant\"")).unwrap();
    let d = Test::new().args(args(dir.path())).succeeds();
    assert!(d.stdout().contains("2/2 killed"), "{}", d.stdout());
}

/// Two ways a score could lie, closed: a check that fails anyway kills nothing (the step is
/// reported broken), and "it was not performed" (a check on the removed action's own result)
/// does not count for an action whose point is the state it changes.
#[test]
fn failing_checks_and_own_results_do_not_inflate_the_score() {
    let _g = require_root!();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("liar.toml");
    let run = |expect: &str, actions: &str| {
        let lesson = format!(
            "id = \"liar\"\ntitle.en = \"liar\"\n[[step]]\ntext.en = \"t\"\ndo = [{actions}]\nexpect = [{expect}]\n"
        );
        std::fs::write(&file, lesson).unwrap();
        Test::new()
            .args([
                "--no-color".as_ref(),
                "--lessons".as_ref(),
                dir.path().as_os_str(),
                "check".as_ref(),
                "--mutate".as_ref(),
            ])
            .fails_with(1)
            .stdout()
    };
    let out = run("\"sandbox.hostname == no-such-host\"", "\"unshare uts\", \"sethostname dojo-mutant\"");
    assert!(out.contains("broken    liar 1.1") && out.contains("0/2 killed"), "{out}");
    let out = run("\"action[1].errno == none\", \"action[2].errno == none\"", "\"chroot /\", \"chdir /\"");
    assert!(out.contains("survived  liar 1.1") && out.contains("survived  liar 1.2"), "{out}");
}
