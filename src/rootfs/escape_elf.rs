//! `escape_chroot`, the deck's chroot escape, as a tiny static ELF that
//! nsdojo writes into each rootfs it builds.
//!
//! Why: the chroot lesson shows that chroot alone is not a jail, with a C
//! program that escapes it. Workshop machines have no C compiler, and the
//! point is lost if students only read the program, so nsdojo carries it
//! ready to run: machine code (`escape_code.rs`, assembled by
//! `scripts/escape-elf.sh` from `escape_chroot.{x86_64,aarch64}.s`) behind
//! the ELF header written here. It makes the deck's four calls for real:
//! `mkdir(".out")`, `chroot(".out")`, `chdir("..")` (64 times) and
//! `chroot(".")`, then runs `/bin/sh` as argv[0] `/bin/sh` (the deck's
//! `execl("/bin/sh", "-i", NULL)` passes `-i` as argv[0], not as an option).
//!
//! What it is not: a general assembler or ELF linker. The code must be
//! position independent with no relocations (the script checks), it gets
//! one read+execute segment covering the whole file, and only the two
//! release targets have code; elsewhere the tool is simply left out.

use super::escape_code;

/// Where the one segment is mapped; the usual address for a static ET_EXEC.
pub(super) const BASE: u64 = 0x40_0000;
/// ELF64 header and one program header; the code follows at this offset.
pub(super) const HEADERS: usize = EHDR_SIZE + PHDR_SIZE;
const EHDR_SIZE: usize = 64;
const PHDR_SIZE: usize = 56;

pub(super) const EM_X86_64: u16 = 62;
pub(super) const EM_AARCH64: u16 = 183;
const ET_EXEC: u16 = 2;
const PT_LOAD: u32 = 1;
const PF_X: u32 = 1;
const PF_R: u32 = 4;

/// The tool for the architecture nsdojo was built for, or `None` where
/// there is no code for it.
pub(crate) fn escape_chroot_elf() -> Option<Vec<u8>> {
    if cfg!(target_arch = "x86_64") {
        Some(elf(EM_X86_64, &escape_code::X86_64))
    } else if cfg!(target_arch = "aarch64") {
        Some(elf(EM_AARCH64, &escape_code::AARCH64))
    } else {
        None
    }
}

/// A little-endian ELF64 executable: header, one PT_LOAD (R+X) for the
/// whole file at [`BASE`], and `code`, entered at its first byte. Both
/// headers are multiples of 8 bytes, so aarch64 code starts 4-aligned.
pub(super) fn elf(machine: u16, code: &[u8]) -> Vec<u8> {
    let size = (HEADERS + code.len()) as u64;
    let mut f = Vec::with_capacity(HEADERS + code.len());
    // e_ident: magic, ELFCLASS64, ELFDATA2LSB, EV_CURRENT, System V ABI, padding.
    f.extend_from_slice(b"\x7fELF");
    f.extend_from_slice(&[2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    f.extend_from_slice(&ET_EXEC.to_le_bytes());
    f.extend_from_slice(&machine.to_le_bytes());
    f.extend_from_slice(&1u32.to_le_bytes()); // e_version
    f.extend_from_slice(&(BASE + HEADERS as u64).to_le_bytes()); // e_entry
    f.extend_from_slice(&(EHDR_SIZE as u64).to_le_bytes()); // e_phoff
    f.extend_from_slice(&0u64.to_le_bytes()); // e_shoff: no section headers
    f.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    f.extend_from_slice(&(EHDR_SIZE as u16).to_le_bytes());
    f.extend_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
    f.extend_from_slice(&1u16.to_le_bytes()); // e_phnum
    f.extend_from_slice(&[0; 6]); // e_shentsize, e_shnum, e_shstrndx
    debug_assert_eq!(f.len(), EHDR_SIZE);

    f.extend_from_slice(&PT_LOAD.to_le_bytes());
    f.extend_from_slice(&(PF_R | PF_X).to_le_bytes());
    f.extend_from_slice(&0u64.to_le_bytes()); // p_offset: from the first byte
    f.extend_from_slice(&BASE.to_le_bytes()); // p_vaddr
    f.extend_from_slice(&BASE.to_le_bytes()); // p_paddr
    f.extend_from_slice(&size.to_le_bytes()); // p_filesz
    f.extend_from_slice(&size.to_le_bytes()); // p_memsz: no .bss
    f.extend_from_slice(&0x1000u64.to_le_bytes()); // p_align: a page
    debug_assert_eq!(f.len(), HEADERS);

    f.extend_from_slice(code);
    f
}
