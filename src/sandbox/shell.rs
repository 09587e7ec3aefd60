//! Running a real shell command for a step (`sh CMD` inside, `host sh CMD`
//! outside), with its output captured and a time limit, so a lesson that
//! runs `ps aux` shows the real `ps` output and a command that hangs cannot
//! hang the workshop.
//!
//! The command gets its own process group so the whole pipeline can be
//! killed on timeout, and stdin is empty: a lesson step is not an
//! interactive shell (`shell` in the REPL is).

use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::rpc::ShellOutput;
use crate::msg::Msg;
use crate::trace::{quote, Syscall};

/// How long a step's command may run: 10 s, or NSDOJO_SH_TIMEOUT seconds (for tests).
pub fn timeout() -> Duration {
    let secs = std::env::var("NSDOJO_SH_TIMEOUT").ok().and_then(|s| s.parse().ok()).unwrap_or(10u64);
    Duration::from_secs(secs.clamp(1, 600))
}
const MAX_OUTPUT: usize = 256 * 1024;

/// Run `/bin/sh -c CMD`; the syscall line reads like strace's execve.
pub fn run(cmd: &str, timeout: Duration) -> (Syscall, ShellOutput) {
    let call = format!("execve(\"/bin/sh\", [\"sh\", \"-c\", {}])", quote(cmd));
    let mut command = Command::new("/bin/sh");
    command.arg("-c").arg(cmd);
    run_command(command, call, timeout)
}

/// Run PATH with only argv[0] = ARGV0, as `execl(PATH, ARGV0, NULL)` would.
pub fn run_as(argv0: &str, path: &str, timeout: Duration) -> (Syscall, ShellOutput) {
    let call = format!("execve({}, [{}])", quote(path), quote(argv0));
    let mut command = Command::new(path);
    command.arg0(argv0);
    run_command(command, call, timeout)
}

/// Start `command` in a process group of its own (so a timeout or a reset kills all it
/// started) that dies with whoever started it (if that cannot be arranged, the spawn fails).
fn spawn_held(command: &mut Command) -> std::io::Result<std::process::Child> {
    command.process_group(0);
    // SAFETY: the hook only calls prctl, which is async-signal-safe.
    unsafe {
        command.pre_exec(crate::process::die_with_parent);
    }
    command.spawn()
}

fn errno_of(e: &std::io::Error) -> nix::errno::Errno {
    nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::ENOENT))
}

/// Why `spawn` has no program running.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("spawn {cmd}: {source}")]
    Start { cmd: String, source: std::io::Error },
    #[error("spawn {cmd}: exited with status {status}")]
    Exited { cmd: String, status: i32 },
}

impl SpawnError {
    pub(crate) fn msg(&self) -> Msg {
        match self {
            SpawnError::Start { cmd, source } => Msg::IoError { what: format!("spawn {cmd}"), error: source.into() },
            SpawnError::Exited { cmd, status } => Msg::SpawnExited { cmd: cmd.clone(), status: *status },
        }
    }
}

/// How long `spawn` watches a new program: one that exits by then failed.
const SPAWN_WATCH: Duration = Duration::from_millis(100);

/// Has `pid` exec'd its program and gone to sleep (a server waiting for its first client)?
/// Read through `proc`, a /proc opened before any chroot; `None` when it cannot tell.
fn asleep_in_its_program(proc: &std::fs::File, pid: u32) -> Option<bool> {
    let fd = nix::fcntl::openat(
        proc,
        format!("{pid}/stat").as_str(),
        nix::fcntl::OFlag::O_RDONLY,
        nix::sys::stat::Mode::empty(),
    )
    .ok()?;
    let mut text = String::new();
    std::fs::File::from(fd).read_to_string(&mut text).ok()?;
    let stat = crate::observe::procfs::parse_stat(&text)?;
    Some(stat.comm != "sh" && stat.state == 'S')
}

/// `CMD &`: a program that keeps running after the step (a server). Its output goes nowhere,
/// it dies with the agent (parent-death signal), and one that exits within 100 ms (no such
/// program, a port in use) is reported as the failure it is. With `proc` (the agent's /proc,
/// opened before a chroot, in the PID namespace the program's PID is counted in) it returns as
/// soon as the program sleeps in its own code, which for a server means waiting for clients.
pub fn spawn(
    cmd: &str,
    devnull: Option<&std::fs::File>,
    proc: Option<&std::fs::File>,
) -> (Syscall, Result<std::process::Child, SpawnError>) {
    let call = format!("execve(\"/bin/sh\", [\"sh\", \"-c\", {}]) &", quote(cmd));
    let mut command = Command::new("/bin/sh");
    command.arg("-c").arg(format!("exec {cmd}"));
    // Stdio::null() would open /dev/null at the current root, which an image may lack.
    let null = || devnull.and_then(|f| f.try_clone().ok()).map_or_else(Stdio::null, Stdio::from);
    command.stdin(null()).stdout(null()).stderr(null());
    let mut child = match spawn_held(&mut command) {
        Ok(c) => c,
        Err(e) => {
            return (Syscall::failed(call, errno_of(&e)), Err(SpawnError::Start { cmd: cmd.to_string(), source: e }))
        }
    };
    let started = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(2));
        let exited = matches!(child.try_wait(), Ok(Some(_)));
        let ready = proc.and_then(|p| asleep_in_its_program(p, child.id())) == Some(true);
        if exited || ready || started.elapsed() >= SPAWN_WATCH {
            break;
        }
    }
    match child.try_wait() {
        Ok(Some(status)) => {
            let code = status.code().unwrap_or(-1);
            let note = if code == 127 { Msg::NoProgram } else { Msg::ExitedAtOnce };
            (
                Syscall::ok(call, child.id() as i64).with_note(note),
                Err(SpawnError::Exited { cmd: cmd.to_string(), status: code }),
            )
        }
        _ => (Syscall::ok(call, child.id() as i64).with_note(Msg::Background), Ok(child)),
    }
}

fn run_command(mut command: Command, call: String, timeout: Duration) -> (Syscall, ShellOutput) {
    // stdin: a pipe closed at once, not /dev/null, which a chroot or a fresh
    // rootfs may not have (opening it there fails with ENOENT before exec).
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = match spawn_held(&mut command) {
        Ok(c) => c,
        Err(e) => {
            return (
                Syscall::failed(call, errno_of(&e)).with_note(Msg::NoProgram),
                ShellOutput { status: 127, stderr: e.to_string(), ..Default::default() },
            );
        }
    };
    drop(child.stdin.take());
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let (mut out_open, mut err_open) = (true, true);
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let mut interrupted = false;
    while out_open || err_open {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            timed_out = true;
            break;
        }
        let mut fds = Vec::new();
        if out_open {
            fds.push(PollFd::new(out.as_fd(), PollFlags::POLLIN));
        }
        if err_open {
            fds.push(PollFd::new(err.as_fd(), PollFlags::POLLIN));
        }
        let ms = PollTimeout::try_from(left.as_millis().min(60_000) as i32).unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, ms) {
            Ok(0) => continue,
            Ok(_) => {}
            // Ctrl-C on the host: stop the command like a timeout.
            Err(nix::errno::Errno::EINTR) if crate::guard::interrupted() => {
                (timed_out, interrupted) = (true, true);
                break;
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        }
        let ready: Vec<bool> = fds.iter().map(|f| f.any().unwrap_or(false)).collect();
        drop(fds);
        let mut idx = 0;
        if out_open {
            if ready[idx] {
                out_open = pump(&mut out, &mut stdout);
            }
            idx += 1;
        }
        if err_open && ready[idx] {
            err_open = pump(&mut err, &mut stderr);
        }
    }
    // The pipes can close while the command still runs (`exec >/dev/null; sleep 60`):
    // wait for it against the same deadline, not without limit.
    // Usually it is exiting already: back off from 50 µs, so that costs nothing.
    // It is only looked at (WNOWAIT), not reaped: while it stays unreaped its process group
    // is certainly its own, so the group can be killed safely below.
    let mut nap = Duration::from_micros(50);
    let leader = child.id() as i32;
    while !timed_out && !crate::process::child_exited(leader) {
        if crate::guard::interrupted() {
            (timed_out, interrupted) = (true, true);
        } else if Instant::now() >= deadline {
            timed_out = true;
        } else {
            std::thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(5));
        }
    }
    // A command that timed out, and the background jobs any command left behind, die with
    // its process group — before the leader is reaped.
    crate::process::kill_group_of_unreaped_child(leader);
    let status = match child.wait() {
        Ok(s) => s.code().unwrap_or_else(|| 128 + std::os::unix::process::ExitStatusExt::signal(&s).unwrap_or(0)),
        Err(_) => -1,
    };
    let output = ShellOutput {
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        status,
        timed_out,
        interrupted,
    };
    let mut sc = Syscall::ok(call, 0);
    if interrupted {
        sc = sc.with_note(Msg::StoppedByCtrlC);
    } else if timed_out {
        sc = sc.with_note(Msg::KilledAfter { secs: timeout.as_secs() });
    } else if status != 0 {
        sc = sc.with_note(Msg::ExitStatus(status));
    }
    (sc, output)
}

/// Read what is there; false at end of file.
fn pump(r: &mut impl Read, into: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 8192];
    match r.read(&mut buf) {
        Ok(0) => false,
        Ok(n) => {
            if into.len() < MAX_OUTPUT {
                into.extend_from_slice(&buf[..n]);
            }
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => true,
        Err(_) => false,
    }
}
