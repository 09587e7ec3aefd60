//! The docs and the workshop VM must not drift from the code.
//!
//! docs/lessons.md: every ```toml block parses as a lesson (a block whose first line is
//! `# fragment` is steps only and gets a header), the full ones pass `nsdojo check` and, as root,
//! their own checks; every action, view and expectation example in its tables parses; every
//! name in action::ACTIONS, SHOW_VIEWS, SIDE_FACTS and STEP_FACTS, every operator and side has a row
//! with an example of its own. scripts/provision.sh: valid bash, shellcheck-clean, a dry run
//! names everything it installs, its guards decide right, its minimum Rust covers Cargo.lock.
//! Vagrantfile (no Ruby here: text matching): both boxes, the provision script, the VM size.
//! README and the guides: every `--option` given to nsdojo exists, every lesson is listed.

use std::process::Command;

use nsdojo::lesson::fact::{Table, FACT_TABLE, GROUP_TABLE, RESULT_TABLE};
use nsdojo::lesson::{self, action, expect, Lesson};

use crate::harness::{bin, repo, require_root, HostState, Test};

const GUIDE: &str = "docs/lessons.md";

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

// ------------------------------------------------------------------------------ Markdown ----

/// A fenced block: its language, the line (1-based) of its first content line, and its text.
struct Block {
    lang: String,
    line: usize,
    text: String,
    /// The `## ` heading above it.
    section: String,
}

fn blocks(md: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut open: Option<Block> = None;
    for (i, l) in md.lines().enumerate() {
        if let Some(b) = open.as_mut() {
            if l.trim_start().starts_with("```") {
                out.push(open.take().unwrap());
            } else {
                b.text.push_str(l);
                b.text.push('\n');
            }
        } else if let Some(lang) = l.trim_start().strip_prefix("```") {
            open = Some(Block {
                lang: lang.trim().to_string(),
                line: i + 2,
                text: String::new(),
                section: section.clone(),
            });
        } else if let Some(h) = l.strip_prefix("## ") {
            section = h.trim().to_string();
        }
    }
    assert!(open.is_none(), "an unclosed ``` block");
    out
}

/// One row of a Markdown table: its line, its cells, and the table's header and heading.
struct Row {
    line: usize,
    cells: Vec<String>,
    header: Vec<String>,
    /// The `## ` heading above the table.
    section: String,
}

impl Row {
    fn column(&self, name: &str) -> Option<&str> {
        let i = self.header.iter().position(|h| h.eq_ignore_ascii_case(name))?;
        self.cells.get(i).map(String::as_str)
    }

    fn key(&self) -> &str {
        &self.cells[0]
    }

    fn examples(&self) -> Vec<String> {
        self.column("example").map(code_spans).unwrap_or_default()
    }
}

/// Cells of a table line: split on `|` except `\|`, which is a `|` inside the cell.
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                out.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out.into_iter().map(|c| c.trim().to_string()).collect()
}

fn rows(md: &str) -> Vec<Row> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut header: Option<Vec<String>> = None;
    let mut fenced = false;
    for (i, l) in md.lines().enumerate() {
        if l.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        if let Some(h) = l.strip_prefix("## ") {
            section = h.trim().to_string();
        }
        if !l.trim_start().starts_with('|') {
            header = None;
            continue;
        }
        let c = cells(l);
        match &header {
            None => header = Some(c),
            Some(_) if c.iter().all(|x| x.chars().all(|ch| ch == '-' || ch == ':')) => {}
            Some(h) => out.push(Row { line: i + 1, cells: c, header: h.clone(), section: section.clone() }),
        }
    }
    out
}

/// The contents of the `code spans` in a cell.
fn code_spans(cell: &str) -> Vec<String> {
    cell.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

fn rows_in<'a>(all: &'a [Row], section: &str) -> Vec<&'a Row> {
    let found: Vec<&Row> = all.iter().filter(|r| r.section == section && r.column("example").is_some()).collect();
    assert!(!found.is_empty(), "{GUIDE}: no table with an example column under `## {section}`");
    found
}

// ------------------------------------------------------------------------------- lessons ----

const FRAGMENT_HEADER: &str = "id = \"fragment\"\ntitle.en = \"Fragment\"\n";

/// Every ```toml block as a lesson: (block line, is it full, the parse).
fn guide_lessons() -> Vec<(usize, bool, Result<Lesson, lesson::LessonError>, String)> {
    blocks(&read(GUIDE))
        .into_iter()
        .filter(|b| b.lang == "toml")
        .map(|b| {
            let fragment = b.text.lines().next().is_some_and(|l| l.starts_with("# fragment"));
            if fragment {
                assert!(
                    b.text.contains("[[step]]") && !b.text.contains("\nid ="),
                    "{GUIDE}:{}: a `# fragment` block holds [[step]] tables only",
                    b.line
                );
                let src = format!("{FRAGMENT_HEADER}{}", b.text);
                (b.line, false, lesson::parse_lesson("fragment", &src), src)
            } else {
                (b.line, true, lesson::parse_lesson("example", &b.text), b.text)
            }
        })
        .collect()
}

#[test]
fn every_toml_block_in_the_guide_parses() {
    let all = guide_lessons();
    assert!(all.iter().any(|(_, full, ..)| *full), "{GUIDE}: no complete example lesson");
    for (line, full, parsed, _) in &all {
        if let Err(e) = parsed {
            // Point at the line in the guide, not in the block.
            let header = if *full { 0 } else { FRAGMENT_HEADER.lines().count() };
            panic!("{GUIDE}:{}:{}: {}", line + e.line - 1 - header, e.col, e.message);
        }
    }
}

/// The complete examples, written out as lesson files in a root-owned temporary directory.
fn full_examples_dir() -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    for (line, full, parsed, src) in guide_lessons() {
        if full {
            let l = parsed.unwrap_or_else(|e| panic!("{GUIDE}:{line}: {e}"));
            std::fs::write(dir.path().join(format!("{}.toml", l.id)), src).unwrap();
            ids.push(l.id);
        }
    }
    (dir, ids)
}

#[test]
fn the_complete_examples_pass_nsdojo_check() {
    let (dir, ids) = full_examples_dir();
    let d = Test::new().args(["check".as_ref(), dir.path().as_os_str()]).succeeds();
    for id in ids {
        assert!(d.stdout().contains(&format!(": ok ({id},")), "{}", d.text());
    }
}

#[test]
fn the_complete_examples_pass_their_own_checks() {
    let _g = require_root!();
    let before = HostState::now();
    let (dir, _) = full_examples_dir();
    let d = Test::new()
        .args(["--lessons".as_ref(), dir.path().as_os_str(), "run".as_ref(), "--all".as_ref(), "--check".as_ref()])
        .succeeds();
    assert!(d.stdout().contains('✔') && !d.stdout().contains('✘'), "{}", d.text());
    before.assert_unchanged_since("the guide's example lessons");
}

/// Every key the built-in lessons use, at the top or in a step (`task`, `task_needs_host`, …),
/// has a row in the Keys table that says where it goes.
#[test]
fn every_key_the_builtin_lessons_use_is_in_the_keys_table() {
    let md = read(GUIDE);
    let keys: Vec<(String, String)> = rows(&md)
        .into_iter()
        .filter(|r| r.section == "Keys")
        .flat_map(|r| {
            let at = r.column("where").unwrap_or("").to_string();
            code_spans(r.key()).into_iter().map(move |k| (k, at.clone()))
        })
        .collect();
    let documented = |key: &str, at: &str| keys.iter().any(|(k, w)| k == key && w == at);
    let mut step_keys = std::collections::BTreeSet::new();
    for (name, src) in lesson::BUILTIN {
        let v: toml::Table = toml::from_str(src).unwrap_or_else(|e| panic!("{name}: {e}"));
        for key in v.keys().filter(|k| *k != "step") {
            assert!(documented(key, "top"), "{GUIDE}: `{key}` ({name}, top) has no row in the Keys table");
        }
        for step in v["step"].as_array().expect("[[step]]") {
            step_keys.extend(step.as_table().expect("a table").keys().cloned());
        }
    }
    for key in &step_keys {
        assert!(documented(key, "step"), "{GUIDE}: the step key `{key}` has no row in the Keys table");
    }
}

// ------------------------------------------------------------------------------- actions ----

#[test]
fn every_action_example_parses_and_every_action_has_one() {
    let md = read(GUIDE);
    let all = rows(&md);
    let mut firsts = Vec::new();
    for r in rows_in(&all, "Actions") {
        let ex = r.examples();
        assert!(!ex.is_empty(), "{GUIDE}:{}: the action `{}` has no example", r.line, r.key());
        for e in ex {
            if let Err(err) = action::parse_action(&e) {
                panic!("{GUIDE}:{}: action example `{e}`: {} (at byte {})", r.line, err.message, err.offset);
            }
            firsts.push(e.split_whitespace().next().unwrap().to_string());
        }
    }
    for name in action::action_names() {
        assert!(
            firsts.iter().any(|f| f == name),
            "{GUIDE}: the action `{name}` (action::ACTIONS) has no example in the Actions table"
        );
    }
}

// --------------------------------------------------------------------------------- views ----

#[test]
fn every_view_example_is_valid_and_every_view_has_one() {
    let md = read(GUIDE);
    let all = rows(&md);
    let views = rows_in(&all, "Views");
    for r in &views {
        for e in r.examples() {
            let src = format!("{FRAGMENT_HEADER}[[step]]\ntext.en = \"x\"\nshow = [{e:?}]\n");
            if let Err(err) = lesson::parse_lesson("view", &src) {
                panic!("{GUIDE}:{}: view example `{e}`: {}", r.line, err.message);
            }
        }
    }
    for (view, _) in lesson::SHOW_VIEWS {
        let r = views
            .iter()
            .find(|r| code_spans(r.key()).iter().any(|k| k == view))
            .unwrap_or_else(|| panic!("{GUIDE}: the view `{view}` (SHOW_VIEWS) has no row in the Views table"));
        let word = view.split_whitespace().next().unwrap();
        assert!(
            r.examples().iter().any(|e| e.split_whitespace().next() == Some(word)),
            "{GUIDE}:{}: the view `{view}` has no example of its own",
            r.line
        );
    }
}

// -------------------------------------------------------------------------- expectations ----

fn parse_expect_at(line: usize, e: &str) -> expect::Expect {
    expect::parse_expect(e)
        .unwrap_or_else(|err| panic!("{GUIDE}:{line}: expectation `{e}`: {} (at byte {})", err.message, err.offset))
}

#[test]
fn every_expectation_example_parses() {
    let md = read(GUIDE);
    let all = rows(&md);
    let mut n = 0;
    for r in rows_in(&all, "Expectations") {
        for e in r.examples() {
            parse_expect_at(r.line, &e);
            n += 1;
        }
    }
    // The grammar block at the top of the section is made of checks, too.
    for b in blocks(&md).iter().filter(|b| b.section == "Expectations" && b.lang == "text") {
        for (i, l) in b.text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            parse_expect_at(b.line + i, l);
            n += 1;
        }
    }
    assert!(n >= FACT_TABLE.len() + RESULT_TABLE.len() + GROUP_TABLE.len(), "only {n} examples");
}

/// A row of the Expectations tables that names `key` and has an example checking that fact.
fn fact_row<'a>(rows: &[&'a Row], key: &str, table: Table) -> Option<&'a Row> {
    rows.iter().copied().find(|r| {
        code_spans(r.key()).iter().any(|k| k == key)
            && r.examples().iter().any(|e| {
                let Ok(x) = expect::parse_expect(e) else { return false };
                let found = x.facts().any(|f| f.table_key() == (table, key.to_string()));
                found
            })
    })
}

#[test]
fn every_fact_operator_and_side_is_documented_with_an_example() {
    let md = read(GUIDE);
    let all = rows(&md);
    let exp = rows_in(&all, "Expectations");
    for (table, rows) in [(Table::Side, FACT_TABLE), (Table::Result, RESULT_TABLE), (Table::Group, GROUP_TABLE)] {
        for (fact, _) in rows {
            assert!(
                fact_row(&exp, fact, table).is_some(),
                "{GUIDE}: the fact `{fact}` ({table:?} table) needs a row whose example checks it"
            );
        }
    }
    for ns in lesson::Ns::ALL {
        assert!(md.contains(&format!("`{}`", ns.name())), "{GUIDE}: the namespace type `{ns}` is not named");
    }
    // The operators, as the parser lists them in its error message.
    let msg = expect::parse_expect("sandbox.uid ~ 0").unwrap_err().message;
    let ops: Vec<&str> = msg.split(':').nth(1).expect("operator list").split_whitespace().collect();
    assert!(ops.len() >= 9, "{msg}");
    for op in ops {
        let documented = exp.iter().any(|r| {
            code_spans(r.key()).iter().any(|k| k == op)
                && r.examples().iter().any(|e| expect::parse_expect(e).is_ok_and(|x| x.op.symbol() == op))
        });
        assert!(documented, "{GUIDE}: the operator `{op}` needs a row with an example that uses it");
    }
    for side in ["sandbox", "host", "before.sandbox", "before.host", "step", "action[N]", "group", "before.group"] {
        let documented = exp.iter().any(|r| {
            code_spans(r.key()).iter().any(|k| k == side)
                && r.examples().iter().any(|e| {
                    let x = parse_expect_at(r.line, e);
                    let right = match &x.right {
                        expect::Operand::Fact(f) => f.to_string(),
                        expect::Operand::Literal(_) => String::new(),
                    };
                    // `before.sandbox.x` does not start with `sandbox.`: a prefix test is exact.
                    let prefix = format!("{}.", side.trim_end_matches("N]"));
                    let prefix = if side == "action[N]" { "action[".to_string() } else { prefix };
                    x.left.to_string().starts_with(&prefix) || right.starts_with(&prefix)
                })
        });
        assert!(documented, "{GUIDE}: the side `{side}` needs a row with an example that uses it");
    }
}

#[test]
fn variables_are_documented() {
    let md = read(GUIDE);
    let all = rows(&md);
    let vars: Vec<String> = all.iter().filter(|r| r.section == "Variables").flat_map(|r| code_spans(r.key())).collect();
    for v in [
        "$WORK",
        "$ROOTFS",
        "$SESSION",
        "$PID",
        "$HOST_PID",
        "$CGROUP",
        "$CGROUP_PARENT",
        "$CGROUP_CPU",
        "$CGROUP_MEMORY",
        "$CGROUP_PIDS",
    ] {
        assert!(vars.iter().any(|x| x == v), "{GUIDE}: the variable {v} has no row in the Variables table");
    }
}

// --------------------------------------------------------------------- options, lessons ----

/// Every `--option` the docs give nsdojo is one that `nsdojo [SUBCOMMAND] --help` lists.
#[test]
fn every_nsdojo_option_in_the_docs_exists() {
    let help =
        |args: &[&str]| String::from_utf8_lossy(&Command::new(bin()).args(args).output().unwrap().stdout).to_string();
    let top = help(&["--help"]);
    let subs: Vec<String> = top
        .split("Commands:")
        .nth(1)
        .expect("nsdojo --help lists its commands")
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|s| s != "help")
        .collect();
    assert!(subs.len() >= 5, "{top}");
    let mut known = top.clone();
    for s in &subs {
        known.push_str(&help(&[s, "--help"]));
    }
    for doc in ["README.md", "docs/lessons.md", "docs/instructors.md"] {
        let md = read(doc);
        for (i, line) in md.lines().enumerate() {
            // From each `nsdojo` word to the end of that command.
            for (at, _) in line.match_indices("nsdojo ") {
                if at > 0 && !line[..at].ends_with([' ', '`', '/', '(']) {
                    continue;
                }
                let cmd = line[at..].split(['`', '#', ';', '|', ')']).next().unwrap_or("");
                let cmd = cmd.split("&&").next().unwrap_or("");
                let words = cmd.split_whitespace().map(|w| w.trim_start_matches('[').trim_end_matches(']'));
                for w in words.filter(|w| w.starts_with("--")) {
                    let flag = w.split('=').next().unwrap().trim_end_matches([',', '.', ':']);
                    if flag.len() > 2 && flag.chars().skip(2).all(|c| c.is_ascii_lowercase() || c == '-') {
                        assert!(
                            known.contains(&format!("{flag} ")) || known.contains(&format!("{flag}\n")),
                            "{doc}:{}: `{flag}` is not an nsdojo option (nsdojo --help)",
                            i + 1
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn the_readme_lists_every_lesson_and_links_the_guides() {
    let readme = read("README.md");
    for (i, l) in lesson::builtin().iter().enumerate() {
        let row = format!("| {} | `{}` | {} |", i + 1, l.id, l.title.en.trim());
        assert!(readme.contains(&row), "README.md's lesson table lacks `{row}` (cargo run -q -- list)");
    }
    for link in ["docs/lessons.md", "docs/instructors.md"] {
        assert!(readme.contains(&format!("({link})")), "README.md does not link {link}");
        assert!(repo(link).exists(), "{link} is missing");
    }
    // The first two commands stay the first thing to copy.
    let first = blocks(&readme).into_iter().find(|b| b.lang == "sh").expect("a sh block");
    let cmds: Vec<&str> = first.text.lines().collect();
    assert!(cmds[0].starts_with("cargo build --release && scripts/as-root ./target/release/nsdojo"), "{}", first.text);
    assert!(cmds[1].starts_with("scripts/as-root bash scripts/test.sh"), "{}", first.text);
    // .ci/run calls the same test command.
    assert!(read(".ci/run").contains("bash scripts/test.sh"), ".ci/run must run README's test command");
    let top = &readme[..readme.find("\n## ").expect("a `## ` section")];
    assert!(top.contains("vagrant up && vagrant ssh -c 'sudo nsdojo'"), "README.md's first part lacks the VM path");
}
