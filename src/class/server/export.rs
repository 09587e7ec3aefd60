//! `/api/class.csv`: the class's progress as a spreadsheet, for attendance and grading. One
//! row per student, the same rows as the dashboard's (sorted by name here, for a stable file).
//!
//! Names and checks come from students' machines and the file is opened in a spreadsheet: a
//! field that starts like a formula (`=`, `+`, `-`, `@`, tab, CR) is prefixed with `'`, so it
//! is shown as text and never evaluated.

use crate::class::protocol::{ClassView, Done};

const HEADER: &str = "name,lesson,step,steps,finished,steps_done,steps_by_hand,finished_lessons,\
sessions,restarted,seconds_on_step,last_seen_seconds,away,left,stuck,failing_check";

/// One CSV field: quoted when it must be, defused when it looks like a formula.
fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The whole file (RFC 4180: CRLF line ends, a header line).
pub(crate) fn csv(view: &ClassView) -> String {
    let mut rows: Vec<_> = view.students.iter().collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = format!("{HEADER}\r\n");
    for r in rows {
        let by_hand = r.done.iter().filter(|(_, d)| *d == Done::ByHand).count();
        let cells = [
            field(&r.name),
            field(r.lesson.as_deref().unwrap_or("")),
            r.step.to_string(),
            r.steps.to_string(),
            r.finished.to_string(),
            r.done.len().to_string(),
            by_hand.to_string(),
            field(&r.finished_lessons.join(" ")),
            r.sessions.to_string(),
            (r.sessions > 1).to_string(),
            r.seconds_on_step.to_string(),
            r.last_seen.to_string(),
            r.away.to_string(),
            r.left.to_string(),
            r.stuck.to_string(),
            field(r.failing.as_deref().unwrap_or("")),
        ];
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::class::protocol::StudentRow;

    fn row(name: &str) -> StudentRow {
        StudentRow {
            name: name.into(),
            lesson: Some("uts".into()),
            step: 2,
            steps: 2,
            finished: true,
            done: vec![(1, Done::Watched), (2, Done::ByHand)],
            finished_lessons: vec!["uts".into(), "pid".into()],
            failing: None,
            seconds_on_step: 7,
            last_seen: 3,
            stuck: false,
            left: false,
            away: false,
            sessions: 2,
        }
    }

    #[test]
    fn one_line_per_student_by_name_with_a_header() {
        let view = ClassView { students: vec![row("lee"), row("kim")] };
        let text = csv(&view);
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines[0], HEADER);
        assert_eq!(lines[1], "kim,uts,2,2,true,2,1,uts pid,2,true,7,3,false,false,false,");
        assert!(lines[2].starts_with("lee,"));
        assert_eq!(lines.len(), 4, "and a final CRLF");
        assert_eq!(HEADER.split(',').count(), lines[1].split(',').count());
    }

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(field("김민수"), "김민수");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("-1+2"), "'-1+2");
        assert_eq!(field("@sum"), "'@sum");
    }
}
