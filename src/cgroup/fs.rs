//! The few cgroupfs operations, each recorded in a [`Trace`] as strace would
//! show the shell doing it (`mkdir`, `write`, `rmdir`, `kill`).
//!
//! cgroupfs has no API besides files, so what a student needs to see is
//! which file got which bytes and what the kernel answered. Reads are not
//! recorded: they change nothing.
//!
//! Writes open with `O_WRONLY|O_TRUNC` and never `O_CREAT`: a missing control
//! file is a real answer from the kernel (e.g. `cpu.max` is absent until the
//! cpu controller is enabled for the group), never something to paper over.
//! `O_TRUNC` is what the shell's `>` does; cgroupfs ignores it, and on a fake
//! tree in a tempdir it makes a file hold exactly the last bytes written.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::Signal;

use super::CgroupError;
use crate::msg::Msg;
use crate::trace::{quote, Syscall, Trace};

/// How often and how long `rmdir` is retried on EBUSY: a task that was just
/// killed stays in `cgroup.procs` until it is fully gone.
const RMDIR_TRIES: u32 = 6;
const RMDIR_PAUSE: Duration = Duration::from_millis(20);

pub(crate) fn q(path: &Path) -> String {
    quote(&path.to_string_lossy())
}

pub(crate) fn errno_of(e: &io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// The usual reason behind a failure, as learned in the lab.
fn note_for(call: &str, path: &Path, errno: Errno) -> Option<Msg> {
    let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
    Some(match (call, file, errno) {
        ("write", "cgroup.subtree_control", Errno::ENOENT) => Msg::CgroupV1Bound,
        ("write", "cgroup.subtree_control", Errno::EBUSY) => Msg::NoInternalProcesses,
        ("write", "cgroup.procs", Errno::ESRCH) => Msg::NoSuchProcess,
        ("write", "cgroup.procs", Errno::EBUSY) => Msg::LeavesOnly,
        ("write", "cpu.cfs_quota_us", Errno::EINVAL) | ("write", "cpu.max", Errno::EINVAL) => Msg::QuotaRange,
        ("open", "cpu.max", Errno::ENOENT) => Msg::CpuMaxNeedsCpu,
        ("mkdir", _, Errno::EEXIST) => Msg::GroupExists,
        ("rmdir", _, Errno::EBUSY) => Msg::GroupBusy,
        ("rmdir", _, Errno::ENOENT) | ("kill", _, Errno::ESRCH) => Msg::AlreadyGone,
        _ => return None,
    })
}

fn push(trace: &mut Trace, call: String, res: Result<i64, Errno>, op: &str, path: &Path) -> Result<i64, CgroupError> {
    match res {
        Ok(ret) => {
            trace.push(Syscall::ok(call, ret));
            Ok(ret)
        }
        Err(errno) => {
            let mut sc = Syscall::failed(call.clone(), errno);
            let note = note_for(op, path, errno);
            if let Some(n) = &note {
                sc = sc.with_note(n.clone());
            }
            trace.push(sc);
            Err(CgroupError::Syscall { call, errno, note })
        }
    }
}

/// `write("<path>", "<data>") = n`, or `open(...) = -1 E...` when the file is missing.
pub(crate) fn write(path: &Path, data: &str, trace: &mut Trace) -> Result<(), CgroupError> {
    let file = OpenOptions::new().write(true).truncate(true).open(path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) => {
            let call = format!("open({}, O_WRONLY|O_TRUNC)", q(path));
            return push(trace, call, Err(errno_of(&e)), "open", path).map(drop);
        }
    };
    let call = format!("write({}, {})", q(path), quote(data));
    // One write(2), as the shell's echo does: cgroupfs takes a value per write.
    let res = file.write(data.as_bytes()).map(|n| n as i64).map_err(|e| errno_of(&e));
    let n = push(trace, call.clone(), res, "write", path)?;
    if n as usize != data.len() {
        return Err(CgroupError::Syscall { call, errno: Errno::EIO, note: Some(Msg::ShortWrite) });
    }
    Ok(())
}

/// `mkdir("<path>", 0755) = 0`.
pub(crate) fn mkdir(path: &Path, trace: &mut Trace) -> Result<(), CgroupError> {
    let res = DirBuilder::new().mode(0o755).create(path).map(|_| 0).map_err(|e| errno_of(&e));
    push(trace, format!("mkdir({}, 0755)", q(path)), res, "mkdir", path).map(drop)
}

/// `rmdir("<path>")`, retried on EBUSY; ENOENT counts as success.
pub(crate) fn rmdir_patiently(path: &Path, trace: &mut Trace) -> Result<(), CgroupError> {
    let mut tries = 0;
    loop {
        tries += 1;
        let res = fs::remove_dir(path).map(|_| 0).map_err(|e| errno_of(&e));
        match push(trace, format!("rmdir({})", q(path)), res, "rmdir", path) {
            Ok(_) => return Ok(()),
            Err(CgroupError::Syscall { errno: Errno::ENOENT, .. }) => return Ok(()),
            Err(CgroupError::Syscall { errno: Errno::EBUSY, .. }) if tries < RMDIR_TRIES => sleep(RMDIR_PAUSE),
            Err(e) => return Err(e),
        }
    }
}

/// `kill(<pid>, SIGKILL)` to a member of the group at `dir`; ESRCH (already gone) counts
/// as success. The PID came from `cgroup.procs` and may have been reused since: the process
/// is held by a pidfd first, and signalled only if it is still listed in the group.
pub(crate) fn kill9(pid: i32, dir: &Path, trace: &mut Trace) -> Result<(), CgroupError> {
    let still_member = |p: i32| procs(dir).is_ok_and(|list| list.contains(&p));
    let res = match crate::process::Pidfd::open_checked(pid, still_member) {
        Some(held) => {
            held.signal(Signal::SIGKILL).map(|_| 0).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))
        }
        None => Err(Errno::ESRCH),
    };
    let p = PathBuf::new();
    match push(trace, format!("kill({pid}, SIGKILL)"), res, "kill", &p) {
        Ok(_) | Err(CgroupError::Syscall { errno: Errno::ESRCH, .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Read a control file whole.
pub(crate) fn read(path: &Path) -> Result<String, CgroupError> {
    fs::read_to_string(path).map_err(|source| CgroupError::Read { path: path.to_path_buf(), source })
}

/// Read a file that may legitimately be absent (an optional kernel feature).
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, CgroupError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CgroupError::Read { path: path.to_path_buf(), source }),
    }
}

/// The pids listed in a `cgroup.procs` file.
pub(crate) fn procs(dir: &Path) -> Result<Vec<i32>, CgroupError> {
    let text = read(&dir.join("cgroup.procs"))?;
    Ok(text.split_whitespace().filter_map(|p| p.parse().ok()).collect())
}

/// `cgroup.procs` of `dir`, opened for writing: a process that writes its own PID there joins
/// the group. `attach` opens it on the host, before it enters terminal #1's namespaces and
/// root (where the path may not resolve), and writes it from the child that joins.
pub(crate) fn open_procs_for_join(dir: &Path) -> std::io::Result<fs::File> {
    OpenOptions::new().write(true).open(dir.join("cgroup.procs"))
}
