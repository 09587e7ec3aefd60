//! The preferred rootfs: one static busybox and a symlink per applet.
//!
//! A *static* busybox needs nothing else in the tree (no loader, no libc),
//! so the whole rootfs is one 1-2 MB file plus a few hundred symlinks, built
//! in a few milliseconds. A dynamically linked busybox would drag in the
//! host-library logic of `hostbin.rs` and buys nothing, so it is skipped and
//! the search goes on along PATH.
//!
//! The links are what `busybox --install -s` makes: `bin/ls -> /bin/busybox`.
//! They are absolute on purpose: they are meant to be resolved after the
//! root change, which is a nice thing for students to see with `ls -l`.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use super::cache::{stamp, Key};
use super::elf::read_elf;
use super::error::{IoContext, RootfsError};
use super::skeleton::add_skeleton;
use super::tools::add_tools;

/// The first `busybox` on `path_env` that is an executable, statically
/// linked ELF file.
pub(super) fn find_static_busybox(path_env: &str) -> Option<PathBuf> {
    // Never the current directory (an empty PATH element): a rootfs built from whatever
    // busybox is in the cwd would be a surprise.
    crate::machine::which_all_on("busybox", path_env).into_iter().find(|p| read_elf(p).is_ok_and(|e| e.is_static()))
}

/// The cache key: the busybox as found on PATH and the file it resolves to.
pub(super) fn key(busybox: &Path) -> Result<Key, RootfsError> {
    let real = fs::canonicalize(busybox).ctx("resolve", busybox)?;
    Ok(Key::new("busybox", &[stamp(busybox)?, stamp(&real)?]))
}

/// Fill `root` (an empty directory) with busybox, its applet links and the
/// skeleton and nsdojo's tools. Returns the number of applet links made.
pub(super) fn build(busybox: &Path, root: &Path) -> Result<usize, RootfsError> {
    // Start `--list-full` first and copy while it runs: the fork/exec is a
    // good part of the ~15 ms budget. Its output (~4 kB) fits in the pipe.
    let lister = start(busybox, "--list-full")?;
    add_skeleton(root)?;
    add_tools(root)?;
    let target = root.join("bin/busybox");
    // A copy, not a hard link: the cache may be on another filesystem, and a
    // shared inode would let a chmod inside the sandbox change the host's file.
    fs::copy(busybox, &target).ctx("copy busybox to", &target)?;
    fs::set_permissions(&target, fs::Permissions::from_mode(0o755)).ctx("chmod", &target)?;

    let mut made_dirs: HashSet<PathBuf> = HashSet::new();
    let mut links = 0;
    for applet in applets(busybox, lister)? {
        let rel = Path::new(&applet);
        if rel == Path::new("bin/busybox") {
            continue;
        }
        let link = root.join(rel);
        if let Some(parent) = link.parent() {
            if made_dirs.insert(parent.to_path_buf()) {
                fs::create_dir_all(parent).ctx("create directory", parent)?;
            }
        }
        match std::os::unix::fs::symlink("/bin/busybox", &link) {
            Ok(()) => links += 1,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {} // listed twice
            Err(e) => return Err(RootfsError::io("create symlink", &link, e)),
        }
    }
    Ok(links)
}

/// Applet paths relative to `/`, e.g. `bin/ls`, `usr/sbin/chroot`, from the
/// running `--list-full`. Very old busyboxes only know `--list` (bare
/// names); those all go to `bin/`.
fn applets(busybox: &Path, lister: Child) -> Result<Vec<String>, RootfsError> {
    let list = match finish(lister.wait_with_output().ctx("run", busybox)?) {
        Ok(text) => text,
        Err(first_failure) => {
            let out = start(busybox, "--list")?.wait_with_output().ctx("run", busybox)?;
            match finish(out) {
                Ok(text) => text.lines().map(|n| format!("bin/{n}\n")).collect(),
                Err(_) => {
                    return Err(RootfsError::BusyboxList {
                        path: busybox.to_path_buf(),
                        detail: first_failure.to_string(),
                    })
                }
            }
        }
    };
    let applets: Vec<String> = list.lines().map(str::trim).filter(|l| is_plain_relative(l)).map(String::from).collect();
    if applets.is_empty() {
        return Err(RootfsError::BusyboxList { path: busybox.to_path_buf(), detail: "it listed no applets".into() });
    }
    Ok(applets)
}

/// Spawn `busybox arg` with its output captured.
///
/// exec fails with ETXTBSY while any process holds the file open for
/// writing, which includes a copy of a write fd inherited by a child that
/// another thread forked and has not exec'd yet. nsdojo is single-threaded,
/// but a package upgrade or a multi-threaded caller (the test harness) can
/// hit that window; it lasts microseconds, so a short retry is enough.
fn start(busybox: &Path, arg: &str) -> Result<Child, RootfsError> {
    let mut tries = 0;
    loop {
        let spawned = Command::new(busybox).arg(arg).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
        match spawned {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 20 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other.ctx("run", busybox),
        }
    }
}

/// A program that exited unsuccessfully: its status and the first line of its stderr.
#[derive(Debug, thiserror::Error)]
#[error("{status} ({first_line})")]
struct ExitFailure {
    status: std::process::ExitStatus,
    first_line: String,
}

/// `Ok(stdout)`, or why it failed.
fn finish(out: Output) -> Result<String, ExitFailure> {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(ExitFailure { status: out.status, first_line: err.lines().next().unwrap_or("").trim().to_string() })
    }
}

/// Only `a/b/c`: a busybox printing `../x` or `/x` must not make us write
/// outside the tree.
fn is_plain_relative(p: &str) -> bool {
    !p.is_empty() && Path::new(p).components().all(|c| matches!(c, Component::Normal(_)))
}
