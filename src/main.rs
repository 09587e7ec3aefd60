//! The `nsdojo` command: the REPL by default; `list`, `run`, `check`,
//! `cleanup` and `doctor` for scripts and instructors. anyhow lives here
//! only; every module below has its own error type.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use colored::Colorize;

use nsdojo::i18n::{did_you_mean, io_error, t, tf};
use nsdojo::lesson::{self, Lang, Lesson};
use nsdojo::render::present::Classroom;
use nsdojo::render::terminal::{Mode, Terminal};
use nsdojo::render::transcript::{Recording, Transcript};
use nsdojo::render::{self, Style};
use nsdojo::{hostguard, lab, machine, repl};

mod cli;

use cli::{Bench, Cli, Cmd, ColorWhen, NotFor, Opts};

/// Exit codes: 0 fine, 1 a check failed, 2 the command could not run.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    // `nsdojo ns [PID]` is measured against `lsns -p` (≥ 10× faster, BENCHMARKS.md): in its
    // plain form it is answered before clap builds the whole command line, which would cost it
    // more than its eight readlinks. Any other form (options, --help, a bad PID) goes to clap.
    if let Some(pid) = plain_ns_args(std::env::args_os().skip(1)) {
        return ns_fast(pid);
    }
    let cli = Cli::parse();
    let opts = match cli.options() {
        Ok(o) => o,
        Err(NotFor(flag, cmd)) => {
            let lang = cli.output.lang.as_deref().and_then(Lang::parse).unwrap_or_else(Lang::from_env);
            eprintln!("nsdojo: {}", tf(lang, "option_not_for", &[&flag, &cmd]));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // The class server and its load benchmark start threads (an async runtime): they go first,
    // and alone, before anything that may fork; the REPL's path never reaches them.
    if let Some(code) = threaded(&cli) {
        return code;
    }
    // Commands that only print (no sandbox, no socket to a dead agent to write to) end quietly
    // when their reader goes away (`nsdojo doctor | head`), as other command-line tools do,
    // instead of panicking on EPIPE.
    if matches!(
        cli.cmd,
        Some(
            Cmd::List { .. }
                | Cmd::Doctor { .. }
                | Cmd::Ns { .. }
                | Cmd::Check { mutate: false, solve: false, .. }
                | Cmd::Completions { .. }
                | Cmd::Man,
        )
    ) {
        // SAFETY: restoring the default disposition of one signal, before anything else runs.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let color = opts.output.color.unwrap_or(ColorWhen::Auto);
    if color == ColorWhen::Always && !opts.output.no_color {
        colored::control::set_override(true);
    } else if opts.output.no_color || color == ColorWhen::Never || no_color_env {
        colored::control::set_override(false);
    }
    // An unknown --lang is itself an error, told in the environment's language.
    let lang = opts.output.lang.as_deref().and_then(Lang::parse).unwrap_or_else(Lang::from_env);
    match run(cli.cmd.as_ref(), &opts) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nsdojo: {}", localized(&e, lang));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// `ns` or `ns PID` (digits only), and nothing else: the PID, or this process for `ns` alone.
fn plain_ns_args(mut args: impl Iterator<Item = std::ffi::OsString>) -> Option<i32> {
    if args.next()? != "ns" {
        return None;
    }
    let pid = match args.next() {
        None => std::process::id() as i32,
        Some(a) => {
            let a = a.to_str()?;
            if a.is_empty() || !a.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            a.parse().ok()?
        }
    };
    args.next().is_none().then_some(pid)
}

/// `nsdojo ns PID` without clap: what main() and run() do for it, nothing more.
fn ns_fast(pid: i32) -> ExitCode {
    // SAFETY: restoring the default disposition of one signal, before anything else runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let lang = Lang::from_env();
    match ns(lang, pid) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nsdojo: {}", localized(&e, lang));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// The namespaces of `pid`, like `lsns -p`: only the namespace links are read.
fn ns(lang: Lang, pid: i32) -> anyhow::Result<ExitCode> {
    use std::fmt::Write as _;
    let facts = nsdojo::observe::ProcFacts::read_some(pid, &nsdojo::observe::Needs::default());
    if facts.ns.is_empty() {
        anyhow::bail!(tf(lang, "no_process", &[&pid]));
    }
    // One write, not one per line.
    let mut out = format!("{:>12} {:<7} PID\n", "NS", "TYPE");
    for (ns, ino) in &facts.ns {
        let _ = writeln!(out, "{ino:>12} {:<7} {pid}", ns.name());
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// `serve` and `bench class`: the only commands with threads. `None` for every other command.
fn threaded(cli: &Cli) -> Option<ExitCode> {
    use nsdojo::class::server;
    let result = match &cli.cmd {
        Some(Cmd::Serve { listen, advertise, state, stuck_after, new_class }) => server::serve(server::ServeOptions {
            listen: *listen,
            state: state.clone(),
            stuck_after: std::time::Duration::from_secs(*stuck_after),
            new_class: *new_class,
            advertise: advertise.clone(),
        })
        .map_err(anyhow::Error::from),
        Some(Cmd::Bench { what: Bench::Class, students, seconds, .. }) => {
            server::loadgen::run(*students, std::time::Duration::from_secs(*seconds))
                .map(|report| println!("{report}"))
                .map_err(anyhow::Error::from)
        }
        _ => return None,
    };
    Some(match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nsdojo: {e:#}");
            ExitCode::from(EXIT_USAGE)
        }
    })
}

/// An error in `lang`: the library's errors know their Korean; the rest is already in `lang`.
fn localized(e: &anyhow::Error, lang: Lang) -> String {
    if let Some(e) = e.downcast_ref::<nsdojo::sandbox::attach::AttachError>() {
        e.localized(lang)
    } else if let Some(e) = e.downcast_ref::<lab::LabError>() {
        e.localized(lang)
    } else if let Some(e) = e.downcast_ref::<lab::runner::StartError>() {
        e.localized(lang)
    } else if let Some(e) = e.downcast_ref::<nsdojo::rootfs::RootfsError>() {
        e.localized(lang)
    } else if let Some(e) = e.downcast_ref::<std::io::Error>() {
        io_error(lang, e)
    } else {
        format!("{e:#}")
    }
}

fn lang_of(opts: &Opts) -> anyhow::Result<Lang> {
    match &opts.output.lang {
        Some(l) => Lang::parse(l).ok_or_else(|| anyhow::anyhow!(tf(Lang::from_env(), "unknown_language_cli", &[l]))),
        None => Ok(Lang::from_env()),
    }
}

fn load_lessons(opts: &Opts) -> anyhow::Result<Vec<Lesson>> {
    match &opts.lessons.lessons {
        Some(dir) => {
            let root_only = machine::is_root() && !opts.lessons.trust_lessons;
            if root_only {
                nsdojo::lesson::trust::check(dir)?;
            }
            Ok(lesson::load_paths_checked(std::slice::from_ref(dir), root_only)?)
        }
        None => Ok(lesson::builtin()),
    }
}

/// The lessons for the REPL and `list`: the built-in ones are parsed only when opened (most
/// of the REPL's start was parsing them all); files given with --lessons are parsed now.
fn shelf(opts: &Opts) -> anyhow::Result<lesson::Shelf> {
    match &opts.lessons.lessons {
        Some(_) => Ok(lesson::Shelf::of(load_lessons(opts)?)),
        None => Ok(lesson::Shelf::builtin()),
    }
}

fn rootfs_provider(opts: &Opts) -> nsdojo::rootfs::Provider {
    use nsdojo::rootfs::Source;
    nsdojo::rootfs::Provider::new(match (&opts.rootfs.rootfs, &opts.rootfs.rootfs_tar) {
        (Some(d), _) => Source::Dir(d.clone()),
        (None, Some(t)) => Source::Tar(t.clone()),
        (None, None) => Source::Auto,
    })
}

/// The options `check --solve` hands the REPL it starts: where lessons and the root
/// filesystem come from.
fn repl_args(opts: &Opts) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    if let Some(dir) = &opts.lessons.lessons {
        args.extend(["--lessons".into(), dir.clone().into_os_string()]);
    }
    if opts.lessons.trust_lessons {
        args.push("--trust-lessons".into());
    }
    match (&opts.rootfs.rootfs, &opts.rootfs.rootfs_tar) {
        (Some(d), _) => args.extend(["--rootfs".into(), d.clone().into_os_string()]),
        (None, Some(t)) => args.extend(["--rootfs-tar".into(), t.clone().into_os_string()]),
        (None, None) => {}
    }
    args
}

fn need_root(lang: Lang) -> anyhow::Result<()> {
    if !machine::is_root() {
        anyhow::bail!(t(lang, "need_root"));
    }
    Ok(())
}

fn banner(lang: Lang) -> String {
    let facts =
        tf(lang, "banner_host", &[&machine::kernel(), &machine::cgroup_layout(lang), &machine::root_propagation()]);
    format!("{} {} — {}\n{facts}", "nsdojo".bold().cyan(), env!("CARGO_PKG_VERSION"), t(lang, "tagline"))
}

fn run(cmd: Option<&Cmd>, opts: &Opts) -> anyhow::Result<ExitCode> {
    let lang = lang_of(opts)?;
    if let Some(d) = &opts.rootfs.rootfs {
        // A lesson works on a copy of its rootfs: / would mean copying the whole host.
        if std::fs::canonicalize(d).is_ok_and(|c| c == std::path::Path::new("/")) {
            anyhow::bail!(tf(lang, "rootfs_is_host_root", &[&d.display()]));
        }
    }
    let style = Style::detect(lang);
    match cmd {
        Some(Cmd::List { .. }) => {
            print!("{}", render::lesson_list(&style, shelf(opts)?.headers(), None));
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Check { paths, mutate: false, solve: false, .. }) => check(lang, paths),
        Some(Cmd::Check { paths, solve: true, .. }) => {
            let ids: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            let chosen = choose(lang, &load_lessons(opts)?, &ids, ids.is_empty())?;
            need_root(lang)?;
            let solve = lab::solve::drive::Options {
                exe: std::env::current_exe()?,
                args: repl_args(opts),
                cgroup_v2: matches!(nsdojo::cgroup::Layout::detect(), Ok(nsdojo::cgroup::Layout::V2 { .. })),
            };
            let mut print = |r: &lab::solve::StepSolve| println!("{}", render::check::solve_line(lang, r));
            let all = lab::solve::drive::run_lessons(&chosen, &solve, &mut print);
            println!("{}", render::check::solve_score_line(lang, &all));
            Ok(if lab::solve::Score::of(&all).all_solved() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Some(Cmd::Check { paths, mutate: true, .. }) => {
            let ids: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            let chosen = choose(lang, &load_lessons(opts)?, &ids, ids.is_empty())?;
            need_root(lang)?;
            hostguard::install_signal_handlers();
            let mut session = hostguard::Session::start()?;
            let mut print = |m: &lab::mutate::Mutant| println!("{}", render::check::mutant_line(lang, m));
            // Prints only the host audit: the mutants have their own lines.
            let sink = || Terminal::new(style, Mode::Mutate, false);
            let mut provider = rootfs_provider(opts);
            let all = lab::mutate::run_lessons(chosen, &mut session, &mut provider, lang, sink, &mut print);
            session.finish();
            let all = all?;
            println!("{}", render::check::score_line(lang, &all));
            Ok(if lab::mutate::Score::of(&all).all_killed() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Some(Cmd::Completions { shell }) => {
            use clap::CommandFactory;
            clap_complete::generate(*shell, &mut Cli::command(), "nsdojo", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Man) => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Doctor { json, .. }) => {
            let report = nsdojo::doctor::Report::of_this_machine(rootfs_provider(opts).describe(lang));
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.render(lang));
            }
            Ok(if report.can_run { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Some(Cmd::Attach { host: true, cmd, .. }) => {
            need_root(lang)?;
            let code = nsdojo::sandbox::attach::host_shell(lang, cmd)?;
            Ok(ExitCode::from(code.clamp(0, 255) as u8))
        }
        Some(Cmd::Attach { session, cmd, .. }) => {
            need_root(lang)?;
            let (_, pid) = nsdojo::sandbox::attach::find_target(session.as_deref())?;
            let code = nsdojo::sandbox::attach::attach(lang, pid, cmd)?;
            Ok(ExitCode::from(code.clamp(0, 255) as u8))
        }
        Some(Cmd::Ns { pid, .. }) => {
            // Only the namespace links: what lsns -p shows.
            ns(lang, pid.unwrap_or(std::process::id() as i32))
        }
        Some(Cmd::Serve { .. }) => unreachable!("dispatched by threaded()"),
        Some(Cmd::Bench { what, n, .. }) => {
            need_root(lang)?;
            let mut session = hostguard::Session::start()?;
            let out = match what {
                Bench::Step => nsdojo::bench::step(*n, &mut session),
                Bench::Rootfs => nsdojo::bench::rootfs(*n),
                Bench::Class => unreachable!("dispatched by threaded()"),
            };
            session.finish();
            println!("{out}");
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Cleanup { .. }) => {
            need_root(lang)?;
            let done = hostguard::cleanup_dead();
            if done.is_empty() {
                println!("{}", t(lang, "cleanup_nothing"));
            }
            for d in done {
                println!("{}", d.line(lang));
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Run { ids, all, check, record, .. }) => {
            // Built-in lessons named on the command line are parsed alone (faster start).
            let picked = match (&opts.lessons.lessons, *all) {
                (None, false) => lesson::builtin_selected(ids),
                _ => None,
            };
            let chosen = match picked {
                Some(p) if !p.is_empty() => p,
                _ => choose(lang, &load_lessons(opts)?, ids, *all)?,
            };
            need_root(lang)?;
            hostguard::install_signal_handlers();
            let mut session = hostguard::Session::start()?;
            let mut transcript = match record {
                Some(f) => Some(
                    Transcript::create(f)
                        .map_err(|e| anyhow::anyhow!(tf(lang, "cannot_write", &[&f.display(), &io_error(lang, &e)])))?,
                ),
                None => None,
            };
            let mut provider = rootfs_provider(opts);
            let mut class = join_class(opts, lang)?;
            let failed = run_lessons(&style, &mut session, chosen, transcript.as_mut(), &mut provider, class.as_mut())?;
            drop(class);
            session.finish();
            if failed > 0 && *check {
                eprintln!("nsdojo: {}", tf(lang, "steps_failed", &[&failed]));
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let lessons = shelf(opts)?;
            need_root(lang)?;
            hostguard::install_signal_handlers();
            let session = hostguard::Session::start()?;
            let mut provider = rootfs_provider(opts);
            let banner = format!("{}\n{}", banner(lang), tf(lang, "rootfs_line", &[&provider.describe(lang)]));
            let class = join_class(opts, lang)?;
            let mut r = repl::Repl::new(lessons, session, style, provider);
            r.class = class;
            r.run(&banner)?;
            r.class = None;
            r.session.finish();
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn choose(lang: Lang, all: &[Lesson], keys: &[String], every: bool) -> anyhow::Result<Vec<Lesson>> {
    if every {
        return Ok(all.to_vec());
    }
    if keys.is_empty() {
        anyhow::bail!(t(lang, "name_lessons"));
    }
    keys.iter()
        .map(|k| {
            lesson::find(all, k).map(|(_, l)| l.clone()).ok_or_else(|| {
                let ids: Vec<&str> = all.iter().map(|l| l.id.as_str()).collect();
                let hint = did_you_mean(lang, nsdojo::suggest::nearest(k, &ids));
                anyhow::anyhow!(tf(lang, "no_such_lesson_cli", &[k, &hint]))
            })
        })
        .collect()
}

/// `--class URL`: fork the sender (it never blocks the session) and say so in one line.
fn join_class(opts: &Opts, lang: Lang) -> anyhow::Result<Option<nsdojo::class::ClassLink>> {
    let Some(url) = &opts.class.class else { return Ok(None) };
    let name = opts.class.name.clone().unwrap_or_else(nsdojo::class::sender::default_name);
    let mut link = nsdojo::class::ClassLink::join(url, &name, opts.class.present.as_deref())?;
    link.send(nsdojo::class::protocol::ClassEvent::Joined { lang: lang.code().to_string() });
    println!("{}", tf(lang, "class_joined", &[url, &name]).dimmed());
    Ok(Some(link))
}

/// Run every step of each lesson; returns how many steps failed (a lesson that changed the
/// host counts as one more).
fn run_lessons(
    style: &Style,
    session: &mut hostguard::Session,
    lessons: Vec<Lesson>,
    mut transcript: Option<&mut Transcript>,
    provider: &mut nsdojo::rootfs::Provider,
    mut class: Option<&mut nsdojo::class::ClassLink>,
) -> anyhow::Result<usize> {
    // The meter redraws one line; only on a terminal.
    let live = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut failed = 0;
    for l in lessons {
        let recording = transcript.as_deref_mut().map(|t| Recording::new(t, *style, true));
        let classroom = class.as_deref_mut().map(|c| Classroom::new(c, style.lang));
        let mut sink = (Terminal::new(*style, Mode::Run, live), (classroom, recording));
        let mut runner = lab::runner::Runner::start(l, session, provider, style.lang, &mut sink)?;
        runner.run_all(&mut sink)?;
        let done = runner.finish(session, &mut sink);
        failed += done.failed + usize::from(done.host_changed);
    }
    Ok(failed)
}

/// `check PATHS`: a line per lesson file (errors on stderr), exit 1 if any is wrong.
fn check(lang: Lang, paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    if paths.is_empty() {
        println!("{}", tf(lang, "builtin_valid", &[&lesson::builtin().len()]));
        return Ok(ExitCode::SUCCESS);
    }
    let mut bad = false;
    for c in lesson::check_paths(paths)? {
        let line = render::check::checked_line(lang, &c);
        match c {
            lesson::Checked::Valid { .. } => println!("{line}"),
            lesson::Checked::Invalid(_) => {
                bad = true;
                eprintln!("{line}");
            }
        }
    }
    Ok(if bad { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

#[cfg(test)]
mod tests {
    /// The fast path takes only what clap would read as `ns` with the same PID.
    #[test]
    fn plain_ns_args_agree_with_clap() {
        use clap::Parser;
        let me = std::process::id() as i32;
        let cases: &[&[&str]] = &[
            &["ns"],
            &["ns", "1"],
            &["ns", "007"],
            &["ns", "+5"],
            &["ns", "-5"],
            &["ns", ""],
            &["ns", "99999999999"],
            &["ns", "1", "2"],
            &["ns", "--help"],
            &["--lang", "ko", "ns", "1"],
            &["ns", "1", "--no-color"],
            &["list"],
            &[],
        ];
        for args in cases {
            let fast = super::plain_ns_args(args.iter().map(std::ffi::OsString::from));
            let clap = super::Cli::try_parse_from(std::iter::once("nsdojo").chain(args.iter().copied()));
            if let Some(pid) = fast {
                let cli = clap.unwrap_or_else(|e| panic!("{args:?}: fast path taken, clap refuses: {e}"));
                let opts = cli.options().unwrap_or_else(|_| panic!("{args:?}: an option clap refuses for ns"));
                let o = &opts.output;
                assert!(o.lang.is_none() && o.color.is_none() && !o.no_color, "{args:?}: options given");
                match cli.cmd {
                    Some(super::Cmd::Ns { pid: p, .. }) => assert_eq!(p.unwrap_or(me), pid, "{args:?}"),
                    _ => panic!("{args:?}: fast path taken for another command"),
                }
            }
        }
        assert_eq!(super::plain_ns_args(["ns", "42"].into_iter().map(Into::into)), Some(42));
        assert_eq!(super::plain_ns_args(["ns"].into_iter().map(Into::into)), Some(me));
        assert_eq!(super::plain_ns_args(["ns", "1", "--no-color"].into_iter().map(Into::into)), None);
        assert_eq!(super::plain_ns_args(["ns", "+5"].into_iter().map(Into::into)), None);
    }
}
