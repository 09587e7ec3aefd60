//! The `nsdojo` command: the REPL by default; `list`, `run`, `check`,
//! `cleanup` and `doctor` for scripts and instructors. anyhow lives here
//! only; every module below has its own error type.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use colored::Colorize;

use nsdojo::i18n::{did_you_mean, io_error, pad, t, tf};
use nsdojo::lesson::{self, Lang, Lesson};
use nsdojo::render::present::Classroom;
use nsdojo::render::terminal::{Mode, Terminal};
use nsdojo::render::transcript::{Recording, Transcript};
use nsdojo::render::{self, Style};
use nsdojo::{hostguard, lab, machine, repl};

/// `nsdojo 0.1.0 (commit 1a2b3c4d5e6f, x86_64-unknown-linux-musl)`: see build.rs.
const VERSION: &str =
    concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("NSDOJO_COMMIT"), ", ", env!("NSDOJO_TARGET"), ")");

#[derive(Parser)]
#[command(
    name = "nsdojo",
    version = VERSION,
    about = "Containers without Docker: namespaces, pivot_root and cgroups, step by step, for real"
)]
struct Cli {
    /// Load lessons from this directory (or file) instead of the built-in ones.
    #[arg(long, global = true, value_name = "DIR")]
    lessons: Option<PathBuf>,
    /// Language of the lesson texts: en or ko (default: from LANG).
    #[arg(long, global = true, value_name = "en|ko")]
    lang: Option<String>,
    /// Colours: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto)]
    color: ColorWhen,
    /// The same as --color never.
    #[arg(long, global = true)]
    no_color: bool,
    /// Use this prepared root filesystem (it must have an executable /bin/sh).
    #[arg(long, global = true, value_name = "DIR", conflicts_with = "rootfs_tar")]
    rootfs: Option<PathBuf>,
    /// Unpack this tarball (plain or gzip, e.g. `docker export` output) as the root filesystem.
    #[arg(long, global = true, value_name = "FILE")]
    rootfs_tar: Option<PathBuf>,
    /// Load --lessons even if a non-root user could have written them (they run commands as root).
    #[arg(long, global = true)]
    trust_lessons: bool,
    /// Report progress to the class server at this address, as `nsdojo serve` prints it
    /// (http://ADDR:PORT/JOINCODE).
    #[arg(long, global = true, value_name = "URL")]
    class: Option<String>,
    /// Your name on the class dashboard (default: SUDO_USER@hostname).
    #[arg(long, global = true, value_name = "NAME", requires = "class")]
    name: Option<String>,
    /// Send each step whole, for the class server's presenter view (/present): the instructor's
    /// session, with the token `nsdojo serve` printed in the dashboard's address.
    #[arg(long, global = true, value_name = "TOKEN", requires = "class")]
    present: Option<String>,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// List the lessons.
    List,
    /// Replay lessons non-interactively.
    Run {
        /// Lesson ids or numbers.
        #[arg(value_name = "LESSON")]
        ids: Vec<String>,
        /// Every lesson, in order.
        #[arg(long)]
        all: bool,
        /// Exit non-zero if any check fails.
        #[arg(long)]
        check: bool,
        /// Also write what is shown to this Markdown file (a handout).
        #[arg(long, value_name = "FILE")]
        record: Option<PathBuf>,
    },
    /// Validate lesson files; errors as file:line:col: message.
    Check {
        /// Files or directories (default: the built-in lessons); with --mutate, lesson ids.
        paths: Vec<PathBuf>,
        /// Run each step once without each of its actions: some check of the step must fail
        /// (root; prints killed / survived / waived per mutant and a score).
        #[arg(long)]
        mutate: bool,
    },
    /// Join the running sandbox (terminal #1) from a second terminal, like nsenter -t PID -a.
    Attach {
        /// Which session, when several run (`nsdojo attach` lists them).
        #[arg(long, value_name = "ID")]
        session: Option<String>,
        /// Command to run inside (default: an interactive /bin/sh).
        #[arg(last = true)]
        cmd: Vec<String>,
    },
    /// The namespaces of a process (default: this one), like `lsns -p PID`.
    Ns { pid: Option<i32> },
    /// Measurements for BENCHMARKS.md (bench/run.sh and scripts/bench-class.sh run them).
    #[command(hide = true)]
    Bench {
        /// step, rootfs or class
        what: String,
        #[arg(short, default_value_t = 50)]
        n: usize,
        /// class: simulated students.
        #[arg(long, default_value_t = 300)]
        students: usize,
        /// class: how long they send, in seconds.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// The class server (no root needed): students join with `sudo nsdojo --class URL`, the
    /// instructor watches the dashboard. Prints the join line and the dashboard's URL.
    Serve {
        /// The address and port to listen on; 0.0.0.0 = every interface (the join line then
        /// names the machine's first LAN address).
        #[arg(long, value_name = "ADDR:PORT", default_value = nsdojo::class::server::DEFAULT_LISTEN)]
        listen: std::net::SocketAddr,
        /// The state file (join code, token) or a directory for it; the journal of every event
        /// is kept next to it. Default: $XDG_STATE_HOME/nsdojo/class/ (~/.local/state/nsdojo/class/).
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
        /// A student with no progress for this long is shown as stuck.
        #[arg(long, value_name = "SECS", default_value_t = nsdojo::class::server::DEFAULT_STUCK_AFTER)]
        stuck_after: u64,
    },
    /// Remove what killed sessions left behind (work dirs, cgroups, netns files).
    Cleanup,
    /// Shell completions: `nsdojo completions bash > /etc/bash_completion.d/nsdojo`.
    Completions { shell: clap_complete::Shell },
    /// The manual page, made from these options: `nsdojo man | man -l -`.
    Man,
    /// What this machine offers for the lab, and what to install; exit 1 if the lab cannot run here.
    Doctor {
        /// The same as JSON, for a classroom preflight script.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// Exit codes: 0 fine, 1 a check failed, 2 the command could not run.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
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
            Cmd::List
                | Cmd::Doctor { .. }
                | Cmd::Ns { .. }
                | Cmd::Check { mutate: false, .. }
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
    if cli.color == ColorWhen::Always && !cli.no_color {
        colored::control::set_override(true);
    } else if cli.no_color || cli.color == ColorWhen::Never || no_color_env {
        colored::control::set_override(false);
    }
    // An unknown --lang is itself an error, told in the environment's language.
    let lang = cli.lang.as_deref().and_then(Lang::parse).unwrap_or_else(Lang::from_env);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nsdojo: {}", localized(&e, lang));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// `serve` and `bench class`: the only commands with threads. `None` for every other command.
fn threaded(cli: &Cli) -> Option<ExitCode> {
    use nsdojo::class::server;
    let result = match &cli.cmd {
        Some(Cmd::Serve { listen, state, stuck_after }) => server::serve(server::ServeOptions {
            listen: *listen,
            state: state.clone(),
            stuck_after: std::time::Duration::from_secs(*stuck_after),
        })
        .map_err(anyhow::Error::from),
        Some(Cmd::Bench { what, students, seconds, .. }) if what == "class" => {
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

fn lang_of(cli: &Cli) -> anyhow::Result<Lang> {
    match &cli.lang {
        Some(l) => Lang::parse(l).ok_or_else(|| anyhow::anyhow!(tf(Lang::from_env(), "unknown_language_cli", &[l]))),
        None => Ok(Lang::from_env()),
    }
}

fn load_lessons(cli: &Cli) -> anyhow::Result<Vec<Lesson>> {
    match &cli.lessons {
        Some(dir) => {
            let root_only = machine::is_root() && !cli.trust_lessons;
            if root_only {
                nsdojo::lesson::trust::check(dir)?;
            }
            Ok(lesson::load_paths_checked(std::slice::from_ref(dir), root_only)?)
        }
        None => Ok(lesson::builtin()),
    }
}

fn rootfs_provider(cli: &Cli) -> nsdojo::rootfs::Provider {
    use nsdojo::rootfs::Source;
    nsdojo::rootfs::Provider::new(match (&cli.rootfs, &cli.rootfs_tar) {
        (Some(d), _) => Source::Dir(d.clone()),
        (None, Some(t)) => Source::Tar(t.clone()),
        (None, None) => Source::Auto,
    })
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

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let lang = lang_of(&cli)?;
    if let Some(d) = &cli.rootfs {
        // A lesson works on a copy of its rootfs: / would mean copying the whole host.
        if std::fs::canonicalize(d).is_ok_and(|c| c == std::path::Path::new("/")) {
            anyhow::bail!(tf(lang, "rootfs_is_host_root", &[&d.display()]));
        }
    }
    let style = Style::detect(lang);
    match &cli.cmd {
        Some(Cmd::List) => {
            print!("{}", render::lesson_list(&style, &load_lessons(&cli)?, None));
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Check { paths, mutate: false }) => check(lang, paths),
        Some(Cmd::Check { paths, mutate: true }) => {
            let ids: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            let chosen = choose(lang, &load_lessons(&cli)?, &ids, ids.is_empty())?;
            need_root(lang)?;
            hostguard::install_signal_handlers();
            let mut session = hostguard::Session::start()?;
            let result = mutate(&style, &mut session, chosen, &mut rootfs_provider(&cli));
            session.finish();
            result
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
        Some(Cmd::Doctor { json }) => {
            let report = nsdojo::doctor::Report::of_this_machine(rootfs_provider(&cli).describe(lang));
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.render(lang));
            }
            Ok(if report.can_run { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Some(Cmd::Attach { session, cmd }) => {
            need_root(lang)?;
            let (_, pid) = nsdojo::sandbox::attach::find_target(session.as_deref())?;
            let code = nsdojo::sandbox::attach::attach(lang, pid, cmd)?;
            Ok(ExitCode::from(code.clamp(0, 255) as u8))
        }
        Some(Cmd::Ns { pid }) => {
            let pid = pid.unwrap_or(std::process::id() as i32);
            // Only the namespace links: what lsns -p shows.
            let facts = nsdojo::observe::ProcFacts::read_some(pid, &nsdojo::observe::Needs::default());
            if facts.ns.is_empty() {
                anyhow::bail!(tf(lang, "no_process", &[&pid]));
            }
            println!("{:>12} {:<7} PID", "NS", "TYPE");
            for (ns, ino) in &facts.ns {
                println!("{ino:>12} {:<7} {pid}", ns.name());
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Serve { .. }) => unreachable!("dispatched by threaded()"),
        Some(Cmd::Bench { what, n, .. }) => {
            need_root(lang)?;
            let mut session = hostguard::Session::start()?;
            let out = match what.as_str() {
                "step" => nsdojo::bench::step(*n, &mut session),
                "rootfs" => nsdojo::bench::rootfs(*n),
                other => anyhow::bail!("unknown benchmark `{other}` (step, rootfs, class)"),
            };
            session.finish();
            println!("{out}");
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Cleanup) => {
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
        Some(Cmd::Run { ids, all, check, record }) => {
            // Built-in lessons named on the command line are parsed alone (faster start).
            let picked = match (&cli.lessons, *all) {
                (None, false) => lesson::builtin_selected(ids),
                _ => None,
            };
            let chosen = match picked {
                Some(p) if !p.is_empty() => p,
                _ => choose(lang, &load_lessons(&cli)?, ids, *all)?,
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
            let mut provider = rootfs_provider(&cli);
            let mut class = join_class(&cli, lang)?;
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
            let lessons = load_lessons(&cli)?;
            need_root(lang)?;
            hostguard::install_signal_handlers();
            let session = hostguard::Session::start()?;
            let mut provider = rootfs_provider(&cli);
            let banner = format!("{}\n{}", banner(lang), tf(lang, "rootfs_line", &[&provider.describe(lang)]));
            let class = join_class(&cli, lang)?;
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

/// `check --mutate`: one line per mutant, a score, exit 1 unless every mutant is killed or waived.
fn mutate(
    style: &Style,
    session: &mut hostguard::Session,
    lessons: Vec<Lesson>,
    provider: &mut nsdojo::rootfs::Provider,
) -> anyhow::Result<ExitCode> {
    use nsdojo::lab::mutate::{self, MutantVerdict, Score};
    let lang = style.lang;
    let mut all = Vec::new();
    for l in lessons {
        // Prints only the host audit: the mutants have their own lines.
        let mut sink = Terminal::new(*style, Mode::Mutate, false);
        let mut runner = lab::runner::Runner::start(l, session, provider, lang, &mut sink)?;
        let mut print = |m: &mutate::Mutant| {
            let at = format!("{} {}.{}", m.lesson, m.step + 1, m.action + 1);
            // Padded before it is coloured: escape codes have no width.
            let word = |key: &str| pad(t(lang, key), 9);
            let (word, why) = match &m.verdict {
                MutantVerdict::Killed(by) => (word("mut_killed").green(), format!("✘ {}", by[0])),
                MutantVerdict::Survived(None) => (word("mut_survived").red().bold(), t(lang, "mut_holds").into()),
                MutantVerdict::Survived(Some(stop)) => {
                    (word("mut_survived").red().bold(), tf(lang, "mut_stopped_holds", &[stop]))
                }
                MutantVerdict::Waived(why) => (word("mut_waived").yellow(), why.clone()),
                MutantVerdict::Broken(step) => {
                    (word("mut_broken").red().bold(), tf(lang, "mut_broken_step", &[&(step + 1)]))
                }
            };
            println!("{word} {at:<16} {:<34} {}", m.src, why.dimmed());
        };
        all.extend(mutate::run_lesson(&mut runner, &mut print)?);
        runner.finish(session, &mut sink);
    }
    let s = Score::of(&all);
    let waived: Vec<String> = all
        .iter()
        .filter_map(|m| match &m.verdict {
            MutantVerdict::Waived(_) => Some(format!("{} {}.{}", m.lesson, m.step + 1, m.action + 1)),
            _ => None,
        })
        .collect();
    let waived = if waived.is_empty() { String::new() } else { format!(" ({})", waived.join(", ")) };
    let percent = format!("{:.1}", s.percent());
    let judged = s.killed + s.survived + s.broken;
    println!("{}", tf(lang, "mut_score", &[&s.killed, &judged, &percent, &s.survived, &s.broken, &s.waived, &waived]));
    Ok(if s.all_killed() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `--class URL`: fork the sender (it never blocks the session) and say so in one line.
fn join_class(cli: &Cli, lang: Lang) -> anyhow::Result<Option<nsdojo::class::ClassLink>> {
    let Some(url) = &cli.class else { return Ok(None) };
    let name = cli.name.clone().unwrap_or_else(nsdojo::class::sender::default_name);
    let mut link = nsdojo::class::ClassLink::join(url, &name, cli.present.as_deref())?;
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

fn check(lang: Lang, paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    if paths.is_empty() {
        let n = lesson::builtin().len();
        println!("{}", tf(lang, "builtin_valid", &[&n]));
        return Ok(ExitCode::SUCCESS);
    }
    let mut bad = 0;
    let mut good: Vec<Lesson> = Vec::new();
    for p in paths {
        let files: Vec<PathBuf> = if p.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(p)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                .collect();
            if v.is_empty() {
                bad += 1;
                eprintln!("{}", lesson::LoadError::Empty(p.display().to_string()));
            }
            v.sort();
            v
        } else {
            vec![p.clone()]
        };
        for f in files {
            match lesson::load_file(&f) {
                Ok(l) => match lesson::duplicate_id(&l, &good) {
                    Some(e) => {
                        bad += 1;
                        eprintln!("{e}");
                    }
                    None => {
                        println!("{}", tf(lang, "lesson_file_ok", &[&f.display(), &l.id, &l.steps.len()]));
                        good.push(l);
                    }
                },
                Err(e) => {
                    bad += 1;
                    eprintln!("{e}");
                }
            }
        }
    }
    Ok(if bad > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
