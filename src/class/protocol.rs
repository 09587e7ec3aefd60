//! What a student's nsdojo tells the class server, and all the server ever answers.
//!
//! Events are small, numbered per student session (`seq` from 1, no gaps), and sent in
//! batches; the server stores each `(student, seq)` once and answers with the highest `seq`
//! it holds, so a sender that resends after a timeout or a server restart never doubles an
//! event, and one that was offline delivers everything it queued, in order. The answer is an
//! acknowledgement and nothing else: the server can never make a student's machine do anything.

use serde::{Deserialize, Serialize};

/// The largest request body the server reads (a batch of events).
pub const MAX_BODY: usize = 64 * 1024;
/// The most events in one batch.
pub const MAX_BATCH: usize = 100;

/// One POST to `/api/join/{JOINCODE}/events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// Random per student session (16 hex digits), so two students with one name stay apart.
    pub student: String,
    /// What the dashboard shows: `--name`, default `SUDO_USER@hostname`.
    pub name: String,
    pub events: Vec<Sequenced>,
    /// The instructor's token (`nsdojo serve` prints it): only a batch that carries it may
    /// hold `Present` events, so no student can take over the projector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sequenced {
    /// 1, 2, 3, … within one student session.
    pub seq: u64,
    /// When it happened on the student's machine, ms since the Unix epoch.
    pub at_ms: u64,
    pub event: ClassEvent,
}

/// How a step was completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Done {
    /// nsdojo made the calls (`next`).
    Watched,
    /// The student typed the step (`try`).
    ByHand,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClassEvent {
    /// The session started (language `en` or `ko`).
    Joined {
        lang: String,
    },
    LessonStarted {
        lesson: String,
        steps: usize,
    },
    /// Step `step` (1-based) of `lesson` is done and its checks held.
    StepDone {
        lesson: String,
        step: usize,
        done: Done,
    },
    /// A check of step `step` failed: the check as written, expanded.
    CheckFailed {
        lesson: String,
        step: usize,
        check: String,
    },
    HintAsked {
        lesson: String,
        step: usize,
    },
    /// In `try`, one of the student's own system calls failed (`crate::narrate`): the call as
    /// narrated, `sethostname("web1", 4) = -1 EPERM (Operation not permitted)`.
    CallFailed {
        lesson: String,
        step: usize,
        call: String,
    },
    /// The session ended (quit, EOF, a signal).
    Left,
    /// `--present`: the instructor's step as the terminal shows it, for `/present`.
    Present(Box<PresentedStep>),
}

/// A step as the presenter view draws it: the same content as the terminal's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresentedStep {
    pub lesson: String,
    pub title: String,
    /// 1-based, and of how many.
    pub step: usize,
    pub steps: usize,
    pub text: String,
    /// The lab command of the step, one printed line each (`$ …`, `terminal #2 $ …`), as the
    /// terminal shows it.
    pub command: String,
    /// Syscalls as strace prints them, each prefixed `[sandbox]`/`[host]` action lines.
    pub syscalls: Vec<String>,
    /// Both-side tables: a title, then rows of (label, sandbox, host).
    pub tables: Vec<PresentedTable>,
    /// Each check as written and whether it held.
    pub checks: Vec<(String, bool)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresentedTable {
    pub title: String,
    pub rows: Vec<[String; 3]>,
}

/// The server's whole answer to a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The highest `seq` the server holds for this student (all below it too).
    pub acked: u64,
}

/// One row of `/api/class` (and of the dashboard): one student (one name), over all their
/// sessions in this class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudentRow {
    pub name: String,
    pub lesson: Option<String>,
    /// The step being worked on (1-based): the last done + 1, or the last step once finished.
    pub step: usize,
    /// Steps of the lesson (0 if not known).
    #[serde(default)]
    pub steps: usize,
    /// Every step of the lesson is done.
    #[serde(default)]
    pub finished: bool,
    /// Steps of this lesson done so far, and how.
    pub done: Vec<(usize, Done)>,
    /// Lessons finished in this class, over all sessions, in order.
    #[serde(default)]
    pub finished_lessons: Vec<String>,
    /// The last failing check on this step, if any.
    pub failing: Option<String>,
    pub seconds_on_step: u64,
    /// Seconds since the last event.
    pub last_seen: u64,
    /// No progress for the server's stuck threshold (`--stuck-after`, default 5 minutes).
    pub stuck: bool,
    /// Every session of the student has ended.
    pub left: bool,
    /// Left, or nothing heard for twice the stuck threshold: time on step is not counting.
    #[serde(default)]
    pub away: bool,
    /// Sessions seen: more than one means the student restarted.
    #[serde(default)]
    pub sessions: u32,
}

/// `/api/class`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassView {
    pub students: Vec<StudentRow>,
}

/// `http://ADDR:PORT/JOINCODE` → (`http://ADDR:PORT`, `JOINCODE`). Only plain http on an
/// address literal or a host name, a port, and a code of 4–32 letters and digits.
pub fn parse_join_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, code) = rest.split_once('/')?;
    let code = code.trim_end_matches('/');
    let ok_code = (4..=32).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric());
    let ok_authority =
        !authority.is_empty() && authority.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    (ok_code && ok_authority).then(|| (format!("http://{authority}"), code.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_join_url_splits_into_server_and_code() {
        assert_eq!(
            parse_join_url("http://192.168.1.10:8080/K7Q2M9"),
            Some(("http://192.168.1.10:8080".into(), "K7Q2M9".into()))
        );
        assert_eq!(parse_join_url("https://x:1/K7Q2M9"), None, "plain http only: the room's LAN");
        assert_eq!(parse_join_url("http://x:1/"), None);
        assert_eq!(parse_join_url("http://x:1/a/b"), None);
        assert_eq!(parse_join_url("http://x y:1/K7Q2M9"), None);
    }

    #[test]
    fn events_are_tagged_by_kind_on_the_wire() {
        let e = ClassEvent::StepDone { lesson: "uts".into(), step: 2, done: Done::ByHand };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#"{"kind":"step_done","lesson":"uts","step":2,"done":"by_hand"}"#);
        assert_eq!(serde_json::from_str::<ClassEvent>(&json).unwrap(), e);
    }
}
