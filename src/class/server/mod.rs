//! `nsdojo serve`: the class server, on the instructor's laptop, no root needed. Students'
//! sessions post their events here; the instructor watches the dashboard and the presenter view.
//!
//! This is the only part of nsdojo with threads and an async runtime (tokio, axum): the REPL
//! host must stay single-threaded to fork safely, so the runtime is built here, in `serve`,
//! which `main` dispatches to before anything else, and nothing on the REPL's path calls it.
//!
//! - `state`: the class as a plain state machine (ordering, idempotence, rows, stuck)
//! - `journal`: every stored event on disk before it is acked; replayed at start
//! - `secrets`: the join code and the instructor's token, kept across restarts
//! - `http`: routes and the checks on every request; `ratelimit`: a bucket per session/address
//! - `conn`: who may hold a connection and for how long (timeouts, bounds per address)
//! - `stream`: the live SSE streams; `addr`: the lines printed for the slide
//! - `loadgen`: a load generator for BENCHMARKS.md (a client; not used by the server)

mod addr;
mod conn;
mod export;
mod http;
mod journal;
pub mod loadgen;
mod ratelimit;
mod secrets;
mod state;
mod stream;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

pub use addr::{Advertise, AdvertiseError};
pub use journal::JournalError;
pub use secrets::SecretsError;

/// The default `--listen`: every interface, so students on the room's network reach it.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8080";
/// The default `--stuck-after`, in seconds.
pub const DEFAULT_STUCK_AFTER: u64 = 300;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("no place for the class state: set --state, XDG_STATE_HOME or HOME")]
    NoStateDir,
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("cannot start the server: {0}")]
    Runtime(std::io::Error),
}

/// What `nsdojo serve` was asked for.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    /// The state file (`NAME.json`), or a directory to keep `class.json` and `journal.jsonl` in.
    pub state: Option<PathBuf>,
    pub stuck_after: Duration,
    /// Start a new class: keep the old journal beside the new one, and a new join code.
    pub new_class: bool,
    /// The address students reach the server at, when it is not the machine's own (a VM).
    pub advertise: Option<Advertise>,
}

/// The state file and its journal, from `--state` or the default directory.
fn state_paths(state: Option<&Path>) -> Result<(PathBuf, PathBuf), ServeError> {
    let in_dir = |d: &Path| (d.join("class.json"), d.join("journal.jsonl"));
    match state {
        // A directory: one that exists, or a path ending in `/` or with no extension.
        Some(p) if p.is_dir() || p.as_os_str().to_string_lossy().ends_with('/') || p.extension().is_none() => {
            Ok(in_dir(p))
        }
        Some(p) => Ok((p.to_path_buf(), p.with_extension("journal.jsonl"))),
        None => {
            let base = std::env::var_os("XDG_STATE_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".local/state"))
                })
                .ok_or(ServeError::NoStateDir)?;
            Ok(in_dir(&base.join("nsdojo/class")))
        }
    }
}

/// Server ms since the Unix epoch: the clock every stored event is stamped with.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// A line of the server's log on stdout. A closed stdout (`nsdojo serve | head`) must not take
/// the server down with it, so a failed write is ignored rather than a panic as in `println!`.
pub(crate) fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "nsdojo serve: {line}");
}

/// What the requests share, behind one lock: a request holds it for microseconds and never
/// across an await.
#[derive(Default)]
pub(crate) struct Room {
    pub(crate) class: state::Class,
    pub(crate) limiter: ratelimit::Limiter,
    pub(crate) recent: stream::Recent,
}

pub(crate) struct Shared {
    room: Mutex<Room>,
    journal: journal::Journal,
    secrets: secrets::Secrets,
    stuck_after_ms: u64,
    /// Bumped when events are stored: the dashboards' streams wake on it.
    changed: watch::Sender<u64>,
    /// Bumped when a presented step is stored.
    presented: watch::Sender<u64>,
    /// True once SIGINT or SIGTERM came: the streams end, so the server can.
    shutdown: watch::Receiver<bool>,
    /// The bounds on connections and live streams.
    gate: Arc<conn::Gate>,
}

impl Shared {
    pub(crate) fn room(&self) -> MutexGuard<'_, Room> {
        // A panic while holding the lock leaves plain data behind; the class goes on.
        self.room.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Runs the server until SIGINT or SIGTERM. Builds its own runtime: call it from `main` before
/// anything else has started (it is the process's only job from then on).
pub fn serve(opts: ServeOptions) -> Result<(), ServeError> {
    use std::io::Write;
    let (state_file, journal_file) = state_paths(opts.state.as_deref())?;
    let kept = if opts.new_class { journal::archive(&journal_file, now_ms() / 1000)? } else { None };
    let secrets = if opts.new_class {
        secrets::Secrets::new_class(&state_file)?
    } else {
        secrets::Secrets::load_or_create(&state_file)?
    };
    let stuck_after_ms = opts.stuck_after.as_millis() as u64;
    let mut room = Room { class: state::Class::new(2 * stuck_after_ms), ..Room::default() };
    let replayed = journal::replay(&journal_file, &mut room.class)?;
    let journal = journal::Journal::open(&journal_file)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(ServeError::Runtime)?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|source| ServeError::Bind { addr: opts.listen, source })?;
        let bound = listener.local_addr().map_err(|source| ServeError::Bind { addr: opts.listen, source })?;
        let (stop, shutdown) = watch::channel(false);
        let students = room.class.len();
        let shared = Arc::new(Shared {
            room: Mutex::new(room),
            journal,
            secrets,
            stuck_after_ms,
            changed: watch::channel(0).0,
            presented: watch::channel(0).0,
            shutdown: shutdown.clone(),
            gate: Arc::new(conn::Gate::for_fd_limit()),
        });
        let lan = addr::lan_ipv4();
        let public = addr::public(bound, lan, opts.advertise.as_ref());
        let mut out = std::io::stdout();
        let _ = write!(out, "{}", addr::banner(bound, &public, &shared.secrets.code, &shared.secrets.token));
        // A server in a VM, named by its NAT address: no student can reach that.
        if let (None, true, Some(lan)) = (&opts.advertise, bound.ip().is_unspecified(), lan) {
            if let Some(nat) = addr::behind_vm_nat(lan, crate::machine::wsl() == Some(2)) {
                let _ = write!(out, "{}", nat.advice(bound.port()));
            }
        }
        let _ = writeln!(
            out,
            "state:     {} (journal {}: {} events of {students} students replayed{})",
            state_file.display(),
            journal_file.display(),
            replayed.events,
            if replayed.torn > 0 { format!(", {} torn line(s) skipped", replayed.torn) } else { String::new() }
        );
        if opts.new_class {
            let _ = match &kept {
                Some(k) => writeln!(out, "new class: the previous class's journal is kept as {}", k.display()),
                None => writeln!(out, "new class: there was no previous journal"),
            };
        }
        tokio::spawn(signals(stop));
        let sweeper = shared.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                sweeper.room().limiter.forget_idle(now_ms());
            }
        });
        let gate = shared.gate.clone();
        conn::run(listener, http::router(shared), gate, shutdown).await;
        say(&format!("stopped; everything acked is in {}", journal_file.display()));
        Ok(())
    })
}

/// Sets `stop` on the first SIGINT or SIGTERM.
async fn signals(stop: watch::Sender<bool>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    let _ = stop.send(true);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_a_file_or_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let (s, j) = state_paths(Some(dir.path())).unwrap();
        assert_eq!((s, j), (dir.path().join("class.json"), dir.path().join("journal.jsonl")));
        let (s, _) = state_paths(Some(Path::new("/x/room2"))).unwrap();
        assert_eq!(s.to_str(), Some("/x/room2/class.json"));
        let (s, j) = state_paths(Some(Path::new("/x/room2.json"))).unwrap();
        assert_eq!((s.to_str(), j.to_str()), (Some("/x/room2.json"), Some("/x/room2.journal.jsonl")));
    }
}
