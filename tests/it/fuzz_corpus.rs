//! The fuzzers' seed corpora (`fuzz/corpus/*/`) and their findings (`fuzz/regressions/`), in process:
//! every file goes through all four parsers (lesson, action, expect, REPL command) and must not panic
//! and must keep the invariants the fuzz targets check. Those live in `fuzz/src/lib.rs`, included
//! here, so `cargo test` and `cargo fuzz` check the same thing. No fork, no binary: pure parsers.

#[path = "../../fuzz/src/lib.rs"]
mod invariants;

use std::path::{Path, PathBuf};

use crate::harness::repo;

/// Findings not fixed yet in `src/`: (file in fuzz/regressions, parser that breaks on it).
/// The test insists they still break, so a fix is noticed and the entry removed.
const KNOWN: &[(&str, &str)] = &[];

const PARSERS: [&str; 4] = ["lesson", "action", "expect", "repl_command"];

/// Run one input through one parser; a panic is reported like a broken invariant.
fn run(parser: &str, bytes: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(bytes).ok();
    std::panic::catch_unwind(|| match (parser, text) {
        ("lesson", Some(s)) => invariants::lesson(s),
        ("action", Some(s)) => invariants::action(s),
        ("expect", Some(s)) => invariants::expect(s),
        ("repl_command", _) => invariants::repl_command(bytes),
        // The UTF-8 targets skip what is not UTF-8, as the fuzzers do.
        _ => Ok(()),
    })
    .unwrap_or_else(|p| {
        let why = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
        Err(format!("panicked: {}", why.unwrap_or_default()))
    })
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn corpus_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = PARSERS.iter().map(|t| repo("fuzz/corpus").join(t)).collect();
    dirs.push(repo("fuzz/regressions"));
    dirs
}

#[test]
fn every_corpus_file_keeps_the_invariants_of_all_parsers() {
    let mut failures = Vec::new();
    let mut inputs = 0;
    for dir in corpus_dirs() {
        let files = files_in(&dir);
        assert!(!files.is_empty(), "{} is empty", dir.display());
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            inputs += 1;
            for parser in PARSERS {
                let known = KNOWN.contains(&(name.as_str(), parser));
                match (run(parser, &bytes), known) {
                    (Ok(()), false) | (Err(_), true) => {}
                    (Err(why), false) => failures.push(format!("{} through {parser}: {why}", f.display())),
                    (Ok(()), true) => failures.push(format!(
                        "{} through {parser} holds now: remove it from KNOWN in tests/it/fuzz_corpus.rs",
                        f.display()
                    )),
                }
            }
        }
    }
    assert!(inputs >= 20, "only {inputs} inputs");
    assert!(failures.is_empty(), "{} failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn known_findings_are_in_the_regressions() {
    for (file, parser) in KNOWN {
        assert!(repo("fuzz/regressions").join(file).is_file(), "KNOWN lists {file}, missing in fuzz/regressions");
        assert!(PARSERS.contains(parser), "{file}: no parser {parser}");
    }
}

#[test]
fn corpora_stay_small() {
    for dir in corpus_dirs() {
        let files = files_in(&dir);
        assert!(files.len() <= 200, "{}: {} files; run `cargo fuzz cmin`", dir.display(), files.len());
        for f in files {
            let len = std::fs::metadata(&f).unwrap().len();
            assert!(len <= 64 * 1024, "{}: {len} bytes", f.display());
        }
    }
}
