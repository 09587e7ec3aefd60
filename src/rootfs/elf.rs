//! Just enough ELF to know what a program needs before it can run in a chroot.
//!
//! A dynamically linked program names its loader in `PT_INTERP` and its
//! libraries in `DT_NEEDED`; where to look for them comes from `DT_RUNPATH`
//! or `DT_RPATH`. Those are read the way the dynamic loader reads them: from
//! the program headers only (section headers may be stripped), the string
//! table found by mapping `DT_STRTAB`'s address through the `PT_LOAD`
//! segments. Both classes (32/64-bit) and both byte orders are handled.
//!
//! The parsing is the `object` crate's (fuzzed upstream, checked arithmetic
//! throughout), reading through a `ReadCache`: only the header, the program
//! headers, the interpreter, the dynamic table and the strings are read, not
//! the whole file. Measured on the 47 programs and libraries a host-binary
//! rootfs copies on the lab machine (release, median of 31, three runs;
//! `cargo test --release --lib elf_reader_speed -- --ignored --nocapture
//! --test-threads=1`): object 0.36–0.40 ms for all 47, the hand-written
//! `pread` reader it replaced 0.28–0.29 ms, goblin (whole file read, then
//! parsed) 1.6–6.6 ms. The 0.1 ms object costs over the hand-written reader
//! is lost in copying those same files (tens of ms), so it is not a reason to
//! keep 200 lines of offset arithmetic; goblin is not used because it needs
//! the whole file in memory. The fuzz target `elf` and its corpus
//! (tests/it/fuzz_corpus.rs) hold this reader to the same invariants: no
//! panic, a one-line error.

use std::fs::File;
use std::path::{Path, PathBuf};

use object::elf;
use object::read::elf::{Dyn, FileHeader, ProgramHeader};
use object::read::{ReadCache, ReadRef, StringTable};
use object::{Endian, Endianness, FileKind};

use super::error::RootfsError;

/// What a program or library asks of the dynamic loader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfInfo {
    pub is_64: bool,
    pub big_endian: bool,
    /// `e_machine`: a 32-bit or foreign library of the same name must be
    /// skipped during the search, as the real loader does.
    pub machine: u16,
    /// `PT_INTERP`, e.g. `/lib64/ld-linux-x86-64.so.2`; `None` for static programs.
    pub interp: Option<PathBuf>,
    pub needed: Vec<String>,
    pub rpath: Vec<String>,
    pub runpath: Vec<String>,
}

impl ElfInfo {
    /// Statically linked programs (including static-pie) have no loader.
    pub fn is_static(&self) -> bool {
        self.interp.is_none()
    }

    /// Could the loader for `self` load `other`? Same class, order and machine.
    pub fn compatible(&self, other: &ElfInfo) -> bool {
        self.is_64 == other.is_64 && self.big_endian == other.big_endian && self.machine == other.machine
    }
}

/// Why a file's loader-relevant parts could not be read (shown as the reason of
/// [`RootfsError::BadElf`]).
#[derive(Debug, thiserror::Error)]
enum ElfError {
    #[error("{0}")]
    Object(#[from] object::Error),
    #[error("{0}")]
    Layout(&'static str),
}

/// The loader-relevant parts of the ELF file at `path`.
pub fn read_elf(path: &Path) -> Result<ElfInfo, RootfsError> {
    let bad = |reason: String| RootfsError::BadElf { path: path.to_path_buf(), reason };
    let file = File::open(path).map_err(|e| RootfsError::io("open", path, e))?;
    let data = ReadCache::new(file);
    if data.read_bytes_at(0, 4) != Ok(b"\x7fELF".as_slice()) {
        return Err(bad("no ELF magic".into()));
    }
    match FileKind::parse(&data) {
        Ok(FileKind::Elf32) => parse::<elf::FileHeader32<Endianness>>(&data),
        Ok(FileKind::Elf64) => parse::<elf::FileHeader64<Endianness>>(&data),
        Ok(_) => Err(ElfError::Layout("not an ELF file")),
        Err(e) => Err(e.into()),
    }
    .map_err(|e| bad(e.to_string()))
}

fn parse<H: FileHeader<Endian = Endianness>>(data: &ReadCache<File>) -> Result<ElfInfo, ElfError> {
    let header = H::parse(data)?;
    let endian = header.endian()?;
    let phdrs = header.program_headers(endian, data)?;
    let mut info = ElfInfo {
        is_64: header.is_class_64(),
        big_endian: endian.is_big_endian(),
        machine: header.e_machine(endian).0,
        interp: None,
        needed: Vec::new(),
        rpath: Vec::new(),
        runpath: Vec::new(),
    };
    if let Some(interp) = phdrs.iter().find_map(|p| p.interpreter(endian, data).transpose()) {
        info.interp = Some(PathBuf::from(String::from_utf8_lossy(interp?).into_owned()));
    }
    if let Some(dynamic) = phdrs.iter().find_map(|p| p.dynamic(endian, data).transpose()) {
        read_dynamic::<H>(endian, data, phdrs, dynamic?, &mut info)?;
    }
    Ok(info)
}

/// Walk the dynamic table up to `DT_NULL`. Its string table is given as a *virtual
/// address*, so it is found through the `PT_LOAD` segment that holds it.
fn read_dynamic<H: FileHeader<Endian = Endianness>>(
    endian: Endianness,
    data: &ReadCache<File>,
    phdrs: &[H::ProgramHeader],
    table: &[H::Dyn],
    info: &mut ElfInfo,
) -> Result<(), ElfError> {
    let (mut strtab, mut strsz) = (None, 4096);
    let mut refs = Vec::new(); // (tag, offset into strtab), resolved below
    for d in table {
        match d.tag(endian) {
            elf::DT_NULL => break,
            elf::DT_STRTAB => strtab = Some(d.val(endian)),
            elf::DT_STRSZ => strsz = d.val(endian),
            t @ (elf::DT_NEEDED | elf::DT_RPATH | elf::DT_RUNPATH) => refs.push((t, d.val(endian))),
            _ => {}
        }
    }
    if refs.is_empty() {
        return Ok(());
    }
    let addr = strtab.ok_or(ElfError::Layout("dynamic section without DT_STRTAB"))?;
    let start = phdrs
        .iter()
        .filter(|p| p.p_type(endian) == elf::PT_LOAD)
        .find_map(|p| {
            let (vaddr, offset, filesz) =
                (p.p_vaddr(endian).into(), p.p_offset(endian).into(), p.p_filesz(endian).into());
            let within = addr.checked_sub(vaddr).filter(|d| *d < filesz)?;
            within.checked_add(offset)
        })
        .ok_or(ElfError::Layout("DT_STRTAB is outside every PT_LOAD segment"))?;
    // Strings are read up to their NUL, not the whole table.
    let strings = StringTable::new(
        data,
        start,
        start.checked_add(strsz).ok_or(ElfError::Layout("DT_STRTAB + DT_STRSZ overflows"))?,
    );
    for (tag, off) in refs {
        let s = u32::try_from(off)
            .ok()
            .and_then(|o| strings.get(o).ok())
            .ok_or(ElfError::Layout("a string is past DT_STRSZ"))?;
        let s = String::from_utf8_lossy(s).into_owned();
        match tag {
            elf::DT_NEEDED => info.needed.push(s),
            elf::DT_RPATH => info.rpath.extend(s.split(':').map(String::from)),
            _ => info.runpath.extend(s.split(':').map(String::from)),
        }
    }
    Ok(())
}
