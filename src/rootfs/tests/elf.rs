//! The ELF reader, against real host files and broken ones.

use std::fs;
use std::path::Path;

use super::super::elf::read_elf;
use super::super::RootfsError;
use super::put;

#[test]
fn dynamic_program_has_loader_and_libc() {
    let sh = fs::canonicalize("/bin/sh").unwrap();
    let info = read_elf(&sh).unwrap();
    let interp = info.interp.clone().expect("/bin/sh is dynamically linked here");
    assert!(interp.is_absolute() && interp.exists(), "{interp:?}");
    assert!(info.needed.iter().any(|n| n.starts_with("libc.so")), "{:?}", info.needed);
    assert!(!info.is_static());
    assert_eq!(info.is_64, cfg!(target_pointer_width = "64"));
    assert!(info.compatible(&info));
}

#[test]
fn library_has_needed_but_no_loader() {
    let info = read_elf(&fs::canonicalize("/bin/ls").unwrap()).unwrap();
    let libs: Vec<_> = info.needed.clone();
    assert!(libs.len() >= 2, "{libs:?}"); // libselinux + libc on Debian
                                          // libselinux itself needs libc, and is a library: no PT_INTERP.
    let dir = Path::new("/lib/x86_64-linux-gnu");
    if let Some(sel) = libs.iter().map(|l| dir.join(l)).find(|p| p.exists() && !p.ends_with("libc.so.6")) {
        let lib = read_elf(&sel).unwrap();
        assert!(lib.interp.is_none());
        assert!(lib.needed.iter().any(|n| n == "libc.so.6"), "{:?}", lib.needed);
    }
}

#[test]
fn static_busybox_has_no_interp() {
    let Some(bb) = super::host_busybox() else {
        eprintln!("no static busybox on PATH; skipped");
        return;
    };
    assert!(read_elf(&bb).unwrap().is_static());
}

#[test]
fn non_elf_and_truncated_elf_are_errors_not_panics() {
    let t = tempfile::tempdir().unwrap();
    let script = put(t.path(), "script", "#!/bin/sh\necho hi\n", 0o755);
    let e = read_elf(&script).unwrap_err();
    assert_eq!(e.to_string(), format!("{}: not a usable ELF file (no ELF magic)", script.display()));

    // Cut a real program after its ELF header: the program headers are gone.
    let sh = fs::read(fs::canonicalize("/bin/sh").unwrap()).unwrap();
    for len in [64, 100, 1000] {
        let cut = t.path().join(format!("cut{len}"));
        fs::write(&cut, &sh[..len]).unwrap();
        assert!(matches!(read_elf(&cut), Err(RootfsError::BadElf { .. })), "len {len}");
    }
    // Garbage after a valid ident.
    let mut junk = sh[..16].to_vec();
    junk.extend(std::iter::repeat_n(0xff, 200));
    let j = t.path().join("junk");
    fs::write(&j, junk).unwrap();
    assert!(matches!(read_elf(&j), Err(RootfsError::BadElf { .. })));
}

/// Two seeds of the `elf` fuzz corpus are whole programs in miniature: the reader must still
/// find what they name, so the corpus keeps reaching the dynamic table (not just the errors).
#[test]
fn corpus_seeds_with_a_dynamic_table_are_read() {
    let seed =
        |name: &str| read_elf(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/elf").join(name)).unwrap();
    let x86 = seed("dynamic-needed-runpath");
    assert_eq!((x86.is_64, x86.big_endian, x86.machine), (true, false, 62));
    assert_eq!(x86.interp.as_deref(), Some(Path::new("/lib64/ld-linux-x86-64.so.2")));
    assert_eq!((x86.needed, x86.runpath), (vec!["libc.so.6".to_string()], vec!["/opt/lib".to_string()]));
    let ppc = seed("elf32-big-endian-dynamic-rpath");
    assert_eq!((ppc.is_64, ppc.big_endian, ppc.machine), (false, true, 20));
    assert_eq!(ppc.interp.as_deref(), Some(Path::new("/lib/ld.so.1")));
    assert_eq!((ppc.needed, ppc.rpath), (vec!["libc.so.6".to_string()], vec!["/opt/lib32".to_string()]));
}
