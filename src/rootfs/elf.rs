//! Just enough ELF to know what a program needs before it can run in a chroot.
//!
//! A dynamically linked program names its loader in `PT_INTERP` and its
//! libraries in `DT_NEEDED`; where to look for them comes from `DT_RUNPATH`
//! or `DT_RPATH`. That is all nsdojo needs, so instead of a general ELF crate
//! this reads exactly those fields, with `pread`, without loading the whole
//! file: the ELF header, the program headers, the interpreter string, the
//! dynamic table and the strings it points at. Both classes (32/64-bit) and
//! both byte orders are handled because it costs one flag each.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::error::RootfsError;

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_STRSZ: u64 = 10;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;

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

/// Reads integers of the file's class and byte order.
struct Reader {
    file: File,
    len: u64,
    is_64: bool,
    big: bool,
}

impl Reader {
    fn bytes(&self, off: u64, n: u64) -> Result<Vec<u8>, String> {
        if off.checked_add(n).is_none_or(|end| end > self.len) {
            return Err(format!("offset {off:#x}+{n} is past the end of the file"));
        }
        let mut buf = vec![0u8; n as usize];
        self.file.read_exact_at(&mut buf, off).map_err(|e| e.to_string())?;
        Ok(buf)
    }

    fn uint(&self, b: &[u8], at: usize, size: usize) -> u64 {
        let s = &b[at..at + size];
        let fold = |acc: u64, x: &u8| (acc << 8) | u64::from(*x);
        if self.big {
            s.iter().fold(0, fold)
        } else {
            s.iter().rev().fold(0, fold)
        }
    }

    fn u16(&self, b: &[u8], at: usize) -> u16 {
        self.uint(b, at, 2) as u16
    }
    fn u32(&self, b: &[u8], at: usize) -> u32 {
        self.uint(b, at, 4) as u32
    }
    /// An address-sized field: 4 bytes in ELF32, 8 in ELF64.
    fn word(&self, b: &[u8], at: usize) -> u64 {
        self.uint(b, at, if self.is_64 { 8 } else { 4 })
    }

    /// A NUL-terminated string at `off`, at most `max` bytes long.
    fn cstr(&self, off: u64, max: u64) -> Result<String, String> {
        let n = max.min(self.len.saturating_sub(off)).min(4096);
        let b = self.bytes(off, n)?;
        let end = b.iter().position(|&c| c == 0).ok_or("unterminated string")?;
        Ok(String::from_utf8_lossy(&b[..end]).into_owned())
    }
}

struct Phdr {
    kind: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
}

/// Parse the loader-relevant parts of the ELF file at `path`.
pub fn read_elf(path: &Path) -> Result<ElfInfo, RootfsError> {
    let bad = |reason: String| RootfsError::BadElf { path: path.to_path_buf(), reason };
    let file = File::open(path).map_err(|e| RootfsError::io("open", path, e))?;
    let len = file.metadata().map_err(|e| RootfsError::io("stat", path, e))?.len();
    let mut ident = [0u8; 16];
    if len < 52 || file.read_exact_at(&mut ident, 0).is_err() || &ident[..4] != b"\x7fELF" {
        return Err(bad("no ELF magic".into()));
    }
    let is_64 = match ident[4] {
        1 => false,
        2 => true,
        c => return Err(bad(format!("unknown ELF class {c}"))),
    };
    let big = match ident[5] {
        1 => false,
        2 => true,
        d => return Err(bad(format!("unknown byte order {d}"))),
    };
    let r = Reader { file, len, is_64, big };
    parse(&r).map_err(bad)
}

fn parse(r: &Reader) -> Result<ElfInfo, String> {
    let eh = r.bytes(0, if r.is_64 { 64 } else { 52 })?;
    let machine = r.u16(&eh, 18);
    let (phoff, phentsize, phnum) = if r.is_64 {
        (r.word(&eh, 32), r.u16(&eh, 54), r.u16(&eh, 56))
    } else {
        (r.word(&eh, 28), r.u16(&eh, 42), r.u16(&eh, 44))
    };
    let min_ent = if r.is_64 { 56 } else { 32 };
    if phnum > 0 && usize::from(phentsize) < min_ent {
        return Err(format!("program header size {phentsize} is too small"));
    }
    let table = r.bytes(phoff, u64::from(phentsize) * u64::from(phnum))?;
    let phdrs: Vec<Phdr> = table
        .chunks_exact(usize::from(phentsize.max(1)))
        .map(|p| {
            // The two classes order the fields differently (p_flags moved).
            let (o, v, f) = if r.is_64 { (8, 16, 32) } else { (4, 8, 16) };
            Phdr { kind: r.u32(p, 0), offset: r.word(p, o), vaddr: r.word(p, v), filesz: r.word(p, f) }
        })
        .collect();

    let mut info = ElfInfo {
        is_64: r.is_64,
        big_endian: r.big,
        machine,
        interp: None,
        needed: Vec::new(),
        rpath: Vec::new(),
        runpath: Vec::new(),
    };
    if let Some(p) = phdrs.iter().find(|p| p.kind == PT_INTERP) {
        info.interp = Some(PathBuf::from(r.cstr(p.offset, p.filesz)?));
    }
    if let Some(p) = phdrs.iter().find(|p| p.kind == PT_DYNAMIC) {
        read_dynamic(r, p, &phdrs, &mut info)?;
    }
    Ok(info)
}

/// Walk the dynamic table. Its string table is given as a *virtual address*,
/// so it has to be mapped back to a file offset through the PT_LOAD segments.
fn read_dynamic(r: &Reader, dynamic: &Phdr, phdrs: &[Phdr], info: &mut ElfInfo) -> Result<(), String> {
    let ent = if r.is_64 { 16 } else { 8 };
    let table = r.bytes(dynamic.offset, dynamic.filesz.min(1 << 20))?;
    let mut strtab = None;
    let mut strsz = 4096;
    let mut refs = Vec::new(); // (tag, offset into strtab), resolved below
    for d in table.chunks_exact(ent) {
        let tag = r.word(d, 0);
        let val = r.word(d, ent / 2);
        match tag {
            DT_NULL => break,
            DT_STRTAB => strtab = Some(val),
            DT_STRSZ => strsz = val,
            DT_NEEDED | DT_RPATH | DT_RUNPATH => refs.push((tag, val)),
            _ => {}
        }
    }
    if refs.is_empty() {
        return Ok(());
    }
    let addr = strtab.ok_or("dynamic section without DT_STRTAB")?;
    let base = phdrs
        .iter()
        .find(|p| p.kind == PT_LOAD && addr >= p.vaddr && addr - p.vaddr < p.filesz)
        .and_then(|p| (addr - p.vaddr).checked_add(p.offset))
        .ok_or("DT_STRTAB is outside every PT_LOAD segment")?;
    for (tag, off) in refs {
        if off >= strsz {
            return Err(format!("string offset {off} is past DT_STRSZ {strsz}"));
        }
        let at = base.checked_add(off).ok_or("DT_STRTAB + offset overflows")?;
        let s = r.cstr(at, strsz - off)?;
        match tag {
            DT_NEEDED => info.needed.push(s),
            DT_RPATH => info.rpath.extend(s.split(':').map(String::from)),
            _ => info.runpath.extend(s.split(':').map(String::from)),
        }
    }
    Ok(())
}
