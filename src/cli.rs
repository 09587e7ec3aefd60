//! The command line: which options each command takes (`--rootfs` means something to `run`,
//! nothing to `serve`), and where they may be written. Part of the binary, beside main.rs,
//! which parses with it and dispatches.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// `nsdojo 0.1.0 (commit 1a2b3c4d5e6f, x86_64-unknown-linux-musl)`: see build.rs.
pub(crate) const VERSION: &str =
    concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("NSDOJO_COMMIT"), ", ", env!("NSDOJO_TARGET"), ")");

#[derive(Parser)]
#[command(
    name = "nsdojo",
    version = VERSION,
    about = "Containers without Docker: namespaces, pivot_root and cgroups, step by step, for real"
)]
/// Without a command: the REPL, which uses every option group. A command takes the groups it
/// uses, after its name (`nsdojo run uts --lang ko`) or before it (`nsdojo --lang ko run uts`);
/// one given before a command that does not use it is refused (see [`Cli::options`]).
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) output: OutputOpts,
    #[command(flatten)]
    pub(crate) lessons: LessonOpts,
    #[command(flatten)]
    pub(crate) rootfs: RootfsOpts,
    #[command(flatten)]
    pub(crate) class: ClassOpts,
    #[command(subcommand)]
    pub(crate) cmd: Option<Cmd>,
}

/// Language and colours: every command that talks to a person.
#[derive(Args, Clone, Default)]
pub(crate) struct OutputOpts {
    /// Language of the lesson texts: en or ko (default: from LANG).
    #[arg(long, value_name = "en|ko")]
    pub(crate) lang: Option<String>,
    /// Colours: auto (on a terminal, unless NO_COLOR is set; the default), always, never.
    #[arg(long, value_enum, value_name = "WHEN")]
    pub(crate) color: Option<ColorWhen>,
    /// The same as --color never.
    #[arg(long)]
    pub(crate) no_color: bool,
}

/// Where lessons come from: the REPL, `list`, `run`, `check`.
#[derive(Args, Clone, Default)]
#[command(next_help_heading = "Lessons")]
pub(crate) struct LessonOpts {
    /// Load lessons from this directory (or file) instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub(crate) lessons: Option<PathBuf>,
    /// Load --lessons even if a non-root user could have written them (they run commands as root).
    #[arg(long)]
    pub(crate) trust_lessons: bool,
}

/// The sandbox's root filesystem: the REPL, `run`, `check --mutate`, `doctor`.
#[derive(Args, Clone, Default)]
#[command(next_help_heading = "Root filesystem")]
pub(crate) struct RootfsOpts {
    /// Use this prepared root filesystem (it must have an executable /bin/sh).
    #[arg(long, value_name = "DIR", conflicts_with = "rootfs_tar")]
    pub(crate) rootfs: Option<PathBuf>,
    /// Unpack this tarball (plain or gzip, e.g. `docker export` output) as the root filesystem.
    #[arg(long, value_name = "FILE")]
    pub(crate) rootfs_tar: Option<PathBuf>,
}

/// Reporting to a class server: the REPL and `run`.
#[derive(Args, Clone, Default)]
#[command(next_help_heading = "Class")]
pub(crate) struct ClassOpts {
    /// Report progress to the class server at this address, as `nsdojo serve` prints it
    /// (http://ADDR:PORT/JOINCODE).
    #[arg(long, value_name = "URL")]
    pub(crate) class: Option<String>,
    /// Your name on the class dashboard (default: SUDO_USER@hostname).
    #[arg(long, value_name = "NAME", requires = "class")]
    pub(crate) name: Option<String>,
    /// Send each step whole, for the class server's presenter view (/present): the instructor's
    /// session, with the token `nsdojo serve` printed in the dashboard's address.
    #[arg(long, value_name = "TOKEN", requires = "class")]
    pub(crate) present: Option<String>,
}

/// An option group given after a command and before it: the later one wins, field by field.
trait Group: Clone + Default {
    /// The first option of the group given on the command line, if any.
    fn given(&self) -> Option<&'static str>;
    fn or(&self, before: &Self) -> Self;
}

impl Group for OutputOpts {
    fn given(&self) -> Option<&'static str> {
        [(self.lang.is_some(), "--lang"), (self.color.is_some(), "--color"), (self.no_color, "--no-color")]
            .into_iter()
            .find_map(|(set, flag)| set.then_some(flag))
    }
    fn or(&self, before: &Self) -> Self {
        OutputOpts {
            lang: self.lang.clone().or_else(|| before.lang.clone()),
            color: self.color.or(before.color),
            no_color: self.no_color || before.no_color,
        }
    }
}

impl Group for LessonOpts {
    fn given(&self) -> Option<&'static str> {
        [(self.lessons.is_some(), "--lessons"), (self.trust_lessons, "--trust-lessons")]
            .into_iter()
            .find_map(|(set, flag)| set.then_some(flag))
    }
    fn or(&self, before: &Self) -> Self {
        LessonOpts {
            lessons: self.lessons.clone().or_else(|| before.lessons.clone()),
            trust_lessons: self.trust_lessons || before.trust_lessons,
        }
    }
}

impl Group for RootfsOpts {
    fn given(&self) -> Option<&'static str> {
        [(self.rootfs.is_some(), "--rootfs"), (self.rootfs_tar.is_some(), "--rootfs-tar")]
            .into_iter()
            .find_map(|(set, flag)| set.then_some(flag))
    }
    fn or(&self, before: &Self) -> Self {
        // One source: a rootfs named after the command replaces one named before it.
        if self.given().is_some() {
            self.clone()
        } else {
            before.clone()
        }
    }
}

impl Group for ClassOpts {
    fn given(&self) -> Option<&'static str> {
        [(self.class.is_some(), "--class"), (self.name.is_some(), "--name"), (self.present.is_some(), "--present")]
            .into_iter()
            .find_map(|(set, flag)| set.then_some(flag))
    }
    fn or(&self, before: &Self) -> Self {
        ClassOpts {
            class: self.class.clone().or_else(|| before.class.clone()),
            name: self.name.clone().or_else(|| before.name.clone()),
            present: self.present.clone().or_else(|| before.present.clone()),
        }
    }
}

/// The options in effect for the command.
#[derive(Default)]
pub(crate) struct Opts {
    pub(crate) output: OutputOpts,
    pub(crate) lessons: LessonOpts,
    pub(crate) rootfs: RootfsOpts,
    pub(crate) class: ClassOpts,
}

/// `(flag, command)`: an option given before a command that does not use it.
pub(crate) struct NotFor(pub(crate) &'static str, pub(crate) &'static str);

impl Cli {
    /// Each group the command uses, from after its name or else before it; a group it does
    /// not use must not have been given.
    pub(crate) fn options(&self) -> Result<Opts, NotFor> {
        fn pick<G: Group>(before: &G, after: Option<&G>, cmd: &'static str) -> Result<G, NotFor> {
            match after {
                Some(a) => Ok(a.or(before)),
                None => before.given().map_or_else(|| Ok(G::default()), |flag| Err(NotFor(flag, cmd))),
            }
        }
        let Some(cmd) = &self.cmd else {
            let (output, lessons) = (self.output.clone(), self.lessons.clone());
            return Ok(Opts { output, lessons, rootfs: self.rootfs.clone(), class: self.class.clone() });
        };
        let (o, l, r, c) = cmd.groups();
        let name = cmd.name();
        Ok(Opts {
            output: pick(&self.output, o, name)?,
            lessons: pick(&self.lessons, l, name)?,
            rootfs: pick(&self.rootfs, r, name)?,
            class: pick(&self.class, c, name)?,
        })
    }
}

#[derive(Subcommand)]
pub(crate) enum Cmd {
    /// List the lessons.
    List {
        #[command(flatten)]
        output: OutputOpts,
        #[command(flatten)]
        lessons: LessonOpts,
    },
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
        #[command(flatten)]
        output: OutputOpts,
        #[command(flatten)]
        lessons: LessonOpts,
        #[command(flatten)]
        rootfs: RootfsOpts,
        #[command(flatten)]
        class: ClassOpts,
    },
    /// Validate lesson files; errors as file:line:col: message.
    Check {
        /// Files or directories (default: the built-in lessons); with --mutate or --solve, lesson ids.
        paths: Vec<PathBuf>,
        /// Run each step once without each of its actions: some check of the step must fail
        /// (root; prints killed / survived / waived per mutant and a score).
        #[arg(long)]
        mutate: bool,
        /// Do each step as a student: `try`, its printed lab command typed in (terminal #2's part
        /// run on the host), the ✔ and the host as it was required (root; prints solved /
        /// unsolved / waived per step and a score).
        #[arg(long, conflicts_with = "mutate")]
        solve: bool,
        #[command(flatten)]
        output: OutputOpts,
        #[command(flatten)]
        lessons: LessonOpts,
        #[command(flatten)]
        rootfs: RootfsOpts,
    },
    /// Join the running sandbox (terminal #1) from a second terminal, like nsenter -t PID -a.
    Attach {
        /// Which session, when several run (`nsdojo attach` lists them).
        #[arg(long, value_name = "ID", conflicts_with = "host")]
        session: Option<String>,
        /// Not terminal #1: a root shell on the host (terminal #2 for `try`), whose system
        /// calls are narrated as `try` narrates terminal #1's.
        #[arg(long)]
        host: bool,
        #[command(flatten)]
        output: OutputOpts,
        /// Command to run inside (default: an interactive /bin/sh).
        #[arg(last = true)]
        cmd: Vec<String>,
    },
    /// The namespaces of a process (default: this one), like `lsns -p PID`.
    Ns {
        pid: Option<i32>,
        #[command(flatten)]
        output: OutputOpts,
    },
    /// Measurements for BENCHMARKS.md (bench/run.sh and scripts/bench-class.sh run them).
    #[command(hide = true)]
    Bench {
        what: Bench,
        #[arg(short, default_value_t = 50)]
        n: usize,
        /// class: simulated students.
        #[arg(long, default_value_t = 300)]
        students: usize,
        /// class: how long they send, in seconds.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        #[command(flatten)]
        output: OutputOpts,
    },
    /// The class server (no root needed): students join with `sudo nsdojo --class URL`, the
    /// instructor watches the dashboard. Prints the join line and the dashboard's URL.
    Serve {
        /// The address and port to listen on; 0.0.0.0 = every interface (the join line then
        /// names the machine's first LAN address).
        #[arg(long, value_name = "ADDR:PORT", default_value = nsdojo::class::server::DEFAULT_LISTEN)]
        listen: std::net::SocketAddr,
        /// The address students reach the server at, for the join line and URLs, when it is not
        /// this machine's own: in a VM, the laptop's LAN address whose port is forwarded to it.
        #[arg(long, value_name = "HOST[:PORT]")]
        advertise: Option<nsdojo::class::server::Advertise>,
        /// The state file (join code, token) or a directory for it; the journal of every event
        /// is kept next to it. Default: $XDG_STATE_HOME/nsdojo/class/ (~/.local/state/nsdojo/class/).
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
        /// A student with no progress for this long is shown as stuck.
        #[arg(long, value_name = "SECS", default_value_t = nsdojo::class::server::DEFAULT_STUCK_AFTER)]
        stuck_after: u64,
        /// Start a new class: the previous journal is kept beside (journal.SECS.jsonl), the join code is new.
        #[arg(long)]
        new_class: bool,
    },
    /// Remove what killed sessions left behind (work dirs, cgroups, netns files).
    Cleanup {
        #[command(flatten)]
        output: OutputOpts,
    },
    /// Shell completions: `nsdojo completions bash > /etc/bash_completion.d/nsdojo`.
    Completions { shell: clap_complete::Shell },
    /// The manual page, made from these options: `nsdojo man | man -l -`.
    Man,
    /// What this machine offers for the lab, and what to install; exit 1 if the lab cannot run here.
    Doctor {
        /// The same as JSON, for a classroom preflight script.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        output: OutputOpts,
        #[command(flatten)]
        rootfs: RootfsOpts,
    },
}

type Groups<'a> = (Option<&'a OutputOpts>, Option<&'a LessonOpts>, Option<&'a RootfsOpts>, Option<&'a ClassOpts>);

impl Cmd {
    /// The option groups this command uses.
    fn groups(&self) -> Groups<'_> {
        match self {
            Cmd::List { output, lessons } => (Some(output), Some(lessons), None, None),
            Cmd::Run { output, lessons, rootfs, class, .. } => (Some(output), Some(lessons), Some(rootfs), Some(class)),
            Cmd::Check { output, lessons, rootfs, .. } => (Some(output), Some(lessons), Some(rootfs), None),
            Cmd::Attach { output, .. }
            | Cmd::Ns { output, .. }
            | Cmd::Bench { output, .. }
            | Cmd::Cleanup { output } => (Some(output), None, None, None),
            Cmd::Doctor { output, rootfs, .. } => (Some(output), None, Some(rootfs), None),
            Cmd::Serve { .. } | Cmd::Completions { .. } | Cmd::Man => (None, None, None, None),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Cmd::List { .. } => "list",
            Cmd::Run { .. } => "run",
            Cmd::Check { .. } => "check",
            Cmd::Attach { .. } => "attach",
            Cmd::Ns { .. } => "ns",
            Cmd::Bench { .. } => "bench",
            Cmd::Serve { .. } => "serve",
            Cmd::Cleanup { .. } => "cleanup",
            Cmd::Completions { .. } => "completions",
            Cmd::Man => "man",
            Cmd::Doctor { .. } => "doctor",
        }
    }
}

/// What `nsdojo bench` measures.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Bench {
    /// One step of a lesson, start to verdict.
    Step,
    /// Preparing a lesson's root filesystem.
    Rootfs,
    /// The class server under simulated students.
    Class,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::{Cli, NotFor};

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// The options a command's --help lists (`--rootfs`, `-n`, …), without its other text.
    fn help(path: &[&str]) -> Vec<String> {
        let mut cmd = Cli::command();
        // Built as parsing builds it (global options reach the subcommands then).
        cmd.build();
        let mut at = &mut cmd;
        for name in path {
            at = at.find_subcommand_mut(name).unwrap();
        }
        let text = at.render_long_help().to_string();
        let flags = text.lines().filter(|l| l.trim_start().starts_with('-')).map(str::split_whitespace);
        flags.flatten().filter(|w| w.starts_with("--")).map(|w| w.trim_end_matches(',').to_string()).collect()
    }

    #[test]
    fn each_command_shows_only_the_options_it_uses() {
        let serve = help(&["serve"]);
        for absent in ["--rootfs", "--class", "--present", "--lessons", "--lang", "--color"] {
            assert!(!serve.iter().any(|f| f == absent), "serve --help shows {absent}: {serve:?}");
        }
        assert!(serve.iter().any(|f| f == "--listen"));
        let repl = help(&[]);
        for present in ["--rootfs", "--rootfs-tar", "--class", "--present", "--lessons", "--lang", "--no-color"] {
            assert!(repl.iter().any(|f| f == present), "nsdojo --help lacks {present}: {repl:?}");
        }
        let has = |path: &[&str], flag: &str| help(path).iter().any(|f| f == flag);
        assert!(has(&["run"], "--rootfs") && has(&["run"], "--class") && has(&["run"], "--check"));
        assert!(!has(&["list"], "--rootfs") && has(&["list"], "--lessons"));
        assert!(!has(&["doctor"], "--class") && has(&["doctor"], "--rootfs-tar"));
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("nsdojo").chain(args.iter().copied()))
    }

    fn options(args: &[&str]) -> super::Opts {
        match parse(args).unwrap().options() {
            Ok(o) => o,
            Err(NotFor(flag, cmd)) => panic!("{args:?}: {flag} refused for {cmd}"),
        }
    }

    /// The option refused, and for which command.
    fn refused(args: &[&str]) -> Option<(&'static str, &'static str)> {
        parse(args).unwrap().options().err().map(|NotFor(flag, cmd)| (flag, cmd))
    }

    #[test]
    fn options_go_before_or_after_the_command_they_belong_to() {
        let o = options(&["--lang", "ko", "run", "uts", "--check"]);
        assert_eq!(o.output.lang.as_deref(), Some("ko"));
        let o = options(&["run", "uts", "--lang", "ko"]);
        assert_eq!(o.output.lang.as_deref(), Some("ko"));
        let o = options(&["--lang", "en", "run", "uts", "--lang", "ko"]);
        assert_eq!(o.output.lang.as_deref(), Some("ko"), "the later one wins");
        let o = options(&["--class", "http://192.0.2.1:8080/ABCDEF", "--name", "dave", "run", "uts"]);
        assert_eq!((o.class.class.is_some(), o.class.name.as_deref()), (true, Some("dave")));
        let o = options(&["--lessons", "/srv/dojo", "--trust-lessons", "list"]);
        assert!(o.lessons.trust_lessons && o.lessons.lessons.is_some());
        let o = options(&["--rootfs", "/r", "run", "uts", "--rootfs-tar", "/t.tar"]);
        assert!(o.rootfs.rootfs.is_none() && o.rootfs.rootfs_tar.is_some(), "one rootfs source");
        let o = options(&["--lang", "ko", "--rootfs", "/r", "--class", "http://x/y"]);
        assert!(o.rootfs.rootfs.is_some() && o.class.class.is_some(), "the REPL takes every group");
        assert_eq!(refused(&["--rootfs", "/r", "serve"]), Some(("--rootfs", "serve")));
        assert_eq!(refused(&["--class", "http://x/y", "list"]), Some(("--class", "list")));
        assert_eq!(refused(&["--lang", "ko", "man"]), Some(("--lang", "man")));
        assert_eq!(refused(&["--no-color", "check", "--mutate"]), None);
        assert_eq!(refused(&["--no-color", "check", "--solve", "uts"]), None);
        assert!(parse(&["serve", "--rootfs", "/r"]).is_err(), "clap refuses it after serve");
        assert!(parse(&["bench", "nothing"]).is_err());
        assert!(parse(&["bench", "rootfs", "-n", "3"]).is_ok());
    }
}
