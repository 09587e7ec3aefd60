//! `nsdojo serve`, the class server, from outside: the built binary as a child process, plain
//! HTTP/1.1 written by hand over TCP. No root, no fork in this harness.
//!
//! Each part of a test talks from its own loopback address (127.0.0.x: all of 127/8 is
//! loopback on Linux), because the server rate-limits per address, as it would a classroom.
//! The browser test drives Chromium headless (`--dump-dom`, `--screenshot`) with no DevTools
//! protocol: the page's `?hold=MS` keeps its load event back while live updates arrive.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nsdojo::class::protocol::{
    Ack, Batch, ClassEvent, ClassView, Done, PresentedStep, PresentedTable, Sequenced, StudentRow,
};

use crate::harness::{bin, repo};

mod dashboard;
mod in_a_vm;
mod slowloris;

/// A running `nsdojo serve`, killed (SIGKILL) when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    code: String,
    token: String,
    /// Its stdout after the start-up lines.
    log: mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn serve(state: &Path, port: u16) -> Server {
    serve_with(state, port, &[], None)
}

/// `nsdojo serve` with more arguments, and with its descriptor limit at `nofile` if given.
fn serve_with(state: &Path, port: u16, args: &[&str], nofile: Option<u64>) -> Server {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut cmd = Command::new(bin());
    if let Some(n) = nofile {
        // prlimit(1) sets the limit and execs: no code of ours runs between fork and exec.
        cmd = Command::new("prlimit");
        cmd.arg(format!("--nofile={n}:{n}")).arg(bin());
    }
    let mut child = cmd
        .args(["serve", "--listen", &addr.to_string(), "--state"])
        .arg(state)
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nsdojo serve");
    let (banner, log) = start_up(&mut child);
    let (mut code, mut token) = (None, None);
    for line in banner.lines() {
        if let Some(short) = line.strip_prefix("short:") {
            code = short.trim().strip_prefix(&format!("{addr}/")).map(str::to_string);
        }
        if let Some(url) = line.strip_prefix("dashboard:") {
            token = url.trim().strip_prefix(&format!("http://{addr}/?token=")).map(str::to_string);
        }
    }
    assert!(banner.contains(&format!("listening on {addr}")), "{banner}");
    let code = code.unwrap_or_else(|| panic!("no join code in\n{banner}"));
    assert!(banner.contains(&format!("join:      sudo nsdojo --class http://{addr}/{code}\n")), "{banner}");
    Server { child, addr, code, token: token.unwrap_or_else(|| panic!("no token in\n{banner}")), log }
}

/// A server's start-up lines (through `state:`, or what came within 20 s), and the rest of its
/// stdout, a line at a time.
fn start_up(child: &mut Child) -> (String, mpsc::Receiver<String>) {
    let (tx, log) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut banner = String::new();
    while let Ok(line) = log.recv_timeout(Duration::from_secs(20)) {
        banner.push_str(&line);
        banner.push('\n');
        if line.starts_with("state:") {
            break;
        }
    }
    (banner, log)
}

/// A TCP connection from `from` (a loopback address of its own) to `to`.
fn connect(from: Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    use nix::sys::socket::{bind, connect, socket, AddressFamily, SockFlag, SockType, SockaddrIn};
    let SocketAddr::V4(to) = to else { panic!("IPv4 only") };
    let fd = socket(AddressFamily::Inet, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    bind(fd.as_raw_fd(), &SockaddrIn::from(SocketAddrV4::new(from, 0)))?;
    connect(fd.as_raw_fd(), &SockaddrIn::from(to))?;
    let s = TcpStream::from(fd);
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    Ok(s)
}

/// One request, `Connection: close`: (status, body).
fn http(from: Ipv4Addr, to: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut s = connect(from, to).unwrap_or_else(|e| panic!("connect {to}: {e}"));
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {to}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    // A refused body may be cut short by the server: what matters is its answer.
    let _ = s.write_all(head.as_bytes()).and_then(|_| s.write_all(body));
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string();
    (status, body)
}

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

fn ev(seq: u64, event: ClassEvent) -> Sequenced {
    Sequenced { seq, at_ms: 1_000 * seq, event }
}

fn done(seq: u64, step: usize) -> Sequenced {
    ev(seq, ClassEvent::StepDone { lesson: "uts".into(), step, done: Done::ByHand })
}

/// Seq 1 starts the lesson; seq n ≥ 2 is step n-1 done.
fn lesson_event(seq: u64) -> Sequenced {
    if seq == 1 {
        ev(1, ClassEvent::LessonStarted { lesson: "uts".into(), steps: 20 })
    } else {
        done(seq, seq as usize - 1)
    }
}

fn post(s: &Server, from: Ipv4Addr, student: &str, name: &str, events: Vec<Sequenced>) -> u64 {
    let body = serde_json::to_vec(&Batch {
        student: student.into(),
        name: name.into(),
        events,
        present_token: Some(s.token.clone()),
    })
    .unwrap();
    let (status, text) = http(from, s.addr, "POST", &format!("/api/join/{}/events", s.code), &body);
    assert_eq!(status, 200, "{text}");
    serde_json::from_str::<Ack>(&text).unwrap().acked
}

fn class(s: &Server, from: Ipv4Addr) -> ClassView {
    let (status, text) = http(from, s.addr, "GET", &format!("/api/class?token={}", s.token), b"");
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn steps_done(v: &ClassView, name: &str) -> Vec<usize> {
    v.students.iter().find(|r| r.name == name).unwrap().done.iter().map(|(s, _)| *s).collect()
}

/// The server's journal: (lines, distinct (student, seq) pairs) — equal when no event is doubled.
fn journal_keys(state: &Path) -> (usize, usize) {
    let journal = std::fs::read_to_string(state.join("journal.jsonl")).unwrap();
    let mut keys: Vec<(String, u64)> = journal
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["student"].as_str().unwrap().to_string(), v["seq"].as_u64().unwrap())
        })
        .collect();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    (n, keys.len())
}

/// A restart on the same port, once the killed server's socket is gone.
fn serve_again(state: &Path, port: u16) -> Server {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() || Instant::now() > deadline {
            return serve(state, port);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_killed_server_comes_back_with_every_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let s = serve(dir.path(), port);
    assert_eq!(post(&s, ip(2), "aaaa000000000001", "ann", (1..=5).map(lesson_event).collect()), 5);
    // Bob's batch has a gap after 3: 5 waits.
    let bob = vec![lesson_event(1), lesson_event(2), lesson_event(3), lesson_event(5)];
    assert_eq!(post(&s, ip(2), "bbbb000000000002", "bob", bob), 3);
    let before = class(&s, ip(3));
    assert_eq!(steps_done(&before, "ann"), [1, 2, 3, 4]);
    assert_eq!(steps_done(&before, "bob"), [1, 2]);
    let (code, token) = (s.code.clone(), s.token.clone());

    // kill -9 mid-lesson, and start again on the same state.
    let mut s = s;
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    drop(s);
    let s = serve_again(dir.path(), port);
    assert_eq!((s.code.as_str(), s.token.as_str()), (code.as_str(), token.as_str()), "a restart keeps code and token");
    assert_eq!(class(&s, ip(3)), before, "the journal rebuilt the class");

    // The senders resend from their outboxes, overlapping what the server already holds.
    assert_eq!(post(&s, ip(2), "aaaa000000000001", "ann", (3..=8).map(lesson_event).collect()), 8);
    assert_eq!(post(&s, ip(2), "aaaa000000000001", "ann", (1..=8).map(lesson_event).collect()), 8);
    assert_eq!(post(&s, ip(2), "bbbb000000000002", "bob", (1..=5).map(lesson_event).collect()), 5);
    let after = class(&s, ip(3));
    assert_eq!(steps_done(&after, "ann"), [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(steps_done(&after, "bob"), [1, 2, 3, 4]);

    // The journal holds each (student, seq) exactly once: 8 + 5 lines.
    assert_eq!(journal_keys(dir.path()), (13, 13));

    // SIGTERM: a clean stop.
    let mut s = s;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(s.child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(s.child.try_wait().unwrap().unwrap().success());
}

#[test]
fn hostile_input_gets_a_4xx_and_the_server_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), free_port());
    let (a, url) = (s.addr, format!("/api/join/{}/events", s.code));
    let good = |name: &str, n: u64| {
        serde_json::to_vec(&Batch {
            student: "cccc000000000003".into(),
            name: name.into(),
            events: (1..=n).map(lesson_event).collect(),
            present_token: None,
        })
        .unwrap()
    };
    let wrong_code = if s.code == "ZZZZZZ" { "YYYYYY" } else { "ZZZZZZ" };
    // A student who tries to take over the projector: a Present without the instructor's token.
    let hijack = serde_json::to_vec(&Batch {
        student: "cccc000000000009".into(),
        name: "mallory".into(),
        events: vec![presented(1)],
        present_token: Some("0".repeat(32)),
    })
    .unwrap();
    let cases: Vec<(&str, (u16, String), u16)> = vec![
        ("wrong code", http(ip(4), a, "POST", &format!("/api/join/{wrong_code}/events"), &good("x", 1)), 403),
        ("wrong token", http(ip(4), a, "GET", "/api/class?token=00", b""), 401),
        ("no token", http(ip(4), a, "GET", "/api/class", b""), 401),
        ("dashboard without token", http(ip(4), a, "GET", "/", b""), 401),
        ("stream without token", http(ip(4), a, "GET", "/api/stream?token=nope", b""), 401),
        ("presenter without code", http(ip(4), a, "GET", "/present?code=AAAAAA", b""), 401),
        ("huge body", http(ip(4), a, "POST", &url, &vec![b'['; 200 * 1024]), 413),
        ("malformed JSON", http(ip(4), a, "POST", &url, b"{\"student\": "), 400),
        ("not a batch", http(ip(4), a, "POST", &url, b"[1,2,3]"), 400),
        ("too many events", http(ip(4), a, "POST", &url, &good("x", 101)), 400),
        ("long name", http(ip(4), a, "POST", &url, &good(&"n".repeat(65), 1)), 400),
        ("control characters", http(ip(4), a, "POST", &url, &good("evil\u{1b}[2J", 1)), 400),
        ("no such page", http(ip(4), a, "GET", "/etc/passwd", b""), 404),
        ("present without the token", http(ip(4), a, "POST", &url, &hijack), 403),
    ];
    for (what, (status, body), want) in &cases {
        assert_eq!(status, want, "{what}: {body}");
        assert!(body.lines().count() <= 1 && !body.is_empty(), "{what}: one short line: {body:?}");
    }
    // A flood from one address: refused with 429 once its burst is spent.
    let statuses: Vec<u16> = (0..80).map(|_| http(ip(5), a, "GET", "/api/class", b"").0).collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(statuses.iter().all(|s| (400..500).contains(s)), "{statuses:?}");
    // Malformed batches with the right code are charged to their address too.
    let statuses: Vec<u16> = (0..80).map(|_| http(ip(9), a, "POST", &url, b"{").0).collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    // The server goes on: for others at once, for the flooder after a pause.
    assert_eq!(post(&s, ip(6), "cccc000000000003", "cho", (1..=2).map(lesson_event).collect()), 2);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(http(ip(5), a, "GET", &format!("/api/class?token={}", s.token), b"").0, 200);
    assert_eq!(class(&s, ip(6)).students.len(), 1, "nothing hostile was stored");
}

// ---------------------------------------------------------------------------- browser ----

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"].iter().find_map(|name| {
        std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
    })
}

/// Chromium headless on `url` (it dumps or shoots on the load event: see `?hold`), with
/// `extra` flags, in a profile of its own that goes with it.
struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
}

fn browse(chromium: &Path, url: &str, extra: &[String]) -> Browser {
    let profile = tempfile::tempdir().unwrap();
    let child = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    Browser { child, _profile: profile }
}

/// What the browser printed (`--dump-dom`: the page as rendered), once it is done.
fn dom_of(b: Browser) -> String {
    let out = b.child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits for the server to log `what` (a page's live stream connecting).
fn await_log(s: &Server, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if s.log.recv_timeout(Duration::from_millis(200)).is_ok_and(|l| l.contains(what)) {
            return;
        }
    }
    panic!("the server never logged {what:?}");
}

fn presented(step: usize) -> Sequenced {
    let p = PresentedStep {
        lesson: "uts".into(),
        title: format!("A hostname of one's own, part {step}"),
        step,
        steps: 3,
        text: "Terminal #1 runs `unshare -u`.".into(),
        command: "$ unshare -u /bin/bash".into(),
        syscalls: vec!["[sandbox] unshare uts".into(), "  unshare(CLONE_NEWUTS) = 0".into()],
        tables: vec![PresentedTable {
            title: "namespaces".into(),
            rows: vec![["uts".into(), "uts:[4026532177]".into(), "uts:[4026531838]".into()]],
        }],
        checks: vec![("sandbox.ns.uts != host.ns.uts".into(), true), ("<b>not html</b>".into(), false)],
    };
    ev(step as u64, ClassEvent::Present(Box::new(p)))
}

#[test]
fn the_dashboard_and_the_presenter_view_update_live_in_a_browser() {
    let Some(chromium) = chromium() else {
        let why = "class browser test: skipped: no chromium (apt-get install chromium)";
        assert_ne!(std::env::var("NSDOJO_REQUIRE_ROOT").as_deref(), Ok("1"), "{why}; CI installs it (scripts/test.sh)");
        eprintln!("{why}");
        return;
    };
    let shots = repo("target/class-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), free_port());
    post(&s, ip(7), "dddd000000000004", "김민수", (1..=3).map(lesson_event).collect());
    let fail =
        ev(2, ClassEvent::CheckFailed { lesson: "uts".into(), step: 1, check: "sandbox.hostname == \"box\"".into() });
    post(&s, ip(7), "eeee000000000005", "<script>alert(1)</script>", vec![lesson_event(1), fail]);

    // The dashboard: open, wait for its live stream, post a step, and read what it shows.
    let url = format!("http://{}/?token={}&lang=ko&hold=4000", s.addr, s.token);
    let page = browse(&chromium, &url, &["--dump-dom".into()]);
    await_log(&s, "a dashboard connected");
    await_log(&s, "a dashboard connected"); // the page's stream and its hold frame
    post(&s, ip(7), "dddd000000000004", "김민수", vec![lesson_event(4)]);
    let dom = dom_of(page);
    assert!(dom.contains(r#"<html lang="ko">"#), "{dom}");
    assert!(dom.contains(r#"data-name="김민수" data-step="4" data-done="3""#), "the posted step shows live:\n{dom}");
    assert!(dom.contains("확인 실패"), "Korean labels:\n{dom}");
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "names are text, not HTML:\n{dom}");
    let first_row = dom.find("<tr class=").unwrap();
    assert!(dom[first_row..].starts_with(r#"<tr class="failing""#), "the failing student on top:\n{dom}");
    let shot = shots.join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    let url = format!("http://{}/?token={}&hold=1500", s.addr, s.token);
    dom_of(browse(&chromium, &url, &[format!("--screenshot={}", shot.display()), "--window-size=1280,800".into()]));
    assert!(std::fs::metadata(&shot).is_ok_and(|m| m.len() > 1000), "{}", shot.display());

    // The presenter view, as a student following with the join code.
    post(&s, ip(8), "ffff000000000006", "teacher", vec![presented(1)]);
    let url = format!("http://{}/present?code={}&hold=4000", s.addr, s.code);
    let page = browse(&chromium, &url, &["--dump-dom".into()]);
    await_log(&s, "a presenter view connected");
    await_log(&s, "a presenter view connected");
    post(&s, ip(8), "ffff000000000006", "teacher", vec![presented(1), presented(2)]);
    let dom = dom_of(page);
    assert!(dom.contains("part 2</h1>"), "the new step shows live:\n{dom}");
    assert!(dom.contains("unshare(CLONE_NEWUTS) = 0"), "{dom}");
    assert!(dom.contains("uts:[4026532177]"), "{dom}");
    assert!(dom.contains(r#"<li class="ok">sandbox.ns.uts != host.ns.uts</li>"#), "{dom}");
    assert!(dom.contains(r#"<li class="fail">&lt;b&gt;not html&lt;/b&gt;</li>"#), "{dom}");
    let shot = shots.join("present.png");
    let _ = std::fs::remove_file(&shot);
    let url = format!("http://{}/present?token={}&hold=1500", s.addr, s.token);
    dom_of(browse(&chromium, &url, &[format!("--screenshot={}", shot.display()), "--window-size=1280,800".into()]));
    assert!(std::fs::metadata(&shot).is_ok_and(|m| m.len() > 1000), "{}", shot.display());
}

fn steps_in(lesson_file: &str) -> usize {
    std::fs::read_to_string(repo(&format!("lessons/{lesson_file}"))).unwrap().matches("[[step]]").count()
}

/// `sudo nsdojo --class URL --name NAME run LESSON --check`: a real lesson, its sender forked.
fn student(s_addr: SocketAddr, code: &str, name: &str, lesson: &str) {
    // A home of its own: the sender keeps an outbox there (nothing lands in root's home).
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(bin())
        .args(["--class", &format!("http://{s_addr}/{code}"), "--name", name, "run", lesson, "--check"])
        .env("NO_COLOR", "1")
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("class: reporting to http://{s_addr}/{code} as {name}"))
    );
}

/// Issue 19's end to end: three students run real lessons with `--class`; the server is killed
/// (-9) after the first and is down while the second runs; restarted, it holds every event of
/// all three exactly once, and `/api/class` shows each one's lesson, steps and departure.
#[test]
fn three_students_and_a_server_killed_mid_class() {
    let _g = crate::harness::require_root!();
    let before = crate::harness::HostState::now();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let s = serve(dir.path(), port);
    let (addr, code) = (s.addr, s.code.clone());
    let expect = [
        ("alice", "uts", steps_in("05-uts.toml")),
        ("bob", "ipc", steps_in("06-ipc.toml")),
        ("carol", "mnt", steps_in("04-mnt.toml")),
    ];
    let settled = |s: &Server, names: &[&str]| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v = class(s, ip(9));
            let all = names.iter().all(|n| v.students.iter().any(|r| r.name == *n && r.left));
            if all || Instant::now() > deadline {
                return v;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    student(addr, &code, "alice", "uts");
    let v = settled(&s, &["alice"]);
    assert_eq!(steps_done(&v, "alice"), (1..=expect[0].2).collect::<Vec<_>>(), "{v:?}");

    // The server dies; bob's whole lesson happens while it is down.
    let mut s = s;
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    drop(s);
    student(addr, &code, "bob", "ipc");
    std::thread::sleep(Duration::from_millis(1500));
    let s = serve_again(dir.path(), port);
    // Carol's lesson with the dashboard open in a real browser: her steps show there live.
    let page = chromium().map(|c| {
        let url = format!("http://{}/?token={}&hold=6000", s.addr, s.token);
        let page = browse(&c, &url, &["--dump-dom".into()]);
        await_log(&s, "a dashboard connected");
        await_log(&s, "a dashboard connected");
        page
    });
    student(addr, &code, "carol", "mnt");
    let v = settled(&s, &["alice", "bob", "carol"]);
    if let Some(page) = page {
        let dom = dom_of(page);
        for (name, _, steps) in expect {
            // A finished lesson: the last step, done (not "step N+1" of an N-step lesson).
            let row = format!(r#"data-name="{name}" data-step="{steps}" data-done="{steps}" data-finished="1""#);
            assert!(dom.contains(&row), "{row} in the dashboard:\n{dom}");
        }
    } else {
        assert_ne!(std::env::var("NSDOJO_REQUIRE_ROOT").as_deref(), Ok("1"), "no chromium; CI installs it");
    }
    for (name, lesson, steps) in expect {
        let row = v.students.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("{name} missing: {v:?}"));
        assert_eq!(row.lesson.as_deref(), Some(lesson), "{row:?}");
        assert_eq!(steps_done(&v, name), (1..=steps).collect::<Vec<_>>(), "{name}: {row:?}");
        assert!(row.left && row.failing.is_none(), "{row:?}");
    }
    // Each event once: joined, lesson started, every step, left.
    let total: usize = expect.iter().map(|(_, _, steps)| steps + 3).sum();
    assert_eq!(journal_keys(dir.path()), (total, total));
    drop(s);
    before.assert_unchanged_since("three students with --class");
}

/// A class server that is not there costs the student one line, once, and nothing else: the
/// REPL answers at once (the sender, not the REPL, waits on the network).
#[test]
fn a_class_server_that_is_down_costs_one_line() {
    let _g = crate::harness::require_root!();
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = Command::new(bin());
    cmd.args(["--class", &format!("http://127.0.0.1:{port}/ABCDEF")]);
    cmd.env("NO_COLOR", "1").env("NSDOJO_HISTORY", home.path().join("history")).env("HOME", home.path());
    let started = Instant::now();
    let mut p = rexpect::session::spawn_command(cmd, Some(20_000)).unwrap();
    p.exp_string(&format!("class: reporting to http://127.0.0.1:{port}/ABCDEF")).unwrap();
    p.exp_string("nsdojo> ").unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "the REPL waited for the network");
    std::thread::sleep(Duration::from_millis(500));
    p.send_line("help").unwrap();
    p.exp_string("does not answer").unwrap();
    p.exp_string("nsdojo> ").unwrap();
    p.send_line("help").unwrap();
    let between = p.exp_string("nsdojo> ").unwrap();
    assert!(!between.contains("does not answer"), "the note is said once: {between}");
    p.send_line("quit").unwrap();
    p.exp_eof().unwrap();
}

/// A student whose whole session happened while the server was down, and who quit long
/// before it came back: the events wait in the student's outbox and the next session in that
/// class delivers them first, under the first session's id, each once.
#[test]
fn events_of_a_session_that_ended_offline_arrive_with_the_next_one() {
    let _g = crate::harness::require_root!();
    let before = crate::harness::HostState::now();
    let (dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let port = free_port();
    let mut s = serve(dir.path(), port);
    let (addr, code) = (s.addr, s.code.clone());
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    drop(s);
    let session = |lesson: &str| {
        let out = Command::new(bin())
            .args(["--class", &format!("http://{addr}/{code}"), "--name", "dave", "run", lesson, "--check"])
            .env("NO_COLOR", "1")
            .env("HOME", home.path())
            .env("NSDOJO_CLASS_LINGER", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    session("uts");
    let outbox = home.path().join(format!(".local/state/nsdojo/class/{code}.outbox"));
    let kept = || std::fs::read_to_string(&outbox).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(10);
    while kept().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let uts_steps = steps_in("05-uts.toml");
    let batch: Batch = serde_json::from_str(kept().lines().next().expect("the outbox keeps the session")).unwrap();
    assert_eq!(batch.events.len(), uts_steps + 3, "joined, lesson, each step, left: {batch:?}");

    let s = serve_again(dir.path(), port);
    session("ipc");
    let deadline = Instant::now() + Duration::from_secs(20);
    let v = loop {
        let v = class(&s, ip(10));
        let dave = |r: &&StudentRow| r.name == "dave" && r.left && r.sessions == 2 && r.finished_lessons.len() == 2;
        if v.students.iter().any(|r| dave(&r)) || Instant::now() > deadline {
            break v;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // One student, two sessions: one row, both lessons in its history, the latest one current.
    let rows: Vec<&StudentRow> = v.students.iter().filter(|r| r.name == "dave").collect();
    assert_eq!(rows.len(), 1, "{v:?}");
    assert_eq!(rows[0].finished_lessons, ["uts", "ipc"], "{v:?}");
    assert_eq!((rows[0].lesson.as_deref(), rows[0].done.len()), (Some("ipc"), steps_in("06-ipc.toml")), "{v:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !kept().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(kept(), "", "delivered, the outbox is empty again");
    let journal = std::fs::read_to_string(dir.path().join("journal.jsonl")).unwrap();
    assert_eq!(journal.lines().count(), uts_steps + 3 + steps_in("06-ipc.toml") + 3, "each event once:\n{journal}");
    drop(s);
    before.assert_unchanged_since("a class session that ended offline");
}
