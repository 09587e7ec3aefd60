//! The lab's own programs, put into every rootfs nsdojo builds, in
//! `/usr/local/bin` (on the shell's PATH and apart from what busybox or a
//! tarball brings):
//!
//! * `escape_chroot`: the deck's chroot escape, ready to run on machines
//!   with no compiler (`escape_elf.rs`);
//! * `dojo`: the `try` shell's helper script (`dojo.sh`), which must also
//!   work after the shell has chrooted or pivoted into the rootfs;
//! * `burn`: one CPU kept busy (`burn.sh`), for the cgroup CPU steps by hand,
//!   where the deck runs `stress -c 1` and busybox has no `stress`.
//!
//! Trees given as a directory are used in place and get neither (see the
//! module doc of `rootfs`).

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::error::{IoContext, RootfsError};
use super::escape_elf::escape_chroot_elf;
use super::skeleton::under_symlink;

const BIN: &str = "usr/local/bin";
const DOJO: &str = include_str!("dojo.sh");
const BURN: &str = include_str!("burn.sh");

/// Write the tools into `root`. As in the skeleton, nothing is created below
/// a symlink: an unpacked tarball's `usr` could point anywhere on the host,
/// and this runs before any chroot; such a tree goes without the tools.
pub(super) fn add_tools(root: &Path) -> Result<(), RootfsError> {
    for dir in ["usr", "usr/local", BIN] {
        if under_symlink(root, dir) {
            return Ok(());
        }
        let p = root.join(dir);
        match fs::DirBuilder::new().mode(0o755).create(&p) {
            // mkdir applies the umask; a tool directory must be usable by everyone.
            Ok(()) => fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).ctx("chmod", &p)?,
            // A symlink here (or a file) and the tree goes without the tools too.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if !fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
                    return Ok(());
                }
            }
            Err(e) => return Err(RootfsError::io("create directory", &p, e)),
        }
    }
    if let Some(elf) = escape_chroot_elf() {
        put(&root.join(BIN).join("escape_chroot"), &elf)?;
    }
    put(&root.join(BIN).join("burn"), BURN.as_bytes())?;
    put(&root.join(BIN).join("dojo"), DOJO.as_bytes())
}

/// Write `bytes` to `p` as a 0755 program. Whatever non-directory a tarball
/// left under that name is replaced: removing a symlink removes the link,
/// and `create_new` (O_EXCL) never follows one. A directory is left alone.
fn put(p: &Path, bytes: &[u8]) -> Result<(), RootfsError> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => fs::remove_file(p).ctx("replace", p)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(RootfsError::io("stat", p, e)),
    }
    let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o755).open(p).ctx("create", p)?;
    f.write_all(bytes).ctx("write", p)?;
    // The umask may have taken bits off at open.
    fs::set_permissions(p, fs::Permissions::from_mode(0o755)).ctx("chmod", p)
}
