//! The dashboard as an instructor needs it (issue 27): one row per student across restarts,
//! a finished lesson shown as done, time on step stopped while a student is away, a new class
//! that keeps the old journal, the CSV export; in Korean and English, in Chromium.

use std::time::Duration;

use nsdojo::class::protocol::{ClassEvent, ClassView, StudentRow};

use super::{
    await_log, browse, chromium, class, dom_of, done, ev, free_port, http, ip, post, serve, serve_again, serve_with,
    Server,
};

fn row<'a>(v: &'a ClassView, name: &str) -> &'a StudentRow {
    v.students.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no row {name}: {v:?}"))
}

/// kim finishes a 2-step lesson, quits, and starts nsdojo again; lee starts and quits; park
/// is on step 1.
fn a_class(s: &Server) {
    let started = |seq, steps| ev(seq, ClassEvent::LessonStarted { lesson: "uts".into(), steps });
    let joined = |seq| ev(seq, ClassEvent::Joined { lang: "ko".into() });
    post(s, ip(20), "aaaa000000000001", "kim", vec![joined(1), started(2, 2), done(3, 1), done(4, 2)]);
    post(s, ip(20), "aaaa000000000001", "kim", vec![ev(5, ClassEvent::Left)]);
    post(s, ip(20), "aaaa000000000002", "kim", vec![joined(1)]);
    post(s, ip(21), "bbbb000000000001", "lee", vec![joined(1), started(2, 4), ev(3, ClassEvent::Left)]);
    post(s, ip(22), "cccc000000000001", "park", vec![joined(1), started(2, 4)]);
}

#[test]
fn one_row_per_student_done_lessons_and_a_clock_that_stops_when_away() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), free_port());
    a_class(&s);
    let v = class(&s, ip(23));
    assert_eq!(v.students.len(), 3, "one row per student, not per session: {v:?}");
    let kim = row(&v, "kim");
    assert_eq!(kim.sessions, 2, "the row says kim restarted");
    assert_eq!(kim.finished_lessons, ["uts"], "and keeps what kim did before");
    assert!(!kim.away && !kim.left);
    // kim's lesson was finished by the first session and nothing new started: done, not step 3.
    assert!(kim.finished && kim.step == 2 && kim.steps == 2, "{kim:?}");
    let lee = row(&v, "lee");
    assert!(lee.away && lee.left, "{lee:?}");
    assert_eq!(v.students.last().unwrap().name, "lee", "away at the bottom");
    // lee's clock stopped when lee left; park's keeps counting.
    std::thread::sleep(Duration::from_millis(2_100));
    let later = class(&s, ip(23));
    assert_eq!(row(&later, "lee").seconds_on_step, lee.seconds_on_step, "away: the clock stands");
    assert!(row(&later, "park").seconds_on_step >= row(&v, "park").seconds_on_step + 2);
    // The journal replays to the same rows.
    drop(s);
    let s = serve_again(dir.path(), free_port());
    let again = class(&s, ip(23));
    assert_eq!((row(&again, "kim").sessions, row(&again, "kim").finished), (2, true));
}

#[test]
fn the_class_exports_as_csv_with_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), free_port());
    a_class(&s);
    post(
        &s,
        ip(24),
        "dddd000000000001",
        "=HYPERLINK(\"x\",\"김\")",
        vec![ev(1, ClassEvent::Joined { lang: "ko".into() })],
    );
    assert_eq!(http(ip(25), s.addr, "GET", "/api/class.csv", b"").0, 401);
    assert_eq!(http(ip(25), s.addr, "GET", "/api/class.csv?token=00", b"").0, 401);
    assert_eq!(http(ip(25), s.addr, "GET", &format!("/api/class.csv?code={}", s.code), b"").0, 401, "not students");
    let (status, body) = http(ip(25), s.addr, "GET", &format!("/api/class.csv?token={}", s.token), b"");
    assert_eq!(status, 200, "{body}");
    let body = body.strip_prefix('\u{feff}').expect("a BOM, for spreadsheets to read UTF-8");
    let lines: Vec<&str> = body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(lines[0].starts_with("name,lesson,step,steps,finished,"), "{body}");
    assert_eq!(lines.len(), 5, "a header and one line per student:\n{body}");
    assert!(lines.iter().any(|l| l.starts_with("kim,uts,2,2,true,2,") && l.contains(",uts,2,true,")), "{body}");
    assert!(lines.iter().any(|l| l.starts_with("\"'=HYPERLINK(")), "a formula is defused:\n{body}");
}

#[test]
fn a_new_class_starts_empty_and_keeps_the_old_journal() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let s = serve(dir.path(), port);
    a_class(&s);
    let (old_code, token) = (s.code.clone(), s.token.clone());
    drop(s);
    std::thread::sleep(Duration::from_millis(200));
    let s = serve_with(dir.path(), free_port(), &["--new-class"], None);
    assert_ne!(s.code, old_code, "a new join code: last class's senders do not report here");
    assert_eq!(s.token, token, "the dashboard link still opens");
    assert!(class(&s, ip(26)).students.is_empty(), "the new class starts empty");
    let kept: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("journal.") && n != "journal.jsonl")
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let old = std::fs::read_to_string(dir.path().join(&kept[0])).unwrap();
    assert_eq!(old.lines().count(), 11, "every event of the old class is kept");
    let wrong = http(ip(26), s.addr, "POST", &format!("/api/join/{old_code}/events"), b"{}");
    assert_eq!(wrong.0, 403, "the old code is refused");
}

#[test]
fn the_dashboard_shows_restarts_done_and_away_in_both_languages() {
    let Some(chromium) = chromium() else {
        eprintln!("class browser test: skipped: no chromium");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), free_port());
    a_class(&s);
    for (lang, words) in [
        ("ko", ["다시 시작 ×1", "완료", "자리 비움", "CSV 내보내기", "마친 레슨: uts"]),
        ("en", ["restarted ×1", "done", "away", "export CSV", "finished: uts"]),
    ] {
        let url = format!("http://{}/?token={}&lang={lang}&hold=2000", s.addr, s.token);
        let page = browse(&chromium, &url, &["--dump-dom".into()]);
        await_log(&s, "a dashboard connected");
        let dom = dom_of(page);
        assert!(dom.contains(&format!("<html lang=\"{lang}\">")), "{dom}");
        for w in words {
            assert!(dom.contains(w), "{lang}: {w:?} missing:\n{dom}");
        }
        assert!(
            dom.contains(r#"data-name="kim" data-step="2" data-done="2" data-finished="1" data-sessions="2""#),
            "{dom}"
        );
        assert!(
            dom.contains(
                r#"data-name="lee" data-step="1" data-done="0" data-finished="0" data-sessions="1" data-away="1""#
            ),
            "{dom}"
        );
        assert_eq!(dom.matches("data-name=\"kim\"").count(), 1, "one row for kim:\n{dom}");
        assert!(dom.contains(&format!("href=\"/api/class.csv?token={}\"", s.token)), "{dom}");
    }
}
