//! The tools nsdojo puts into built trees: the escape_chroot ELF (its
//! headers, and running it where this machine can) and add_tools.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::super::escape_code;
use super::super::escape_elf::{elf, escape_chroot_elf, BASE, EM_AARCH64, EM_X86_64, HEADERS};
use super::super::tools::add_tools;
use super::link;

fn u16_at(f: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(f[at..at + 2].try_into().unwrap())
}
fn u32_at(f: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(f[at..at + 4].try_into().unwrap())
}
fn u64_at(f: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(f[at..at + 8].try_into().unwrap())
}

/// The fields the kernel's binfmt_elf reads, for one machine's file.
fn check_headers(f: &[u8], machine: u16) {
    assert_eq!(&f[..4], b"\x7fELF");
    assert_eq!(&f[4..7], &[2, 1, 1], "ELFCLASS64, little-endian, EV_CURRENT");
    assert_eq!(u16_at(f, 16), 2, "ET_EXEC");
    assert_eq!(u16_at(f, 18), machine);
    assert_eq!(u32_at(f, 20), 1, "e_version");
    let (entry, phoff) = (u64_at(f, 24), u64_at(f, 32));
    assert_eq!(
        (phoff, u16_at(f, 52), u16_at(f, 54), u16_at(f, 56)),
        (64, 64, 56, 1),
        "phoff, ehsize, phentsize, phnum"
    );
    assert_eq!(u16_at(f, 60), 0, "no section headers");
    let ph = &f[phoff as usize..phoff as usize + 56];
    assert_eq!(u32_at(ph, 0), 1, "PT_LOAD");
    assert_eq!(u32_at(ph, 4), 5, "PF_R | PF_X");
    let (offset, vaddr, filesz, memsz, align) =
        (u64_at(ph, 8), u64_at(ph, 16), u64_at(ph, 32), u64_at(ph, 40), u64_at(ph, 48));
    assert_eq!((offset, vaddr, align), (0, BASE, 0x1000));
    assert_eq!((filesz, memsz), (f.len() as u64, f.len() as u64), "the segment is the whole file");
    assert!(entry >= vaddr + HEADERS as u64 && entry < vaddr + filesz, "entry {entry:#x} inside the code");
    assert_eq!(entry % 4, 0, "aarch64 needs aligned instructions");
}

#[test]
fn escape_elf_headers_are_valid_for_both_arches() {
    check_headers(&elf(EM_X86_64, &escape_code::X86_64), EM_X86_64);
    check_headers(&elf(EM_AARCH64, &escape_code::AARCH64), EM_AARCH64);
    let own = escape_chroot_elf();
    if cfg!(target_arch = "x86_64") {
        check_headers(own.as_deref().unwrap(), EM_X86_64);
    } else if cfg!(target_arch = "aarch64") {
        check_headers(own.as_deref().unwrap(), EM_AARCH64);
    } else {
        assert!(own.is_none());
    }
    // The lab copies the rootfs into a 64m tmpfs; the tool must stay tiny.
    assert!(own.map_or(0, |f| f.len()) < 1024);
}

#[test]
fn escape_elf_is_accepted_by_an_elf_reader() {
    for (machine, code) in [(EM_X86_64, &escape_code::X86_64[..]), (EM_AARCH64, &escape_code::AARCH64[..])] {
        let f = elf(machine, code);
        let parsed = object::read::elf::ElfFile64::<object::Endianness>::parse(&f[..]).unwrap();
        use object::Object;
        assert_eq!(parsed.entry(), BASE + HEADERS as u64);
        assert!(parsed.is_little_endian() && parsed.is_64());
    }
}

/// Run the tool in a fresh temp dir with no input. Not root (or no
/// CAP_SYS_CHROOT), chroot(".out") fails: exit 1 and the deck's hint. Root
/// only escapes a root it never was confined in: the shell it runs reads
/// the empty stdin and exits 0. Either way `.out` was made.
fn run_escape(runner: &[&str], file: &[u8]) -> Output {
    let t = tempfile::tempdir().unwrap();
    let prog = t.path().join("escape_chroot");
    fs::write(&prog, file).unwrap();
    fs::set_permissions(&prog, fs::Permissions::from_mode(0o755)).unwrap();
    // Another test thread forking while the file was open for writing makes
    // exec fail with ETXTBSY until that child execs; try again briefly.
    for _ in 0..50 {
        let mut cmd = match runner {
            [] => Command::new(&prog),
            [first, rest @ ..] => {
                let mut c = Command::new(first);
                c.args(rest).arg(&prog);
                c
            }
        };
        match cmd.current_dir(t.path()).stdin(Stdio::null()).output() {
            Ok(out) => {
                assert!(t.path().join(".out").is_dir(), "mkdir .out");
                return out;
            }
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("run {}: {e}", prog.display()),
        }
    }
    panic!("{}: text file busy", prog.display());
}

fn check_run(out: &Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(1) => assert_eq!(err, "escape_chroot: chroot(.out) failed (root? CAP_SYS_CHROOT?)\n"),
        Some(0) => assert!(nix::unistd::geteuid().is_root() && err.is_empty(), "{err}"),
        other => panic!("exit {other:?}: {err}"),
    }
}

#[test]
fn escape_elf_runs_natively() {
    let Some(f) = escape_chroot_elf() else { return };
    check_run(&run_escape(&[], &f));
}

#[test]
fn escape_elf_for_aarch64_runs_under_qemu() {
    let Some(qemu) = crate::machine::which("qemu-aarch64-static") else {
        eprintln!("no qemu-aarch64-static; skipped");
        return;
    };
    let qemu = qemu.to_string_lossy().into_owned();
    check_run(&run_escape(&[&qemu], &elf(EM_AARCH64, &escape_code::AARCH64)));
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn add_tools_writes_both_programs_0755() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    add_tools(root).unwrap();
    let bin = root.join("usr/local/bin");
    for d in [root.join("usr"), root.join("usr/local"), bin.clone()] {
        assert_eq!(mode(&d), 0o755, "{}", d.display());
    }
    assert_eq!(mode(&bin.join("dojo")), 0o755);
    assert!(fs::read_to_string(bin.join("dojo")).unwrap().starts_with("#!/bin/sh\n"));
    match escape_chroot_elf() {
        Some(elf) => {
            assert_eq!(mode(&bin.join("escape_chroot")), 0o755);
            assert_eq!(fs::read(bin.join("escape_chroot")).unwrap(), elf);
        }
        None => assert!(!bin.join("escape_chroot").exists()),
    }
    // Again, over its own files (a tarball may ship either name): replaced.
    fs::write(bin.join("dojo"), "old").unwrap();
    add_tools(root).unwrap();
    assert!(fs::read_to_string(bin.join("dojo")).unwrap().starts_with("#!/bin/sh\n"));
}

#[test]
fn add_tools_never_writes_below_a_symlink() {
    let outside = tempfile::tempdir().unwrap();
    // `usr` leads out of the tree, as a hostile tarball's could.
    let t = tempfile::tempdir().unwrap();
    link(t.path(), "usr", &outside.path().display().to_string());
    add_tools(t.path()).unwrap();
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);

    // Deeper: usr/local/bin is the symlink.
    let t = tempfile::tempdir().unwrap();
    link(t.path(), "usr/local/bin", &outside.path().display().to_string());
    add_tools(t.path()).unwrap();
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);

    // A tool name that is a symlink to a host file: the link is replaced,
    // the file it pointed at is untouched.
    let victim = outside.path().join("victim");
    fs::write(&victim, "host").unwrap();
    let t = tempfile::tempdir().unwrap();
    link(t.path(), "usr/local/bin/dojo", &victim.display().to_string());
    add_tools(t.path()).unwrap();
    assert_eq!(fs::read_to_string(&victim).unwrap(), "host");
    assert!(fs::symlink_metadata(t.path().join("usr/local/bin/dojo")).unwrap().is_file());
}
