//! Turning reports into text: the step, its syscalls, side-by-side tables
//! and checks. Pure functions of their input, so they are unit-tested at
//! fixed widths and reused by the REPL, `run` and transcripts.

pub mod check;
pub mod present;
pub mod terminal;
pub mod transcript;
pub mod views;

use std::fmt::Write as _;

use colored::Colorize;
use comfy_table::{presets, Attribute, Cell, Color, ContentArrangement, Table};

use crate::i18n::{msg, t, tf};
use crate::lab::StepReport;
use crate::lesson::{Lang, Lesson, Ns};
use crate::observe::View;

/// How to print: language, colour and width.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub lang: Lang,
    pub width: u16,
}

impl Style {
    /// Terminal width from the environment or the tty; 100 when unknown.
    pub fn detect(lang: Lang) -> Style {
        let width =
            std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).or_else(tty_width).unwrap_or(100).clamp(40, 400);
        Style { lang, width }
    }
}

fn tty_width() -> Option<u16> {
    // SAFETY: TIOCGWINSZ fills a winsize we own.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        (libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_col > 0).then_some(ws.ws_col)
    }
}

/// A UI label in the chosen language (the labels live in the message catalog).
pub fn label(lang: Lang, key: &str) -> &'static str {
    crate::i18n::t(lang, key)
}

/// Wrap to the terminal width (Korean is double-width; textwrap knows).
fn wrap(style: &Style, text: &str, indent: &str) -> String {
    let opts = textwrap::Options::new((style.width as usize).max(20)).initial_indent(indent).subsequent_indent(indent);
    text.lines().map(|l| textwrap::fill(l, &opts)).collect::<Vec<_>>().join("\n")
}

/// A table coloured when `colored` would colour (a terminal, `--color`, NO_COLOR): comfy-table
/// styles its own cells, so no escape code sits inside a cell for it to measure, and the
/// ANSI-parsing `custom_styling` feature (and the old nom it pulls in) is not needed.
fn new_table(style: &Style) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(style.width.saturating_sub(2));
    if colored::control::SHOULD_COLORIZE.should_colorize() {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    t
}

fn table(style: &Style, sandbox_pid: i32) -> Table {
    let mut t = new_table(style);
    t.set_header(vec![
        Cell::new(""),
        Cell::new(format!("{} · PID {sandbox_pid}", label(style.lang, "sandbox"))),
        Cell::new(label(style.lang, "host")),
    ]);
    t
}

fn mark(text: &str, changed: bool) -> Cell {
    if changed {
        // The `*` survives NO_COLOR and transcripts; the colour is for the projector.
        Cell::new(format!("* {text}")).fg(Color::Yellow).add_attribute(Attribute::Bold)
    } else {
        Cell::new(text)
    }
}

/// Namespaces whose inode differs between before and after, or between the sides.
fn changed_ns(r: &StepReport) -> Vec<Ns> {
    Ns::ALL
        .into_iter()
        .filter(|n| {
            let s = r.after.sandbox.proc.ns.get(n);
            s != r.before.sandbox.proc.ns.get(n) || s != r.after.host.proc.ns.get(n)
        })
        .collect()
}

/// The whole step as the REPL and `run` print it.
pub fn step(style: &Style, lesson: &Lesson, r: &StepReport, expand: &dyn Fn(&str) -> String) -> String {
    let mut o = String::new();
    let st = &lesson.steps[r.index];
    let head = format!("── {} {}/{} ", lesson.id, r.index + 1, r.total);
    let _ = writeln!(
        o,
        "{}{}",
        head.bold().cyan(),
        "─".repeat((style.width as usize).saturating_sub(head.chars().count()).min(60)).cyan()
    );
    let _ = writeln!(o, "{}\n", wrap(style, &expand(&st.text.get(style.lang)), ""));
    match r.shell.as_slice() {
        [] => {}
        // One terminal #1 line reads best after the label, as it always has.
        [one] if one.terminal == crate::lesson::Terminal::One => {
            let line =
                wrap(style, &format!("{}: {}", label(style.lang, "lab"), crate::i18n::lab_line(style.lang, one)), "");
            let _ = writeln!(o, "{}", line.bold());
        }
        lines => {
            let _ = writeln!(o, "{}", format!("{}:", label(style.lang, "lab")).bold());
            for l in lines {
                let _ = writeln!(o, "{}", wrap(style, &crate::i18n::lab_line(style.lang, l), "  ").bold());
            }
        }
    }
    if !r.actions.is_empty() {
        let _ = writeln!(o, "{}:", label(style.lang, "syscalls").dimmed());
    }
    for a in &r.actions {
        let side = if a.on_host { "host" } else { "sandbox" };
        let _ = writeln!(o, "{}", wrap(style, &format!("[{side}] {}", a.src), "  ").bold());
        for c in &a.outcome.trace.calls {
            let line = wrap(style, &c.to_string(), "    ");
            let colored = if c.result.is_ok() { line.green() } else { line.red() };
            let _ = writeln!(o, "{colored}");
            if let Some(n) = &c.note {
                let n = msg(style.lang, n);
                let _ = writeln!(o, "{}", wrap(style, &format!("↳ {n}"), "      ").dimmed());
            }
        }
        if let Some(out) = &a.outcome.output {
            for l in out.stdout.lines().take(40) {
                let _ = writeln!(o, "{}", wrap(style, l, "    │ "));
            }
            for l in out.stderr.lines().take(20) {
                let _ = writeln!(o, "{}", wrap(style, l, "    │ ").red());
            }
        }
    }
    if let Some(why) = &r.aborted {
        let why = msg(style.lang, why);
        let _ = writeln!(o, "  {} {}: {why}", "✘".red().bold(), label(style.lang, "stopped"));
    }
    for v in &st.show {
        let v = v.map_arg(expand);
        if v == View::CgroupFiles {
            o.push_str(&cgroup_files(style, r));
            continue;
        }
        let (title, rows) = views::rows(style.lang, &v, &r.before, &r.after);
        if rows.is_empty() {
            continue;
        }
        let mut t = table(style, r.sandbox_pid);
        for row in rows {
            t.add_row(vec![
                Cell::new(row.label),
                mark(&row.sandbox, row.sandbox_changed),
                mark(&row.host, row.host_changed),
            ]);
        }
        let legend = format!("(* = {})", label(style.lang, "changed"));
        let _ = writeln!(o, "\n{}", wrap(style, &format!("{title}  {legend}"), "").bold());
        let _ = writeln!(o, "{t}");
    }
    if !r.checks.is_empty() {
        let _ = writeln!(o, "\n{}:", label(style.lang, "checks").bold());
        for c in &r.checks {
            if c.verdict.passed {
                let _ = writeln!(o, "{}", wrap(style, &format!("✔ {}", c.src), "  ").green());
            } else {
                let values = tf(style.lang, "check_values", &[&c.verdict.left, &c.verdict.right]);
                let why = format!("✘ {}   {values}", c.src);
                let _ = writeln!(o, "{}", wrap(style, &why, "  ").red());
            }
        }
    }
    if r.by_hand {
        return o;
    }
    let changed = changed_ns(r);
    let cmds: Vec<String> = st
        .show
        .iter()
        .flat_map(|v| views::verify_commands(style.lang, &v.map_arg(expand), r.sandbox_pid, &changed))
        .collect();
    let _ = writeln!(o, "\n{}", format!("{}:", label(style.lang, "verify")).dimmed());
    // -r -w: also its root and working directory (nsenter -a alone keeps the host's, which
    // matters in the chroot lessons); `sudo nsdojo attach` does the same.
    let enter = format!("sudo nsenter -t {} -a -r -w sh   # {}", r.sandbox_pid, label(style.lang, "enter"));
    let _ = writeln!(o, "{}", wrap(style, &enter, "  ").dimmed());
    for c in cmds {
        let _ = writeln!(o, "{}", wrap(style, &c, "  ").dimmed());
    }
    o
}

/// `state`: every view of both sides, now.
pub fn state(style: &Style, sides: &crate::lab::Sides, pid: i32) -> String {
    let mut o = String::new();
    for v in &View::all() {
        let (title, rows) = views::rows(style.lang, v, sides, sides);
        let mut t = table(style, pid);
        for row in rows {
            t.add_row(vec![row.label, row.sandbox, row.host]);
        }
        let _ = writeln!(o, "{}\n{t}", title.bold());
    }
    o
}

/// `diff`: what the last step changed, side by side, as `before → after`.
pub fn diff(style: &Style, r: &StepReport) -> String {
    let mut o = String::new();
    for v in &View::all() {
        let (title, rows) = views::rows(style.lang, v, &r.before, &r.after);
        let (_, old) = views::rows(style.lang, v, &r.before, &r.before);
        let was = |label: &str, host: bool| {
            old.iter().find(|x| x.label == label).map_or("—".to_string(), |x| {
                if host {
                    x.host.clone()
                } else {
                    x.sandbox.clone()
                }
            })
        };
        let changed: Vec<_> = rows.into_iter().filter(|x| x.sandbox_changed || x.host_changed).collect();
        if changed.is_empty() {
            continue;
        }
        let mut t = table(style, r.sandbox_pid);
        for row in changed {
            let cell = |now: &str, ch: bool, host: bool| {
                if ch {
                    format!("{} → {}", was(&row.label, host), now)
                } else {
                    now.to_string()
                }
            };
            t.add_row(vec![
                row.label.clone(),
                cell(&row.sandbox, row.sandbox_changed, false),
                cell(&row.host, row.host_changed, true),
            ]);
        }
        let _ = writeln!(o, "{}\n{t}", title.bold());
    }
    if o.is_empty() {
        o.push_str(t(style.lang, "diff_nothing"));
        o.push('\n');
    }
    o
}

/// The session cgroup's files, before and after the step (the "cgget" view).
fn cgroup_files(style: &Style, r: &StepReport) -> String {
    let (before, after) = &r.cgroup_files;
    let mut table = new_table(style);
    table.set_header(["cgfiles_file", "cgfiles_before", "cgfiles_after"].map(|k| t(style.lang, k)));
    let names: Vec<&String> = after.iter().map(|(n, _)| n).chain(before.iter().map(|(n, _)| n)).collect();
    let mut seen = Vec::new();
    for n in names {
        if seen.contains(&n) {
            continue;
        }
        seen.push(n);
        let get = |v: &Vec<(String, String)>| {
            v.iter().find(|(k, _)| k == n).map_or("—".to_string(), |(_, x)| x.trim().to_string())
        };
        let (b, a) = (get(before), get(after));
        let changed = b != a;
        table.add_row(vec![Cell::new(n), Cell::new(b), mark(&a, changed)]);
    }
    if seen.is_empty() {
        return format!("\n{}\n", t(style.lang, "cgfiles_none").dimmed());
    }
    let legend = format!("(* = {})", label(style.lang, "changed"));
    format!("\n{}  {}\n{table}\n", t(style.lang, "cgfiles_title").bold(), legend.dimmed())
}

/// `compare CMD`: both outputs side by side, differing lines marked.
pub fn compare(style: &Style, pid: i32, sandbox: &str, host: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (sandbox.lines().collect(), host.lines().collect());
    let mut out = table(style, pid);
    let mut differ = 0;
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i).copied().unwrap_or(""), b.get(i).copied().unwrap_or(""));
        let same = x == y;
        differ += usize::from(!same);
        out.add_row(vec![Cell::new(i + 1), mark(x, !same), mark(y, !same)]);
    }
    let verdict = if differ == 0 {
        t(style.lang, "compare_same").to_string()
    } else {
        tf(style.lang, "compare_differ", &[&differ])
    };
    format!("{out}\n{}\n", verdict.bold())
}

/// One line of the live CPU meter, like a row of `top`.
pub fn meter_line(lang: Lang, pid: i32, s: &crate::sandbox::rpc::MeterSample) -> String {
    let filled = ((s.percent / 100.0) * 30.0).round().clamp(0.0, 30.0) as usize;
    let bar = format!("{}{}", "█".repeat(filled), "░".repeat(30 - filled));
    let conf = match s.confined {
        Some(true) => t(lang, "meter_in"),
        Some(false) => t(lang, "meter_not_in"),
        None => "",
    };
    let thr = s.nr_throttled.map(|n| tf(lang, "meter_throttled", &[&n])).unwrap_or_default();
    format!("  {:>5.1}s  PID {pid}  {bar} {:>5.1}% CPU{conf}{thr}   ", s.at_ms as f64 / 1000.0, s.percent)
}

/// `lessons`: the curriculum, with the current one marked.
pub fn lesson_list(style: &Style, lessons: &[crate::lesson::Header], current: Option<&str>) -> String {
    let mut o = String::new();
    for (i, l) in lessons.iter().enumerate() {
        let cur = if Some(l.id.as_str()) == current { "▶" } else { " " };
        let _ = writeln!(
            o,
            "{cur} {:>2}. {:<12} {} {}",
            i + 1,
            l.id.bold(),
            l.title.get(style.lang),
            tf(style.lang, "list_steps", &[&l.steps])
        );
    }
    o
}

#[cfg(test)]
mod tests;
