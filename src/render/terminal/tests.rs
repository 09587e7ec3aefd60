use super::*;
use crate::lab::event::Event;
use crate::lesson::Lang;
use crate::sandbox::rpc::MeterSample;

/// What `event` prints in `mode`: (stdout, stderr), colours off.
fn shown(mode: Mode, live: bool, scene: &dyn Scene, event: &Event<'_>) -> (String, String) {
    colored::control::set_override(false);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let style = Style { lang: Lang::En, width: 100 };
    let (a, b) = show(&style, mode, live, &mut out, &mut err, scene, event);
    a.unwrap();
    b.unwrap();
    (String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

#[test]
fn run_shows_the_step_whole_and_a_failed_step_on_stderr() {
    let (lesson, r) = crate::render::tests::report();
    assert!(!r.passed(), "the fixture has a failing check");
    let (out, err) = shown(Mode::Run, false, &lesson, &Event::StepDone { report: &r });
    let style = Style { lang: Lang::En, width: 100 };
    assert_eq!(out, crate::render::step(&style, &lesson, &r, &|s| s.to_string()));
    assert_eq!(err, "nsdojo: mnt step 1 failed\n");
    let (out, _) =
        shown(Mode::Run, false, &lesson, &Event::LessonStarted { lesson: "mnt", title: &lesson.title, steps: 4 });
    assert_eq!(out, format!("\n{}\n", lesson.title.en));
    let (out, _) =
        shown(Mode::Repl, false, &lesson, &Event::LessonStarted { lesson: "mnt", title: &lesson.title, steps: 4 });
    assert_eq!(out, "", "the REPL introduces a lesson once its lab is ready");
}

#[test]
fn the_repl_says_when_the_lesson_is_over_and_mutate_shows_no_step() {
    let (lesson, mut r) = crate::render::tests::report();
    let (out, err) = shown(Mode::Repl, false, &lesson, &Event::StepDone { report: &r });
    assert!(out.contains("── mnt 1/4") && err.is_empty(), "{out}{err}");
    assert!(!out.contains("end of the lesson"), "{out}");
    r.index = r.total - 1;
    let (out, _) = shown(Mode::Repl, false, &lesson, &Event::StepDone { report: &r });
    assert!(out.ends_with("end of the lesson, but this step's checks failed: `again` re-runs it\n"), "{out}");
    r.checks.retain(|c| c.verdict.passed);
    let (out, _) = shown(Mode::Repl, false, &lesson, &Event::StepDone { report: &r });
    assert!(out.ends_with("lesson complete ✔ — `lessons` for the next one\n"), "{out}");
    assert_eq!(shown(Mode::Mutate, false, &lesson, &Event::StepDone { report: &r }), (String::new(), String::new()));
}

#[test]
fn the_meter_is_drawn_only_live_and_the_audit_warns_on_stderr() {
    let (lesson, _) = crate::render::tests::report();
    let s = MeterSample { at_ms: 500, percent: 50.0, confined: None, nr_throttled: None };
    let meter = Event::Meter { pid: 42, sample: &s };
    assert_eq!(shown(Mode::Run, false, &lesson, &meter).0, "");
    assert_eq!(shown(Mode::Run, true, &lesson, &meter).0, format!("\r{}", crate::render::meter_line(Lang::En, 42, &s)));
    assert_eq!(shown(Mode::Repl, true, &lesson, &Event::MeterDone).0, "\n");
    assert_eq!(shown(Mode::Repl, false, &lesson, &Event::MeterDone).0, "");
    let mount = crate::hostguard::HostChange::Mount { point: "/tmp/x".into(), fstype: None };
    let changes = vec![crate::hostguard::Difference::Added(mount)];
    let done = Event::LessonDone { lesson: "mnt", failed: 0, host_changes: &changes };
    let (out, err) = shown(Mode::Mutate, false, &lesson, &done);
    assert!(out.is_empty() && err.contains("mutants of mnt") && err.contains("  + mount /tmp/x"), "{err}");
    assert!(shown(Mode::Run, false, &lesson, &done).1.contains("lesson mnt"));
    let clean = Event::LessonDone { lesson: "mnt", failed: 0, host_changes: &[] };
    assert_eq!(shown(Mode::Run, false, &lesson, &clean), (String::new(), String::new()));
}

#[test]
fn a_step_serialises_as_the_events_a_web_view_would_be_sent() {
    let (lesson, r) = crate::render::tests::report();
    let mut c = crate::lab::event::Collect::default();
    use crate::lab::event::Sink as _;
    let call = &r.actions[0].outcome.trace.calls[1];
    c.event(&lesson, &Event::Syscall { action: 0, on_host: false, call });
    c.event(&lesson, &Event::Check { check: &r.checks[1] });
    c.event(&lesson, &Event::StepDone { report: &r });
    assert_eq!(c.kinds(), ["syscall", "check", "step_done"]);
    assert_eq!(c.0[0]["call"]["call"], "pivot_root(\".\", \"old-root\")");
    assert_eq!(c.0[0]["call"]["result"]["Err"], nix::errno::Errno::EINVAL as i32);
    assert_eq!(c.0[1]["check"]["verdict"]["passed"], false);
    let step = &c.0[2]["report"];
    assert_eq!(
        (step["lesson"].as_str(), step["index"].as_u64(), step["sandbox_pid"].as_i64()),
        (Some("mnt"), Some(0), Some(4711))
    );
    assert_eq!(step["after"]["sandbox"]["inside"]["hostname"], "vm");
    assert_eq!(step["actions"][0]["outcome"]["trace"]["calls"].as_array().map(Vec::len), Some(2));
}
