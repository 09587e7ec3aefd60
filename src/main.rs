//! The `nsdojo` command: the REPL by default; `list`, `run`, `check`,
//! `cleanup` and `doctor` for scripts and instructors. anyhow lives here
//! only; every module below has its own error type.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use colored::Colorize;

use nsdojo::lesson::{self, Lang, Lesson};
use nsdojo::render::{self, Style};
use nsdojo::{guard, host, lab, repl};

#[derive(Parser)]
#[command(
    name = "nsdojo",
    version,
    about = "Containers without Docker: namespaces, pivot_root and cgroups, step by step, for real"
)]
struct Cli {
    /// Load lessons from this directory (or file) instead of the built-in ones.
    #[arg(long, global = true, value_name = "DIR")]
    lessons: Option<PathBuf>,
    /// Language of the lesson texts: en or ko (default: from LANG).
    #[arg(long, global = true, value_name = "en|ko")]
    lang: Option<String>,
    /// No colours (also NO_COLOR=1).
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
        /// Files or directories (default: the built-in lessons).
        paths: Vec<PathBuf>,
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
    /// Measurements for BENCHMARKS.md (bench/run.sh runs them).
    #[command(hide = true)]
    Bench {
        /// step or rootfs
        what: String,
        #[arg(short, default_value_t = 50)]
        n: usize,
    },
    /// Remove what killed sessions left behind (work dirs, cgroups, netns files).
    Cleanup,
    /// What this machine offers for the lab, and what to install.
    Doctor,
}

/// Exit codes: 0 fine, 1 a check failed, 2 the command could not run.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        colored::control::set_override(false);
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nsdojo: {e:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn lang_of(cli: &Cli) -> anyhow::Result<Lang> {
    match &cli.lang {
        Some(l) => Lang::parse(l).ok_or_else(|| anyhow::anyhow!("unknown language `{l}`: use en or ko")),
        None => Ok(Lang::from_env()),
    }
}

fn load_lessons(cli: &Cli) -> anyhow::Result<Vec<Lesson>> {
    match &cli.lessons {
        Some(dir) => {
            if host::is_root() && !cli.trust_lessons {
                nsdojo::lesson::trust::check(dir)?;
            }
            Ok(lesson::load_paths(std::slice::from_ref(dir))?)
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

/// The rootfs path for a lesson that needs one (prepared on first need).
pub fn rootfs_for(lesson: &Lesson, provider: &mut nsdojo::rootfs::Provider) -> anyhow::Result<Option<PathBuf>> {
    if !lesson.rootfs {
        return Ok(None);
    }
    Ok(Some(provider.path()?))
}

fn need_root() -> anyhow::Result<()> {
    if !host::is_root() {
        anyhow::bail!(
            "the lab creates namespaces and mounts, which needs root: run `sudo nsdojo` (`nsdojo doctor` tells more)"
        );
    }
    Ok(())
}

fn banner() -> String {
    format!(
        "{} {} — containers without Docker\nhost: {} · {} · / is {}",
        "nsdojo".bold().cyan(),
        env!("CARGO_PKG_VERSION"),
        host::kernel(),
        host::cgroup_layout(),
        host::root_propagation()
    )
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let lang = lang_of(&cli)?;
    if let Some(d) = &cli.rootfs {
        // A lesson works on a copy of its rootfs: / would mean copying the whole host.
        if std::fs::canonicalize(d).is_ok_and(|c| c == std::path::Path::new("/")) {
            anyhow::bail!("--rootfs {}: the host's own root is not a rootfs (lessons copy it)", d.display());
        }
    }
    let style = Style::detect(lang);
    match &cli.cmd {
        Some(Cmd::List) => {
            print!("{}", render::lesson_list(&style, &load_lessons(&cli)?, None));
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Check { paths }) => check(paths),
        Some(Cmd::Doctor) => {
            print!("{}", doctor());
            println!("rootfs:             {}", rootfs_provider(&cli).describe());
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Attach { session, cmd }) => {
            need_root()?;
            let (_, pid) = nsdojo::sandbox::attach::find_target(session.as_deref())?;
            let code = nsdojo::sandbox::attach::attach(pid, cmd)?;
            Ok(ExitCode::from(code.clamp(0, 255) as u8))
        }
        Some(Cmd::Ns { pid }) => {
            let pid = pid.unwrap_or(std::process::id() as i32);
            // Only the namespace links: what lsns -p shows.
            let facts = nsdojo::observe::ProcFacts::read_some(pid, &nsdojo::observe::Needs::default());
            if facts.ns.is_empty() {
                anyhow::bail!("no process {pid} (or no permission to read /proc/{pid}/ns)");
            }
            println!("{:>12} {:<7} PID", "NS", "TYPE");
            for (ns, ino) in &facts.ns {
                println!("{ino:>12} {:<7} {pid}", ns.name());
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Bench { what, n }) => {
            need_root()?;
            let mut session = guard::Session::start()?;
            let out = match what.as_str() {
                "step" => nsdojo::bench::step(*n, &mut session),
                "rootfs" => nsdojo::bench::rootfs(*n),
                other => anyhow::bail!("unknown benchmark `{other}` (step, rootfs)"),
            };
            session.finish();
            println!("{out}");
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Cleanup) => {
            need_root()?;
            let done = guard::cleanup_dead();
            if done.is_empty() {
                println!("nothing to clean up");
            }
            for d in done {
                println!("removed {d}");
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
                _ => choose(&load_lessons(&cli)?, ids, *all)?,
            };
            need_root()?;
            guard::install_signal_handlers();
            let mut session = guard::Session::start()?;
            let mut transcript = match record {
                Some(f) => Some(
                    nsdojo::render::transcript::Transcript::create(f)
                        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", f.display()))?,
                ),
                None => None,
            };
            let mut provider = rootfs_provider(&cli);
            let failed = run_lessons(&style, &mut session, chosen, transcript.as_mut(), &mut provider)?;
            session.finish();
            if failed > 0 && *check {
                eprintln!("nsdojo: {failed} step(s) failed their checks");
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let lessons = load_lessons(&cli)?;
            need_root()?;
            guard::install_signal_handlers();
            let session = guard::Session::start()?;
            let mut provider = rootfs_provider(&cli);
            let banner = format!("{}\nrootfs: {}", banner(), provider.describe());
            let mut r = repl::Repl::new(lessons, session, style, provider);
            r.run(&banner)?;
            r.session.finish();
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn choose(all: &[Lesson], keys: &[String], every: bool) -> anyhow::Result<Vec<Lesson>> {
    if every {
        return Ok(all.to_vec());
    }
    if keys.is_empty() {
        anyhow::bail!("name the lessons to run (ids or numbers), or --all");
    }
    keys.iter()
        .map(|k| {
            lesson::find(all, k).map(|(_, l)| l.clone()).ok_or_else(|| {
                let ids: Vec<&str> = all.iter().map(|l| l.id.as_str()).collect();
                let hint =
                    nsdojo::suggest::nearest(k, &ids).map(|s| format!(": did you mean `{s}`?")).unwrap_or_default();
                anyhow::anyhow!("no lesson `{k}`{hint} (`nsdojo list` shows them)")
            })
        })
        .collect()
}

/// Run every step of each lesson; returns how many steps failed.
fn run_lessons(
    style: &Style,
    session: &mut guard::Session,
    lessons: Vec<Lesson>,
    mut transcript: Option<&mut nsdojo::render::transcript::Transcript>,
    provider: &mut nsdojo::rootfs::Provider,
) -> anyhow::Result<usize> {
    let mut failed = 0;
    for l in lessons {
        println!("\n{}", l.title.get(style.lang).bold().cyan());
        let audit = nsdojo::audit::HostAudit::now();
        let what = format!("lesson {}", l.id);
        let rootfs = rootfs_for(&l, provider)?;
        if rootfs.is_some() {
            println!("rootfs: {}", provider.describe());
        }
        let mut lab = lab::Lab::new(l, session, rootfs)?;
        // The meter redraws one line; only on a terminal.
        lab.live = std::io::IsTerminal::is_terminal(&std::io::stdout());
        for i in 0..lab.lesson.steps.len() {
            let report = lab.run_step(i)?;
            let expand = |s: &str| lab.expand(s);
            print!("{}", render::step(style, &lab.lesson, &report, &expand));
            if let Some(t) = transcript.as_deref_mut() {
                if i == 0 {
                    t.lesson(style, &lab.lesson, &expand);
                }
                t.step(style, &lab.lesson, &report, &expand);
            }
            if !report.passed() {
                failed += 1;
                eprintln!("nsdojo: {} step {} failed", lab.lesson.id, i + 1);
            }
        }
        let work = lab.work_dir().to_path_buf();
        drop(lab);
        session.remove_dir(&work);
        let id = session.id().to_string();
        if nsdojo::audit::warn_if_changed(
            &audit.only_session(&id),
            &nsdojo::audit::HostAudit::now().only_session(&id),
            &what,
        ) {
            failed += 1;
        }
    }
    Ok(failed)
}

fn check(paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    if paths.is_empty() {
        let n = lesson::builtin().len();
        println!("{n} built-in lessons are valid");
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
                        println!("{}: ok ({}, {} steps)", f.display(), l.id, l.steps.len());
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

fn doctor() -> String {
    let yes_no = |b: bool| {
        if b {
            "yes".green().to_string()
        } else {
            "no".red().to_string()
        }
    };
    let mut o = String::new();
    o.push_str(&format!(
        "root:               {}{}\n",
        yes_no(host::is_root()),
        if host::is_root() { "" } else { "  → run with sudo" }
    ));
    o.push_str(&format!("kernel:             {}\n", host::kernel()));
    o.push_str(&format!("cgroups:            {}\n", host::cgroup_layout()));
    o.push_str(&format!("/ propagation:      {}\n", host::root_propagation()));
    let userns = std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0)
        > 0;
    o.push_str(&format!("user namespaces:    {}\n", yes_no(userns)));
    for (tool, why) in [
        ("busybox", "apt-get install busybox-static (small static rootfs)"),
        ("stress", "apt-get install stress (optional CPU burner)"),
        ("ip", "apt-get install iproute2"),
        ("nsenter", "apt-get install util-linux"),
    ] {
        match host::which(tool) {
            Some(p) => o.push_str(&format!("{tool:<20}{}\n", p.display())),
            None => o.push_str(&format!("{tool:<20}{}  → {why}\n", "not found".yellow())),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
