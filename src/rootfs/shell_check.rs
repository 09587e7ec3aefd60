//! Is there a `/bin/sh` in this tree that would run after `chroot`?
//!
//! A rootfs is useless to nsdojo without a shell, and the failure a student
//! would otherwise see comes much later and reads badly (`chroot: failed to
//! run command '/bin/sh': No such file or directory`). So every tree is
//! checked up front, the way the kernel will see it *after* the root change:
//! symlinks are followed inside the tree, an absolute target such as
//! `/bin/busybox` means `<tree>/bin/busybox` (never the host's), and `..`
//! stops at the tree's root. `std::fs::canonicalize` would get all three
//! wrong, which is why the walk is done by hand, one component at a time.

use std::ffi::OsString;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::error::RootfsError;

/// Linux gives up after 40 links (`ELOOP`); do the same.
const MAX_LINKS: usize = 40;

/// Check that `<root>/bin/sh` resolves, inside `root`, to an executable file.
pub(super) fn check_shell(root: &Path) -> Result<(), RootfsError> {
    let shown = root.join("bin/sh");
    let real = resolve_inside(root, Path::new("/bin/sh"))?.ok_or_else(|| RootfsError::NoShell(root.to_path_buf()))?;
    let meta = std::fs::symlink_metadata(&real).map_err(|e| RootfsError::io("stat", &real, e))?;
    let ft = meta.file_type();
    if !ft.is_file() {
        let kind = if ft.is_dir() {
            "a directory"
        } else if ft.is_char_device() || ft.is_block_device() {
            "a device node"
        } else {
            "a special file"
        };
        return Err(RootfsError::ShellNotAFile { path: shown, kind });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o111 == 0 {
        return Err(RootfsError::ShellNotExecutable { path: shown, mode });
    }
    Ok(())
}

/// A component still to be walked, and the link (host path, target text)
/// whose target it came from, if any: when it turns out to be missing, that
/// link is the one that dangles.
type Pending = (OsString, Option<usize>);

/// Resolve `path` as a process chrooted into `root` would.
///
/// Returns the host path of the final object, `Ok(None)` if `path` itself
/// (not a link target) does not exist, or an error for a dangling link or a
/// loop.
pub(super) fn resolve_inside(root: &Path, path: &Path) -> Result<Option<PathBuf>, RootfsError> {
    let mut links: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut todo: Vec<Pending> = Vec::new();
    push_components(&mut todo, path, None);
    let mut cur = PathBuf::new(); // relative to root, never contains `..`

    while let Some((name, from_link)) = todo.pop() {
        if name == ".." {
            cur.pop(); // at the root, `..` is the root itself
            continue;
        }
        let host = root.join(&cur).join(&name);
        let meta = match std::fs::symlink_metadata(&host) {
            Ok(m) => m,
            // ENOTDIR: an earlier component was a file; for the caller that
            // is the same as "not there".
            Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) => {
                return match from_link {
                    Some(i) => Err(RootfsError::DanglingLink { link: links[i].0.clone(), target: links[i].1.clone() }),
                    None => Ok(None),
                };
            }
            Err(e) => return Err(RootfsError::io("stat", &host, e)),
        };
        if !meta.file_type().is_symlink() {
            cur.push(&name);
            continue;
        }
        if links.len() >= MAX_LINKS {
            return Err(RootfsError::LinkLoop(root.join(path.strip_prefix("/").unwrap_or(path))));
        }
        let target = std::fs::read_link(&host).map_err(|e| RootfsError::io("readlink", &host, e))?;
        if target.is_absolute() {
            cur = PathBuf::new(); // absolute means the tree's root, not the host's
        }
        links.push((host, target.clone()));
        push_components(&mut todo, &target, Some(links.len() - 1));
    }
    Ok(Some(root.join(cur)))
}

/// Push the components of `p` so that the first one is popped first.
fn push_components(todo: &mut Vec<Pending>, p: &Path, from_link: Option<usize>) {
    let comps: Vec<Pending> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some((n.to_os_string(), from_link)),
            Component::ParentDir => Some((OsString::from(".."), from_link)),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect();
    todo.extend(comps.into_iter().rev());
}
