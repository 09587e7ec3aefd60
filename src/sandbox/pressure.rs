//! Putting pressure on a limit from inside the sandbox: a child that
//! allocates more memory than the cgroup allows (the OOM killer answers),
//! and a burst of processes against `pids.max` (fork answers EAGAIN).
//! Both run in the agent, so the processes are in terminal #1's cgroup.

use nix::errno::Errno;
use nix::sys::wait::WaitStatus;
use nix::unistd::{ForkResult, Pid};

use super::rpc::{Outcome, ShellOutput};
use crate::process::Pidfd;
use crate::trace::Syscall;

fn child_setup() {
    // SAFETY: plain prctl, then _exit in a forked child if it failed: a child that would
    // outlive the agent must not run at all.
    unsafe {
        if crate::process::die_with_parent().is_err() {
            libc::_exit(126);
        }
    }
}

/// Fork a child that allocates and touches `bytes`; report how it ended.
pub fn hog(bytes: u64, out: &mut Outcome) -> Result<(), crate::process::ForkError> {
    let mib = bytes >> 20;
    // The child allocates, touches and _exits.
    match crate::process::fork() {
        Ok(ForkResult::Child) => {
            child_setup();
            // Locked in RAM (root may): pages that cannot be swapped out are charged to the
            // group for good, so the limit ends in the OOM killer on every machine, also on a
            // cgroup v1 host with swap and no swap accounting (Ubuntu 18.04's default), where
            // the hog would otherwise just be swapped out.
            // SAFETY: mlockall takes flags only; its failure leaves the old behaviour.
            unsafe {
                libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE);
            }
            let mut v: Vec<u8> = Vec::new();
            let step = 1 << 20;
            for _ in 0..mib {
                let start = v.len();
                v.resize(start + step, 0);
                // Touch every page so the memory is really charged to the cgroup.
                for i in (start..start + step).step_by(4096) {
                    v[i] = 1;
                }
            }
            std::hint::black_box(&v);
            // SAFETY: _exit in a forked child.
            unsafe { libc::_exit(0) }
        }
        Ok(ForkResult::Parent { child }) => {
            out.trace
                .push(Syscall::ok("fork()", child.as_raw() as i64).with_note(crate::msg::Msg::MemoryLocked { mib }));
            use crate::msg::Msg;
            let (status, text) = match crate::process::reap(child.as_raw()) {
                Some(WaitStatus::Exited(_, code)) => (code, Msg::MemoryAllocated { mib, code }),
                Some(WaitStatus::Signaled(_, sig, _)) => {
                    (128 + sig as i32, Msg::MemoryOomKilled { signal: format!("{sig:?}"), mib })
                }
                other => (-1, Msg::WaitStatus(format!("{other:?}"))),
            };
            out.trace.push(Syscall::ok(format!("wait4({child}, ...)"), child.as_raw() as i64).with_note(text.clone()));
            out.output = Some(ShellOutput { stdout: format!("{text}\n"), status, ..Default::default() });
            Ok(())
        }
        Err(crate::process::ForkError::Fork(e)) => {
            out.trace.push(Syscall::failed("fork()", e));
            Err(crate::process::ForkError::Fork(e))
        }
        Err(threaded) => Err(threaded),
    }
}
/// Try to start `count` sleeping processes at once; count how many the kernel allowed.
pub fn forks(count: u32, out: &mut Outcome) -> Result<(), crate::process::ForkError> {
    let mut started: Vec<(Pid, Option<Pidfd>)> = Vec::new();
    let mut refused: Option<Errno> = None;
    for _ in 0..count {
        // The child only pauses until killed.
        match crate::process::fork() {
            Ok(ForkResult::Child) => {
                child_setup();
                loop {
                    // SAFETY: pause() waits for a signal; the parent sends SIGKILL.
                    unsafe { libc::pause() };
                }
            }
            // Held at once; an unreaped child's PID is its own even if pidfd_open failed.
            Ok(ForkResult::Parent { child }) => started.push((child, Pidfd::open(child.as_raw()).ok())),
            Err(crate::process::ForkError::Fork(e)) => {
                refused = Some(e);
                break;
            }
            Err(threaded) => return Err(threaded),
        }
    }
    out.trace.push(
        Syscall::ok(format!("fork() × {}", started.len()), 0)
            .with_note(crate::msg::Msg::ProcessesStarted(started.len())),
    );
    if let Some(e) = refused {
        let mut sc = Syscall::failed("fork()", e);
        if e == Errno::EAGAIN {
            sc = sc.with_note(crate::msg::Msg::PidsMaxReached);
        }
        out.trace.push(sc);
    }
    for (pid, held) in &started {
        match held {
            Some(h) => h.kill(),
            // Unreaped (we wait below), so the PID is still this child's.
            None => crate::process::kill_unreaped_child(pid.as_raw()),
        }
    }
    for (pid, _) in &started {
        crate::process::reap(pid.as_raw());
    }
    let text = format!(
        "started {} of {count} processes{}\n",
        started.len(),
        refused.map(|e| format!("; then fork() failed with {e:?}")).unwrap_or_default()
    );
    out.output = Some(ShellOutput { stdout: text, status: i32::from(refused.is_some()), ..Default::default() });
    Ok(())
}
