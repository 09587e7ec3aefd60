//! Closing doors: dropping capabilities and setting no_new_privs in terminal #1, with the
//! calls a container runtime makes for it (runc: `prctl(PR_CAPBSET_DROP)` for each,
//! `capset`, `prctl(PR_SET_NO_NEW_PRIVS)`), each shown as strace would. The calls go
//! through the [`Kernel`] seam; what they mean for the student (the notes) is said here.

use nix::errno::Errno;

use super::kernel::Kernel;
use crate::msg::Msg;
use crate::observe::cap_names::cap_constant;
use crate::trace::Trace;

/// Which call refused, in the words of the trace.
#[derive(Debug, thiserror::Error)]
#[error("{call}: {}", .errno.desc())]
pub(crate) struct CapsError {
    call: String,
    errno: Errno,
}

impl CapsError {
    pub(crate) fn msg(&self) -> Msg {
        Msg::CallError { what: self.call.clone(), errno: self.errno as i32 }
    }
}

fn refused(call: impl Into<String>) -> impl FnOnce(Errno) -> CapsError {
    let call = call.into();
    move |errno| CapsError { call, errno }
}

fn note_last(trace: &mut Trace, note: Msg) {
    if let Some(last) = trace.calls.last_mut() {
        last.note = Some(note);
    }
}

/// Drop `caps` from the bounding set (so no exec can get them back) and from the effective,
/// permitted and inheritable sets of this process.
pub(crate) fn drop(caps: &[u8], k: &mut dyn Kernel, trace: &mut Trace) -> Result<(), CapsError> {
    for &c in caps {
        k.capbset_drop(c, trace).map_err(refused(format!("prctl(PR_CAPBSET_DROP, {})", cap_constant(c))))?;
    }
    let sets = k.capget(trace).map_err(refused("capget"))?;
    let res = k.capset(&sets.without(caps), caps, trace);
    note_last(trace, Msg::CapsDropped);
    res.map_err(refused("capset"))
}

/// `prctl(PR_SET_NO_NEW_PRIVS, 1)`: from now on no exec raises privileges (setuid root binaries,
/// file capabilities); it is inherited by every child and cannot be undone.
pub(crate) fn no_new_privs(k: &mut dyn Kernel, trace: &mut Trace) -> Result<(), CapsError> {
    let res = k.no_new_privs(trace);
    note_last(trace, Msg::NoNewPrivs);
    res.map_err(refused("prctl(PR_SET_NO_NEW_PRIVS)"))
}
