//! The parts of a rootfs that are not programs: a few /etc files and the
//! empty directories the sandbox mounts things on.
//!
//! Each exists for a reason the student meets in the lab: `/proc` and `/sys`
//! are mount points (`ps` reads /proc), `/dev` gets a tmpfs with a few nodes,
//! `/tmp` must be world-writable with the sticky bit like on any system, and
//! `/etc/passwd` + `/etc/group` let `id` and the shell prompt print names
//! instead of bare numbers. There is no `/old-root`: making it is a step of
//! the pivot_root lesson, as in the deck.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use super::error::{IoContext, RootfsError};

/// Directories every built rootfs has, with their modes.
pub(super) const DIRS: &[(&str, u32)] = &[
    ("bin", 0o755),
    ("sbin", 0o755),
    ("usr", 0o755),
    ("usr/bin", 0o755),
    ("usr/sbin", 0o755),
    ("etc", 0o755),
    ("proc", 0o555),
    ("sys", 0o555),
    ("dev", 0o755),
    ("tmp", 0o1777),
    ("root", 0o700),
];

pub(super) const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
pub(super) const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";
pub(super) const HOSTNAME: &str = "nsdojo\n";

/// Create the skeleton inside `root`. Anything already there is kept, so a
/// tarball's own `/etc/passwd` or `/tmp` wins over ours. Nothing is created
/// below a symlink: in an unpacked tarball `etc` could point anywhere on the
/// host, and this runs before any chroot.
pub(super) fn add_skeleton(root: &Path) -> Result<(), RootfsError> {
    for (dir, mode) in DIRS {
        if under_symlink(root, dir) {
            continue;
        }
        let p = root.join(dir);
        match fs::DirBuilder::new().mode(*mode).create(&p) {
            Ok(()) => {
                // mkdir applies the umask, and the umask never lets 1777 through.
                fs::set_permissions(&p, fs::Permissions::from_mode(*mode)).ctx("chmod", &p)?;
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(RootfsError::io("create directory", &p, e)),
        }
    }
    for (name, text) in [("etc/passwd", PASSWD), ("etc/group", GROUP), ("etc/hostname", HOSTNAME)] {
        if under_symlink(root, name) {
            continue;
        }
        let p = root.join(name);
        // create_new is O_CREAT|O_EXCL, which never follows a symlink at `p`.
        match fs::OpenOptions::new().write(true).create_new(true).open(&p) {
            Ok(mut f) => io::Write::write_all(&mut f, text.as_bytes()).ctx("write", &p)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(RootfsError::io("create", &p, e)),
        }
    }
    Ok(())
}

/// Is any directory on the way to `rel` (not `rel` itself) a symlink?
pub(super) fn under_symlink(root: &Path, rel: &str) -> bool {
    Path::new(rel)
        .ancestors()
        .skip(1)
        .filter(|a| !a.as_os_str().is_empty())
        .any(|a| fs::symlink_metadata(root.join(a)).is_ok_and(|m| m.file_type().is_symlink()))
}
