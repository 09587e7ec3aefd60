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

use super::grammar::{self, action_names, Line};
use super::Action;

/// Why an action line did not parse, and where (a byte offset into the line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
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

/// `30%`, `32M`, `16`, `3s`: a number with an optional unit.
pub(super) fn quantity(s: &str, units: &[(&str, u64)]) -> Option<u64> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult = units.iter().find(|(u, _)| *u == unit)?.1;
    n.checked_mul(mult)
}

pub(super) const SIZE_UNITS: &[(&str, u64)] = &[("", 1), ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)];

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

/// Parse one action line: its name picks an entry of [`ACTIONS`], whose function reads the
/// arguments (words, or the rest of the line verbatim).
pub fn parse_action(line: &str) -> Result<Action, ParseError> {
    let lead = line.len() - line.trim_start().len();
    let trimmed = line.trim();
    let Some(name) = trimmed.split(char::is_whitespace).next().filter(|n| !n.is_empty()) else {
        return Err(ParseError { offset: 0, message: "empty action".into() });
    };
    let Some(spec) = grammar::spec(name) else {
        let names: Vec<&str> = action_names().collect();
        let hint = crate::suggest::nearest(name, &names).map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default();
        return Err(ParseError { offset: lead, message: format!("unknown action `{name}`{hint}") });
    };
    let after = &line[lead + name.len()..];
    let rest = after.trim();
    // Where the arguments start; with none, right after the name (blanks after the line are
    // not where anything is missing).
    let at = lead + name.len() + if rest.is_empty() { 0 } else { after.len() - after.trim_start().len() };
    let words = if spec.verbatim || rest.is_empty() { Vec::new() } else { placed_words(after, lead + name.len())? };
    (spec.parse)(&Line { spec, line, at, rest, words })
}

/// The words of `args` (which starts at byte `base` of the line), each with its offset in the line.
fn placed_words(args: &str, base: usize) -> Result<Vec<(usize, String)>, ParseError> {
    match all_consuming(words).parse(args.trim_end()) {
        Ok((_, w)) => Ok(w.into_iter().map(|(at, w)| (base + at, w)).collect()),
        Err(_) => {
            let quote = args.find('"').unwrap_or(args.len() - args.trim_start().len());
            Err(ParseError { offset: base + quote, message: "unterminated quoted string".into() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{grammar::ACTIONS, Controller, HostAction as H, Ns, Propagation, SandboxAction as S};
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
            host(H::CgroupCreate(vec![Controller::Cpu, Controller::Memory]))
        );
        assert_eq!(
            parse_action("cgroup limit cpu 30%"),
            host(H::CgroupLimit { controller: Controller::Cpu, value: 30 })
        );
        assert_eq!(
            parse_action("cgroup limit memory 32M"),
            host(H::CgroupLimit { controller: Controller::Memory, value: 32 << 20 })
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

    #[test]
    fn every_action_in_the_table_parses_its_example() {
        for spec in ACTIONS {
            let parsed = parse_action(spec.example);
            assert!(parsed.is_ok(), "`{}`: {:?}", spec.example, parsed);
            assert_eq!(
                spec.example.split_whitespace().next(),
                Some(spec.name),
                "{}'s example is another action",
                spec.name
            );
        }
        let mut names: Vec<&str> = action_names().collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ACTIONS.len(), "a name twice in the table");
    }

    #[test]
    fn every_misspelt_action_suggests_its_name() {
        for name in action_names() {
            let typo = format!("{name}x");
            let e = parse_action(&format!("{typo} a")).unwrap_err();
            assert!(e.message.contains(&format!("unknown action `{typo}` (did you mean `{name}`?)")), "{}", e.message);
            assert_eq!(e.offset, 0);
        }
        let e = parse_action("xyzzy").unwrap_err();
        assert_eq!(e.message, "unknown action `xyzzy`");
    }

    #[test]
    fn a_bad_controller_is_an_error_at_its_word() {
        let e = parse_action("cgroup create cpu blkio").unwrap_err();
        assert_eq!(e.offset, 18);
        assert_eq!(e.message, "unknown controller `blkio` (cpu, memory, pids)");
        let e = parse_action("cgroup limit io 30%").unwrap_err();
        assert_eq!(e.offset, 13);
        let e = parse_action("cgroup limit pids 0").unwrap_err();
        assert_eq!((e.offset, e.message.as_str()), (18, "bad pids limit `0` (cpu 30%, memory 32M, pids 16)"));
        for c in Controller::ALL {
            assert_eq!(Controller::parse(c.name()), Some(c));
        }
        assert_eq!(Controller::parse("Memory"), None);
    }

    #[test]
    fn a_bad_controller_in_a_lesson_is_reported_at_file_line_col() {
        let src = "id = \"x\"\ntitle.en = \"X\"\n\n[[step]]\ntext.en = \"t\"\ndo = [\"cgroup create pids memry\"]\n";
        let e = crate::lesson::parse_lesson("x.toml", src).unwrap_err();
        assert_eq!((e.line, e.col), (6, 27), "{e}");
        assert!(e.to_string().starts_with("x.toml:6:27: unknown controller `memry`"), "{e}");
    }
}
