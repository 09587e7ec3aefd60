//! Unpacking a tarball (e.g. `docker export` output) without trusting it.
//!
//! nsdojo runs as root and unpacks before any chroot, so a hostile or merely
//! sloppy archive could write anywhere on the host: through `../` or `/`
//! in an entry name, or by first planting a symlink (`bin -> /etc`) and then
//! writing `bin/passwd` through it. The tar crate's `unpack` has defences,
//! but the lab wants to *say* which entry was refused and why, and to skip
//! device nodes rather than fail, so the entries are applied one by one here:
//!
//! * a name that is absolute or has a `..` component is refused;
//! * the directories leading to an entry are walked one component at a time
//!   with `lstat`; a symlink on the way is followed only if its target is
//!   relative and stays inside the tree, otherwise the entry is refused;
//! * files are created with `O_CREAT|O_EXCL` after removing whatever was
//!   there, so the last component is never followed either;
//! * device nodes and fifos are skipped and counted (a rootfs gets its /dev
//!   from the sandbox, and mknod would need privileges we may not have).
//!
//! The caller unpacks into a temp dir that is renamed into the cache only
//! when everything succeeded (see cache.rs), so a corrupt archive leaves
//! nothing behind.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use flate2::read::MultiGzDecoder;
use tar::{Archive, EntryType};

use super::cache::{stamp, Key};
use super::error::{IoContext, RootfsError};

/// What [`unpack`] did, for the meta file and the curious.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TarStats {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub hardlinks: u64,
    /// Device nodes and fifos, which are never created.
    pub skipped_special: u64,
}

pub(super) fn key(tar: &Path) -> Result<Key, RootfsError> {
    let real = fs::canonicalize(tar).ctx("resolve", tar)?;
    Ok(Key::new("tar", &[stamp(&real)?]))
}

/// Counts bytes and notices end-of-file. The tar crate treats EOF right at a
/// header boundary as a normal end, but every real archive ends with zero
/// blocks, which make the crate stop *before* EOF. Hitting EOF therefore
/// means the archive was cut short exactly between two entries.
struct EofWatch<R> {
    inner: R,
    hit_eof: bool,
}

impl<R: Read> Read for EofWatch<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hit_eof |= n == 0 && !buf.is_empty();
        Ok(n)
    }
}

/// Unpack `tar` (plain or gzip) into `root`, an empty directory.
pub fn unpack(tar: &Path, root: &Path) -> Result<TarStats, RootfsError> {
    let mut file = File::open(tar).ctx("open", tar)?;
    let mut magic = [0u8; 6];
    let n = file.read(&mut magic).ctx("read", tar)?;
    file.rewind().ctx("read", tar)?;
    let reader: Box<dyn Read> = match &magic[..n] {
        [0x1f, 0x8b, ..] => Box::new(MultiGzDecoder::new(io::BufReader::new(file))),
        [0xfd, b'7', b'z', b'X', b'Z', 0] => return Err(compression(tar, "xz")),
        [b'B', b'Z', b'h', ..] => return Err(compression(tar, "bzip2")),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => return Err(compression(tar, "zstd")),
        _ => Box::new(io::BufReader::new(file)),
    };
    let mut u = Unpacker {
        tar,
        root,
        stats: TarStats::default(),
        dir_modes: BTreeMap::new(),
        as_root: nix::unistd::geteuid().is_root(),
    };
    let mut archive = Archive::new(EofWatch { inner: reader, hit_eof: false });
    for entry in archive.entries().map_err(|e| u.corrupt(&e))? {
        let mut entry = entry.map_err(|e| u.corrupt(&e))?;
        u.apply(&mut entry)?;
    }
    if archive.into_inner().hit_eof {
        return Err(u.corrupt_msg("no end-of-archive marker"));
    }
    // Directory modes last, children before parents (reverse path order): a
    // read-only directory (0555 is common) must not stop its own contents
    // from being written.
    for (dir, mode) in u.dir_modes.iter().rev() {
        fs::set_permissions(dir, fs::Permissions::from_mode(*mode)).ctx("chmod", dir)?;
    }
    Ok(u.stats)
}

fn compression(tar: &Path, kind: &'static str) -> RootfsError {
    RootfsError::TarCompression { tar: tar.to_path_buf(), kind }
}

struct Unpacker<'a> {
    tar: &'a Path,
    root: &'a Path,
    stats: TarStats,
    /// Directory -> mode from its (last) entry, applied after all files.
    dir_modes: BTreeMap<PathBuf, u32>,
    as_root: bool,
}

impl Unpacker<'_> {
    fn corrupt(&self, e: &io::Error) -> RootfsError {
        let detail = match e.kind() {
            io::ErrorKind::UnexpectedEof => "unexpected end of archive".to_string(),
            _ if e.to_string() == "failed to read entire block" => "unexpected end of archive".to_string(),
            _ => e.to_string(),
        };
        self.corrupt_msg(&detail)
    }

    fn corrupt_msg(&self, detail: &str) -> RootfsError {
        // The tar crate quotes header bytes in its messages: a corrupt header can hold newlines
        // and control bytes, which must not break the one-line error (found by fuzz/tar).
        let detail: String = detail
            .chars()
            .map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() })
            .collect();
        RootfsError::TarCorrupt { tar: self.tar.to_path_buf(), detail }
    }

    fn escape(&self, entry: &str) -> RootfsError {
        RootfsError::TarEscape { tar: self.tar.to_path_buf(), entry: entry.to_string() }
    }

    /// The components of an entry name, or a refusal if it could leave the tree.
    fn components<'p>(&self, raw: &'p [u8], shown: &str) -> Result<Vec<&'p OsStr>, RootfsError> {
        let mut out = Vec::new();
        for c in Path::new(OsStr::from_bytes(raw)).components() {
            match c {
                Component::Normal(n) => out.push(n),
                Component::CurDir => {}
                Component::RootDir | Component::ParentDir | Component::Prefix(_) => return Err(self.escape(shown)),
            }
        }
        Ok(out)
    }

    fn apply<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<(), RootfsError> {
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let comps = self.components(&raw, &shown)?;
        let kind = entry.header().entry_type();
        if matches!(kind, EntryType::Char | EntryType::Block | EntryType::Fifo) {
            self.stats.skipped_special += 1;
            return Ok(());
        }
        let Some((name, parents)) = comps.split_last() else {
            return Ok(()); // "./": the root itself, which we already made
        };
        let dest = self.parent_dir(parents, &shown)?.join(name);
        let mode = entry.header().mode().map_err(|e| self.corrupt(&e))? & 0o7777;
        match kind {
            EntryType::Directory => {
                match fs::symlink_metadata(&dest) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => {
                        fs::remove_file(&dest).ctx("replace", &dest)?;
                        fs::create_dir(&dest).ctx("create directory", &dest)?;
                    }
                    Err(_) => fs::create_dir(&dest).ctx("create directory", &dest)?,
                }
                self.dir_modes.insert(dest.clone(), mode);
                self.stats.dirs += 1;
            }
            EntryType::Symlink => {
                let target = entry.link_name_bytes().ok_or_else(|| self.corrupt_msg("symlink without target"))?;
                self.clear(&dest, &shown)?;
                // A symlink itself is harmless whatever it says; only writing
                // *through* one is checked (parent_dir).
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), &dest).ctx("create symlink", &dest)?;
                self.stats.symlinks += 1;
            }
            EntryType::Link => {
                let target = entry.link_name_bytes().ok_or_else(|| self.corrupt_msg("hard link without target"))?;
                let shown_target = String::from_utf8_lossy(&target).into_owned();
                let tcomps = self.components(&target, &shown_target)?;
                let Some((tname, tparents)) = tcomps.split_last() else {
                    return Err(self.escape(&shown_target));
                };
                let existing = self.parent_dir(tparents, &shown)?.join(tname);
                self.clear(&dest, &shown)?;
                // link(2) does not follow a symlink at `existing`, so this
                // cannot be used to reach a host file either.
                fs::hard_link(&existing, &dest).ctx("link", &dest)?;
                self.stats.hardlinks += 1;
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.clear(&dest, &shown)?;
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&dest)
                    .map_err(|e| RootfsError::io("create", &dest, e))?;
                let size = entry.size();
                let written = self.copy_data(entry, &mut f, &dest)?;
                if written < size {
                    return Err(self.corrupt_msg("unexpected end of archive"));
                }
                self.chown(entry, &dest)?;
                // After chown, which clears set-id bits.
                fs::set_permissions(&dest, fs::Permissions::from_mode(mode)).ctx("chmod", &dest)?;
                self.stats.files += 1;
                return Ok(());
            }
            // PAX global headers and types we do not know: nothing to create.
            _ => return Ok(()),
        }
        self.chown(entry, &dest)
    }

    fn copy_data<R: Read>(&self, entry: &mut tar::Entry<R>, f: &mut File, dest: &Path) -> Result<u64, RootfsError> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0;
        loop {
            let n = entry.read(&mut buf).map_err(|e| self.corrupt(&e))?;
            if n == 0 {
                return Ok(total);
            }
            f.write_all(&buf[..n]).map_err(|e| RootfsError::io("write", dest, e))?;
            total += n as u64;
        }
    }

    /// Ownership is kept only when we are root (otherwise chown would fail).
    fn chown<R: Read>(&self, entry: &tar::Entry<R>, dest: &Path) -> Result<(), RootfsError> {
        if !self.as_root {
            return Ok(());
        }
        let h = entry.header();
        let (uid, gid) = (h.uid().unwrap_or(0) as u32, h.gid().unwrap_or(0) as u32);
        std::os::unix::fs::lchown(dest, Some(uid), Some(gid)).ctx("chown", dest)
    }

    /// Remove what is at `dest` so the entry can replace it (tar semantics),
    /// but never a directory: that would silently drop earlier entries.
    fn clear(&self, dest: &Path, shown: &str) -> Result<(), RootfsError> {
        match fs::symlink_metadata(dest) {
            Ok(m) if m.is_dir() => {
                Err(RootfsError::TarReplacesDir { tar: self.tar.to_path_buf(), entry: shown.to_string() })
            }
            Ok(_) => fs::remove_file(dest).ctx("replace", dest),
            Err(_) => Ok(()),
        }
    }

    /// The host directory that `parents` names inside the tree, creating
    /// missing directories, following only symlinks that stay inside.
    fn parent_dir(&self, parents: &[&OsStr], shown: &str) -> Result<PathBuf, RootfsError> {
        let mut todo: Vec<OsString> = parents.iter().rev().map(|c| c.to_os_string()).collect();
        let mut cur = self.root.to_path_buf();
        let mut depth = 0usize; // components of `cur` below root
        let mut last_link: Option<(String, String)> = None;
        let mut links = 0;
        let refuse = |link: &(String, String)| RootfsError::TarThroughSymlink {
            tar: self.tar.to_path_buf(),
            entry: shown.to_string(),
            link: link.0.clone(),
            target: link.1.clone(),
        };
        while let Some(c) = todo.pop() {
            if c == ".." {
                // Only a link target can bring `..` here (names were checked).
                if depth == 0 {
                    return Err(match &last_link {
                        Some(link) => refuse(link),
                        None => self.escape(shown),
                    });
                }
                cur.pop();
                depth -= 1;
                continue;
            }
            let next = cur.join(&c);
            match fs::symlink_metadata(&next) {
                Ok(m) if m.is_dir() => {}
                Ok(m) if m.file_type().is_symlink() => {
                    let target = fs::read_link(&next).ctx("readlink", &next)?;
                    let rel = next.strip_prefix(self.root).unwrap_or(&next).display().to_string();
                    let link = (rel, target.display().to_string());
                    links += 1;
                    if target.is_absolute() || links > 40 {
                        return Err(refuse(&link));
                    }
                    for t in target.components().rev() {
                        match t {
                            Component::Normal(n) => todo.push(n.to_os_string()),
                            Component::ParentDir => todo.push("..".into()),
                            _ => {}
                        }
                    }
                    last_link = Some(link);
                    continue;
                }
                Ok(_) => {
                    return Err(RootfsError::io("create directory", &next, io::Error::from_raw_os_error(libc::ENOTDIR)))
                }
                Err(_) => fs::create_dir(&next).ctx("create directory", &next)?,
            }
            cur = next;
            depth += 1;
        }
        Ok(cur)
    }
}
