//! `nsdojo bench class`: a classroom on loopback, for BENCHMARKS.md (scripts/bench-class.sh).
//!
//! Starts `nsdojo serve` as a child process, then simulates students: each has its own source
//! address (127.0.x.y: every 127/8 address is loopback on Linux, so the per-address rate limit
//! sees one client per student, as in a real room), a keep-alive connection, and sends one
//! event every `1/rate` seconds the way the real sender does (everything not yet acked, in
//! order, resent until acked). One dashboard client reads `/api/stream` on a thread of its own
//! and measures, for every stored event it is told about, the time from the event's `at_ms` to
//! its arrival. The server's CPU and peak RSS come from its /proc entries.
//!
//! Meanwhile one hostile laptop (127.0.0.1) holds `FLOOD` connections that each sent half a
//! request head (slowloris), against a server whose descriptor limit is 1,024; a probe from
//! another address times `/api/class` every 200 ms: what the dashboard saw during the flood.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::{TcpSocket, TcpStream};

use super::now_ms;
use crate::class::protocol::{Ack, Batch, ClassEvent, Done, Sequenced};
use crate::observe::procfs::{self, Proc};

/// Events per second per student.
const RATE: f64 = 2.0;
/// Steps of the simulated lesson (then it starts again).
const STEPS: usize = 12;
/// Half-open requests the hostile laptop holds during the run.
const FLOOD: usize = 1_500;
/// The server's descriptor limit (a typical default) when the room fits under it.
const SERVER_NOFILE: u64 = 1_024;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("bench class: {0}")]
    Io(#[from] std::io::Error),
    #[error("bench class: the server did not start: {0}")]
    Start(&'static str),
}

/// What one run measured.
#[derive(Debug, Default)]
pub struct Report {
    pub students: usize,
    pub seconds: u64,
    pub sent: u64,
    pub acked: u64,
    pub seen: u64,
    pub requests: u64,
    pub refused: u64,
    pub p50_ms: u64,
    pub p99_ms: u64,
    pub max_ms: u64,
    pub cpu_seconds: f64,
    pub peak_rss_kib: u64,
    pub flood: Flood,
}

/// The slowloris laptop and the probe beside it.
#[derive(Debug, Default)]
pub struct Flood {
    /// The server's descriptor limit (0: left as inherited, a room too big for 1,024).
    pub server_nofile: u64,
    pub opened: usize,
    /// How long opening them took.
    pub open_ms: u64,
    /// Of those, still held open by the server once all were open, and at the end.
    pub held_after_open: usize,
    pub held_at_end: usize,
    /// Connections opened again once the server had closed them.
    pub reopened: usize,
    pub probes: usize,
    pub probes_failed: usize,
    pub probe_p50_ms: u64,
    pub probe_max_ms: u64,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "students: {}, {} s at {RATE} events/s each", self.students, self.seconds)?;
        writeln!(f, "requests: {} ({} refused)", self.requests, self.refused)?;
        writeln!(
            f,
            "events sent: {}, acked by the server: {}, lost: {}",
            self.sent,
            self.acked,
            self.sent - self.acked
        )?;
        writeln!(
            f,
            "events seen on the dashboard stream: {} (missing: {})",
            self.seen,
            self.acked.saturating_sub(self.seen)
        )?;
        writeln!(
            f,
            "event-to-dashboard latency: p50 {} ms, p99 {} ms, max {} ms",
            self.p50_ms, self.p99_ms, self.max_ms
        )?;
        let busy = self.cpu_seconds / self.seconds.max(1) as f64 * 100.0;
        writeln!(f, "server CPU: {:.2} s over the run ({busy:.1} % of one core)", self.cpu_seconds)?;
        writeln!(f, "server peak RSS (VmHWM): {:.1} MiB", self.peak_rss_kib as f64 / 1024.0)?;
        let fl = &self.flood;
        writeln!(
            f,
            "slowloris: {} half-requests from 127.0.0.1 in {} ms (server descriptor limit {}): held by the server {} once all were open, {} at the end; {} reopened after the server closed them",
            fl.opened,
            fl.open_ms,
            if fl.server_nofile == 0 { "inherited".to_string() } else { fl.server_nofile.to_string() },
            fl.held_after_open,
            fl.held_at_end,
            fl.reopened
        )?;
        write!(
            f,
            "/api/class from another address meanwhile: {} probes, {} failed, p50 {} ms, max {} ms",
            fl.probes, fl.probes_failed, fl.probe_p50_ms, fl.probe_max_ms
        )
    }
}

/// The server under test: killed when dropped.
struct Server {
    child: Child,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts `nsdojo serve` on a free loopback port (under `prlimit` with `nofile`, if given);
/// returns it with its address, code and token.
fn start_server(nofile: Option<u64>) -> Result<(Server, SocketAddr, String, String), BenchError> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let dir = std::env::temp_dir().join(format!("nsdojo-bench-class-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut cmd = Command::new(std::env::current_exe()?);
    if let Some(n) = nofile {
        cmd = Command::new("prlimit");
        cmd.arg(format!("--nofile={n}:{n}")).arg(std::env::current_exe()?);
    }
    let mut child =
        cmd.args(["serve", "--listen", &addr.to_string(), "--state"]).arg(&dir).stdout(Stdio::piped()).spawn()?;
    let out = child.stdout.take().ok_or(BenchError::Start("no stdout"))?;
    let server = Server { child, dir };
    let (mut code, mut token) = (None, None);
    let mut lines = BufReader::new(out).lines();
    for line in lines.by_ref() {
        let line = line?;
        if let Some(short) = line.strip_prefix("short:") {
            code = short.trim().rsplit('/').next().map(str::to_string);
        }
        if let Some(url) = line.strip_prefix("dashboard:") {
            token = url.split("token=").nth(1).map(str::to_string);
        }
        if line.starts_with("state:") {
            break;
        }
    }
    // The rest of its output (dashboards connecting) is read and dropped, so it never blocks.
    std::thread::spawn(move || lines.for_each(drop));
    match (code, token) {
        (Some(c), Some(t)) => Ok((server, addr, c, t)),
        _ => Err(BenchError::Start("no join code or token in its output")),
    }
}

/// The n-th event of a student: joined, a lesson started, its steps, a failed check now and
/// then, and the lesson again.
fn event(n: u64) -> ClassEvent {
    let lesson = "uts".to_string();
    match n {
        1 => ClassEvent::Joined { lang: "en".into() },
        n => match (n - 2) % (STEPS as u64 + 2) {
            0 => ClassEvent::LessonStarted { lesson, steps: STEPS },
            1 => ClassEvent::CheckFailed { lesson, step: 1, check: "sandbox.hostname != host.hostname".into() },
            k => ClassEvent::StepDone { lesson, step: (k - 1) as usize, done: Done::Watched },
        },
    }
}

/// One request on a keep-alive connection: (status, body).
async fn request(conn: &mut AsyncBufReader<TcpStream>, head: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    // One write, as a real client's: two small ones would meet Nagle and a delayed ACK.
    let mut bytes = Vec::with_capacity(head.len() + body.len());
    bytes.extend_from_slice(head.as_bytes());
    bytes.extend_from_slice(body);
    conn.get_mut().write_all(&bytes).await?;
    let mut status = 0;
    let mut length = 0;
    let mut line = String::new();
    loop {
        line.clear();
        if conn.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some(rest) = l.strip_prefix("HTTP/1.1 ") {
            status = rest.get(..3).and_then(|s| s.parse().ok()).unwrap_or(0);
        } else if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut out = vec![0; length];
    conn.read_exact(&mut out).await?;
    Ok((status, out))
}

#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    acked: AtomicU64,
    requests: AtomicU64,
    refused: AtomicU64,
}

/// One simulated student, until `until`, then until everything it queued is acked.
async fn student(i: usize, server: SocketAddr, code: Arc<str>, until: Instant, counts: Arc<Counts>) {
    let source = Ipv4Addr::new(127, 0, (i / 250) as u8 + 1, (i % 250) as u8 + 2);
    let id = format!("{:016x}", 0xbe00_0000_0000_0000u64 + i as u64);
    let period = Duration::from_secs_f64(1.0 / RATE);
    // Spread the students over the period, as a room does.
    tokio::time::sleep(period.mul_f64((i % 97) as f64 / 97.0)).await;
    let mut outbox: Vec<Sequenced> = Vec::new();
    let (mut next, mut acked) = (1u64, 0u64);
    let mut conn: Option<AsyncBufReader<TcpStream>> = None;
    let mut tick = tokio::time::interval(period);
    let drain_until = until + Duration::from_secs(10);
    loop {
        tick.tick().await;
        let now = Instant::now();
        if now < until {
            outbox.push(Sequenced { seq: next, at_ms: now_ms(), event: event(next) });
            next += 1;
            counts.sent.fetch_add(1, Ordering::Relaxed);
        } else if outbox.is_empty() || now > drain_until {
            break;
        }
        if conn.is_none() {
            let socket = TcpSocket::new_v4().and_then(|s| s.bind(SocketAddr::from((source, 0))).map(|_| s));
            conn = match socket {
                Ok(s) => s.connect(server).await.ok().map(AsyncBufReader::new),
                Err(_) => None,
            };
        }
        let Some(c) = conn.as_mut() else { continue };
        let batch =
            Batch { student: id.clone(), name: format!("student-{i:03}"), events: outbox.clone(), present_token: None };
        let body = serde_json::to_vec(&batch).unwrap_or_default();
        let head = format!(
            "POST /api/join/{code}/events HTTP/1.1\r\nHost: {server}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        counts.requests.fetch_add(1, Ordering::Relaxed);
        match request(c, &head, &body).await {
            Ok((200, body)) => {
                if let Ok(ack) = serde_json::from_slice::<Ack>(&body) {
                    counts.acked.fetch_add(ack.acked.saturating_sub(acked), Ordering::Relaxed);
                    acked = acked.max(ack.acked);
                    outbox.retain(|e| e.seq > acked);
                }
            }
            Ok(_) => {
                counts.refused.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => conn = None,
        }
    }
}

/// What the dashboard stream saw: (student, seq) pairs and a latency per event.
#[derive(Default)]
struct Seen {
    events: HashSet<(String, u64)>,
    latencies_ms: Vec<u64>,
}

#[derive(serde::Deserialize)]
struct Notice {
    student: String,
    seq: u64,
    at_ms: u64,
}

#[derive(serde::Deserialize)]
struct Update {
    stored: Vec<Notice>,
}

/// Reads `/api/stream` until the server closes it (HTTP/1.0: no chunked framing to undo).
async fn dashboard(server: SocketAddr, token: String, seen: Arc<Mutex<Seen>>) -> std::io::Result<()> {
    let mut conn = AsyncBufReader::new(TcpStream::connect(server).await?);
    let head = format!("GET /api/stream?token={token} HTTP/1.0\r\nHost: {server}\r\n\r\n");
    conn.get_mut().write_all(head.as_bytes()).await?;
    let mut line = String::new();
    while conn.read_line(&mut line).await? > 0 {
        if let Some(data) = line.trim_end().strip_prefix("data:") {
            let arrived = now_ms();
            if let Ok(u) = serde_json::from_str::<Update>(data.trim_start()) {
                let mut s = seen.lock().unwrap_or_else(|e| e.into_inner());
                for n in u.stored {
                    if s.events.insert((n.student, n.seq)) {
                        s.latencies_ms.push(arrived.saturating_sub(n.at_ms));
                    }
                }
            }
        }
        line.clear();
    }
    Ok(())
}

/// utime + stime of `pid`, in seconds (0 once it is gone: the figure is then not taken).
fn cpu_seconds(pid: u32) -> f64 {
    let ticks = procfs::stat(pid as i32).map_or(0, |s| s.utime + s.stime);
    // SAFETY: sysconf only reads a constant of the system.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
    ticks as f64 / hz as f64
}

/// VmHWM of `pid`, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    procfs::status(Proc::Pid(pid as i32)).ok().and_then(|s| s.vm_hwm_kib).unwrap_or(0)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// Whether the server still holds `s` open.
fn held(s: &mut std::net::TcpStream) -> bool {
    use std::io::Read;
    let mut b = [0u8; 64];
    match s.read(&mut b) {
        Ok(n) => n > 0,
        Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
    }
}

/// One `GET /api/class` from 127.0.200.1 (an address of its own): its time, or None.
fn probe(server: SocketAddr, token: &str) -> Option<u64> {
    use nix::sys::socket::{bind, connect, socket, AddressFamily, SockFlag, SockType, SockaddrIn};
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    let SocketAddr::V4(to) = server else { return None };
    let t = Instant::now();
    let fd = socket(AddressFamily::Inet, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).ok()?;
    bind(fd.as_raw_fd(), &SockaddrIn::from(std::net::SocketAddrV4::new(Ipv4Addr::new(127, 0, 200, 1), 0))).ok()?;
    connect(fd.as_raw_fd(), &SockaddrIn::from(to)).ok()?;
    let mut s = std::net::TcpStream::from(fd);
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET /api/class?token={token} HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    out.starts_with(b"HTTP/1.1 200").then(|| t.elapsed().as_millis() as u64)
}

/// The hostile laptop and the probe, until `stop`.
fn flood(server: SocketAddr, token: String, stop: Arc<std::sync::atomic::AtomicBool>) -> Flood {
    use std::io::Write;
    let mut out = Flood::default();
    let started = Instant::now();
    let half = || {
        let mut c = std::net::TcpStream::connect(server).ok()?;
        let _ = c.write_all(b"GET /api/class HTTP/1.1\r\nHost: x\r\nX-Slow: ");
        c.set_nonblocking(true).ok()?;
        Some(c)
    };
    let mut conns: Vec<std::net::TcpStream> = (0..FLOOD).filter_map(|_| half()).collect();
    out.open_ms = started.elapsed().as_millis() as u64;
    out.opened = conns.len();
    std::thread::sleep(Duration::from_millis(100));
    out.held_after_open = conns.iter_mut().map(held).filter(|h| *h).count();
    let mut lat = Vec::new();
    let mut refreshed = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        // A persistent attacker: every second, each connection the server closed is opened
        // again, half a request head and all.
        if refreshed.elapsed() >= Duration::from_secs(1) {
            for c in conns.iter_mut() {
                if !held(c) {
                    if let Some(new) = half() {
                        *c = new;
                        out.reopened += 1;
                    }
                }
            }
            refreshed = Instant::now();
        }
        out.probes += 1;
        match probe(server, &token) {
            Some(ms) => lat.push(ms),
            None => out.probes_failed += 1,
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    out.held_at_end = conns.iter_mut().map(held).filter(|h| *h).count();
    lat.sort_unstable();
    out.probe_p50_ms = percentile(&lat, 0.5);
    out.probe_max_ms = lat.last().copied().unwrap_or(0);
    out
}

/// Runs the class benchmark: `students` students for `duration`, and a slowloris laptop.
pub fn run(students: usize, duration: Duration) -> Result<Report, BenchError> {
    // 1,024 descriptors hold a room of 800 (one keep-alive connection each) and the rest.
    let nofile = (students <= 800 && Path::new("/usr/bin/prlimit").exists()).then_some(SERVER_NOFILE);
    let (server, addr, code, token) = start_server(nofile)?;
    let pid = server.child.id();
    let seen = Arc::new(Mutex::new(Seen::default()));
    // The dashboard on its own thread and runtime, so busy senders do not delay its clock.
    let token_for_flood = token.clone();
    let dash = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(dashboard(addr, token, seen))
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flooder = {
        let (stop, token) = (stop.clone(), token_for_flood);
        std::thread::spawn(move || flood(addr, token, stop))
    };
    let counts = Arc::new(Counts::default());
    let cpu_before = cpu_seconds(pid);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let until = Instant::now() + duration;
        let code: Arc<str> = code.into();
        let tasks: Vec<_> =
            (0..students).map(|i| tokio::spawn(student(i, addr, code.clone(), until, counts.clone()))).collect();
        for t in tasks {
            let _ = t.await;
        }
    });
    let cpu = cpu_seconds(pid) - cpu_before;
    stop.store(true, Ordering::Relaxed);
    let mut flood = flooder.join().unwrap_or_default();
    flood.server_nofile = nofile.unwrap_or(0);
    std::thread::sleep(Duration::from_millis(1500));
    let peak_rss_kib = peak_rss_kib(pid);
    drop(server);
    let _ = dash.join();
    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner()));
    let mut lat = seen.latencies_ms;
    lat.sort_unstable();
    Ok(Report {
        students,
        seconds: duration.as_secs(),
        sent: counts.sent.load(Ordering::Relaxed),
        acked: counts.acked.load(Ordering::Relaxed),
        seen: seen.events.len() as u64,
        requests: counts.requests.load(Ordering::Relaxed),
        refused: counts.refused.load(Ordering::Relaxed),
        p50_ms: percentile(&lat, 0.50),
        p99_ms: percentile(&lat, 0.99),
        max_ms: lat.last().copied().unwrap_or(0),
        cpu_seconds: cpu,
        peak_rss_kib,
        flood,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_students_send_a_lesson_over_and_over() {
        assert!(matches!(event(1), ClassEvent::Joined { .. }));
        assert!(matches!(event(2), ClassEvent::LessonStarted { .. }));
        assert!(matches!(event(4), ClassEvent::StepDone { step: 1, .. }));
        assert!(matches!(event(4 + STEPS as u64 - 1), ClassEvent::StepDone { step: STEPS, .. }));
        assert!(matches!(event(2 + STEPS as u64 + 2), ClassEvent::LessonStarted { .. }));
        assert_eq!(percentile(&[1, 2, 3, 4], 0.5), 2);
        assert_eq!(percentile(&[1, 2, 3, 4], 0.99), 4);
    }
}
