//! The action language: what a step does, one line per action.
//!
//! ```text
//! unshare mnt uts          mkdir $WORK/mount_ns       mount tmpfs $WORK/mount_ns size=1m
//! mount proc /proc         mount bind SRC DST         umount -l /old-root
//! make-rprivate /          sethostname container-test chroot $ROOTFS
//! chdir /                  pivot_root . old-root      try pivot_root . old-root
//! msgget                   sh ls /                     host sh mount | grep mount_ns
//! ```
//!
//! Lessons are data, so these lines are parsed (with `nom`) when the lesson
//! is loaded, and a mistake is reported at its file, line and column rather
//! than in the middle of a workshop. Adding an action means one variant, one
//! arm in [`parse_action`] and one arm in the sandbox's performer.

use std::fmt;

use nom::{
    branch::alt,
    bytes::complete::{escaped_transform, tag, take_while1},
    character::complete::{char, multispace0, multispace1, none_of},
    combinator::{all_consuming, map, opt, value},
    multi::separated_list1,
    sequence::{delimited, preceded},
    IResult,
};
use serde::{Deserialize, Serialize};

/// A namespace type, as `unshare(1)` and `/proc/PID/ns/` name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Ns {
    Mnt,
    Uts,
    Ipc,
    Pid,
    Net,
    User,
    Cgroup,
    Time,
}

impl Ns {
    pub const ALL: [Ns; 8] = [Ns::Mnt, Ns::Uts, Ns::Ipc, Ns::Pid, Ns::Net, Ns::User, Ns::Cgroup, Ns::Time];

    pub fn name(self) -> &'static str {
        match self {
            Ns::Mnt => "mnt",
            Ns::Uts => "uts",
            Ns::Ipc => "ipc",
            Ns::Pid => "pid",
            Ns::Net => "net",
            Ns::User => "user",
            Ns::Cgroup => "cgroup",
            Ns::Time => "time",
        }
    }

    pub fn parse(s: &str) -> Option<Ns> {
        Ns::ALL.into_iter().find(|n| n.name() == s)
    }

    /// The `unshare(1)` option for this namespace, for the "lab command" lines.
    pub fn unshare_flag(self) -> &'static str {
        match self {
            Ns::Mnt => "-m",
            Ns::Uts => "-u",
            Ns::Ipc => "-i",
            Ns::Pid => "-p",
            Ns::Net => "-n",
            Ns::User => "-U",
            Ns::Cgroup => "-C",
            Ns::Time => "-T",
        }
    }

    /// The `nsenter(1)` option that joins this namespace.
    pub fn nsenter_flag(self) -> &'static str {
        match self {
            Ns::Mnt => "-m",
            Ns::Uts => "-u",
            Ns::Ipc => "-i",
            Ns::Pid => "-p",
            Ns::Net => "-n",
            Ns::User => "-U",
            Ns::Cgroup => "-C",
            Ns::Time => "-T",
        }
    }
}

impl fmt::Display for Ns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Mount propagation types settable with `mount --make-*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Propagation {
    Private,
    Shared,
    Slave,
}

/// One thing a step does. Paths may hold `$WORK` and `$ROOTFS`, expanded by
/// the host just before the action is sent to the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    Unshare(Vec<Ns>),
    Mkdir(String),
    Rmdir(String),
    MountTmpfs {
        target: String,
        options: Option<String>,
    },
    MountProc {
        target: String,
    },
    MountBind {
        source: String,
        target: String,
        recursive: bool,
    },
    Umount {
        target: String,
        lazy: bool,
    },
    MakePropagation {
        target: String,
        kind: Propagation,
        recursive: bool,
    },
    Sethostname(String),
    Chroot(String),
    Chdir(String),
    PivotRoot {
        new_root: String,
        put_old: String,
    },
    /// Create a SysV message queue (what `ipcmk -Q` does).
    Msgget,
    /// Write a file inside the sandbox (`echo TEXT > PATH`).
    Write {
        path: String,
        text: String,
    },
    /// Run a real shell command inside the sandbox.
    Sh(String),
    /// Run a real shell command on the host (terminal #2).
    HostSh(String),
    /// Create the session's cgroup with these controllers (host side: `cgcreate`).
    CgroupCreate(Vec<String>),
    /// Set a limit: `cpu 30%`, `memory 32M`, `pids 16` (host side: `cgset`).
    CgroupLimit {
        controller: String,
        value: u64,
    },
    /// Move the sandbox agent into the session's cgroup (`cgexec` / `echo PID > cgroup.procs`).
    CgroupJoin,
    /// Run a CPU burner in the sandbox for `secs` seconds while the host meters it like `top`.
    Burn {
        secs: u32,
    },
    /// Stop the burner (internal: sent by the host after metering).
    BurnStop,
    /// A child in the sandbox allocates and touches this many bytes (memory limit demo).
    Hog {
        bytes: u64,
    },
    /// The sandbox tries to start this many processes at once (pids limit demo).
    Forks {
        count: u32,
    },
    /// Bring a network interface up (`ip link set lo up`).
    LinkUp(String),
    /// A named network namespace, as `ip netns add` makes it: a new net namespace bind-mounted
    /// on /run/netns/NAME (the host records it first; `netns delete` or cleanup removes it).
    NetnsAdd(String),
    NetnsDelete(String),
    /// Write uid_map and gid_map (and setgroups deny) for the sandbox, from the host:
    /// `map-ids INSIDE OUTSIDE COUNT`.
    MapIds {
        inside: u32,
        outside: u32,
        count: u32,
    },
    /// Copy a directory tree with plain syscalls (`cp -a SRC/. DST`), e.g. the rootfs into a tmpfs.
    CopyTree {
        src: String,
        dst: String,
    },
    /// Run PATH with this argv[0] and no other argument, stdin empty: what `execl(PATH, ARGV0, NULL)` does.
    ExecAs {
        argv0: String,
        path: String,
    },
    /// Drop to an unprivileged user, as `setpriv --reuid=N --regid=N --clear-groups` does.
    Setuid(u32),
    /// Perform the inner action; a failure is recorded but does not stop the step.
    Try(Box<Action>),
}

impl Action {
    /// The same action with `$WORK`/`$ROOTFS` (and any other `$NAME` in `vars`) expanded.
    pub fn expand(&self, vars: &[(&str, &str)]) -> Action {
        let x = |s: &String| expand_vars(s, vars);
        match self {
            Action::Unshare(n) => Action::Unshare(n.clone()),
            Action::Mkdir(p) => Action::Mkdir(x(p)),
            Action::Rmdir(p) => Action::Rmdir(x(p)),
            Action::MountTmpfs { target, options } => {
                Action::MountTmpfs { target: x(target), options: options.as_ref().map(x) }
            }
            Action::MountProc { target } => Action::MountProc { target: x(target) },
            Action::MountBind { source, target, recursive } => {
                Action::MountBind { source: x(source), target: x(target), recursive: *recursive }
            }
            Action::Umount { target, lazy } => Action::Umount { target: x(target), lazy: *lazy },
            Action::MakePropagation { target, kind, recursive } => {
                Action::MakePropagation { target: x(target), kind: *kind, recursive: *recursive }
            }
            Action::Sethostname(h) => Action::Sethostname(x(h)),
            Action::Chroot(p) => Action::Chroot(x(p)),
            Action::Chdir(p) => Action::Chdir(x(p)),
            Action::PivotRoot { new_root, put_old } => Action::PivotRoot { new_root: x(new_root), put_old: x(put_old) },
            Action::Msgget => Action::Msgget,
            Action::Write { path, text } => Action::Write { path: x(path), text: x(text) },
            Action::Sh(c) => Action::Sh(x(c)),
            Action::HostSh(c) => Action::HostSh(x(c)),
            Action::Try(a) => Action::Try(Box::new(a.expand(vars))),
            Action::LinkUp(i) => Action::LinkUp(x(i)),
            Action::CopyTree { src, dst } => Action::CopyTree { src: x(src), dst: x(dst) },
            Action::ExecAs { argv0, path } => Action::ExecAs { argv0: x(argv0), path: x(path) },
            Action::NetnsAdd(n) => Action::NetnsAdd(x(n)),
            Action::NetnsDelete(n) => Action::NetnsDelete(x(n)),
            other => other.clone(),
        }
    }

    /// Whether this action runs on the host rather than in the sandbox.
    pub fn is_host(&self) -> bool {
        match self {
            Action::HostSh(_)
            | Action::CgroupCreate(_)
            | Action::CgroupLimit { .. }
            | Action::CgroupJoin
            | Action::MapIds { .. } => true,
            Action::Try(a) => a.is_host(),
            _ => false,
        }
    }
}

/// Replace `$NAME` for each `(NAME, value)`; unknown names are left alone.
pub fn expand_vars(s: &str, vars: &[(&str, &str)]) -> String {
    let mut out = s.to_string();
    // Longest names first so `$ROOTFS_X` is not cut by `$ROOTFS`.
    let mut sorted: Vec<_> = vars.to_vec();
    sorted.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    for (k, v) in sorted {
        out = out.replace(&format!("${k}"), v);
    }
    out
}

/// Why an action line did not parse, and where (a byte offset into the line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

pub const ACTION_NAMES: &[&str] = &[
    "unshare",
    "mkdir",
    "rmdir",
    "mount",
    "umount",
    "make-private",
    "make-rprivate",
    "make-shared",
    "make-rshared",
    "make-slave",
    "make-rslave",
    "sethostname",
    "chroot",
    "chdir",
    "cd",
    "pivot_root",
    "msgget",
    "write",
    "sh",
    "host",
    "cgroup",
    "burn",
    "hog",
    "forks",
    "link-up",
    "netns",
    "map-ids",
    "setuid",
    "copy",
    "exec-as",
    "try",
];

fn valid_netns_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 64 && n.chars().all(|c| c.is_ascii_alphanumeric() || "-_$".contains(c))
}

/// `30%`, `32M`, `16`, `3s`: a number with an optional unit.
fn quantity(s: &str, units: &[(&str, u64)]) -> Option<u64> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult = units.iter().find(|(u, _)| *u == unit)?.1;
    n.checked_mul(mult)
}

const SIZE_UNITS: &[(&str, u64)] = &[("", 1), ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)];

fn word(i: &str) -> IResult<&str, String> {
    alt((
        delimited(
            char('"'),
            map(
                opt(escaped_transform(
                    none_of("\\\""),
                    '\\',
                    alt((value("\\", tag("\\")), value("\"", tag("\"")), value("\n", tag("n")))),
                )),
                Option::unwrap_or_default,
            ),
            char('"'),
        ),
        map(take_while1(|c: char| !c.is_whitespace() && c != '"'), String::from),
    ))(i)
}

fn words(i: &str) -> IResult<&str, Vec<String>> {
    preceded(multispace0, separated_list1(multispace1, word))(i)
}

/// Parse one action line.
pub fn parse_action(line: &str) -> Result<Action, ParseError> {
    let lead = line.len() - line.trim_start().len();
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Err(ParseError { offset: 0, message: "empty action".into() });
    }
    let (rest, name) = take_while1::<_, _, nom::error::Error<&str>>(|c: char| !c.is_whitespace())(trimmed)
        .map_err(|_| ParseError { offset: lead, message: "empty action".into() })?;
    let args_at = lead + name.len() + (rest.len() - rest.trim_start().len());
    let rest_trim = rest.trim();

    // Commands that take the rest of the line verbatim.
    match name {
        "sh" => {
            return if rest_trim.is_empty() {
                Err(ParseError { offset: args_at, message: "sh needs a command, e.g. `sh ls /`".into() })
            } else {
                Ok(Action::Sh(rest_trim.to_string()))
            }
        }
        "host" => {
            let r = rest_trim;
            return match r.strip_prefix("sh") {
                Some(cmd) if cmd.starts_with(char::is_whitespace) && !cmd.trim().is_empty() => {
                    Ok(Action::HostSh(cmd.trim().to_string()))
                }
                _ => Err(ParseError { offset: args_at, message: "expected `host sh COMMAND`".into() }),
            };
        }
        "try" => {
            return parse_action(&line[args_at.min(line.len())..])
                .map(|a| Action::Try(Box::new(a)))
                .map_err(|e| ParseError { offset: e.offset + args_at, message: e.message });
        }
        _ => {}
    }

    let args: Vec<String> = if rest_trim.is_empty() {
        Vec::new()
    } else {
        match all_consuming(words)(rest.trim_end()) {
            Ok((_, w)) => w,
            Err(_) => {
                let quote = rest.find('"').map(|q| lead + name.len() + q).unwrap_or(args_at);
                return Err(ParseError { offset: quote, message: "unterminated quoted string".into() });
            }
        }
    };
    let err = |message: String| ParseError { offset: args_at, message };
    let arity = |n: usize, usage: &str| -> Result<(), ParseError> {
        if args.len() == n {
            Ok(())
        } else {
            Err(err(format!("`{name}` takes {n} argument(s): {usage}")))
        }
    };

    let action = match name {
        "unshare" => {
            if args.is_empty() {
                return Err(err("unshare needs namespaces: mnt uts ipc pid net user cgroup time".into()));
            }
            let mut set = Vec::new();
            for a in &args {
                match Ns::parse(a) {
                    Some(ns) if !set.contains(&ns) => set.push(ns),
                    Some(_) => {}
                    None => {
                        let at = args_at + rest.trim_start().find(a.as_str()).unwrap_or(0);
                        return Err(ParseError {
                            offset: at,
                            message: format!("unknown namespace `{a}` (known: mnt uts ipc pid net user cgroup time)"),
                        });
                    }
                }
            }
            Action::Unshare(set)
        }
        "mkdir" => {
            arity(1, "mkdir PATH")?;
            Action::Mkdir(args[0].clone())
        }
        "rmdir" => {
            arity(1, "rmdir PATH")?;
            Action::Rmdir(args[0].clone())
        }
        "mount" => match args.first().map(String::as_str) {
            Some("tmpfs") if args.len() == 2 || args.len() == 3 => {
                Action::MountTmpfs { target: args[1].clone(), options: args.get(2).cloned() }
            }
            Some("proc") if args.len() == 2 => Action::MountProc { target: args[1].clone() },
            Some(kind @ ("bind" | "rbind")) if args.len() == 3 => {
                Action::MountBind { source: args[1].clone(), target: args[2].clone(), recursive: kind == "rbind" }
            }
            _ => {
                return Err(err(
                    "expected `mount tmpfs DIR [OPTIONS]`, `mount proc DIR` or `mount bind|rbind SRC DST`".into()
                ))
            }
        },
        "umount" => match args.as_slice() {
            [t] => Action::Umount { target: t.clone(), lazy: false },
            [l, t] if l == "-l" || l == "lazy" => Action::Umount { target: t.clone(), lazy: true },
            _ => return Err(err("expected `umount [-l] DIR`".into())),
        },
        "make-private" | "make-rprivate" | "make-shared" | "make-rshared" | "make-slave" | "make-rslave" => {
            arity(1, &format!("{name} DIR"))?;
            let recursive = name.starts_with("make-r");
            let kind = match name.trim_start_matches("make-").trim_start_matches('r') {
                "private" => Propagation::Private,
                "shared" => Propagation::Shared,
                _ => Propagation::Slave,
            };
            Action::MakePropagation { target: args[0].clone(), kind, recursive }
        }
        "sethostname" => {
            arity(1, "sethostname NAME")?;
            Action::Sethostname(args[0].clone())
        }
        "chroot" => {
            arity(1, "chroot DIR")?;
            Action::Chroot(args[0].clone())
        }
        "chdir" | "cd" => {
            arity(1, "chdir DIR")?;
            Action::Chdir(args[0].clone())
        }
        "pivot_root" => {
            arity(2, "pivot_root NEW_ROOT PUT_OLD")?;
            Action::PivotRoot { new_root: args[0].clone(), put_old: args[1].clone() }
        }
        "msgget" => {
            arity(0, "msgget")?;
            Action::Msgget
        }
        "write" => {
            arity(2, "write PATH TEXT")?;
            Action::Write { path: args[0].clone(), text: args[1].clone() }
        }
        "cgroup" => match args.first().map(String::as_str) {
            Some("create") if args.len() > 1 => {
                for c in &args[1..] {
                    if !["cpu", "memory", "pids"].contains(&c.as_str()) {
                        return Err(err(format!("unknown controller `{c}` (cpu, memory, pids)")));
                    }
                }
                Action::CgroupCreate(args[1..].to_vec())
            }
            Some("limit") if args.len() == 3 => {
                let value = match args[1].as_str() {
                    "cpu" => {
                        args[2].strip_suffix('%').and_then(|p| p.parse::<u64>().ok()).filter(|p| (1..=100).contains(p))
                    }
                    "memory" => quantity(&args[2], SIZE_UNITS).filter(|b| *b >= 1 << 20),
                    "pids" => args[2].parse::<u64>().ok().filter(|n| *n >= 1),
                    other => return Err(err(format!("unknown controller `{other}` (cpu, memory, pids)"))),
                };
                let Some(value) = value else {
                    return Err(err(format!("bad {} limit `{}` (cpu 30%, memory 32M, pids 16)", args[1], args[2])));
                };
                Action::CgroupLimit { controller: args[1].clone(), value }
            }
            Some("join") if args.len() == 1 => Action::CgroupJoin,
            _ => {
                return Err(err(
                    "expected `cgroup create CONTROLLER…`, `cgroup limit cpu 30%|memory 32M|pids 16` or `cgroup join`"
                        .into(),
                ))
            }
        },
        "burn" => {
            arity(1, "burn SECONDS (e.g. burn 3s)")?;
            match quantity(&args[0], &[("s", 1), ("", 1)]).filter(|s| (1..=60).contains(s)) {
                Some(secs) => Action::Burn { secs: secs as u32 },
                None => return Err(err(format!("bad duration `{}` (1s to 60s)", args[0]))),
            }
        }
        "hog" => {
            arity(1, "hog SIZE (e.g. hog 64M)")?;
            match quantity(&args[0], SIZE_UNITS).filter(|b| *b >= 1 << 20 && *b <= 4 << 30) {
                Some(bytes) => Action::Hog { bytes },
                None => return Err(err(format!("bad size `{}` (1M to 4G)", args[0]))),
            }
        }
        "link-up" => {
            arity(1, "link-up IFACE")?;
            Action::LinkUp(args[0].clone())
        }
        "netns" => match args.as_slice() {
            [verb, name] if (verb == "add" || verb == "delete") && valid_netns_name(name) => {
                if verb == "add" {
                    Action::NetnsAdd(name.clone())
                } else {
                    Action::NetnsDelete(name.clone())
                }
            }
            _ => {
                return Err(err(
                    "expected `netns add NAME` or `netns delete NAME` (NAME: letters, digits, - _ $VARS)".into()
                ))
            }
        },
        "map-ids" => {
            arity(3, "map-ids INSIDE OUTSIDE COUNT (e.g. map-ids 0 1000 1)")?;
            let n: Vec<Option<u32>> = args.iter().map(|a| a.parse().ok()).collect();
            match n.as_slice() {
                [Some(i), Some(o), Some(c)] if *c >= 1 => Action::MapIds { inside: *i, outside: *o, count: *c },
                _ => return Err(err("map-ids takes three numbers, COUNT at least 1".into())),
            }
        }
        "copy" => {
            arity(2, "copy SRC DST")?;
            Action::CopyTree { src: args[0].clone(), dst: args[1].clone() }
        }
        "exec-as" => {
            arity(2, "exec-as ARGV0 PATH (e.g. exec-as -i /bin/sh)")?;
            Action::ExecAs { argv0: args[0].clone(), path: args[1].clone() }
        }
        "setuid" => {
            arity(1, "setuid UID")?;
            match args[0].parse::<u32>() {
                Ok(uid) => Action::Setuid(uid),
                Err(_) => return Err(err(format!("bad uid `{}`", args[0]))),
            }
        }
        "forks" => {
            arity(1, "forks COUNT")?;
            match args[0].parse::<u32>().ok().filter(|n| (1..=1000).contains(n)) {
                Some(count) => Action::Forks { count },
                None => return Err(err(format!("bad count `{}` (1 to 1000)", args[0]))),
            }
        }
        other => {
            let hint = crate::suggest::nearest(other, ACTION_NAMES)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err(ParseError { offset: lead, message: format!("unknown action `{other}`{hint}") });
        }
    };
    Ok(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_lab_actions() {
        assert_eq!(parse_action("unshare mnt uts"), Ok(Action::Unshare(vec![Ns::Mnt, Ns::Uts])));
        assert_eq!(
            parse_action("mount tmpfs $WORK/m size=1m"),
            Ok(Action::MountTmpfs { target: "$WORK/m".into(), options: Some("size=1m".into()) })
        );
        assert_eq!(parse_action("umount -l /old-root"), Ok(Action::Umount { target: "/old-root".into(), lazy: true }));
        assert_eq!(
            parse_action("make-rprivate /"),
            Ok(Action::MakePropagation { target: "/".into(), kind: Propagation::Private, recursive: true })
        );
        assert_eq!(parse_action("sh ls / | wc -l"), Ok(Action::Sh("ls / | wc -l".into())));
        assert_eq!(parse_action("host sh mount | grep x"), Ok(Action::HostSh("mount | grep x".into())));
        assert_eq!(
            parse_action("try pivot_root . old-root"),
            Ok(Action::Try(Box::new(Action::PivotRoot { new_root: ".".into(), put_old: "old-root".into() })))
        );
        assert_eq!(
            parse_action(r#"write /proc/self/uid_map "0 0 1""#),
            Ok(Action::Write { path: "/proc/self/uid_map".into(), text: "0 0 1".into() })
        );
    }

    #[test]
    fn errors_point_at_the_mistake() {
        let e = parse_action("unshare mnt bogus").unwrap_err();
        assert_eq!(e.offset, 12);
        assert!(e.message.contains("unknown namespace `bogus`"), "{}", e.message);

        let e = parse_action("  mout tmpfs /x").unwrap_err();
        assert_eq!(e.offset, 2);
        assert!(e.message.contains("did you mean `mount`"), "{}", e.message);

        let e = parse_action("mkdir").unwrap_err();
        assert!(e.message.contains("mkdir PATH"), "{}", e.message);

        let e = parse_action(r#"write /x "open"#).unwrap_err();
        assert_eq!(e.offset, 9);
        assert!(e.message.contains("unterminated"));

        assert!(parse_action("").is_err());
        assert!(parse_action("host ls").is_err());
        assert!(parse_action("try").is_err());
    }

    #[test]
    fn cgroup_actions_and_quantities() {
        assert_eq!(
            parse_action("cgroup create cpu memory"),
            Ok(Action::CgroupCreate(vec!["cpu".into(), "memory".into()]))
        );
        assert_eq!(
            parse_action("cgroup limit cpu 30%"),
            Ok(Action::CgroupLimit { controller: "cpu".into(), value: 30 })
        );
        assert_eq!(
            parse_action("cgroup limit memory 32M"),
            Ok(Action::CgroupLimit { controller: "memory".into(), value: 32 << 20 })
        );
        assert_eq!(parse_action("burn 3s"), Ok(Action::Burn { secs: 3 }));
        assert_eq!(parse_action("hog 64M"), Ok(Action::Hog { bytes: 64 << 20 }));
        assert_eq!(parse_action("forks 50"), Ok(Action::Forks { count: 50 }));
        assert_eq!(parse_action("netns add nsdojo-$SESSION"), Ok(Action::NetnsAdd("nsdojo-$SESSION".into())));
        assert_eq!(parse_action("map-ids 0 1000 1"), Ok(Action::MapIds { inside: 0, outside: 1000, count: 1 }));
        assert!(parse_action("netns add ../etc").is_err());
        assert!(parse_action("map-ids 0 1000 0").is_err());
        for bad in [
            "cgroup limit cpu 300%",
            "cgroup limit cpu 30",
            "cgroup create blkio",
            "burn 0s",
            "burn 1h",
            "hog 12Q",
            "forks -1",
        ] {
            assert!(parse_action(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn expansion_replaces_longest_names_first() {
        let a = parse_action("mkdir $ROOTFS_X/$ROOTFS").unwrap();
        let e = a.expand(&[("ROOTFS", "/r"), ("ROOTFS_X", "/x")]);
        assert_eq!(e, Action::Mkdir("/x//r".into()));
    }
}
