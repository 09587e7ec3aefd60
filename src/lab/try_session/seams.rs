//! What `try` needs from outside the lab, as traits: the student's shell as a process (and the
//! host process's own side while it is open: adopted orphans, held signals, the terminal), the
//! host's undo, and the clock. [`Seams::real`] is what the REPL uses; the unit tests put fakes
//! in (`try_session::tests`), so a try is judged, undone and reported without root, a shell or
//! a fork.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::lesson::Lang;
use crate::sandbox::attach::{AttachError, Extras};

/// One line saying what was put back on the host (or could not be), in English; the REPL
/// renders it in the session's language. (The host-guard module's typed change replaces it.)
pub(crate) type Said = crate::hostguard::Undone;

/// The student's shell as a process, and what the host process does while it is open.
pub(crate) trait ShellSide {
    /// Hold SIGTERM and SIGHUP, adopt what the shell will leave behind, and start the shell
    /// in process `target`'s namespaces, cgroups, root and credentials, as `extras` say.
    fn open(&mut self, lang: Lang, target: i32, extras: Extras) -> Result<(), AttachError>;
    /// The shell still runs.
    fn alive(&mut self) -> bool;
    /// SIGKILL the shell and reap it (what it leaves is adopted, stopped by `close`).
    fn end(&mut self);
    /// The process the student types into: the terminal's foreground process group, if a
    /// process of the shell's owns it; else the shell itself.
    fn typed_into(&self) -> Option<i32>;
    /// The shell that asked `dojo` something: as `typed_into`, but the shell, not the
    /// `dojo` script it runs in the foreground.
    fn asking(&self) -> Option<i32>;
    /// A held SIGTERM or SIGHUP is waiting.
    fn signal_pending(&self) -> bool;
    /// The terminal back to the REPL, and what the shell left running stopped: said, one
    /// line each.
    fn close(&mut self) -> Vec<Said>;
    /// Let a held signal through (only once the host is put back).
    fn release(&mut self);
    /// The student's calls the tracer has said since the last time asked (`crate::narrate`).
    fn calls(&mut self) -> Vec<crate::narrate::StudentCall>;
    /// Whether the shell's calls are narrated (it was asked for, and the tracer holds it).
    fn narrated(&self) -> bool;
}

/// Putting the host back as the shell found it.
pub(crate) trait HostUndo {
    /// The host now (the sandbox is up): what differs at the end is the shell's. Recorded
    /// in the session record too, so a killed nsdojo's cleanup puts it back.
    fn begin(&mut self, session: &str) -> std::io::Result<()>;
    /// Undo what changed since `begin`, but not the lesson's own group made where it goes
    /// (`lessons_group`: the step done right) nor what any session recorded as its own.
    fn undo(&mut self, lessons_group: &[PathBuf]) -> Vec<Said>;
    /// The leak audit: what still differs, one `+`/`-` line each.
    fn still_changed(&self) -> Vec<crate::hostguard::Difference>;
    /// The try is over: the session record forgets it.
    fn end(&mut self, session: &str);
}

pub(crate) trait Clock {
    fn now(&self) -> Instant;
    fn sleep(&mut self, d: Duration);
}

/// Everything a try reaches outside the lab.
pub(crate) struct Seams {
    pub shell: Box<dyn ShellSide>,
    pub undo: Box<dyn HostUndo>,
    pub clock: Box<dyn Clock>,
}

impl Seams {
    /// `narrate`: trace the shell's tree and say the student's calls (`try`, not `try --no-trace`).
    pub(crate) fn real(narrate: bool) -> Seams {
        let shell = RealShell { narrate, ..RealShell::default() };
        Seams { shell: Box::new(shell), undo: Box::new(RealUndo(None)), clock: Box::new(RealClock) }
    }
}

/// The shell forked by `sandbox::attach`, held from its birth (`process::HeldChild`).
#[derive(Default)]
pub(crate) struct RealShell {
    child: Option<crate::process::HeldChild>,
    signals: Option<crate::hostguard::HeldSignals>,
    reaper: Option<crate::process::Subreaper>,
    narrate: bool,
    /// The tracer and our end of the pipe it sends the student's calls on.
    tracer: Option<crate::process::HeldChild>,
    heard: Option<std::fs::File>,
    partial: Vec<u8>,
}

impl ShellSide for RealShell {
    fn open(&mut self, lang: Lang, target: i32, extras: Extras) -> Result<(), AttachError> {
        self.signals = Some(crate::hostguard::HeldSignals::hold());
        self.reaper = Some(crate::process::Subreaper::start());
        let mut extras = extras;
        if self.narrate {
            use nix::fcntl::OFlag;
            if let Ok((r, w)) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK) {
                self.heard = Some(r.into());
                extras.narrate = Some(crate::narrate::Narration { lang, events: Some(w) });
            }
        }
        let spawned = crate::sandbox::attach::spawn_with(lang, target, &[], extras)?;
        self.child = Some(crate::process::HeldChild::new(spawned.child.as_raw()));
        self.tracer = spawned.tracer.map(|t| crate::process::HeldChild::new(t.as_raw()));
        Ok(())
    }

    fn calls(&mut self) -> Vec<crate::narrate::StudentCall> {
        let Some(pipe) = &mut self.heard else { return Vec::new() };
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = std::io::Read::read(pipe, &mut chunk) {
            self.partial.extend_from_slice(&chunk[..n]);
        }
        let mut out = Vec::new();
        while let Some(end) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            if let Ok(call) = serde_json::from_slice(&line) {
                out.push(call);
            }
        }
        out
    }

    fn narrated(&self) -> bool {
        self.tracer.is_some()
    }

    fn alive(&mut self) -> bool {
        self.child.as_mut().is_some_and(crate::process::HeldChild::alive)
    }

    fn end(&mut self) {
        if let Some(c) = &mut self.child {
            c.kill();
        }
    }

    fn typed_into(&self) -> Option<i32> {
        let child = self.child.as_ref()?.pid();
        let ours = nix::unistd::getpgrp();
        match nix::unistd::tcgetpgrp(std::io::stdin()) {
            Ok(fg) if fg != ours => Some(fg.as_raw()),
            // The first child forks again for a PID namespace: the shell is its child.
            _ => crate::observe::procfs::children_of(child).into_iter().next(),
        }
    }

    fn asking(&self) -> Option<i32> {
        self.typed_into().map(|p| match crate::observe::procfs::stat(p) {
            Ok(st) if st.comm == "dojo" => st.ppid,
            _ => p,
        })
    }

    fn signal_pending(&self) -> bool {
        self.signals.as_ref().is_some_and(crate::hostguard::HeldSignals::pending)
    }

    fn close(&mut self) -> Vec<Said> {
        take_back_terminal();
        // The tracer goes first: PTRACE_O_EXITKILL ends what it still follows (left running
        // in the background), which the subreaper then reaps and says, as before.
        if let Some(t) = &mut self.tracer {
            t.kill();
        }
        let shell = self.child.as_ref().map_or(0, crate::process::HeldChild::pid);
        let stopped = self.reaper.take().map(|r| r.finish(shell)).unwrap_or_default();
        // The subreaper has stopped and reaped each already (round by round): said as put back.
        stopped
            .into_iter()
            .map(|a| crate::hostguard::Undone {
                change: crate::hostguard::HostChange::LeftProcess { pid: a.pid, comm: a.comm },
                outcome: crate::hostguard::Outcome::Reverted,
                cause: crate::hostguard::Cause::Try,
            })
            .collect()
    }

    fn release(&mut self) {
        self.signals = None;
    }
}

/// The terminal back to the REPL's process group (the shell may have left it with its own).
fn take_back_terminal() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: SIG_IGN for SIGTTOU only, restored right after; no handler code runs.
    unsafe {
        let old = signal(Signal::SIGTTOU, SigHandler::SigIgn);
        let _ = nix::unistd::tcsetpgrp(std::io::stdin(), nix::unistd::getpgrp());
        if let Ok(old) = old {
            let _ = signal(Signal::SIGTTOU, old);
        }
    }
}

/// `crate::undo` on the real host, with the session record.
pub(crate) struct RealUndo(Option<crate::hostguard::undo::Before>);

impl HostUndo for RealUndo {
    fn begin(&mut self, session: &str) -> std::io::Result<()> {
        let before = crate::hostguard::undo::Before::now();
        crate::hostguard::record_add(session, |r| r.trying = Some(before.clone()))?;
        self.0 = Some(before);
        Ok(())
    }

    fn undo(&mut self, lessons_group: &[PathBuf]) -> Vec<Said> {
        let Some(before) = &self.0 else { return Vec::new() };
        crate::hostguard::undo::since(before, lessons_group, &crate::hostguard::recorded_by_sessions())
    }

    fn still_changed(&self) -> Vec<crate::hostguard::Difference> {
        self.0.as_ref().map(crate::hostguard::undo::Before::still_changed).unwrap_or_default()
    }

    fn end(&mut self, session: &str) {
        let _ = crate::hostguard::record_add(session, |r| r.trying = None);
    }
}

pub(crate) struct RealClock;

impl Clock for RealClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
}
