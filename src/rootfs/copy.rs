//! Copying a tree with plain syscalls, for filling the tmpfs of pivot_root.
//!
//! Inside the sandbox there may be no `cp` (the new root is not populated
//! yet) and spawning one would hide the interesting part from the student,
//! so the copy is done here: mkdir, open, copy_file_range, symlink, link,
//! chown, chmod. It keeps what makes a rootfs work: modes (including set-id
//! bits and the sticky /tmp), symlinks as symlinks (never followed: an
//! absolute link means something else after the root change), ownership
//! when we are root, and hard links within the tree as hard links.
//!
//! The most likely failure is a tmpfs mounted too small, so ENOSPC (and
//! EDQUOT) become `RootfsError::NoSpace`, and the failing call is recorded
//! in the trace as strace would show it. Device nodes, fifos and sockets are
//! skipped (the sandbox builds its own /dev), and directories on another
//! filesystem are created empty but not entered, like `cp -x`, so a tree
//! with /proc mounted inside does not copy /proc.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use super::error::{HumanBytes, RootfsError};
use crate::trace::{quote, Syscall, Trace};

/// What [`copy_tree`] copied.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CopyStats {
    /// Regular files, hard links included.
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    /// File data copied (a hard-linked file counts once).
    pub bytes: u64,
}

/// Copy the tree `src` into `dst`: created if missing (its parent must
/// exist), or filled if it is an existing directory such as a fresh tmpfs
/// mount point. See the module docs for what is kept. One summary record is
/// added to `trace`, preceded by the failing call if there is one.
pub fn copy_tree(src: &Path, dst: &Path, trace: &mut Trace) -> Result<CopyStats, RootfsError> {
    let mut c = Copier::new(trace);
    let result = c.run(src, dst);
    let summary = format!("copy_tree({}, {})", q(src), q(dst));
    match &result {
        Ok(()) => {
            let s = c.stats;
            let note = crate::msg::Msg::CopySummary {
                files: s.files,
                dirs: s.dirs,
                symlinks: s.symlinks,
                bytes: HumanBytes(s.bytes).to_string(),
                skipped: c.skipped,
                mount_points: c.mount_points,
            };
            c.trace.push(Syscall::ok(summary, 0).with_note(note));
        }
        Err(_) => {
            let errno = c.trace.last_errno().unwrap_or(Errno::EIO);
            c.trace.push(Syscall::failed(summary, errno));
        }
    }
    result.map(|()| c.stats)
}

fn q(p: &Path) -> String {
    quote(&p.to_string_lossy())
}

pub(super) struct Copier<'t> {
    trace: &'t mut Trace,
    stats: CopyStats,
    as_root: bool,
    /// (dev, ino) of multiply-linked source files -> their first copy.
    linked: HashMap<(u64, u64), PathBuf>,
    /// Directories to finish (owner, mode) once their contents are in.
    dirs: Vec<(PathBuf, fs::Metadata)>,
    skipped: u64,
    mount_points: u64,
}

impl<'t> Copier<'t> {
    pub(super) fn new(trace: &'t mut Trace) -> Self {
        Copier {
            trace,
            stats: CopyStats::default(),
            as_root: nix::unistd::geteuid().is_root(),
            linked: HashMap::new(),
            dirs: Vec::new(),
            skipped: 0,
            mount_points: 0,
        }
    }

    /// Turn an io::Result into ours, recording the failing call in the trace.
    fn sys<T>(
        &mut self,
        res: io::Result<T>,
        op: &'static str,
        path: &Path,
        call: impl FnOnce() -> String,
    ) -> Result<T, RootfsError> {
        res.map_err(|e| {
            let errno = Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
            let mut rec = Syscall::failed(call(), errno);
            if matches!(errno, Errno::ENOSPC | Errno::EDQUOT) {
                rec = rec.with_note(crate::msg::Msg::FilesystemFull);
            }
            self.trace.push(rec);
            RootfsError::io_or_full(op, path, e)
        })
    }

    fn run(&mut self, src: &Path, dst: &Path) -> Result<(), RootfsError> {
        let top = fs::symlink_metadata(src);
        let top = self.sys(top, "copy", src, || format!("lstat({}, ...)", q(src)))?;
        if !top.is_dir() {
            let e = Err(io::Error::from_raw_os_error(libc::ENOTDIR));
            return self.sys(e, "copy", src, || format!("opendir({})", q(src)));
        }
        match fs::symlink_metadata(dst) {
            Ok(m) if m.is_dir() => {}
            _ => self.mkdir(dst)?,
        }
        self.dirs.push((dst.to_path_buf(), top.clone()));
        // `dst` may be inside `src` (copying / to /mnt/new): never copy the
        // copy into itself, like cp's "cannot copy a directory into itself".
        let d = fs::symlink_metadata(dst);
        let d = self.sys(d, "stat", dst, || format!("lstat({}, ...)", q(dst)))?;
        let dst_id = (d.dev(), d.ino());
        let mut stack = vec![(src.to_path_buf(), dst.to_path_buf())];
        while let Some((from_dir, to_dir)) = stack.pop() {
            let rd = fs::read_dir(&from_dir);
            let rd = self.sys(rd, "read directory", &from_dir, || {
                format!("openat(AT_FDCWD, {}, O_RDONLY|O_DIRECTORY)", q(&from_dir))
            })?;
            for entry in rd {
                let entry =
                    self.sys(entry, "read directory", &from_dir, || format!("getdents64({}, ...)", q(&from_dir)))?;
                let (from, to) = (entry.path(), to_dir.join(entry.file_name()));
                let meta = entry.metadata();
                let meta = self.sys(meta, "stat", &from, || format!("lstat({}, ...)", q(&from)))?;
                let ft = meta.file_type();
                if ft.is_dir() {
                    if (meta.dev(), meta.ino()) == dst_id {
                        continue;
                    }
                    self.mkdir(&to)?;
                    self.stats.dirs += 1;
                    if meta.dev() == top.dev() {
                        stack.push((from, to.clone()));
                    } else {
                        self.mount_points += 1;
                    }
                    self.dirs.push((to, meta));
                } else if ft.is_symlink() {
                    self.symlink(&from, &to, &meta)?;
                } else if ft.is_file() {
                    self.file(&from, &to, &meta)?;
                } else {
                    self.skipped += 1;
                }
            }
        }
        // Owner and mode last, deepest first: a 0555 directory must still
        // accept its contents, and chown clears set-id bits set before it.
        for (dir, meta) in std::mem::take(&mut self.dirs).iter().rev() {
            self.finish(dir, meta, false)?;
        }
        Ok(())
    }

    fn mkdir(&mut self, to: &Path) -> Result<(), RootfsError> {
        let r = fs::DirBuilder::new().mode(0o700).create(to);
        self.sys(r, "create directory", to, || format!("mkdir({}, 0700)", q(to)))
    }

    fn symlink(&mut self, from: &Path, to: &Path, meta: &fs::Metadata) -> Result<(), RootfsError> {
        let target = fs::read_link(from);
        let target = self.sys(target, "readlink", from, || format!("readlink({}, ...)", q(from)))?;
        let r = std::os::unix::fs::symlink(&target, to);
        self.sys(r, "create symlink", to, || format!("symlink({}, {})", q(&target), q(to)))?;
        self.stats.symlinks += 1;
        if self.as_root {
            self.chown(to, meta)?;
        }
        Ok(())
    }

    fn file(&mut self, from: &Path, to: &Path, meta: &fs::Metadata) -> Result<(), RootfsError> {
        self.stats.files += 1;
        if meta.nlink() > 1 {
            if let Some(first) = self.linked.get(&(meta.dev(), meta.ino())).cloned() {
                let r = fs::hard_link(&first, to);
                return self.sys(r, "link", to, || format!("link({}, {})", q(&first), q(to)));
            }
            self.linked.insert((meta.dev(), meta.ino()), to.to_path_buf());
        }
        // O_NOFOLLOW: the entry was a regular file when listed; if it became a link since
        // (someone swapped it), refuse rather than copy what the link points at.
        let input = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(from);
        let mut input =
            self.sys(input, "open", from, || format!("openat(AT_FDCWD, {}, O_RDONLY|O_NOFOLLOW|O_CLOEXEC)", q(from)))?;
        let output =
            OpenOptions::new().write(true).create_new(true).mode(0o600).custom_flags(libc::O_NOFOLLOW).open(to);
        let call = || format!("openat(AT_FDCWD, {}, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0600)", q(to));
        let mut output = self.sys(output, "create", to, call)?;
        let n = self.fill(&mut input, &mut output, to, meta.len())?;
        self.stats.bytes += n;
        self.finish(to, meta, true)
    }

    /// Copy all data from `input` to `output`. `io::copy` between two files
    /// uses copy_file_range(2) (no user-space buffer, and a reflink where the
    /// filesystem can), falling back to read/write where the kernel refuses,
    /// e.g. towards a device.
    pub(super) fn fill(
        &mut self,
        input: &mut File,
        output: &mut File,
        to: &Path,
        len: u64,
    ) -> Result<u64, RootfsError> {
        let (fi, fo) = (input.as_raw_fd(), output.as_raw_fd());
        let n = io::copy(input, output);
        self.sys(n, "write", to, || format!("copy_file_range({fi}, NULL, {fo}, NULL, {len}, 0)"))
    }

    fn chown(&mut self, to: &Path, meta: &fs::Metadata) -> Result<(), RootfsError> {
        let r = std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid()));
        self.sys(r, "chown", to, || format!("lchown({}, {}, {})", q(to), meta.uid(), meta.gid()))
    }

    /// Owner (if root) then mode, from the source's metadata.
    fn finish(&mut self, to: &Path, meta: &fs::Metadata, is_file: bool) -> Result<(), RootfsError> {
        if self.as_root && (is_file || !meta.is_symlink()) {
            self.chown(to, meta)?;
        }
        let mode = meta.permissions().mode() & 0o7777;
        let r = fs::set_permissions(to, fs::Permissions::from_mode(mode));
        self.sys(r, "chmod", to, || format!("chmod({}, {mode:04o})", q(to)))
    }
}
