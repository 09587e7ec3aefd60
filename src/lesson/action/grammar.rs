//! The action grammar as one table: each name a line may start with, how it is written, an
//! example, and the function that parses its arguments. The parser looks names up here, the
//! "did you mean" list is these names, and tests/it/docs.rs checks docs/lessons.md against
//! them, so a new action cannot be parsed but undocumented, or listed but not parsed.

use super::parse::{cidr, http_url, is_documentation_net, quantity, ParseError, SIZE_UNITS};
use super::{Action, Controller, HostAction as H, Ns, Propagation, SandboxAction as S};

/// One action of the language.
pub struct ActionSpec {
    /// The word a line starts with.
    pub name: &'static str,
    /// How it is written, for errors: `mkdir PATH`.
    pub usage: &'static str,
    /// A line that parses (each is parsed by a unit test).
    pub example: &'static str,
    /// Takes the rest of the line verbatim (a shell command, an action) rather than words.
    pub(super) verbatim: bool,
    pub(super) parse: fn(&Line) -> Result<Action, ParseError>,
}

const fn words(
    name: &'static str,
    usage: &'static str,
    example: &'static str,
    parse: fn(&Line) -> Result<Action, ParseError>,
) -> ActionSpec {
    ActionSpec { name, usage, example, verbatim: false, parse }
}

const fn verbatim(
    name: &'static str,
    usage: &'static str,
    example: &'static str,
    parse: fn(&Line) -> Result<Action, ParseError>,
) -> ActionSpec {
    ActionSpec { name, usage, example, verbatim: true, parse }
}

/// Every action, in the order docs/lessons.md lists them.
pub const ACTIONS: &[ActionSpec] = &[
    words("unshare", "unshare NS…", "unshare mnt uts", unshare),
    words("mkdir", "mkdir PATH", "mkdir $WORK/m", |l| Ok(S::Mkdir(l.one()?).into())),
    words("rmdir", "rmdir PATH", "rmdir $WORK/m", |l| Ok(S::Rmdir(l.one()?).into())),
    words(
        "mount",
        "mount tmpfs DIR [OPTIONS]`, `mount proc DIR` or `mount bind|rbind SRC DST",
        "mount tmpfs $WORK/m size=1m",
        mount,
    ),
    words("umount", "umount [-l] DIR", "umount -l /old-root", umount),
    words("make-private", "make-private DIR", "make-private $WORK/r", propagation),
    words("make-rprivate", "make-rprivate DIR", "make-rprivate /", propagation),
    words("make-shared", "make-shared DIR", "make-shared $WORK/r", propagation),
    words("make-rshared", "make-rshared DIR", "make-rshared /", propagation),
    words("make-slave", "make-slave DIR", "make-slave $WORK/r", propagation),
    words("make-rslave", "make-rslave DIR", "make-rslave /", propagation),
    words("sethostname", "sethostname NAME", "sethostname container-test", |l| Ok(S::Sethostname(l.one()?).into())),
    words("chroot", "chroot DIR", "chroot $ROOTFS", |l| Ok(S::Chroot(l.one()?).into())),
    words("chdir", "chdir DIR", "chdir /", |l| Ok(S::Chdir(l.one()?).into())),
    words("cd", "chdir DIR", "cd $WORK", |l| Ok(S::Chdir(l.one()?).into())),
    words("pivot_root", "pivot_root NEW_ROOT PUT_OLD", "pivot_root . old-root", |l| {
        let [new_root, put_old] = l.exactly()?;
        Ok(S::PivotRoot { new_root, put_old }.into())
    }),
    words("msgget", "msgget", "msgget", |l| l.exactly::<0>().map(|_| S::Msgget.into())),
    words("write", "write PATH TEXT", r#"write $WORK/x "hello world""#, |l| {
        let [path, text] = l.exactly()?;
        Ok(S::Write { path, text }.into())
    }),
    verbatim("sh", "sh COMMAND", "sh ls / | wc -l", |l| {
        Ok(S::Sh(l.command("sh needs a command, e.g. `sh ls /`")?).into())
    }),
    verbatim(
        "host",
        "host sh COMMAND`, `host link-up IFACE` or `host addr-add ADDR/PREFIX IFACE",
        "host sh mount | grep x",
        host,
    ),
    words(
        "cgroup",
        "cgroup create CONTROLLER…`, `cgroup limit cpu 30%|memory 32M|pids 16` or `cgroup join",
        "cgroup limit memory 32M",
        cgroup,
    ),
    words("burn", "burn SECONDS [stress]", "burn 4s stress", burn),
    words("hog", "hog SIZE (e.g. hog 64M)", "hog 64M", |l| {
        let [size] = l.exactly()?;
        match quantity(&size, SIZE_UNITS).filter(|b| *b >= 1 << 20 && *b <= 4 << 30) {
            Some(bytes) => Ok(S::Hog { bytes }.into()),
            None => Err(l.err(format!("bad size `{size}` (1M to 4G)"))),
        }
    }),
    words("forks", "forks COUNT", "forks 50", |l| {
        let [count] = l.exactly()?;
        match count.parse::<u32>().ok().filter(|n| (1..=1000).contains(n)) {
            Some(count) => Ok(S::Forks { count }.into()),
            None => Err(l.err(format!("bad count `{count}` (1 to 1000)"))),
        }
    }),
    words("link-up", "link-up IFACE", "link-up lo", |l| Ok(S::LinkUp(l.one()?).into())),
    words(
        "netns",
        "netns add NAME` or `netns delete NAME` (NAME: letters, digits, - _ $VARS)",
        "netns add n-$SESSION",
        netns,
    ),
    words(
        "veth",
        "veth add NAME peer PEER`, `veth move PEER as NEW_NAME` or `veth delete NAME",
        "veth add v0 peer v1",
        veth,
    ),
    words("addr-add", "addr-add ADDR/PREFIX IFACE", "addr-add 192.0.2.2/24 eth0", addr_add),
    verbatim("spawn", "spawn COMMAND", "spawn httpd -f -p 80", |l| {
        Ok(S::Spawn(l.command("spawn needs a command, e.g. `spawn httpd -f -p 80`")?).into())
    }),
    words("fetch", "fetch http://ADDR[:PORT]/PATH", "fetch http://192.0.2.2/", |l| {
        let [url] = l.exactly()?;
        match http_url(&url) {
            Some(_) => Ok(H::Fetch(url).into()),
            _ if url.starts_with("http://$") => Ok(H::Fetch(url).into()),
            None => Err(l.err(format!("`{url}` is not http://IPv4[:PORT][/PATH]"))),
        }
    }),
    words("map-ids", "map-ids INSIDE OUTSIDE COUNT (e.g. map-ids 0 1000 1)", "map-ids 0 1000 1", map_ids),
    words("setuid", "setuid UID", "setuid 1000", |l| {
        let [uid] = l.exactly()?;
        uid.parse::<u32>().map(|u| S::Setuid(u).into()).map_err(|_| l.err(format!("bad uid `{uid}`")))
    }),
    words("drop-caps", "drop-caps CAP…", "drop-caps sys_admin mknod", drop_caps),
    words("no-new-privs", "no-new-privs", "no-new-privs", |l| l.exactly::<0>().map(|_| S::NoNewPrivs.into())),
    words("copy", "copy SRC DST", "copy $ROOTFS $WORK/r", |l| {
        let [src, dst] = l.exactly()?;
        Ok(S::CopyTree { src, dst }.into())
    }),
    words("exec-as", "exec-as ARGV0 PATH (e.g. exec-as -i /bin/sh)", "exec-as -i /bin/sh", |l| {
        let [argv0, path] = l.exactly()?;
        Ok(S::ExecAs { argv0, path }.into())
    }),
    verbatim("try", "try ACTION", "try pivot_root . old-root", |l| {
        super::parse_action(&l.line[l.at.min(l.line.len())..])
            .map(|a| Action::Try(Box::new(a)))
            .map_err(|e| ParseError { offset: e.offset + l.at, message: e.message })
    }),
];

/// The action names, for suggestions and docs.
pub fn action_names() -> impl Iterator<Item = &'static str> {
    ACTIONS.iter().map(|a| a.name)
}

/// The entry for `name`.
pub(super) fn spec(name: &str) -> Option<&'static ActionSpec> {
    ACTIONS.iter().find(|a| a.name == name)
}

/// An action line cut after its name: what an entry's parser reads.
pub(super) struct Line<'a> {
    pub(super) spec: &'static ActionSpec,
    /// The whole line (`try` parses its remainder as an action).
    pub(super) line: &'a str,
    /// Byte offset of the arguments in the line.
    pub(super) at: usize,
    /// The arguments, trimmed, verbatim.
    pub(super) rest: &'a str,
    /// The arguments as words, each with its byte offset in the line (none when verbatim).
    pub(super) words: Vec<(usize, String)>,
}

impl Line<'_> {
    fn err(&self, message: String) -> ParseError {
        ParseError { offset: self.at, message }
    }

    /// An error at the `i`th word.
    fn err_at(&self, i: usize, message: String) -> ParseError {
        ParseError { offset: self.words.get(i).map_or(self.at, |w| w.0), message }
    }

    fn args(&self) -> Vec<&str> {
        self.words.iter().map(|(_, w)| w.as_str()).collect()
    }

    fn usage(&self) -> ParseError {
        self.err(format!("expected `{}`", self.spec.usage))
    }

    /// Exactly `N` words.
    fn exactly<const N: usize>(&self) -> Result<[String; N], ParseError> {
        let words: Vec<String> = self.words.iter().map(|(_, w)| w.clone()).collect();
        words
            .try_into()
            .map_err(|_| self.err(format!("`{}` takes {N} argument(s): {}", self.spec.name, self.spec.usage)))
    }

    fn one(&self) -> Result<String, ParseError> {
        self.exactly::<1>().map(|[w]| w)
    }

    /// The rest of the line as a shell command.
    fn command(&self, missing: &str) -> Result<String, ParseError> {
        if self.rest.is_empty() {
            Err(self.err(missing.into()))
        } else {
            Ok(self.rest.to_string())
        }
    }
}

/// An interface name as written (before `$VARS` are expanded; the kernel's rules are
/// checked on the expanded name).
fn valid_link_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 32 && n.chars().all(|c| c.is_ascii_alphanumeric() || "-_.$".contains(c))
}

fn valid_netns_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 64 && n.chars().all(|c| c.is_ascii_alphanumeric() || "-_$".contains(c))
}

fn unshare(l: &Line) -> Result<Action, ParseError> {
    if l.words.is_empty() {
        return Err(l.err("unshare needs namespaces: mnt uts ipc pid net user cgroup time".into()));
    }
    let mut set = Vec::new();
    for (at, a) in &l.words {
        match Ns::parse(a) {
            Some(ns) if !set.contains(&ns) => set.push(ns),
            Some(_) => {}
            None => {
                return Err(ParseError {
                    offset: *at,
                    message: format!(
                        "unknown namespace `{}` (known: mnt uts ipc pid net user cgroup time)",
                        a.escape_debug()
                    ),
                })
            }
        }
    }
    Ok(S::Unshare(set).into())
}

fn mount(l: &Line) -> Result<Action, ParseError> {
    let owned = |s: &str| s.to_string();
    Ok(match l.args().as_slice() {
        ["tmpfs", target] => S::MountTmpfs { target: owned(target), options: None },
        ["tmpfs", target, options] => S::MountTmpfs { target: owned(target), options: Some(owned(options)) },
        ["proc", target] => S::MountProc { target: owned(target) },
        [kind @ ("bind" | "rbind"), source, target] => {
            S::MountBind { source: owned(source), target: owned(target), recursive: *kind == "rbind" }
        }
        _ => return Err(l.usage()),
    }
    .into())
}

fn umount(l: &Line) -> Result<Action, ParseError> {
    Ok(match l.args().as_slice() {
        [t] => S::Umount { target: t.to_string(), lazy: false },
        ["-l" | "lazy", t] => S::Umount { target: t.to_string(), lazy: true },
        _ => return Err(l.usage()),
    }
    .into())
}

/// `make-[r]private|shared|slave DIR`.
fn propagation(l: &Line) -> Result<Action, ParseError> {
    let target = l.one()?;
    let name = l.spec.name;
    let recursive = name.starts_with("make-r");
    let kind = match name.trim_start_matches("make-").trim_start_matches('r') {
        "private" => Propagation::Private,
        "shared" => Propagation::Shared,
        _ => Propagation::Slave,
    };
    Ok(S::MakePropagation { target, kind, recursive }.into())
}

fn host(l: &Line) -> Result<Action, ParseError> {
    if let Some(cmd) = l.rest.strip_prefix("sh") {
        if cmd.starts_with(char::is_whitespace) && !cmd.trim().is_empty() {
            return Ok(H::Sh(cmd.trim().to_string()).into());
        }
    }
    match l.rest.split_whitespace().collect::<Vec<_>>().as_slice() {
        ["link-up", iface] if valid_link_name(iface) => Ok(H::HostLinkUp(iface.to_string()).into()),
        ["addr-add", net, iface] if valid_link_name(iface) => {
            let documentation = cidr(net).is_some_and(|(addr, prefix)| is_documentation_net(addr, prefix));
            // `$NET.1/24`: checked once expanded, when the step runs.
            if net.contains('$') || documentation {
                Ok(H::HostAddrAdd { cidr: net.to_string(), iface: iface.to_string() }.into())
            } else {
                Err(l.err(format!(
                    "`{net}`: the host side takes an address from a documentation range, /24 or narrower \
                     (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24), e.g. 192.0.2.1/24"
                )))
            }
        }
        _ => Err(l.usage()),
    }
}

/// A controller word, or an error pointing at it.
fn controller(l: &Line, i: usize) -> Result<Controller, ParseError> {
    let word = &l.words[i].1;
    Controller::parse(word).ok_or_else(|| l.err_at(i, format!("unknown controller `{word}` (cpu, memory, pids)")))
}

fn cgroup(l: &Line) -> Result<Action, ParseError> {
    let args = l.args();
    match args.as_slice() {
        ["create", _, ..] => {
            let controllers = (1..args.len()).map(|i| controller(l, i)).collect::<Result<Vec<_>, _>>()?;
            Ok(H::CgroupCreate(controllers).into())
        }
        ["limit", _, amount] => {
            let controller = controller(l, 1)?;
            let value = match controller {
                Controller::Cpu => {
                    amount.strip_suffix('%').and_then(|p| p.parse::<u64>().ok()).filter(|p| (1..=100).contains(p))
                }
                Controller::Memory => quantity(amount, SIZE_UNITS).filter(|b| *b >= 1 << 20),
                Controller::Pids => amount.parse::<u64>().ok().filter(|n| *n >= 1),
            };
            match value {
                Some(value) => Ok(H::CgroupLimit { controller, value }.into()),
                None => Err(l.err_at(2, format!("bad {controller} limit `{amount}` (cpu 30%, memory 32M, pids 16)"))),
            }
        }
        ["join"] => Ok(H::CgroupJoin.into()),
        _ => Err(l.usage()),
    }
}

fn burn(l: &Line) -> Result<Action, ParseError> {
    let args = l.args();
    let stress = match args.get(1) {
        None => false,
        Some(&"stress") if args.len() == 2 => true,
        _ => return Err(l.err("expected `burn SECONDS [stress]` (e.g. burn 3s, burn 4s stress)".into())),
    };
    match args.first().and_then(|a| quantity(a, &[("s", 1), ("", 1)])).filter(|s| (1..=60).contains(s)) {
        Some(secs) => Ok(S::Burn { secs: secs as u32, stress }.into()),
        None => Err(l.err(format!("bad duration `{}` (1s to 60s)", args.first().unwrap_or(&"")))),
    }
}

fn netns(l: &Line) -> Result<Action, ParseError> {
    match l.args().as_slice() {
        ["add", name] if valid_netns_name(name) => Ok(S::NetnsAdd(name.to_string()).into()),
        ["delete", name] if valid_netns_name(name) => Ok(S::NetnsDelete(name.to_string()).into()),
        _ => Err(l.usage()),
    }
}

fn veth(l: &Line) -> Result<Action, ParseError> {
    let ok = |n: &str| valid_link_name(n);
    match l.args().as_slice() {
        ["add", name, "peer", peer] if ok(name) && ok(peer) => {
            Ok(H::VethAdd { name: name.to_string(), peer: peer.to_string() }.into())
        }
        ["move", name, "as", new_name] if ok(name) && ok(new_name) => {
            Ok(H::VethMove { name: name.to_string(), new_name: new_name.to_string() }.into())
        }
        ["delete", name] if ok(name) => Ok(H::VethDelete(name.to_string()).into()),
        _ => Err(l.usage()),
    }
}

fn addr_add(l: &Line) -> Result<Action, ParseError> {
    match l.args().as_slice() {
        [net, iface] if valid_link_name(iface) => {
            if net.contains('$') || cidr(net).is_some() {
                Ok(S::AddrAdd { cidr: net.to_string(), iface: iface.to_string() }.into())
            } else {
                Err(l.err(format!("`{net}` is not ADDR/PREFIX (e.g. 192.0.2.2/24)")))
            }
        }
        _ => Err(l.usage()),
    }
}

fn map_ids(l: &Line) -> Result<Action, ParseError> {
    let n = l.exactly::<3>()?.map(|a| a.parse::<u32>().ok());
    match n {
        [Some(inside), Some(outside), Some(count)] if count >= 1 => Ok(H::MapIds { inside, outside, count }.into()),
        _ => Err(l.err("map-ids takes three numbers, COUNT at least 1".into())),
    }
}

fn drop_caps(l: &Line) -> Result<Action, ParseError> {
    if l.words.is_empty() {
        return Err(l.err("drop-caps needs at least one capability, e.g. `drop-caps sys_admin mknod`".into()));
    }
    let caps = l.words.iter().map(|(at, a)| {
        crate::observe::cap_names::cap_number(a).ok_or_else(|| ParseError {
            offset: *at,
            message: format!("unknown capability `{a}` (e.g. sys_admin, mknod, sys_ptrace)"),
        })
    });
    Ok(S::DropCaps(caps.collect::<Result<_, _>>()?).into())
}
