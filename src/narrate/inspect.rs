//! What the tracer asks of a stopped tracee: which call it is in (PTRACE_GET_SYSCALL_INFO,
//! the same on every architecture, Linux 5.3+) and bytes of its memory (process_vm_readv).

use nix::unistd::Pid;

/// `struct ptrace_syscall_info` (linux/ptrace.h). libc has it only for glibc; the static musl
/// build needs it too, so it is spelt here: the union is read as words.
#[repr(C)]
#[derive(Clone, Copy)]
struct RawInfo {
    op: u8,
    _pad: [u8; 3],
    arch: u32,
    instruction_pointer: u64,
    stack_pointer: u64,
    /// entry/seccomp: nr, args[6], (seccomp) ret_data; exit: rval, is_error.
    data: [u64; 8],
}

const OP_ENTRY: u8 = 1;
const OP_EXIT: u8 = 2;
const OP_SECCOMP: u8 = 3;
const PTRACE_GET_SYSCALL_INFO: libc::c_uint = 0x420e;

/// Where a stopped tracee is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// About to make call `nr` (a seccomp stop, or a syscall-entry stop while stepping).
    Entry {
        nr: i64,
        args: [u64; 6],
    },
    /// Back from a call: its return value, or `-errno`.
    Exit {
        rval: i64,
        is_error: bool,
    },
    Other,
}

pub(crate) fn syscall_info(pid: Pid) -> nix::Result<Stop> {
    let mut raw = RawInfo { op: 0, _pad: [0; 3], arch: 0, instruction_pointer: 0, stack_pointer: 0, data: [0; 8] };
    // SAFETY: the kernel writes at most size_of::<RawInfo>() bytes into `raw`.
    let rc = unsafe {
        libc::ptrace(
            PTRACE_GET_SYSCALL_INFO as _,
            pid.as_raw(),
            std::mem::size_of::<RawInfo>(),
            &mut raw as *mut RawInfo,
        )
    };
    if rc < 0 {
        return Err(nix::errno::Errno::last());
    }
    let args = [raw.data[1], raw.data[2], raw.data[3], raw.data[4], raw.data[5], raw.data[6]];
    Ok(match raw.op {
        OP_ENTRY | OP_SECCOMP => Stop::Entry { nr: raw.data[0] as i64, args },
        OP_EXIT => Stop::Exit { rval: raw.data[0] as i64, is_error: raw.data[1] & 0xff != 0 },
        _ => Stop::Other,
    })
}

/// A tracee's memory, read while it is stopped (the decoders take this trait so they can be
/// tested on bytes).
pub(crate) trait Memory {
    /// Up to `len` bytes at `addr` (fewer where the mapping ends).
    fn bytes(&self, addr: u64, len: usize) -> Vec<u8>;

    /// The NUL-terminated string at `addr`, at most `max` bytes (then cut, with `…`).
    fn string(&self, addr: u64, max: usize) -> Option<String> {
        if addr == 0 {
            return None;
        }
        let mut out = Vec::new();
        let mut at = addr;
        while out.len() < max {
            // Read up to the page's end, so an unmapped next page cannot fail the whole read.
            let room = 4096 - (at % 4096) as usize;
            let chunk = self.bytes(at, room.min(max - out.len()));
            if chunk.is_empty() {
                break;
            }
            if let Some(end) = chunk.iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..end]);
                return Some(String::from_utf8_lossy(&out).into_owned());
            }
            at += chunk.len() as u64;
            out.extend_from_slice(&chunk);
        }
        let mut s = String::from_utf8_lossy(&out).into_owned();
        s.push('…');
        Some(s)
    }

    /// A NULL-terminated array of string pointers (argv), at most `max` entries.
    fn strings(&self, addr: u64, max: usize) -> Vec<String> {
        let mut out = Vec::new();
        for i in 0..max as u64 {
            let word = self.bytes(addr + 8 * i, 8);
            let Ok(word) = <[u8; 8]>::try_from(word.as_slice()) else { break };
            let ptr = u64::from_le_bytes(word);
            if ptr == 0 {
                return out;
            }
            out.push(self.string(ptr, 256).unwrap_or_default());
        }
        out.push("…".into());
        out
    }

    fn word(&self, addr: u64) -> Option<u64> {
        self.bytes(addr, 8).try_into().ok().map(u64::from_le_bytes)
    }
}

/// The memory of traced process `pid`.
pub(crate) struct Live(pub Pid);

impl Memory for Live {
    fn bytes(&self, addr: u64, len: usize) -> Vec<u8> {
        let mut buf = vec![0u8; len];
        let remote = [nix::sys::uio::RemoteIoVec { base: addr as usize, len }];
        match nix::sys::uio::process_vm_readv(self.0, &mut [std::io::IoSliceMut::new(&mut buf)], &remote) {
            Ok(n) => {
                buf.truncate(n);
                buf
            }
            Err(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
pub(crate) mod fake {
    use std::collections::BTreeMap;

    /// Memory made of a few regions, for the decoders' tests.
    #[derive(Default)]
    pub(crate) struct Bytes(pub BTreeMap<u64, Vec<u8>>);

    impl Bytes {
        pub(crate) fn at(mut self, addr: u64, bytes: &[u8]) -> Bytes {
            self.0.insert(addr, bytes.to_vec());
            self
        }
    }

    impl super::Memory for Bytes {
        fn bytes(&self, addr: u64, len: usize) -> Vec<u8> {
            for (start, b) in &self.0 {
                if addr >= *start && addr < start + b.len() as u64 {
                    let from = (addr - start) as usize;
                    return b[from..(from + len).min(b.len())].to_vec();
                }
            }
            Vec::new()
        }
    }
}
