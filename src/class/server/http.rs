//! The HTTP surface: routes, who may call them, and the checks every request passes before it
//! reaches the class. A student's machine is not trusted to be well behaved (a bug, a curious
//! student): every refusal is a 4xx with one short line of text, and none of them stops the
//! server.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::conn::{Ticket, REQUEST_TIMEOUT};
use super::ratelimit::Key;
use super::secrets::same;
use super::{now_ms, stream, Shared};
use crate::class::protocol::{Ack, Batch, ClassEvent, MAX_BATCH, MAX_BODY};

/// Student sessions remembered at most; a class is tens, a flood of invented ids is refused.
const MAX_STUDENTS: usize = 5_000;
/// The longest name, student id or lesson id.
const MAX_NAME: usize = 64;
/// The longest check text (a check as written, expanded).
const MAX_CHECK: usize = 1_000;

const DASHBOARD: &str = include_str!("assets/dashboard.html");
const PRESENTER: &str = include_str!("assets/present.html");

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(dashboard))
        .route("/present", get(presenter))
        .route("/api/join/{code}/events", post(events))
        .route("/api/class", get(class))
        .route("/api/class.csv", get(class_csv))
        .route("/api/stream", get(stream::class))
        .route("/api/present", get(present))
        .route("/api/present/stream", get(stream::present))
        .fallback(|| async { refuse(StatusCode::NOT_FOUND, "no such page") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(shared.clone(), limit))
        .with_state(shared)
}

/// A refusal: the status and one line saying why.
pub(crate) fn refuse(status: StatusCode, why: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{why}\n")).into_response()
}

/// The query every page and API call may carry.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Auth {
    pub(crate) token: Option<String>,
    pub(crate) code: Option<String>,
    lang: Option<String>,
}

impl Auth {
    /// The instructor: the dashboard and the class's names.
    pub(crate) fn instructor(&self, shared: &Shared) -> bool {
        self.token.as_deref().is_some_and(|t| same(t, &shared.secrets.token))
    }

    /// The instructor or a student: the presenter's view is what the projector shows anyway.
    pub(crate) fn follower(&self, shared: &Shared) -> bool {
        self.instructor(shared) || self.code.as_deref().is_some_and(|c| same(c, &shared.secrets.code))
    }
}

/// Every request is answered within `REQUEST_TIMEOUT`, and takes a token from its client's
/// bucket first: the instructor's, or its address's. A student's batch is limited per session
/// in `events` (the session is in the body); a connection that authenticates is no longer
/// counted against its address's bound on connections (`conn`).
async fn limit(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let auth = Query::<Auth>::try_from_uri(req.uri()).map(|q| q.0).unwrap_or_default();
    let code = req.uri().path().strip_prefix("/api/join/").and_then(|p| p.split('/').next());
    let student = code.is_some_and(|c| same(c, &shared.secrets.code));
    let instructor = auth.instructor(&shared);
    if student || instructor || auth.follower(&shared) {
        if let Some(ticket) = req.extensions().get::<Arc<Ticket>>() {
            ticket.join();
        }
    }
    let key = if instructor { Some(Key::Instructor) } else { (!student).then_some(Key::Addr(peer.ip())) };
    if key.is_some_and(|key| !shared.room().limiter.allow(key, now_ms())) {
        return refuse(StatusCode::TOO_MANY_REQUESTS, "too many requests: slow down");
    }
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(response) => response,
        Err(_) => refuse(StatusCode::REQUEST_TIMEOUT, "the request took too long"),
    }
}

/// A name as the dashboard shows it: 1–64 characters, none of them control characters.
fn plain(s: &str, max: usize) -> bool {
    !s.trim().is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
}

/// What is wrong with a batch, if anything, before any of it is stored.
fn invalid(b: &Batch) -> Option<&'static str> {
    if b.events.len() > MAX_BATCH {
        return Some("too many events in one batch");
    }
    if !plain(&b.student, MAX_NAME) || !b.student.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_') {
        return Some("bad student id: 1-64 letters, digits, - or _");
    }
    if !plain(&b.name, MAX_NAME) {
        return Some("bad name: 1-64 characters, no control characters");
    }
    for e in &b.events {
        if e.seq == 0 {
            return Some("bad event: seq starts at 1");
        }
        let ok = match &e.event {
            ClassEvent::Joined { lang } => plain(lang, 8),
            ClassEvent::LessonStarted { lesson, .. }
            | ClassEvent::StepDone { lesson, .. }
            | ClassEvent::HintAsked { lesson, .. } => plain(lesson, MAX_NAME),
            ClassEvent::CheckFailed { lesson, check, .. } | ClassEvent::CallFailed { lesson, call: check, .. } => {
                plain(lesson, MAX_NAME) && plain(check, MAX_CHECK)
            }
            // The body limit bounds the presenter's texts; they are shown as text, never as HTML.
            ClassEvent::Left | ClassEvent::Present(_) => true,
        };
        if !ok {
            return Some("bad event: names are 1-64 characters, no control characters");
        }
    }
    None
}

/// `POST /api/join/{code}/events`: store what is next for this student, answer the ack.
async fn events(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(code): Path<String>,
    body: Bytes,
) -> Response {
    if !same(&code, &shared.secrets.code) {
        return refuse(StatusCode::FORBIDDEN, "wrong join code");
    }
    // A batch that names no valid session is charged to its address: the code alone does not
    // buy a flood of malformed requests.
    let refuse_charged = |status, why: &str| {
        if shared.room().limiter.allow(Key::Addr(peer.ip()), now_ms()) {
            refuse(status, why)
        } else {
            refuse(StatusCode::TOO_MANY_REQUESTS, "too many requests: slow down")
        }
    };
    let batch: Batch = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return refuse_charged(StatusCode::BAD_REQUEST, &format!("malformed batch: {e}")),
    };
    if let Some(why) = invalid(&batch) {
        return refuse_charged(StatusCode::BAD_REQUEST, why);
    }
    let presents = batch.events.iter().any(|e| matches!(e.event, ClassEvent::Present(_)));
    if presents && !batch.present_token.as_deref().is_some_and(|t| same(t, &shared.secrets.token)) {
        return refuse(StatusCode::FORBIDDEN, "only the instructor presents: --present needs the dashboard's token");
    }
    let (acked, pending) = {
        let mut room = shared.room();
        let now = now_ms();
        if !room.limiter.allow(Key::Session(batch.student.clone()), now) {
            return refuse(StatusCode::TOO_MANY_REQUESTS, "too many requests: slow down");
        }
        if !room.class.knows(&batch.student) && room.class.sessions() >= MAX_STUDENTS {
            return refuse(StatusCode::FORBIDDEN, "the class is full");
        }
        let stored = room.class.store(&batch.student, &batch.name, &batch.events, now);
        let bytes = super::journal::lines(&batch.student, &batch.name, now, &stored.new);
        if !stored.new.is_empty() {
            let presented = stored.new.iter().any(|e| matches!(e.event, ClassEvent::Present(_)));
            room.recent.push(&batch.student, &stored.new, now);
            shared.changed.send_modify(|n| *n += 1);
            if presented {
                shared.presented.send_modify(|n| *n += 1);
            }
        }
        // Queued under the lock, so the journal keeps the order events were stored in; even an
        // empty append waits for the ones before it, so a resend is acked only once on disk.
        (stored.acked, shared.journal.append(bytes))
    };
    match shared.journal.durable(pending).await {
        Ok(()) => Json(Ack { acked }).into_response(),
        Err(e) => {
            eprintln!("nsdojo serve: {e}");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "the server cannot write its journal")
        }
    }
}

/// `GET /api/class?token=T`.
async fn class(State(shared): State<Arc<Shared>>, Query(auth): Query<Auth>) -> Response {
    if !auth.instructor(&shared) {
        return refuse(StatusCode::UNAUTHORIZED, "wrong or missing token");
    }
    Json(shared.room().class.view(now_ms(), shared.stuck_after_ms)).into_response()
}

/// `GET /api/class.csv?token=T`: the progress as a spreadsheet (a BOM first: a spreadsheet
/// program then reads the names as UTF-8, Korean ones included).
async fn class_csv(State(shared): State<Arc<Shared>>, Query(auth): Query<Auth>) -> Response {
    if !auth.instructor(&shared) {
        return refuse(StatusCode::UNAUTHORIZED, "wrong or missing token");
    }
    let view = shared.room().class.view(now_ms(), shared.stuck_after_ms);
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
        (header::CONTENT_DISPOSITION, "attachment; filename=\"class.csv\""),
        (header::CACHE_CONTROL, "no-store"),
    ];
    (headers, format!("\u{feff}{}", super::export::csv(&view))).into_response()
}

/// `GET /api/present?token=T|code=C`: the latest presented step (null before the first).
async fn present(State(shared): State<Arc<Shared>>, Query(auth): Query<Auth>) -> Response {
    if !auth.follower(&shared) {
        return refuse(StatusCode::UNAUTHORIZED, "wrong or missing token or code");
    }
    Json(stream::present_payload(&shared)).into_response()
}

/// `en` or `ko`: `?lang=` first, then the browser's first preference.
fn page_lang(auth: &Auth, headers: &HeaderMap) -> &'static str {
    let wanted = auth
        .lang
        .clone()
        .or_else(|| headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).map(|v| v.trim().to_string()));
    if wanted.is_some_and(|l| l.to_ascii_lowercase().starts_with("ko")) {
        "ko"
    } else {
        "en"
    }
}

fn page(template: &str, lang: &str, code: &str) -> Response {
    // The code is from the server's own alphabet: safe inside the page's script.
    let html = template.replacen("<html lang=\"en\">", &format!("<html lang=\"{lang}\">"), 1).replace("{{CODE}}", code);
    // The page is the whole program: no cache, so a newer server's page is always the one shown.
    ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

/// `GET /?token=T`: the dashboard.
async fn dashboard(State(shared): State<Arc<Shared>>, Query(auth): Query<Auth>, headers: HeaderMap) -> Response {
    if !auth.instructor(&shared) {
        return refuse(StatusCode::UNAUTHORIZED, "wrong or missing token: open the dashboard URL nsdojo serve printed");
    }
    page(DASHBOARD, page_lang(&auth, &headers), &shared.secrets.code)
}

/// `GET /present?token=T` or `?code=JOINCODE`: the presenter view.
async fn presenter(State(shared): State<Arc<Shared>>, Query(auth): Query<Auth>, headers: HeaderMap) -> Response {
    if !auth.follower(&shared) {
        return refuse(StatusCode::UNAUTHORIZED, "wrong or missing token or join code");
    }
    page(PRESENTER, page_lang(&auth, &headers), &shared.secrets.code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::class::protocol::Sequenced;

    fn batch(name: &str, events: usize) -> Batch {
        let e = Sequenced { seq: 1, at_ms: 0, event: ClassEvent::Left };
        Batch { student: "0123456789abcdef".into(), name: name.into(), events: vec![e; events], present_token: None }
    }

    #[test]
    fn batches_are_checked_before_anything_is_stored() {
        assert_eq!(invalid(&batch("kim@laptop", 1)), None);
        assert_eq!(invalid(&batch("김민수", 0)), None);
        assert!(invalid(&batch(&"x".repeat(65), 1)).is_some());
        assert_eq!(invalid(&batch(&"한".repeat(64), 1)), None, "64 characters, not bytes");
        assert!(invalid(&batch("a\u{1b}[31m", 1)).is_some());
        assert!(invalid(&batch("  ", 1)).is_some());
        assert!(invalid(&batch("kim", MAX_BATCH + 1)).is_some());
        let mut b = batch("kim", 1);
        b.student = "../etc".into();
        assert!(invalid(&b).is_some());
        b = batch("kim", 1);
        b.events[0].event =
            ClassEvent::StepDone { lesson: "u\nts".into(), step: 1, done: crate::class::protocol::Done::Watched };
        assert!(invalid(&b).is_some());
    }

    #[test]
    fn the_pages_load_nothing_from_elsewhere() {
        // The room may be offline: no CDN, no web font, no script or style from another host.
        for page in [DASHBOARD, PRESENTER] {
            for needle in ["https://", "src=\"", "href=\"", "//cdn", "@import", "url(", "<link", "fetch(\"http"] {
                assert!(!page.contains(needle), "{needle} in a page");
            }
            assert!(page.contains("<html lang=\"en\">"), "the language placeholder");
        }
    }

    #[test]
    fn the_page_language_follows_the_query_then_the_browser() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_LANGUAGE, "ko-KR,ko;q=0.9,en;q=0.8".parse().unwrap());
        assert_eq!(page_lang(&Auth::default(), &h), "ko");
        let en = Auth { lang: Some("en".into()), ..Default::default() };
        assert_eq!(page_lang(&en, &h), "en");
        assert_eq!(page_lang(&Auth::default(), &HeaderMap::new()), "en");
    }
}
