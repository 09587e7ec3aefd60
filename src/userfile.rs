//! Files nsdojo reads and writes for the person at the keyboard (`--record FILE`,
//! progress, REPL history), handled so that root cannot be led to read or write
//! somewhere else.
//!
//! Under sudo the file is opened by a child that has become the invoking user
//! (SUDO_UID/SUDO_GID, no supplementary groups): whatever that user could not
//! write, nsdojo does not write either, and a symlink someone planted leads only
//! where that user may go. The open file is handed back over a socket
//! (SCM_RIGHTS), so root writes through it without ever opening the path.
//! Run as root without sudo, the path is opened with O_NOFOLLOW and without
//! truncating, and refused unless the file is root's own with a single link
//! (a hard link into /etc would otherwise be truncated); then it is truncated.
//! Progress and history are read the same way and replaced atomically (a fresh
//! temp file, O_EXCL, then rename) by the invoking user's child, so a planted
//! link is at most replaced, never followed.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use nix::sys::stat::{fstat, Mode};
use nix::unistd::ForkResult;

use crate::msg::Msg;

/// The invoking user under sudo (uid, gid), if it is not root.
fn sudo_user() -> Option<(u32, u32)> {
    let id = |v: &str| std::env::var(v).ok().and_then(|s| s.parse::<u32>().ok());
    match (id("SUDO_UID"), id("SUDO_GID")) {
        (Some(uid), Some(gid)) if uid != 0 => Some((uid, gid)),
        _ => None,
    }
}

/// O_NONBLOCK: a FIFO put at the path (no reader) fails at once instead of hanging the open;
/// on a regular file it changes nothing.
const FLAGS: OFlag =
    OFlag::O_WRONLY.union(OFlag::O_CREAT).union(OFlag::O_NOFOLLOW).union(OFlag::O_NONBLOCK).union(OFlag::O_CLOEXEC);

/// Create or truncate `path` for writing, as the person who ran nsdojo may.
pub(crate) fn create_for_invoker(path: &Path) -> io::Result<File> {
    let fd = match sudo_user() {
        Some((uid, gid)) => open_as(path, uid, gid)?,
        None => open_as_root(path)?,
    };
    let file = File::from(fd);
    file.set_len(0)?;
    Ok(file)
}

/// Open (or create) `path` for reading and writing, keeping what is in it, as the person who
/// ran nsdojo may; missing directories are made as that person.
pub(crate) fn open_rw_for_invoker(path: &Path) -> io::Result<File> {
    let fd = match sudo_user() {
        Some((uid, gid)) => open_as_with(path, uid, gid, RW_FLAGS)?,
        None => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            open_as_root_with(path, RW_FLAGS)?
        }
    };
    Ok(File::from(fd))
}

const RW_FLAGS: OFlag =
    OFlag::O_RDWR.union(OFlag::O_CREAT).union(OFlag::O_NOFOLLOW).union(OFlag::O_NONBLOCK).union(OFlag::O_CLOEXEC);

fn open_as_root(path: &Path) -> io::Result<OwnedFd> {
    open_as_root_with(path, FLAGS)
}

fn open_as_root_with(path: &Path, flags: OFlag) -> io::Result<OwnedFd> {
    let fd = open(path, flags, Mode::from_bits_truncate(0o644)).map_err(|e| refuse(e.into()))?;
    let st = fstat(&fd)?;
    let regular = (st.st_mode & libc::S_IFMT) == libc::S_IFREG;
    if !regular || st.st_uid != 0 || st.st_nlink != 1 {
        // A message, not text: `i18n::io_error` shows it in the student's language.
        let why = if !regular {
            Msg::NotRegular
        } else if st.st_uid != 0 {
            Msg::OtherOwner
        } else {
            Msg::HardLinks
        };
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, why));
    }
    Ok(fd)
}

/// The caller names the path; this says what is wrong with it.
fn refuse(e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        io::Error::new(io::ErrorKind::PermissionDenied, Msg::Symlink)
    } else {
        e
    }
}

/// The whole of `path`, read as the invoking user may (as root: not through a symlink).
pub(crate) fn read_as_invoker(path: &Path) -> io::Result<Vec<u8>> {
    match sudo_user() {
        None => read_regular(path, OFlag::O_NOFOLLOW),
        Some((uid, gid)) => in_child_as(uid, gid, |sock| {
            let bytes = read_regular(path, OFlag::empty())?;
            io::Write::write_all(sock, &bytes)
        }),
    }
}

/// The whole of a regular file; a FIFO (or anything else) put there is refused without
/// blocking (O_NONBLOCK).
fn read_regular(path: &Path, extra: OFlag) -> io::Result<Vec<u8>> {
    let fd = open(path, OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | extra, Mode::empty())
        .map_err(|e| refuse(e.into()))?;
    let mut f = File::from(fd);
    if !f.metadata()?.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, Msg::NotRegular));
    }
    let mut out = Vec::new();
    io::Read::read_to_end(&mut f, &mut out)?;
    Ok(out)
}

/// Replace `path` with `bytes` as the invoking user may: missing directories are made (as that
/// user), a fresh temp file is written beside it (O_EXCL, O_NOFOLLOW) and renamed over it, so
/// a link at `path` is replaced, never written through.
pub(crate) fn replace_as_invoker(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let write = || -> io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
        let fd = open(
            &tmp,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )?;
        let mut f = File::from(fd);
        let done = io::Write::write_all(&mut f, bytes).and_then(|_| std::fs::rename(&tmp, path));
        if done.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        done
    };
    match sudo_user() {
        None => write(),
        Some((uid, gid)) => in_child_as(uid, gid, |_| write()).map(drop),
    }
}

/// Run `work` in a child that has become `uid:gid` (no supplementary groups); return what it
/// wrote to its end of the socket, or the error it failed with (carried as its exit code).
fn in_child_as(uid: u32, gid: u32, work: impl FnOnce(&mut UnixStream) -> io::Result<()>) -> io::Result<Vec<u8>> {
    let (mut parent_end, mut child_end) = UnixStream::pair()?;
    match crate::process::fork()? {
        ForkResult::Child => {
            drop(parent_end);
            child_setup();
            let code = match become_user(uid, gid).and_then(|_| work(&mut child_end)) {
                Ok(()) => 0,
                Err(e) => e.raw_os_error().unwrap_or(libc::EIO).clamp(1, 255),
            };
            drop(child_end);
            // SAFETY: _exit in a forked child: no destructors or atexit handlers of the parent.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(child_end);
            // Read it all before reaping: a child blocked on a full socket would never exit.
            let mut out = Vec::new();
            let read = io::Read::read_to_end(&mut parent_end, &mut out);
            match crate::process::reap(child.as_raw()) {
                Some(nix::sys::wait::WaitStatus::Exited(_, 0)) => read.map(|_| out),
                Some(nix::sys::wait::WaitStatus::Exited(_, errno)) => Err(io::Error::from_raw_os_error(errno)),
                _ => Err(io::Error::other("the helper process did not finish")),
            }
        }
    }
}

/// A helper child: not the host, so it must not keep the watchdog waiting, and it must not
/// outlive the host (a FIFO or a slow file system could hold it).
fn child_setup() {
    crate::hostguard::close_inherited_watchdog_fd();
    if crate::process::die_with_parent().is_err() {
        // SAFETY: _exit in a forked child.
        unsafe { libc::_exit(libc::EIO) }
    }
}

fn become_user(uid: u32, gid: u32) -> io::Result<()> {
    nix::unistd::setgroups(&[])?;
    nix::unistd::setgid(nix::unistd::Gid::from_raw(gid))?;
    nix::unistd::setuid(nix::unistd::Uid::from_raw(uid))?;
    Ok(())
}

/// Open `path` in a child running as `uid:gid`, and receive the descriptor.
fn open_as(path: &Path, uid: u32, gid: u32) -> io::Result<OwnedFd> {
    open_as_with(path, uid, gid, FLAGS)
}

fn open_as_with(path: &Path, uid: u32, gid: u32, flags: OFlag) -> io::Result<OwnedFd> {
    let (parent_end, child_end) = UnixStream::pair()?;
    match crate::process::fork()? {
        ForkResult::Child => {
            drop(parent_end);
            child_setup();
            let code = match become_and_open(path, uid, gid, flags) {
                Ok(fd) => send_fd(&child_end, Ok(fd.as_raw_fd())),
                Err(e) => send_fd(&child_end, Err(e.raw_os_error().unwrap_or(libc::EIO))),
            };
            // SAFETY: _exit in a forked child: no destructors or atexit handlers of the parent.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(child_end);
            let got = recv_fd(&parent_end);
            crate::process::reap(child.as_raw());
            match got {
                Ok(fd) => Ok(fd),
                Err(errno) => Err(refuse(io::Error::from_raw_os_error(errno))),
            }
        }
    }
}

fn become_and_open(path: &Path, uid: u32, gid: u32, flags: OFlag) -> io::Result<OwnedFd> {
    become_user(uid, gid)?;
    if flags.contains(OFlag::O_RDWR) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
    }
    Ok(open(path, flags, Mode::from_bits_truncate(0o644))?)
}

/// One byte (0: a descriptor follows; else the errno) with the descriptor as SCM_RIGHTS.
fn send_fd(sock: &UnixStream, what: Result<RawFd, i32>) -> i32 {
    let (byte, fds) = match what {
        Ok(fd) => (0u8, vec![fd]),
        Err(errno) => (errno.clamp(1, 255) as u8, vec![]),
    };
    let iov = [io::IoSlice::new(std::slice::from_ref(&byte))];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
    match sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None) {
        Ok(_) => 0,
        Err(_) => 1,
    }
}

fn recv_fd(sock: &UnixStream) -> Result<OwnedFd, i32> {
    let mut byte = [0u8; 1];
    let mut iov = [io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = loop {
        match recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => break other.map_err(|e| e as i32)?,
        }
    };
    let mut fd = None;
    for c in msg.cmsgs().map_err(|e| e as i32)? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the kernel installed these descriptors in this process for us.
            fd = fds.first().map(|&f| unsafe { OwnedFd::from_raw_fd(f) });
        }
    }
    match (msg.bytes, byte[0], fd) {
        (1, 0, Some(fd)) => Ok(fd),
        (1, errno, None) if errno != 0 => Err(errno as i32),
        _ => Err(libc::EIO),
    }
}
