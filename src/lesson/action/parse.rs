//! Parsing one action line (with `nom`) into an [`Action`], already sorted into a host or a
//! sandbox action; errors carry the byte offset in the line, which the lesson loader turns
//! into `file:line:col`.

use nom::{
    branch::alt,
    bytes::complete::{escaped_transform, tag, take_while1},
    character::complete::{char, none_of},
    combinator::{all_consuming, map, opt, value},
    multi::separated_list1,
    sequence::{delimited, preceded},
    IResult, Parser,
};

use super::{Action, HostAction as H, Ns, Propagation, SandboxAction as S};

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
    "veth",
    "addr-add",
    "spawn",
    "fetch",
    "map-ids",
    "setuid",
    "drop-caps",
    "no-new-privs",
    "copy",
    "exec-as",
    "try",
];

/// An interface name as written (before `$VARS` are expanded; the kernel's rules are
/// checked on the expanded name).
fn valid_link_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 32 && n.chars().all(|c| c.is_ascii_alphanumeric() || "-_.$".contains(c))
}

/// `192.0.2.1/24`.
pub fn cidr(s: &str) -> Option<(std::net::Ipv4Addr, u8)> {
    let (a, p) = s.split_once('/')?;
    let prefix: u8 = p.parse().ok().filter(|p| (1..=32).contains(p))?;
    Some((a.parse().ok()?, prefix))
}

/// The IPv4 ranges set aside for documentation and tests (RFC 5737): what the host side of
/// a lesson's cable may use, so no address the host might really reach is shadowed.
pub fn is_documentation_net(addr: std::net::Ipv4Addr, prefix: u8) -> bool {
    let o = addr.octets();
    prefix >= 24 && matches!((o[0], o[1], o[2]), (192, 0, 2) | (198, 51, 100) | (203, 0, 113))
}

/// `http://192.0.2.2[:PORT][/PATH]`: an IPv4 literal, no name to look up.
pub fn http_url(s: &str) -> Option<(std::net::Ipv4Addr, u16, String)> {
    let rest = s.strip_prefix("http://")?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let (host, port) = match hostport.split_once(':') {
        Some((h, p)) => (h, p.parse().ok().filter(|p| *p > 0)?),
        None => (hostport, 80),
    };
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    Some((host.parse().ok()?, port, path))
}

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
    ))
    .parse(i)
}

/// Any Unicode blank separates words (a full-width space typed with an IME too), as `trim` does.
fn blanks(i: &str) -> IResult<&str, &str> {
    take_while1(char::is_whitespace).parse(i)
}

/// The words, each with its byte offset in `i`.
fn words<'a>(i: &'a str) -> IResult<&'a str, Vec<(usize, String)>> {
    let total = i.len();
    let placed = move |w: &'a str| -> IResult<&'a str, (usize, String)> {
        let (rest, s) = word(w)?;
        Ok((rest, (total - w.len(), s)))
    };
    preceded(opt(blanks), separated_list1(blanks, placed)).parse(i)
}

/// Parse one action line.
pub fn parse_action(line: &str) -> Result<Action, ParseError> {
    let lead = line.len() - line.trim_start().len();
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Err(ParseError { offset: 0, message: "empty action".into() });
    }
    let (rest, name) = take_while1::<_, _, nom::error::Error<&str>>(|c: char| !c.is_whitespace())
        .parse(trimmed)
        .map_err(|_| ParseError { offset: lead, message: "empty action".into() })?;
    let args_at = lead + name.len() + (rest.len() - rest.trim_start().len());
    let rest_trim = rest.trim();

    // Commands that take the rest of the line verbatim.
    match name {
        "sh" => {
            return if rest_trim.is_empty() {
                Err(ParseError { offset: args_at, message: "sh needs a command, e.g. `sh ls /`".into() })
            } else {
                Ok(S::Sh(rest_trim.to_string()).into())
            }
        }
        "host" => {
            let r = rest_trim;
            let expected = "expected `host sh COMMAND`, `host link-up IFACE` or `host addr-add ADDR/PREFIX IFACE`";
            let fail = |message: String| Err(ParseError { offset: args_at, message });
            let words: Vec<&str> = r.split_whitespace().collect();
            return match r.strip_prefix("sh") {
                Some(cmd) if cmd.starts_with(char::is_whitespace) && !cmd.trim().is_empty() => {
                    Ok(H::Sh(cmd.trim().to_string()).into())
                }
                _ => match words.as_slice() {
                    ["link-up", iface] if valid_link_name(iface) => Ok(H::HostLinkUp(iface.to_string()).into()),
                    ["addr-add", net, iface] if valid_link_name(iface) => match cidr(net) {
                        // `$NET.1/24`: checked once expanded, when the step runs.
                        _ if net.contains('$') => {
                            Ok(H::HostAddrAdd { cidr: net.to_string(), iface: iface.to_string() }.into())
                        }
                        Some((addr, prefix)) if is_documentation_net(addr, prefix) => {
                            Ok(H::HostAddrAdd { cidr: net.to_string(), iface: iface.to_string() }.into())
                        }
                        _ => fail(format!(
                            "`{net}`: the host side takes an address from a documentation range, /24 or narrower \
                             (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24), e.g. 192.0.2.1/24"
                        )),
                    },
                    _ => fail(expected.into()),
                },
            };
        }
        "spawn" => {
            return if rest_trim.is_empty() {
                Err(ParseError {
                    offset: args_at,
                    message: "spawn needs a command, e.g. `spawn httpd -f -p 80`".into(),
                })
            } else {
                Ok(S::Spawn(rest_trim.to_string()).into())
            }
        }
        "try" => {
            return parse_action(&line[args_at.min(line.len())..])
                .map(|a| Action::Try(Box::new(a)))
                .map_err(|e| ParseError { offset: e.offset + args_at, message: e.message });
        }
        _ => {}
    }

    let placed: Vec<(usize, String)> = if rest_trim.is_empty() {
        Vec::new()
    } else {
        match all_consuming(words).parse(rest.trim_end()) {
            Ok((_, w)) => w,
            Err(_) => {
                let quote = rest.find('"').map(|q| lead + name.len() + q).unwrap_or(args_at);
                return Err(ParseError { offset: quote, message: "unterminated quoted string".into() });
            }
        }
    };
    let args: Vec<String> = placed.iter().map(|(_, w)| w.clone()).collect();
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
            for (at, a) in &placed {
                match Ns::parse(a) {
                    Some(ns) if !set.contains(&ns) => set.push(ns),
                    Some(_) => {}
                    None => {
                        return Err(ParseError {
                            offset: lead + name.len() + at,
                            message: format!(
                                "unknown namespace `{}` (known: mnt uts ipc pid net user cgroup time)",
                                a.escape_debug()
                            ),
                        });
                    }
                }
            }
            S::Unshare(set)
        }
        "mkdir" => {
            arity(1, "mkdir PATH")?;
            S::Mkdir(args[0].clone())
        }
        "rmdir" => {
            arity(1, "rmdir PATH")?;
            S::Rmdir(args[0].clone())
        }
        "mount" => match args.first().map(String::as_str) {
            Some("tmpfs") if args.len() == 2 || args.len() == 3 => {
                S::MountTmpfs { target: args[1].clone(), options: args.get(2).cloned() }
            }
            Some("proc") if args.len() == 2 => S::MountProc { target: args[1].clone() },
            Some(kind @ ("bind" | "rbind")) if args.len() == 3 => {
                S::MountBind { source: args[1].clone(), target: args[2].clone(), recursive: kind == "rbind" }
            }
            _ => {
                return Err(err(
                    "expected `mount tmpfs DIR [OPTIONS]`, `mount proc DIR` or `mount bind|rbind SRC DST`".into()
                ))
            }
        },
        "umount" => match args.as_slice() {
            [t] => S::Umount { target: t.clone(), lazy: false },
            [l, t] if l == "-l" || l == "lazy" => S::Umount { target: t.clone(), lazy: true },
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
            S::MakePropagation { target: args[0].clone(), kind, recursive }
        }
        "sethostname" => {
            arity(1, "sethostname NAME")?;
            S::Sethostname(args[0].clone())
        }
        "chroot" => {
            arity(1, "chroot DIR")?;
            S::Chroot(args[0].clone())
        }
        "chdir" | "cd" => {
            arity(1, "chdir DIR")?;
            S::Chdir(args[0].clone())
        }
        "pivot_root" => {
            arity(2, "pivot_root NEW_ROOT PUT_OLD")?;
            S::PivotRoot { new_root: args[0].clone(), put_old: args[1].clone() }
        }
        "msgget" => {
            arity(0, "msgget")?;
            S::Msgget
        }
        "write" => {
            arity(2, "write PATH TEXT")?;
            S::Write { path: args[0].clone(), text: args[1].clone() }
        }
        "cgroup" => match args.first().map(String::as_str) {
            Some("create") if args.len() > 1 => {
                for c in &args[1..] {
                    if !["cpu", "memory", "pids"].contains(&c.as_str()) {
                        return Err(err(format!("unknown controller `{c}` (cpu, memory, pids)")));
                    }
                }
                return Ok(H::CgroupCreate(args[1..].to_vec()).into());
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
                return Ok(H::CgroupLimit { controller: args[1].clone(), value }.into());
            }
            Some("join") if args.len() == 1 => return Ok(H::CgroupJoin.into()),
            _ => {
                return Err(err(
                    "expected `cgroup create CONTROLLER…`, `cgroup limit cpu 30%|memory 32M|pids 16` or `cgroup join`"
                        .into(),
                ))
            }
        },
        "burn" => {
            let stress = match args.get(1).map(String::as_str) {
                None => false,
                Some("stress") if args.len() == 2 => true,
                _ => return Err(err("expected `burn SECONDS [stress]` (e.g. burn 3s, burn 4s stress)".into())),
            };
            match args.first().and_then(|a| quantity(a, &[("s", 1), ("", 1)])).filter(|s| (1..=60).contains(s)) {
                Some(secs) => S::Burn { secs: secs as u32, stress },
                None => return Err(err(format!("bad duration `{}` (1s to 60s)", args.first().map_or("", |a| a)))),
            }
        }
        "hog" => {
            arity(1, "hog SIZE (e.g. hog 64M)")?;
            match quantity(&args[0], SIZE_UNITS).filter(|b| *b >= 1 << 20 && *b <= 4 << 30) {
                Some(bytes) => S::Hog { bytes },
                None => return Err(err(format!("bad size `{}` (1M to 4G)", args[0]))),
            }
        }
        "link-up" => {
            arity(1, "link-up IFACE")?;
            S::LinkUp(args[0].clone())
        }
        "netns" => match args.as_slice() {
            [verb, name] if (verb == "add" || verb == "delete") && valid_netns_name(name) => {
                if verb == "add" {
                    S::NetnsAdd(name.clone())
                } else {
                    S::NetnsDelete(name.clone())
                }
            }
            _ => {
                return Err(err(
                    "expected `netns add NAME` or `netns delete NAME` (NAME: letters, digits, - _ $VARS)".into()
                ))
            }
        },
        "veth" => match args.as_slice() {
            [verb, name, peer_kw, peer]
                if verb == "add" && peer_kw == "peer" && valid_link_name(name) && valid_link_name(peer) =>
            {
                return Ok(H::VethAdd { name: name.clone(), peer: peer.clone() }.into());
            }
            [verb, name, as_kw, new_name]
                if verb == "move" && as_kw == "as" && valid_link_name(name) && valid_link_name(new_name) =>
            {
                return Ok(H::VethMove { name: name.clone(), new_name: new_name.clone() }.into());
            }
            [verb, name] if verb == "delete" && valid_link_name(name) => return Ok(H::VethDelete(name.clone()).into()),
            _ => {
                return Err(err(
                    "expected `veth add NAME peer PEER`, `veth move PEER as NEW_NAME` or `veth delete NAME`".into(),
                ))
            }
        },
        "addr-add" => match args.as_slice() {
            [net, iface] if valid_link_name(iface) => match cidr(net) {
                _ if net.contains('$') => S::AddrAdd { cidr: net.clone(), iface: iface.clone() },
                Some(_) => S::AddrAdd { cidr: net.clone(), iface: iface.clone() },
                None => return Err(err(format!("`{net}` is not ADDR/PREFIX (e.g. 192.0.2.2/24)"))),
            },
            _ => return Err(err("expected `addr-add ADDR/PREFIX IFACE`".into())),
        },
        "fetch" => {
            arity(1, "fetch http://ADDR[:PORT]/PATH")?;
            match http_url(&args[0]) {
                _ if args[0].starts_with("http://$") => return Ok(H::Fetch(args[0].clone()).into()),
                Some(_) => return Ok(H::Fetch(args[0].clone()).into()),
                None => return Err(err(format!("`{}` is not http://IPv4[:PORT][/PATH]", args[0]))),
            }
        }
        "map-ids" => {
            arity(3, "map-ids INSIDE OUTSIDE COUNT (e.g. map-ids 0 1000 1)")?;
            let n: Vec<Option<u32>> = args.iter().map(|a| a.parse().ok()).collect();
            match n.as_slice() {
                [Some(i), Some(o), Some(c)] if *c >= 1 => {
                    return Ok(H::MapIds { inside: *i, outside: *o, count: *c }.into())
                }
                _ => return Err(err("map-ids takes three numbers, COUNT at least 1".into())),
            }
        }
        "copy" => {
            arity(2, "copy SRC DST")?;
            S::CopyTree { src: args[0].clone(), dst: args[1].clone() }
        }
        "exec-as" => {
            arity(2, "exec-as ARGV0 PATH (e.g. exec-as -i /bin/sh)")?;
            S::ExecAs { argv0: args[0].clone(), path: args[1].clone() }
        }
        "setuid" => {
            arity(1, "setuid UID")?;
            match args[0].parse::<u32>() {
                Ok(uid) => S::Setuid(uid),
                Err(_) => return Err(err(format!("bad uid `{}`", args[0]))),
            }
        }
        "drop-caps" => {
            if args.is_empty() {
                return Err(err("drop-caps needs at least one capability, e.g. `drop-caps sys_admin mknod`".into()));
            }
            let mut caps = Vec::new();
            for a in &args {
                match crate::observe::cap_names::cap_number(a) {
                    Some(n) => caps.push(n),
                    None => return Err(err(format!("unknown capability `{a}` (e.g. sys_admin, mknod, sys_ptrace)"))),
                }
            }
            S::DropCaps(caps)
        }
        "no-new-privs" => {
            arity(0, "no-new-privs")?;
            S::NoNewPrivs
        }
        "forks" => {
            arity(1, "forks COUNT")?;
            match args[0].parse::<u32>().ok().filter(|n| (1..=1000).contains(n)) {
                Some(count) => S::Forks { count },
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
    Ok(Action::Sandbox(action))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sb(a: S) -> Result<Action, ParseError> {
        Ok(Action::Sandbox(a))
    }

    fn host(a: H) -> Result<Action, ParseError> {
        Ok(Action::Host(a))
    }

    #[test]
    fn parses_the_lab_actions() {
        assert_eq!(parse_action("unshare mnt uts"), sb(S::Unshare(vec![Ns::Mnt, Ns::Uts])));
        assert_eq!(
            parse_action("mount tmpfs $WORK/m size=1m"),
            sb(S::MountTmpfs { target: "$WORK/m".into(), options: Some("size=1m".into()) })
        );
        assert_eq!(parse_action("umount -l /old-root"), sb(S::Umount { target: "/old-root".into(), lazy: true }));
        assert_eq!(
            parse_action("make-rprivate /"),
            sb(S::MakePropagation { target: "/".into(), kind: Propagation::Private, recursive: true })
        );
        assert_eq!(parse_action("sh ls / | wc -l"), sb(S::Sh("ls / | wc -l".into())));
        assert_eq!(parse_action("host sh mount | grep x"), host(H::Sh("mount | grep x".into())));
        assert_eq!(
            parse_action("try pivot_root . old-root"),
            Ok(Action::Try(Box::new(Action::Sandbox(S::PivotRoot {
                new_root: ".".into(),
                put_old: "old-root".into()
            }))))
        );
        assert_eq!(
            parse_action(r#"write /proc/self/uid_map "0 0 1""#),
            sb(S::Write { path: "/proc/self/uid_map".into(), text: "0 0 1".into() })
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
            host(H::CgroupCreate(vec!["cpu".into(), "memory".into()]))
        );
        assert_eq!(parse_action("cgroup limit cpu 30%"), host(H::CgroupLimit { controller: "cpu".into(), value: 30 }));
        assert_eq!(
            parse_action("cgroup limit memory 32M"),
            host(H::CgroupLimit { controller: "memory".into(), value: 32 << 20 })
        );
        assert_eq!(parse_action("burn 3s"), sb(S::Burn { secs: 3, stress: false }));
        assert_eq!(parse_action("burn 4s stress"), sb(S::Burn { secs: 4, stress: true }));
        assert!(parse_action("burn 4s hard").is_err());
        assert!(parse_action("burn").is_err());
        assert_eq!(parse_action("hog 64M"), sb(S::Hog { bytes: 64 << 20 }));
        assert_eq!(parse_action("forks 50"), sb(S::Forks { count: 50 }));
        assert_eq!(parse_action("netns add nsdojo-$SESSION"), sb(S::NetnsAdd("nsdojo-$SESSION".into())));
        assert_eq!(parse_action("map-ids 0 1000 1"), host(H::MapIds { inside: 0, outside: 1000, count: 1 }));
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
        assert_eq!(e, Action::Sandbox(S::Mkdir("/x//r".into())));
    }
}
