//! Tests for the rootfs module, one file per source kind. They build trees
//! in temp dirs and never chroot, mount or unshare (except the one ignored
//! tmpfs test in copy.rs, which needs root).

mod busybox;
mod cache;
mod copy;
mod dir;
mod elf;
mod elf_speed;
mod hostbin;
mod tar;
mod tools;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Write `text` to `root/rel` with `mode`, creating parents.
pub(super) fn put(root: &Path, rel: &str, text: &str, mode: u32) -> PathBuf {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, text).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    p
}

/// `root/rel` -> `target`, creating parents.
pub(super) fn link(root: &Path, rel: &str, target: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, p).unwrap();
}

/// The entries of a directory, sorted, as strings.
pub(super) fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// The host's static busybox, if this machine has one on PATH. Tests that
/// need it skip without it, except in nsdojo's CI (NSDOJO_REQUIRE_ROOT=1),
/// which installs busybox-static and must not pass by skipping.
pub(super) fn host_busybox() -> Option<PathBuf> {
    let found = super::busybox::find_static_busybox(&std::env::var("PATH").unwrap_or_default());
    if found.is_none() && std::env::var_os("NSDOJO_REQUIRE_ROOT").is_some_and(|v| v == "1") {
        panic!("no static busybox on PATH (apt-get install busybox-static)");
    }
    found
}
