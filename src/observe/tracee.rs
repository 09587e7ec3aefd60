//! What the narrating tracer looks up about a traced process, through /proc/PID from outside
//! its namespaces: the filesystem a descriptor or a path lies on (so a write is followed only
//! into cgroupfs or an id map), seen through the process's own root and working directory.

use nix::sys::statfs::statfs;

/// The filesystems the narration cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fs {
    Cgroup,
    Proc,
    Other,
}

/// `cgroup` (v1) and `cgroup2` superblock magic numbers (linux/magic.h).
const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
const PROC_SUPER_MAGIC: i64 = 0x9fa0;

fn fs_at(path: &str) -> Option<Fs> {
    let st = statfs(path).ok()?;
    Some(match st.filesystem_type().0 as i64 {
        CGROUP_SUPER_MAGIC | CGROUP2_SUPER_MAGIC => Fs::Cgroup,
        PROC_SUPER_MAGIC => Fs::Proc,
        _ => Fs::Other,
    })
}

/// The filesystem of process `pid`'s descriptor `fd` (the magic link is followed into the
/// process's mount namespace).
pub(crate) fn fs_of_fd(pid: i32, fd: i32) -> Option<Fs> {
    fs_at(&format!("/proc/{pid}/fd/{fd}"))
}

/// The filesystem where `path`, as process `pid` names it relative to `dirfd` (AT_FDCWD: its
/// working directory), lies; `parent`: of the directory that holds it (a mkdir, a failed open).
pub(crate) fn fs_of_path(pid: i32, dirfd: i32, path: &str, parent: bool) -> Option<Fs> {
    let path = if parent {
        match path.trim_end_matches('/').rsplit_once('/') {
            Some(("", _)) => "/",
            Some((dir, _)) => dir,
            None => ".",
        }
    } else {
        path
    };
    let base = if path.starts_with('/') {
        format!("/proc/{pid}/root")
    } else if dirfd == libc::AT_FDCWD {
        format!("/proc/{pid}/cwd")
    } else {
        format!("/proc/{pid}/fd/{dirfd}")
    };
    fs_at(&format!("{base}/{}", path.trim_start_matches('/')))
}

/// The inode of the user namespace that owns process `pid`'s namespace of type `ns` (`ns` as
/// /proc/PID/ns names it): NS_GET_USERNS, Linux 4.9+. Power over a namespace is power in
/// that user namespace, not in the process's own.
pub(crate) fn owner_userns(pid: i32, ns: &str) -> Option<u64> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::fs::MetadataExt;
    const NS_GET_USERNS: libc::c_ulong = 0xb701;
    let f = std::fs::File::open(format!("/proc/{pid}/ns/{ns}")).ok()?;
    // SAFETY: an ioctl that returns a new descriptor, or -1.
    let owner = unsafe { libc::ioctl(f.as_raw_fd(), NS_GET_USERNS as _) };
    if owner < 0 {
        return None;
    }
    // SAFETY: the descriptor the kernel just gave us, owned from here.
    let owner = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(owner) });
    owner.metadata().ok().map(|m| m.ino())
}

/// Whether process `pid` sees the host's root directory as its `/` (not after chroot or
/// pivot_root): the same device and inode as ours.
pub(crate) fn has_host_root(pid: i32) -> Option<bool> {
    use std::os::unix::fs::MetadataExt;
    let theirs = std::fs::metadata(format!("/proc/{pid}/root")).ok()?;
    let ours = std::fs::metadata("/").ok()?;
    Some((theirs.dev(), theirs.ino()) == (ours.dev(), ours.ino()))
}
