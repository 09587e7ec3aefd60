//! The fuzzers' seed corpora (`fuzz/corpus/*/`) and their findings (`fuzz/regressions/`), in process:
//! every text file goes through all four text parsers (lesson, action, expect, REPL command), and
//! the ELF and tarball corpora through the ELF reader and the tar importer; none may panic (nor
//! overflow: tests are debug builds) and all must keep the invariants the fuzz targets check. Those
//! live in `fuzz/src/lib.rs`, included here, so `cargo test` and `cargo fuzz` check the same thing.
//! No fork, no binary: the readers run in process (the importer in a scratch directory).

#[path = "../../fuzz/src/lib.rs"]
mod invariants;

use std::path::{Path, PathBuf};

use crate::harness::repo;

/// Findings not fixed yet in `src/`: (file in fuzz/regressions, parser that breaks on it).
/// The test insists they still break, so a fix is noticed and the entry removed.
const KNOWN: &[(&str, &str)] = &[];

const PARSERS: [&str; 4] = ["lesson", "action", "expect", "repl_command"];
/// Readers of untrusted bytes, each with its own corpus.
const BINARY: [&str; 2] = ["elf", "tar"];

/// Run one input through one parser; a panic is reported like a broken invariant.
fn run(parser: &str, bytes: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(bytes).ok();
    std::panic::catch_unwind(|| match (parser, text) {
        ("lesson", Some(s)) => invariants::lesson(s),
        ("action", Some(s)) => invariants::action(s),
        ("expect", Some(s)) => invariants::expect(s),
        ("repl_command", _) => invariants::repl_command(bytes),
        ("elf", _) => invariants::elf(bytes),
        ("tar", _) => invariants::tar(bytes),
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
    dirs.extend(BINARY.iter().map(|t| repo("fuzz/corpus").join(t)));
    dirs
}

/// The ELF reader and the tar importer on their own corpora (binary, so not through the text parsers).
#[test]
fn binary_corpora_keep_the_invariants_of_their_readers() {
    let mut failures = Vec::new();
    for reader in BINARY {
        let files = files_in(&repo("fuzz/corpus").join(reader));
        assert!(files.len() >= 8, "fuzz/corpus/{reader}: only {} seeds", files.len());
        for f in files {
            if let Err(why) = run(reader, &std::fs::read(&f).unwrap()) {
                failures.push(format!("{} through {reader}: {why}", f.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{} failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_corpus_file_keeps_the_invariants_of_all_parsers() {
    let mut failures = Vec::new();
    let mut inputs = 0;
    for dir in corpus_dirs().into_iter().filter(|d| !BINARY.iter().any(|b| d.ends_with(b))) {
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
