//! The sandbox agent: terminal #1, as a process.
//!
//! Forked by the host at lesson start, it loops: read a request from the
//! socketpair, perform it, answer with the syscalls it made. It is the only
//! process that unshares, mounts, chroots or pivots, so whatever it does
//! dies with it. It sits in its own process group (a Ctrl-C at the terminal
//! reaches the host, which decides), and it is killed if its parent dies
//! (PR_SET_PDEATHSIG), so a crashed host cannot leave it behind.

use std::os::unix::net::UnixStream;

use nix::sys::signal::{signal, SigHandler, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::kernel::LinuxKernel;
use super::perform::{perform_all, AgentState, Stop};
use super::rpc::{recv, send, Reply, Request};
use crate::observe::InsideFacts;

/// Set up a freshly forked agent process (both the first and a PID-namespace child).
pub fn become_child_agent() {
    // PDEATHSIG: die with the host. CHILD_SUBREAPER: orphans of the sandbox (a killed
    // stress's worker, a shell's background job) come back to the agent, which reaps them
    // between requests, instead of to the host's init. An agent without both must not run.
    if crate::process::die_with_parent().and_then(|_| crate::process::become_subreaper()).is_err() {
        exit(1);
    }
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT] {
        // SAFETY: restoring default dispositions inherited from the host.
        let _ = unsafe { signal(sig, SigHandler::SigDfl) };
    }
    // The name shows in `ps` so students can find terminal #1.
    crate::process::set_name(c"nsdojo-sandbox");
}

/// A login shell's PATH on Debian and Ubuntu: what terminal #1's commands search, and what the
/// `try` shell searches besides the host's PATH (`try_session::dojo::shell_path`).
pub const STANDARD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Serve requests until the host closes the connection. Never returns to the host's code.
pub fn serve(mut stream: UnixStream, keep_propagation: bool) -> ! {
    crate::hostguard::close_inherited_watchdog_fd();
    let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
    become_child_agent();
    // Terminal #1's commands search the standard PATH, like a login shell's: the host's
    // PATH may name directories that a chroot or pivot_root leaves behind.
    std::env::set_var("PATH", STANDARD_PATH);
    let mut origin = AgentState {
        unshared: Vec::new(),
        keep_propagation,
        burner: None,
        stress: None,
        made_netns_dir: false,
        moved_root: false,
        spawned: Vec::new(),
        devnull: std::fs::File::options().read(true).write(true).open("/dev/null").ok(),
        proc: std::fs::File::open("/proc").ok(),
    };
    loop {
        reap_orphans();
        let req: Request = match recv(&mut stream, &|| false) {
            Ok(r) => r,
            Err(_) => exit(0),
        };
        let reply = match req {
            Request::Observe(needs) => Reply::Observed(Box::new(InsideFacts::collect(&needs))),
            Request::Perform { ops, observe } => {
                let (outcomes, stop) = perform_all(&mut LinuxKernel, &mut origin, &ops);
                if let Stop::Forked { child } = stop {
                    // The parent stays behind as reaper; the child carries on with the batch.
                    drop(stream);
                    reap_until(child);
                }
                let observed = observe.map(|needs| Box::new(InsideFacts::collect(&needs)));
                Reply::Performed { outcomes, observed }
            }
        };
        if send(&mut stream, &reply).is_err() {
            exit(0);
        }
    }
}

/// As PID 1 of a PID namespace the agent inherits orphans; reap them between requests.
fn reap_orphans() {
    while let Ok(status) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}

/// The parent left behind by `unshare pid`: wait for the new agent, then exit like it.
fn reap_until(child: Pid) -> ! {
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(p, code)) if p == child => exit(code),
            Ok(WaitStatus::Signaled(p, sig, _)) if p == child => exit(128 + sig as i32),
            Err(nix::errno::Errno::ECHILD) => exit(0),
            _ => {}
        }
    }
}

fn exit(code: i32) -> ! {
    // _exit: the agent shares the host's stdio buffers and atexit state by fork; flushing them twice would repeat output.
    // SAFETY: _exit never returns and touches no Rust state.
    unsafe { libc::_exit(code) }
}
