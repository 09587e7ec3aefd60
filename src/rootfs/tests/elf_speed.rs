//! The ELF reader (`object`) against `goblin` (a dev-dependency): they agree on every
//! program a host-binary rootfs copies and on its libraries, and `elf_reader_speed`
//! (ignored: a measurement) times both. The figures, and those of the hand-written
//! reader `object` replaced, are in `rootfs::elf`'s module doc.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::super::elf::read_elf;
use super::super::hostbin::PROGRAMS;

/// The programs on PATH and the libraries they name, as real files.
fn host_elves() -> Vec<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let mut files = BTreeSet::new();
    let mut todo: Vec<PathBuf> = PROGRAMS.iter().filter_map(|p| crate::machine::which_on(p, &path)).collect();
    while let Some(p) = todo.pop() {
        let Ok(real) = std::fs::canonicalize(&p) else { continue };
        if !files.insert(real.clone()) {
            continue;
        }
        let Ok(info) = read_elf(&real) else { continue };
        todo.extend(info.interp.clone());
        for lib in &info.needed {
            let dirs = ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/lib", "/usr/lib"];
            todo.extend(dirs.iter().map(|d| Path::new(d).join(lib)).find(|p| p.exists()));
        }
    }
    files.into_iter().collect()
}

/// The same fields through goblin, which parses a whole file read into memory.
fn goblin_needed(path: &Path) -> Option<(Option<String>, Vec<String>)> {
    let bytes = std::fs::read(path).ok()?;
    let e = goblin::elf::Elf::parse(&bytes).ok()?;
    Some((e.interpreter.map(str::to_string), e.libraries.iter().map(|s| s.to_string()).collect()))
}

#[test]
fn object_and_goblin_agree_on_this_hosts_files() {
    let files = host_elves();
    assert!(files.len() >= 5, "{files:?}");
    for f in &files {
        if let (Ok(ours), Some((interp, needed))) = (read_elf(f), goblin_needed(f)) {
            assert_eq!(ours.interp.as_ref().map(|p| p.display().to_string()), interp, "{}", f.display());
            assert_eq!(ours.needed, needed, "{}", f.display());
        }
    }
}

fn median(files: &[PathBuf], f: &dyn Fn(&Path)) -> Duration {
    let mut runs: Vec<Duration> = (0..31)
        .map(|_| {
            let t = Instant::now();
            for p in files {
                f(p);
            }
            t.elapsed()
        })
        .collect();
    runs.sort();
    runs[15]
}

#[test]
#[ignore = "a measurement: run in release with --ignored --nocapture --test-threads=1"]
fn elf_reader_speed() {
    let files = host_elves();
    let object = median(&files, &|p| drop(black_box(read_elf(p))));
    let goblin = median(&files, &|p| drop(black_box(goblin_needed(p))));
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("{} files: object {:.3} ms, goblin (whole file) {:.3} ms", files.len(), ms(object), ms(goblin));
}
