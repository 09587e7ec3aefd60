//! The top-level modules form layers: no two of them may reach each other, directly or
//! through others. A cycle is how a "teaching lab" becomes a ball of mud, since every
//! change to one module then touches the other (issue 18: `lesson` and `observe` once
//! imported each other; `observe` now owns the facts and views, and `lesson` parses
//! into them).
//!
//! The test reads `src/` (as tests/it/docs.rs reads the docs): every `crate::X`
//! written in a file under module `M` (comments aside, tests included: a test's
//! import is a dependency too) is an edge `M → X`. It fails on any cycle and prints
//! it with a file for each edge.

mod powers;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Edges left in on purpose, each with the work that removes it. The test fails when
/// one is gone, so the entry is deleted with it.
const ALLOWED: &[(&str, &str, &str)] = &[];

/// Files that are not inside a top-level module (the crate root, the binary and its command
/// line, these tests).
const NOT_MODULES: [&str; 5] = ["lib.rs", "main.rs", "cli.rs", "layering/mod.rs", "layering/powers.rs"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `pub mod x;` / `mod x;` in lib.rs.
fn top_level_modules() -> BTreeSet<String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    lib.lines()
        .filter_map(|l| {
            let l = l.trim().trim_start_matches("pub ").trim_start_matches("pub(crate) ");
            Some(l.strip_prefix("mod ")?.strip_suffix(';')?.trim().to_string())
        })
        .filter(|m| m != "layering")
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn ident(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(s.len());
    &s[..end]
}

/// The top-level names after each `crate::` in `code`: `crate::a::b` gives `a`,
/// `crate::{a::x, b}` gives `a` and `b`.
fn crate_refs(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        // `nsdojo_crate::` or `mycrate::` are not this crate.
        if code[..at].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut item_start) = (0usize, true);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && depth == 0 && !c.is_whitespace() => {
                        out.insert(ident(&group[i..]).to_string());
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest).to_string());
        }
    }
    out
}

/// `from → to → [files where from names to]`.
type Graph = BTreeMap<String, BTreeMap<String, Vec<String>>>;

fn graph() -> Graph {
    let modules = top_level_modules();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut g = Graph::new();
    for f in files {
        let rel = f.strip_prefix(src()).unwrap().to_string_lossy().into_owned();
        if NOT_MODULES.contains(&rel.as_str()) {
            continue;
        }
        let from = rel.split('/').next().unwrap().trim_end_matches(".rs").to_string();
        assert!(modules.contains(&from), "{rel}: not under a module declared in lib.rs");
        let text = std::fs::read_to_string(&f).unwrap();
        let code: String =
            text.lines().filter(|l| !l.trim_start().starts_with("//")).map(|l| format!("{l}\n")).collect();
        for to in crate_refs(&code).into_iter().filter(|m| modules.contains(m) && *m != from) {
            g.entry(from.clone()).or_default().entry(to).or_default().push(rel.clone());
        }
    }
    g
}

/// One cycle per strongly connected part, found by depth-first search from each module.
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    fn walk(g: &Graph, at: &str, path: &mut Vec<String>, done: &mut BTreeSet<String>, out: &mut Vec<Vec<String>>) {
        if let Some(i) = path.iter().position(|m| m == at) {
            let mut c = path[i..].to_vec();
            c.push(at.to_string());
            out.push(c);
            return;
        }
        if done.contains(at) {
            return;
        }
        path.push(at.to_string());
        for to in g.get(at).into_iter().flat_map(|e| e.keys()) {
            walk(g, to, path, done, out);
        }
        path.pop();
        done.insert(at.to_string());
    }
    let (mut done, mut out) = (BTreeSet::new(), Vec::new());
    for m in g.keys() {
        walk(g, m, &mut Vec::new(), &mut done, &mut out);
    }
    out
}

#[test]
fn top_level_modules_do_not_reach_each_other_in_a_cycle() {
    let mut g = graph();
    for (from, to, why) in ALLOWED {
        let gone = g.get_mut(*from).and_then(|e| e.remove(*to)).is_none();
        assert!(!gone, "{from} → {to} is gone: delete its entry in ALLOWED ({why})");
    }
    let found = cycles(&g);
    let shown: Vec<String> = found
        .iter()
        .map(|c| {
            let edges: Vec<String> =
                c.windows(2).map(|w| format!("  {} → {}: {}", w[0], w[1], g[&w[0]][&w[1]].join(", "))).collect();
            format!("{}\n{}", c.join(" → "), edges.join("\n"))
        })
        .collect();
    assert!(found.is_empty(), "the top-level modules have {} cycle(s):\n{}", found.len(), shown.join("\n"));
}

#[test]
fn references_are_read_like_the_compiler_reads_them() {
    let refs = crate_refs("use crate::{lab::{A, B}, observe};\nx = crate::cgroup::f(); y = nsdojo_crate::z;");
    assert_eq!(refs.into_iter().collect::<Vec<_>>(), ["cgroup", "lab", "observe"]);
    let g: Graph = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]
        .iter()
        .map(|(f, t)| (f.to_string(), BTreeMap::from([(t.to_string(), vec![])])))
        .fold(Graph::new(), |mut g, (f, e)| {
            g.entry(f).or_default().extend(e);
            g
        });
    assert_eq!(cycles(&g), vec![vec!["a", "b", "c", "a"]]);
}

/// Every module's own name (a file's stem, or a directory with a `mod.rs`), test-only files
/// aside: `tests`, and anything under a `tests/` directory.
fn module_names() -> BTreeMap<String, Vec<String>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut names: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(src()).unwrap().to_path_buf();
        if rel.components().any(|c| c.as_os_str() == "tests") || NOT_MODULES.iter().any(|n| rel == Path::new(n)) {
            continue;
        }
        let stem = f.file_stem().unwrap().to_string_lossy().into_owned();
        if stem == "tests" {
            continue;
        }
        let name = match stem.as_str() {
            "mod" => f.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned(),
            _ => stem,
        };
        names.entry(name).or_default().push(rel.display().to_string());
    }
    names
}

/// Two modules with one name (`host`, `fact`, `protocol`, …) make every `use` line a
/// question; issue 18 asked for one name, one thing.
#[test]
fn no_two_modules_share_a_name() {
    let twice: Vec<String> = module_names()
        .into_iter()
        .filter(|(_, at)| at.len() > 1)
        .map(|(name, at)| format!("{name}: {}", at.join(", ")))
        .collect();
    assert!(twice.is_empty(), "modules sharing a name:\n{}", twice.join("\n"));
}

/// Library code says why it failed with a type (thiserror), not a string: `Result<_, String>`
/// is for main.rs at most (issue 18). Parsers' outputs (`IResult<&str, String>`) are values.
#[test]
fn no_library_result_carries_a_string_error() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut found = Vec::new();
    for f in files.iter().filter(|f| !f.ends_with("main.rs") && !f.starts_with(src().join("layering"))) {
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains("Result<") && code.contains(", String>") && !code.contains("IResult<") {
                found.push(format!("{}:{}: {}", f.strip_prefix(src()).unwrap().display(), n + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "Result<_, String> in library code:\n{}", found.join("\n"));
}
