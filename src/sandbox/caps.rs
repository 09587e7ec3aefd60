//! Closing doors: dropping capabilities and setting no_new_privs in terminal #1, with the
//! calls a container runtime makes for it (runc: `prctl(PR_CAPBSET_DROP)` for each,
//! `capset`, `prctl(PR_SET_NO_NEW_PRIVS)`), each shown as strace would.

use nix::errno::Errno;

use crate::observe::caps::cap_constant;
use crate::trace::{Syscall, Trace};

/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct Header {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Data {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn last_errno(r: libc::c_long) -> Result<(), Errno> {
    if r == 0 {
        Ok(())
    } else {
        Err(Errno::last())
    }
}

/// Drop `caps` from the bounding set (so no exec can get them back) and from the effective,
/// permitted and inheritable sets of this process.
pub fn drop(caps: &[u8], trace: &mut Trace) -> Result<(), String> {
    for &c in caps {
        // SAFETY: prctl with plain integers.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(c), 0, 0, 0) };
        trace
            .record(format!("prctl(PR_CAPBSET_DROP, {})", cap_constant(c)), last_errno(r.into()))
            .map_err(|e| format!("prctl(PR_CAPBSET_DROP, {}): {}", cap_constant(c), e.desc()))?;
    }
    let mut header = Header { version: VERSION_3, pid: 0 };
    let mut data = [Data::default(); 2];
    // SAFETY: capget fills two Data structs we own, as version 3 asks.
    let r = unsafe { libc::syscall(libc::SYS_capget, &mut header as *mut Header, data.as_mut_ptr()) };
    trace
        .record("capget({_LINUX_CAPABILITY_VERSION_3, 0}, …)", last_errno(r))
        .map_err(|e| format!("capget: {}", e.desc()))?;
    for &c in caps {
        let (word, bit) = (usize::from(c / 32), 1u32 << (c % 32));
        data[word].effective &= !bit;
        data[word].permitted &= !bit;
        data[word].inheritable &= !bit;
    }
    // SAFETY: capset reads the header and two Data structs we own.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) };
    let names: Vec<String> = caps.iter().map(|c| cap_constant(*c)).collect();
    let res = last_errno(r);
    trace.push(
        Syscall::from_result(
            format!(
                "capset({{_LINUX_CAPABILITY_VERSION_3, 0}}, {{effective, permitted, inheritable without {}}})",
                names.join(", ")
            ),
            &res,
            0,
        )
        .with_note("root still, uid 0, but without these powers; the bounding set keeps them from coming back"),
    );
    res.map_err(|e| format!("capset: {}", e.desc()))
}

/// `prctl(PR_SET_NO_NEW_PRIVS, 1)`: from now on no exec raises privileges (setuid root binaries,
/// file capabilities); it is inherited by every child and cannot be undone.
pub fn no_new_privs(trace: &mut Trace) -> Result<(), String> {
    // SAFETY: prctl with plain integers.
    let r = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    let res = last_errno(r.into());
    trace.push(
        Syscall::from_result("prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)", &res, 0)
            .with_note("no exec can gain privileges any more: a setuid-root program runs as the caller"),
    );
    res.map_err(|e| format!("prctl(PR_SET_NO_NEW_PRIVS): {}", e.desc()))
}
