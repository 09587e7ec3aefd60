//! Live updates: the dashboard's and the presenter's Server-Sent Events streams.
//!
//! A store bumps a `watch` counter; each open stream wakes on it (or on a one-second tick, so
//! `seconds_on_step` counts up on a quiet room), and sends the whole class view plus the events
//! stored since its last message. A watch coalesces: 300 students sending at once cost each
//! dashboard one render per wake-up, at most ten a second, not one per event. The stored
//! events carry the student's `at_ms` and the server's `stored_ms`, which is how the load
//! benchmark measures event-to-dashboard latency.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::Serialize;
use tokio::sync::watch;

use super::conn::StreamPermit;
use super::http::{refuse, Auth};
use super::{now_ms, say, Shared};
use crate::class::protocol::{PresentedStep, Sequenced, StudentRow};

/// How long a stream waits between two messages at least: the coalescing window.
const MIN_GAP: Duration = Duration::from_millis(100);
/// A quiet room still gets a message this often, so the clocks on the page move.
const TICK: Duration = Duration::from_secs(1);
/// Stored events remembered for streams that have not sent them yet.
const RECENT: usize = 20_000;

/// One stored event, as a stream reports it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Notice {
    student: String,
    seq: u64,
    at_ms: u64,
    stored_ms: u64,
}

/// The latest stored events, numbered so each stream knows which it has sent.
#[derive(Debug, Default)]
pub(crate) struct Recent {
    next: u64,
    notices: VecDeque<(u64, Notice)>,
}

impl Recent {
    pub(crate) fn push(&mut self, student: &str, events: &[Sequenced], stored_ms: u64) {
        for e in events {
            self.next += 1;
            let n = Notice { student: student.to_string(), seq: e.seq, at_ms: e.at_ms, stored_ms };
            self.notices.push_back((self.next, n));
            if self.notices.len() > RECENT {
                self.notices.pop_front();
            }
        }
    }

    /// The notices after number `after`, and the newest number.
    fn since(&self, after: u64) -> (Vec<Notice>, u64) {
        let start = self.notices.partition_point(|(i, _)| *i <= after);
        (self.notices.range(start..).map(|(_, n)| n.clone()).collect(), self.next)
    }
}

/// One `class` message of `/api/stream`.
#[derive(Serialize)]
struct ClassUpdate {
    now_ms: u64,
    students: Vec<StudentRow>,
    /// Events stored since this stream's previous message.
    stored: Vec<Notice>,
}

/// `/api/present` and each `present` message of `/api/present/stream`.
#[derive(Serialize)]
pub(crate) struct PresentUpdate {
    step: Option<PresentedStep>,
    stored_ms: Option<u64>,
}

pub(crate) fn present_payload(shared: &Shared) -> PresentUpdate {
    let room = shared.room();
    let p = room.class.present();
    PresentUpdate { step: p.map(|(s, _)| s.clone()), stored_ms: p.map(|(_, at)| *at) }
}

/// Waits for `changed` (or `tick`, if given), then until `MIN_GAP` after the previous message
/// (`last`): the first change after a quiet spell goes out at once, a busy room's coalesce.
/// False once the server shuts down.
async fn wake(
    changed: &mut watch::Receiver<u64>,
    shutdown: &mut watch::Receiver<bool>,
    tick: Option<Duration>,
    last: tokio::time::Instant,
) -> bool {
    let sleep = tokio::time::sleep(tick.unwrap_or(Duration::from_secs(3600)));
    let go = tokio::select! {
        r = changed.changed() => r.is_ok(),
        _ = sleep => true,
        _ = shutdown.changed() => false,
    };
    tokio::time::sleep_until(last + MIN_GAP).await;
    go && !*shutdown.borrow()
}

fn json_event(kind: &str, payload: &impl Serialize) -> Event {
    // Rows and steps are strings and numbers: they always serialize.
    Event::default().event(kind).data(serde_json::to_string(payload).expect("stream payload"))
}

/// `GET /api/stream?token=T`: the class, live.
pub(crate) async fn class(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(auth): Query<Auth>,
) -> Response {
    if !auth.instructor(&shared) {
        return refuse(StatusCode::UNAUTHORIZED, "wrong or missing token");
    }
    let Some(permit) = shared.gate.stream(peer.ip()) else {
        return refuse(StatusCode::TOO_MANY_REQUESTS, "too many live streams from this address");
    };
    say(&format!("a dashboard connected from {}", peer.ip()));
    // What was stored before the dashboard opened is in its first view, not in `stored`.
    let sent = shared.room().recent.next;
    let state = (shared.clone(), shared.changed.subscribe(), shared.shutdown.clone(), sent, None);
    let stream = futures_util::stream::unfold(state, |(shared, mut changed, mut shutdown, sent, last)| async move {
        if let Some(last) = last {
            if !wake(&mut changed, &mut shutdown, Some(TICK), last).await {
                return None;
            }
        }
        changed.borrow_and_update();
        let now = now_ms();
        let (update, sent) = {
            let room = shared.room();
            let (stored, newest) = room.recent.since(sent);
            (
                ClassUpdate { now_ms: now, students: room.class.view(now, shared.stuck_after_ms).students, stored },
                newest,
            )
        };
        let event = json_event("class", &update);
        Some((Ok::<_, Infallible>(event), (shared, changed, shutdown, sent, Some(tokio::time::Instant::now()))))
    });
    sse(stream, permit)
}

/// `GET /api/present/stream?token=T|code=C`: the presenter's step, live.
pub(crate) async fn present(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(auth): Query<Auth>,
) -> Response {
    if !auth.follower(&shared) {
        return refuse(StatusCode::UNAUTHORIZED, "wrong or missing token or code");
    }
    let Some(permit) = shared.gate.stream(peer.ip()) else {
        return refuse(StatusCode::TOO_MANY_REQUESTS, "too many live streams from this address");
    };
    say(&format!("a presenter view connected from {}", peer.ip()));
    let state = (shared.clone(), shared.presented.subscribe(), shared.shutdown.clone(), None);
    let stream = futures_util::stream::unfold(state, |(shared, mut changed, mut shutdown, last)| async move {
        if let Some(last) = last {
            if !wake(&mut changed, &mut shutdown, None, last).await {
                return None;
            }
        }
        changed.borrow_and_update();
        let event = json_event("present", &present_payload(&shared));
        Some((Ok::<_, Infallible>(event), (shared, changed, shutdown, Some(tokio::time::Instant::now()))))
    });
    sse(stream, permit)
}

/// The stream as a response; `permit` is given back when the stream ends (the reader went, the
/// server stops, or a write stalled: see `conn`).
fn sse(stream: impl Stream<Item = Result<Event, Infallible>> + Send + 'static, permit: StreamPermit) -> Response {
    use futures_util::StreamExt;
    let stream = stream.map(move |e| {
        let _held = &permit;
        e
    });
    // Keep-alive comments keep proxies and the browser from closing a quiet stream.
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::class::protocol::ClassEvent;

    #[test]
    fn a_stream_gets_each_stored_event_once() {
        let mut r = Recent::default();
        let e = |seq| Sequenced { seq, at_ms: 1, event: ClassEvent::Left };
        r.push("a", &[e(1), e(2)], 10);
        let (first, n) = r.since(0);
        assert_eq!((first.len(), n), (2, 2));
        r.push("b", &[e(1)], 11);
        let (next, n) = r.since(n);
        assert_eq!((next.len(), next[0].student.as_str(), n), (1, "b", 3));
        assert!(r.since(n).0.is_empty());
    }
}
