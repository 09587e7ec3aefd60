//! The expectation language: checks that prove a step's effect.
//!
//! ```text
//! sandbox.ns.mnt != host.ns.mnt            sandbox.mounts has $WORK/mount_ns
//! host.mounts lacks $WORK/mount_ns         sandbox.hostname == container-test
//! sandbox.hostname != before.sandbox.hostname
//! sandbox.pid == 1                         step.errno == EINVAL
//! sandbox.ls[/] lacks boot                 sandbox.iface[lo].state == DOWN
//! action[1].errno == EBUSY                 group.limit[cpu] == 30
//! ```
//!
//! A check compares a *fact* of one side (sandbox = terminal #1, host =
//! terminal #2, `before.` = the same side before the step, `step.` = what the
//! step's actions returned, `action[N].` = what action N returned, `group.` =
//! the session's cgroup) with another fact or a literal. Facts are typed
//! ([`super::fact`]) and answered by whoever holds the snapshots
//! ([`FactSource`]), which keeps lessons pure data. Unknown facts are rejected
//! when the lesson loads.

use std::fmt;

use nom::{
    branch::alt,
    bytes::complete::{tag, take_while1},
    character::complete::{char, multispace0, multispace1},
    combinator::{all_consuming, map, opt},
    multi::many0,
    sequence::{delimited, pair, preceded, terminated},
    IResult, Parser,
};

use super::fact::Segment;
pub use super::fact::{Fact, FACT_TABLE, GROUP_TABLE, RESULT_TABLE};
pub use crate::observe::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Has,
    Lacks,
    Contains,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Has => "has",
            Op::Lacks => "lacks",
            Op::Contains => "contains",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    Fact(Fact),
    Literal(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    pub left: Fact,
    pub op: Op,
    pub right: Operand,
}

/// Whoever holds the snapshots answers facts.
pub trait FactSource {
    fn fact(&self, fact: &Fact) -> Value;
}

/// The outcome of one check, with the values it compared (for the ✘ line).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    pub passed: bool,
    pub left: Value,
    pub right: Value,
}

impl Expect {
    /// The same check with `$WORK`-style variables expanded in paths and literals.
    pub fn map_args(&self, f: &dyn Fn(&str) -> String) -> Expect {
        Expect {
            left: self.left.map_args(f),
            op: self.op,
            right: match &self.right {
                Operand::Fact(r) => Operand::Fact(r.map_args(f)),
                Operand::Literal(l) => Operand::Literal(f(l)),
            },
        }
    }

    /// The facts this check reads.
    pub fn facts(&self) -> impl Iterator<Item = &Fact> {
        std::iter::once(&self.left).chain(match &self.right {
            Operand::Fact(f) => Some(f),
            Operand::Literal(_) => None,
        })
    }

    pub fn evaluate(&self, src: &dyn FactSource) -> Verdict {
        let left = src.fact(&self.left);
        let right = match &self.right {
            Operand::Fact(f) => src.fact(f),
            Operand::Literal(s) => Value::Text(s.clone()),
        };
        let passed = compare(&left, self.op, &right);
        Verdict { passed, left, right }
    }
}

fn compare(left: &Value, op: Op, right: &Value) -> bool {
    if matches!(left, Value::Missing(_)) || matches!(right, Value::Missing(_)) {
        // A fact we could not read proves nothing, whatever the operator.
        return false;
    }
    let (l, r) = (left.as_text(), right.as_text());
    let num = |s: &str| s.trim().parse::<i64>().ok();
    match op {
        Op::Eq => match (num(&l), num(&r)) {
            (Some(a), Some(b)) => a == b,
            _ => l == r,
        },
        Op::Ne => match (num(&l), num(&r)) {
            (Some(a), Some(b)) => a != b,
            _ => l != r,
        },
        Op::Has | Op::Lacks => {
            let found = match left {
                Value::List(items) => items.contains(&r),
                _ => l.lines().any(|line| line == r),
            };
            found == (op == Op::Has)
        }
        Op::Contains => l.contains(&r),
        Op::Gt | Op::Ge | Op::Lt | Op::Le => match (num(&l), num(&r)) {
            (Some(a), Some(b)) => match op {
                Op::Gt => a > b,
                Op::Ge => a >= b,
                Op::Lt => a < b,
                _ => a <= b,
            },
            _ => false,
        },
    }
}

/// Why an expectation did not parse, and where (byte offset in the line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

fn ident(i: &str) -> IResult<&str, &str> {
    take_while1(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-').parse(i)
}

fn segment(i: &str) -> IResult<&str, Segment> {
    map(pair(ident, opt(delimited(char('['), take_while1(|c| c != ']'), char(']')))), |(n, a): (&str, Option<&str>)| {
        (n.to_string(), a.map(str::to_string))
    })
    .parse(i)
}

/// A written fact path: `before.`, then dotted segments (`sandbox.mount[/x].fstype`).
fn fact_path(i: &str) -> IResult<&str, (bool, Vec<Segment>)> {
    map(pair(opt(tag("before.")), pair(segment, many0(preceded(char('.'), segment)))), |(before, (first, rest))| {
        let mut path = vec![first];
        path.extend(rest);
        (before.is_some(), path)
    })
    .parse(i)
}

fn op(i: &str) -> IResult<&str, Op> {
    alt((
        map(tag("=="), |_| Op::Eq),
        map(tag("!="), |_| Op::Ne),
        map(tag(">="), |_| Op::Ge),
        map(tag("<="), |_| Op::Le),
        map(tag(">"), |_| Op::Gt),
        map(tag("<"), |_| Op::Lt),
        map(tag("has"), |_| Op::Has),
        map(tag("lacks"), |_| Op::Lacks),
        map(tag("contains"), |_| Op::Contains),
    ))
    .parse(i)
}

fn literal(i: &str) -> IResult<&str, String> {
    alt((
        map(delimited(char('"'), nom::bytes::complete::take_till(|c| c == '"'), char('"')), str::to_string),
        map(take_while1(|c: char| !c.is_whitespace()), str::to_string),
    ))
    .parse(i)
}

/// Parse one expectation line.
pub fn parse_expect(line: &str) -> Result<Expect, ParseError> {
    let lead = line.len() - line.trim_start().len();
    let s = line.trim();
    if s.is_empty() {
        return Err(ParseError { offset: 0, message: "empty expectation".into() });
    }
    let expected_fact = || ParseError {
        offset: lead,
        message: "expected a fact such as `sandbox.ns.mnt`, `host.mounts`, `step.errno` or `action[1].status`".into(),
    };
    if !FACT_PREFIXES.iter().any(|p| s.starts_with(p)) {
        return Err(expected_fact());
    }
    let (rest, (before, path)) = fact_path(s).map_err(|_| expected_fact())?;
    let left = Fact::from_path(before, &path).map_err(|e| ParseError { offset: lead, message: e.to_string() })?;
    let at = |r: &str| lead + s.len() - r.len();
    let (rest, op) = delimited(multispace1, op, multispace1).parse(rest).map_err(|_| ParseError {
        offset: at(rest),
        message: "expected an operator: == != has lacks contains > >= < <=".into(),
    })?;
    let rhs_at = at(rest);
    let rhs = rest.trim_end();
    let right = if FACT_PREFIXES.iter().any(|p| rhs.starts_with(p)) {
        match all_consuming(fact_path).parse(rhs) {
            Ok((_, (before, path))) => Operand::Fact(
                Fact::from_path(before, &path).map_err(|e| ParseError { offset: rhs_at, message: e.to_string() })?,
            ),
            Err(_) => {
                return Err(ParseError { offset: rhs_at, message: format!("malformed fact `{}`", rhs.escape_debug()) })
            }
        }
    } else {
        match all_consuming(terminated(literal, multispace0)).parse(rhs) {
            Ok((_, l)) => Operand::Literal(l),
            Err(_) => {
                return Err(ParseError {
                    offset: rhs_at,
                    message: "expected one value after the operator (quote it if it has spaces)".into(),
                })
            }
        }
    };
    Ok(Expect { left, op, right })
}

/// How a fact begins; a literal that begins so must be quoted.
const FACT_PREFIXES: [&str; 6] = ["sandbox.", "host.", "before.", "step.", "action[", "group."];

fn literal_needs_quotes(l: &str) -> bool {
    l.is_empty() || l.contains(char::is_whitespace) || FACT_PREFIXES.iter().any(|p| l.starts_with(p))
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.left, self.op.symbol())?;
        match &self.right {
            Operand::Fact(r) => write!(f, "{r}"),
            // parse_expect reads a quoted literal verbatim (no escapes), and a bare one up to a blank.
            Operand::Literal(l) if literal_needs_quotes(l) => write!(f, "\"{l}\""),
            Operand::Literal(l) => f.write_str(l),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Facts(HashMap<String, Value>);
    impl FactSource for Facts {
        fn fact(&self, f: &Fact) -> Value {
            self.0.get(&f.to_string()).cloned().unwrap_or(Value::Missing("not set".into()))
        }
    }

    #[test]
    fn parses_and_prints_back() {
        for s in [
            "sandbox.ns.mnt != host.ns.mnt",
            "sandbox.mounts has /tmp/mount_ns",
            "host.mounts lacks /tmp/mount_ns",
            "sandbox.hostname == container-test",
            "sandbox.hostname != before.sandbox.hostname",
            "step.errno == EINVAL",
            "sandbox.mount[/x].fstype == tmpfs",
            "sandbox.ps.count <= 3",
            "sandbox.uid_map == \"0 0 1\"",
        ] {
            let e = parse_expect(s).unwrap_or_else(|e| panic!("{s}: {e:?}"));
            assert_eq!(e.to_string(), s);
        }
    }

    #[test]
    fn errors_point_at_the_mistake() {
        let e = parse_expect("sandbox.ns.mnt ~= host.ns.mnt").unwrap_err();
        assert_eq!(e.offset, 14);
        let e = parse_expect("sandbox.nss.mnt != host.ns.mnt").unwrap_err();
        assert!(e.message.contains("unknown fact `sandbox.nss.mnt`"), "{}", e.message);
        let e = parse_expect("  terminal.ns.mnt == 1").unwrap_err();
        assert_eq!(e.offset, 2);
        let e = parse_expect("sandbox.ns.bogus == 1").unwrap_err();
        assert!(e.message.contains("unknown fact"));
        let e = parse_expect("sandbox.hostname == a b").unwrap_err();
        assert_eq!(e.offset, 20);
        assert!(parse_expect("step.errno[x] == y").is_err());
        assert!(parse_expect("sandbox.mount.fstype == tmpfs").is_err(), "mount needs [PATH]");
    }

    #[test]
    fn evaluates_each_operator() {
        let mut m = HashMap::new();
        m.insert("sandbox.ns.mnt".to_string(), Value::Int(4026532177));
        m.insert("host.ns.mnt".to_string(), Value::Int(4026531832));
        m.insert("sandbox.mounts".to_string(), Value::List(vec!["/".into(), "/tmp/m".into()]));
        m.insert("sandbox.hostname".to_string(), Value::Text("box".into()));
        m.insert("sandbox.ps.count".to_string(), Value::Int(2));
        let src = Facts(m);
        let check = |s: &str| parse_expect(s).unwrap().evaluate(&src).passed;
        assert!(check("sandbox.ns.mnt != host.ns.mnt"));
        assert!(!check("sandbox.ns.mnt == host.ns.mnt"));
        assert!(check("sandbox.mounts has /tmp/m"));
        assert!(!check("sandbox.mounts lacks /tmp/m"));
        assert!(check("sandbox.hostname == box"));
        assert!(check("sandbox.hostname contains bo"));
        assert!(check("sandbox.ps.count < 3"));
        assert!(!check("sandbox.ps.count > 3"));
        // A missing fact never passes, not even with `!=` or `lacks`.
        assert!(!check("sandbox.uid != 5"));
        assert!(!check("sandbox.ifaces lacks eth0"));
    }
}

/// Checks as a lesson writes them, answered by an observer's snapshot: parser and
/// reader agree on every kind of side fact.
#[cfg(test)]
mod against_a_snapshot {
    use super::{parse_expect, Fact, FactSource, Value};
    use crate::observe::procfs::parse_cgroup;
    use crate::observe::{inside, mountinfo, InsideFacts, Ns, ProcError, ProcFacts, Snapshot};

    struct One(Snapshot);
    impl FactSource for One {
        fn fact(&self, f: &Fact) -> Value {
            match f {
                Fact::Side { fact, .. } => self.0.fact(fact),
                other => Value::Missing(format!("{other} is not a side fact")),
            }
        }
    }

    fn snap() -> Snapshot {
        let mut proc = ProcFacts::default();
        proc.ns.insert(Ns::Mnt, 42);
        proc.mounts = Ok(mountinfo::parse(include_str!("../../tests/fixtures/mountinfo-systemd-shared.txt")));
        proc.cgroup = Ok(parse_cgroup("1:cpu:/my\n0::/\n"));
        proc.uid_map = Ok(String::new());
        proc.nspid = vec![6863, 1];
        proc.cap_eff = Some((1 << 21) | (1 << 27));
        let mut inside = InsideFacts { hostname: "box".into(), pid: 1, ..Default::default() };
        inside.ifaces = Ok(vec![inside::Iface { name: "lo".into(), up: false, addrs: vec![] }]);
        inside.listings.insert("/".into(), Ok(vec!["bin".into(), "etc".into()]));
        Snapshot { proc, inside }
    }

    #[test]
    fn facts_answer_checks() {
        let s = One(snap());
        for (check, want) in [
            ("sandbox.ns.mnt == 42", true),
            ("sandbox.mounts has \"/run/netns/my net\"", true),
            ("sandbox.mounts has /sys/fs/cgroup", true),
            ("sandbox.mount[/].propagation == shared", true),
            ("sandbox.mount[/sys/fs/cgroup].fstype == cgroup2", true),
            ("sandbox.iface[lo].state == DOWN", true),
            ("sandbox.ifaces lacks eth0", true),
            ("sandbox.pid == 1", true),
            ("sandbox.cgroup[cpu] == /my", true),
            ("sandbox.ls[/] has etc", true),
            ("sandbox.ls[/] lacks boot", true),
            ("sandbox.exists[/] == true", true),
            ("sandbox.ns.uts == 42", false),
            ("sandbox.nspid has 1", true),
            ("sandbox.caps has cap_mknod", true),
            ("sandbox.caps lacks cap_sys_ptrace", true),
            ("sandbox.caps has cap_sys_ptrace", false),
        ] {
            assert_eq!(parse_expect(check).unwrap().evaluate(&s).passed, want, "{check}");
        }
    }

    #[test]
    fn an_unreadable_file_proves_nothing_and_empty_is_an_answer() {
        let mut s = snap();
        let check = |s: &Snapshot, c: &str| parse_expect(c).unwrap().evaluate(&One(s.clone())).passed;
        assert!(check(&s, "sandbox.uid_map == \"\""), "nothing mapped yet is a real answer");
        assert!(check(&s, "sandbox.cgroup has 0::/"));
        let gone = ProcError::Unreadable { path: "/proc/1/uid_map".into(), reason: "ESRCH".into() };
        s.proc.uid_map = Err(gone.clone());
        s.proc.mounts = Err(gone.clone());
        s.proc.cgroup = Err(gone);
        for c in
            ["sandbox.uid_map == \"\"", "sandbox.uid_map != x", "sandbox.mounts lacks /x", "sandbox.cgroup[cpu] != /"]
        {
            assert!(!check(&s, c), "{c}");
        }
        let v = One(s).fact(&parse_expect("sandbox.mounts lacks /x").unwrap().left);
        assert_eq!(v.to_string(), "(unavailable: /proc/1/uid_map: ESRCH)");
    }
}
