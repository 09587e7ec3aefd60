//! Every way preparing a rootfs can fail, each as one line naming the path.
//!
//! nsdojo prints these as `nsdojo: <error>` to students who are in the middle
//! of an exercise, so each message has to say what was looked at and what was
//! wrong with it without a backtrace or a "caused by" chain. That is also why
//! the `io::Error` fields are called `error` rather than `source`: the OS text
//! is already part of the line, and anyhow's `{:#}` would print it twice.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum RootfsError {
    #[error("rootfs directory {0} does not exist")]
    DirMissing(PathBuf),

    #[error("rootfs directory {0} is not a directory")]
    NotADirectory(PathBuf),

    #[error("rootfs directory {0} has no /bin/sh")]
    NoShell(PathBuf),

    #[error("{path} is not executable (mode {mode:04o})")]
    ShellNotExecutable { path: PathBuf, mode: u32 },

    #[error("{path} is {kind}, not a program")]
    ShellNotAFile { path: PathBuf, kind: &'static str },

    /// `link` is the host path of the link, `target` what it says (read
    /// inside the rootfs, so `/bin/busybox` means `<root>/bin/busybox`).
    #[error("{link} -> {target}: dangling link inside the rootfs")]
    DanglingLink { link: PathBuf, target: PathBuf },

    #[error("{0}: too many levels of symbolic links inside the rootfs (a link loop)")]
    LinkLoop(PathBuf),

    #[error("tarball {tar}: entry '{entry}' escapes the target, refused")]
    TarEscape { tar: PathBuf, entry: String },

    #[error("tarball {tar}: entry '{entry}' would be written through symlink '{link}' -> '{target}', which leads outside the rootfs, refused")]
    TarThroughSymlink { tar: PathBuf, entry: String, link: String, target: String },

    #[error("tarball {tar}: truncated or corrupt ({detail})")]
    TarCorrupt { tar: PathBuf, detail: String },

    #[error("tarball {tar} is {kind}-compressed; only plain and gzip tarballs are supported (decompress it first)")]
    TarCompression { tar: PathBuf, kind: &'static str },

    /// Unpacked fine, but not a usable rootfs (the /bin/sh check failed).
    #[error("tarball {tar}: {reason}")]
    TarUnusable { tar: PathBuf, reason: String },

    #[error("tarball {tar}: entry '{entry}' cannot replace the directory already there")]
    TarReplacesDir { tar: PathBuf, entry: String },

    /// ENOSPC (or EDQUOT) while filling a tree, typically the tmpfs that
    /// `pivot_root` is going to use.
    #[error("tmpfs full while copying {path}")]
    NoSpace { path: PathBuf },

    #[error("no static busybox and no host /bin/sh found to build a rootfs from (PATH={path_env})")]
    NothingToBuildFrom { path_env: String },

    #[error("{path}: not a usable ELF file ({reason})")]
    BadElf { path: PathBuf, reason: String },

    #[error("{binary} needs {library}, which is in none of its RUNPATH/RPATH, /etc/ld.so.conf or the default library directories")]
    MissingLibrary { binary: PathBuf, library: String },

    #[error("{path} --list-full failed: {detail}")]
    BusyboxList { path: PathBuf, detail: String },

    #[error("cannot {op} {path}: {error}")]
    Io { op: &'static str, path: PathBuf, error: io::Error },
}

impl RootfsError {
    /// The error as a message that crosses the socket (a `copy` in the sandbox) or
    /// stops a lesson's start; rendered per language by the UI.
    pub fn msg(&self) -> crate::msg::Msg {
        use crate::msg::Msg;
        match self {
            RootfsError::NoSpace { path } => Msg::RootfsNoSpace(path.display().to_string()),
            RootfsError::Io { op, path, error } => {
                Msg::RootfsIo { op: op.to_string(), path: path.display().to_string(), error: error.into() }
            }
            other => Msg::Rootfs(other.to_string()),
        }
    }

    /// The message in the session's language (Display stays English); the rarer
    /// failures, about ELF files and tarballs, stay English: they name files and formats.
    pub fn localized(&self, lang: crate::lesson::Lang) -> String {
        use crate::i18n::{io_error, tf};
        match self {
            RootfsError::DirMissing(p) => tf(lang, "rootfs_dir_missing", &[&p.display()]),
            RootfsError::NotADirectory(p) => tf(lang, "rootfs_not_dir", &[&p.display()]),
            RootfsError::NoShell(p) => tf(lang, "rootfs_no_shell", &[&p.display()]),
            RootfsError::NoSpace { path } => tf(lang, "rootfs_no_space", &[&path.display()]),
            RootfsError::NothingToBuildFrom { path_env } => tf(lang, "rootfs_nothing", &[path_env]),
            RootfsError::Io { op, path, error } => {
                tf(lang, "rootfs_io", &[op, &path.display(), &io_error(lang, error)])
            }
            other => other.to_string(),
        }
    }

    /// The common case: a syscall on `path` failed while doing `op`.
    pub(crate) fn io(op: &'static str, path: &Path, error: io::Error) -> Self {
        RootfsError::Io { op, path: path.to_path_buf(), error }
    }

    /// Like [`RootfsError::io`], but a full filesystem gets its own variant,
    /// because "No space left on device" in the middle of a copy into tmpfs
    /// means "raise size=", not "something is broken".
    pub(crate) fn io_or_full(op: &'static str, path: &Path, error: io::Error) -> Self {
        match error.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => RootfsError::NoSpace { path: path.to_path_buf() },
            _ => RootfsError::io(op, path, error),
        }
    }
}

/// Shorthand for `map_err(|e| RootfsError::io(op, path, e))`.
pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: &Path) -> Result<T, RootfsError>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, op: &'static str, path: &Path) -> Result<T, RootfsError> {
        self.map_err(|e| RootfsError::io(op, path, e))
    }
}

/// Shows a byte count the way the report line wants it (`2.1 MB`).
pub(crate) struct HumanBytes(pub u64);

impl fmt::Display for HumanBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0 as f64;
        if b >= 1e9 {
            write!(f, "{:.1} GB", b / 1e9)
        } else if b >= 1e6 {
            write!(f, "{:.1} MB", b / 1e6)
        } else if b >= 1e3 {
            write!(f, "{:.1} kB", b / 1e3)
        } else {
            write!(f, "{} B", self.0)
        }
    }
}
