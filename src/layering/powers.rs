//! Who may do what to the machine: the rules ARCHITECTURE.md states, kept as tests so the
//! document cannot drift from the code again (issue 26: four of its claims had quietly
//! stopped holding — undo.rs signalled PIDs by number, attach.rs wrote cgroupfs, loadgen.rs
//! parsed /proc).
//!
//! Each power is a few call paths (`mount::umount2(`, also found through a `use` line) or
//! string literals (a cgroupfs control file, a /proc path), and the places that may use it.
//! Comments, and test code (`tests.rs`, `tests/`, a trailing `#[cfg(test)] mod`), are not
//! read: a test may spell a call in an expected strace line. A place named with a reason is
//! checked to still need it, so a stale entry is deleted with the use it excused.

use std::path::Path;

use super::{rust_files, src};

/// A power over the host, the code that shows it, and where it may be.
struct Power {
    what: &'static str,
    /// Calls (`module::function(`), matched in code and in `use` imports.
    calls: &'static [&'static str],
    /// String literals: exactly these (`exact`), or starting with one of `prefixes`.
    exact: &'static [&'static str],
    prefixes: &'static [&'static str],
    /// Files (`a/b.rs`) or directories (`a/`) where it belongs, with why.
    home: &'static [(&'static str, &'static str)],
    /// Other places that may use it, each with its reason; checked to be still needed.
    excused: &'static [(&'static str, &'static str)],
}

const POWERS: &[Power] = &[
    Power {
        what: "mount or unmount",
        calls: &["mount::mount(", "mount::umount(", "mount::umount2(", "libc::mount(", "libc::umount2("],
        exact: &[],
        prefixes: &[],
        home: &[
            ("sandbox/kernel.rs", "the mounts lessons teach, made by the sandbox behind the kernel seam"),
            ("hostguard/", "the host-side unmounts that put the host back, written once"),
        ],
        excused: &[("bench.rs", "the bare-syscall baseline a step is measured against, in a forked child")],
    },
    Power {
        what: "chroot or pivot_root",
        calls: &["unistd::chroot(", "unistd::pivot_root(", "libc::chroot(", "SYS_pivot_root"],
        exact: &[],
        prefixes: &[],
        home: &[
            ("sandbox/kernel.rs", "what lessons teach, behind the kernel seam"),
            ("sandbox/attach.rs", "a child joining terminal #1 enters its root"),
        ],
        excused: &[
            ("narrate/filter.rs", "stops the student's shell at these calls to narrate them; never makes them"),
            ("narrate/decode.rs", "says the student's pivot_root as strace would; never makes it"),
        ],
    },
    Power {
        what: "unshare or setns",
        calls: &["sched::unshare(", "sched::setns(", "libc::unshare(", "libc::setns("],
        exact: &[],
        prefixes: &[],
        home: &[
            ("sandbox/kernel.rs", "what lessons teach, behind the kernel seam"),
            ("sandbox/attach.rs", "a child joining terminal #1's namespaces"),
        ],
        excused: &[("bench.rs", "the bare-syscall baseline a step is measured against, in a forked child")],
    },
    Power {
        what: "signal a process by its number",
        calls: &["signal::kill(", "signal::killpg(", "libc::kill(", "libc::killpg(", "SYS_pidfd_send_signal"],
        exact: &[],
        prefixes: &[],
        home: &[("process.rs", "processes are held by a pidfd before they are signalled")],
        excused: &[],
    },
    Power {
        what: "open a cgroupfs control file",
        calls: &[],
        exact: &["cgroup.procs", "cgroup.subtree_control", "tasks", "cgroup.kill", "cgroup.freeze"],
        prefixes: &[],
        home: &[("cgroup/", "the one writer of cgroupfs, for v1 and v2 alike")],
        excused: &[],
    },
    Power {
        what: "trace a process or filter its system calls",
        calls: &["ptrace::seize(", "ptrace::attach(", "ptrace::traceme(", "libc::ptrace(", "SYS_seccomp"],
        exact: &[],
        prefixes: &[],
        home: &[("narrate/", "the tracer that says the student's calls in `try`, in a process of its own")],
        excused: &[],
    },
    Power {
        what: "read a /proc file",
        calls: &[],
        exact: &["/proc"],
        prefixes: &["/proc/"],
        home: &[("observe/", "the one /proc layer: read and parsed once, for both terminals")],
        excused: &[
            ("sandbox/attach.rs", "opens terminal #1's /proc/PID/ns/*, root, cwd and cgroup as handles to join"),
            ("sandbox/agent.rs", "opens /proc as a directory handle before any chroot"),
            ("sandbox/netdev.rs", "/proc/self/ns/net is the source of the named netns bind mount"),
            ("sandbox/kernel.rs", "tells a write into /proc or /sys apart in the strace line"),
            ("lab/host_actions.rs", "writes terminal #1's uid_map, gid_map and setgroups (terminal #2's part)"),
            ("lesson/load.rs", "reopens the descriptor a lesson's trust was checked on, via /proc/self/fd"),
            ("class/sender.rs", "lists its own descriptors (/proc/self/fd) to close them after fork"),
            ("rootfs/cache.rs", "whether the PID holding the cache's lock still exists"),
            ("render/views.rs", "a row label"),
        ],
    },
];

/// Where one power is used outside its home, file → lines.
type Uses = std::collections::BTreeMap<String, Vec<String>>;

/// The code of a file the compiler builds outside tests, with comments removed, string
/// literals emptied (and returned apart, with their line numbers), and `use` lines expanded
/// into the calls they make possible (`use nix::mount::{mount, MsFlags}` → `mount::mount(`).
fn code_and_strings(text: &str) -> (Vec<String>, Vec<(usize, String)>) {
    let mut lines = Vec::new();
    let mut strings = Vec::new();
    let mut in_test = false;
    let mut cfg_test = false;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if cfg_test && (t.starts_with("mod ") || t.starts_with("pub(crate) mod ")) {
            in_test = true;
        }
        cfg_test = t.starts_with("#[cfg(test)]");
        if in_test {
            lines.push(String::new());
            continue;
        }
        let (code, found) = split_strings(line);
        strings.extend(found.into_iter().map(|s| (n + 1, s)));
        let mut code = code;
        if let Some(path) = code.trim_start().strip_prefix("use ").map(|u| u.trim_end_matches(';').to_string()) {
            code.push_str(&expand_use(&path));
        }
        lines.push(code);
    }
    (lines, strings)
}

/// One line without its comment, string contents taken out.
fn split_strings(line: &str) -> (String, Vec<String>) {
    let (mut code, mut found, mut cur) = (String::new(), Vec::new(), None::<String>);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (&mut cur, c) {
            (Some(s), '\\') => {
                if let Some(next) = chars.next() {
                    s.push(next);
                }
            }
            (Some(_), '"') => {
                found.push(cur.take().unwrap_or_default());
                code.push_str("\"\"");
            }
            (Some(s), c) => s.push(c),
            (None, '"') => cur = Some(String::new()),
            (None, '/') if chars.peek() == Some(&'/') => break,
            // A char literal such as '"' (a lifetime has no closing quote two chars on).
            (None, '\'') => {
                code.push(c);
                let rest: String = chars.clone().take(3).collect();
                if rest.starts_with('\\') {
                    chars.nth(2);
                } else if rest.chars().nth(1) == Some('\'') {
                    chars.nth(1);
                }
            }
            (None, c) => code.push(c),
        }
    }
    (code, found)
}

/// `nix::mount::{mount, MsFlags}` → ` mount::mount( mount::MsFlags(`.
fn expand_use(path: &str) -> String {
    let (base, names) = match path.split_once("::{") {
        Some((b, rest)) => (b, rest.trim_end_matches('}').split(',').map(str::trim).collect::<Vec<_>>()),
        None => match path.rsplit_once("::") {
            Some((b, n)) => (b, vec![n]),
            None => return String::new(),
        },
    };
    let last = base.rsplit("::").next().unwrap_or(base);
    names
        .iter()
        .filter(|n| !n.is_empty())
        .map(|n| format!(" {last}::{}(", n.split(" as ").next().unwrap_or(n)))
        .collect()
}

fn is_test_file(rel: &str) -> bool {
    rel.ends_with("tests.rs")
        || rel.contains("/tests/")
        || rel.ends_with("recording.rs")
        || rel.ends_with("against_procfs_core.rs")
        || rel.starts_with("layering/")
}

fn at(place: &str, rel: &str) -> bool {
    if place.ends_with('/') {
        rel.starts_with(place)
    } else {
        rel == place
    }
}

/// Every use of `power` in library code, by file.
fn uses(power: &Power) -> Uses {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut out = Uses::new();
    for f in files {
        let rel = f.strip_prefix(src()).unwrap_or(&f).to_string_lossy().into_owned();
        if is_test_file(&rel) {
            continue;
        }
        let (code, strings) = code_and_strings(&std::fs::read_to_string(&f).unwrap_or_default());
        for (n, line) in code.iter().enumerate() {
            if power.calls.iter().any(|c| line.contains(c)) {
                out.entry(rel.clone()).or_default().push(format!("{}: {}", n + 1, line.trim()));
            }
        }
        for (n, s) in strings {
            if power.exact.contains(&s.as_str()) || power.prefixes.iter().any(|p| s.starts_with(p)) {
                out.entry(rel.clone()).or_default().push(format!("{n}: \"{s}\""));
            }
        }
    }
    out
}

#[test]
fn each_power_over_the_host_is_used_only_where_it_belongs() {
    let mut wrong = Vec::new();
    for power in POWERS {
        let used = uses(power);
        for (place, why) in power.excused {
            assert!(
                used.keys().any(|rel| at(place, rel)),
                "{place} no longer needs to {}: delete its excuse ({why})",
                power.what
            );
        }
        for (rel, lines) in used {
            let allowed = power.home.iter().chain(power.excused).any(|(place, _)| at(place, &rel));
            if !allowed {
                let homes: Vec<&str> = power.home.iter().map(|(p, _)| *p).collect();
                wrong.push(format!(
                    "{rel} may not {} (only {}):\n    {}",
                    power.what,
                    homes.join(", "),
                    lines.join("\n    ")
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "powers used outside their place:\n{}", wrong.join("\n"));
}

#[test]
fn a_power_is_found_through_a_use_line_and_not_in_comments_or_strings() {
    let text = "use nix::mount::{mount, MsFlags};\n// nix::mount::umount2(x)\nlet s = \"signal::kill(\";\n\
                let p = \"/proc/1/stat\"; let c = '\"';\n#[cfg(test)]\nmod tests {\n    kill(x);\n}\n";
    let (code, strings) = code_and_strings(text);
    assert!(code[0].contains("mount::mount("), "{code:?}");
    assert!(!code.iter().any(|l| l.contains("umount2") || l.contains("signal::kill") || l.contains("kill(x)")));
    assert_eq!(strings, [(3, "signal::kill(".to_string()), (4, "/proc/1/stat".to_string())]);
    assert!(at("hostguard/", "hostguard/undo.rs") && !at("process.rs", "sandbox/process.rs"));
    assert!(Path::new(&src()).join("process.rs").exists());
}
