//! The seccomp filter that picks out the calls a lesson teaches, so only those stop the
//! student's shell for the tracer (`strace --seccomp-bpf` does the same): every other call
//! runs at full speed, never leaving the kernel.
//!
//! The filter only ever says ALLOW or TRACE. It is installed by the first process of the
//! shell's tree while that process is already traced, and is inherited by every descendant,
//! which the tracer follows (PTRACE_O_TRACEFORK and friends). A TRACE without a tracer would
//! fail the call with ENOSYS; the tracer is set to kill the tree when it goes
//! (PTRACE_O_EXITKILL), so no process outlives it under this filter.
//!
//! It is built by hand: a few dozen instructions, each block "load the syscall number, compare,
//! maybe look at one argument, return". A crate (seccompiler) would compile the same, and also
//! sets no_new_privs when it installs, which would change what the lessons teach about it.

use libc::{sock_filter, BPF_ABS, BPF_JEQ, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_RET, BPF_W};

/// `seccomp_data`: the syscall number, the architecture, then six 64-bit arguments.
const NR: u32 = 0;
const ARCH: u32 = 4;
/// The low 32 bits of argument `i` (both supported architectures are little-endian).
const fn arg(i: u32) -> u32 {
    16 + 8 * i
}

#[cfg(target_arch = "x86_64")]
pub(crate) const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
pub(crate) const AUDIT_ARCH: u32 = 0xc000_00b7;

pub(crate) const RET_ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
pub(crate) const RET_TRACE: u32 = libc::SECCOMP_RET_TRACE;

/// Every CLONE_NEW* flag: a clone that makes a namespace is narrated, a plain fork is not.
pub(crate) const CLONE_NEW_ANY: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP) as u32;

/// Which calls stop for the tracer, and on what argument.
#[derive(Debug, Clone, Copy)]
enum Rule {
    Always(i64),
    /// When argument `arg`'s low 32 bits share a bit with `mask`.
    AnyBit {
        nr: i64,
        arg: u32,
        mask: u32,
    },
    /// When argument `arg` is one of two values.
    OneOf {
        nr: i64,
        arg: u32,
        a: u32,
        b: u32,
    },
    /// When argument 0 is `a0` and argument 2 is `a2` (`socket(AF_NETLINK, _, NETLINK_ROUTE)`).
    Both {
        nr: i64,
        a0: u32,
        a2: u32,
    },
}

fn rules() -> Vec<Rule> {
    use Rule::*;
    #[allow(unused_mut)] // x86_64 adds its older calls below
    let mut r = vec![
        Always(libc::SYS_unshare),
        Always(libc::SYS_setns),
        AnyBit { nr: libc::SYS_clone, arg: 0, mask: CLONE_NEW_ANY },
        // clone3's flags are in memory the filter cannot read: every clone3 stops, and the
        // tracer narrates only those that make a namespace (shells fork with clone).
        Always(libc::SYS_clone3),
        Always(libc::SYS_chroot),
        Always(libc::SYS_pivot_root),
        Always(libc::SYS_mount),
        Always(libc::SYS_umount2),
        Always(libc::SYS_sethostname),
        Always(libc::SYS_setdomainname),
        Always(libc::SYS_setuid),
        Always(libc::SYS_setgid),
        Always(libc::SYS_setresuid),
        Always(libc::SYS_setresgid),
        Always(libc::SYS_setgroups),
        Always(libc::SYS_capset),
        OneOf { nr: libc::SYS_prctl, arg: 0, a: libc::PR_CAPBSET_DROP as u32, b: libc::PR_SET_NO_NEW_PRIVS as u32 },
        Always(libc::SYS_msgget),
        Always(libc::SYS_execve),
        Always(libc::SYS_execveat),
        // Opened for writing (O_WRONLY or O_RDWR): a cgroupfs file or an id map is then
        // followed to its write.
        AnyBit { nr: libc::SYS_openat, arg: 2, mask: libc::O_ACCMODE as u32 },
        Always(libc::SYS_mkdirat),
        AnyBit { nr: libc::SYS_unlinkat, arg: 2, mask: libc::AT_REMOVEDIR as u32 },
        Both { nr: libc::SYS_socket, a0: libc::AF_NETLINK as u32, a2: libc::NETLINK_ROUTE as u32 },
    ];
    #[cfg(target_arch = "x86_64")]
    r.extend([
        AnyBit { nr: libc::SYS_open, arg: 1, mask: libc::O_ACCMODE as u32 },
        Always(libc::SYS_mkdir),
        Always(libc::SYS_rmdir),
    ]);
    r
}

const fn stmt(code: u32, k: u32) -> sock_filter {
    sock_filter { code: code as u16, jt: 0, jf: 0, k }
}

const fn jump(code: u32, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code: code as u16, jt, jf, k }
}

const LOAD: u32 = BPF_LD | BPF_W | BPF_ABS;
const JEQ: u32 = BPF_JMP | BPF_JEQ | BPF_K;
const JSET: u32 = BPF_JMP | BPF_JSET | BPF_K;
const RET: u32 = BPF_RET | BPF_K;

/// The program: other architectures' calls (x32, i386 through int 0x80) are allowed as they
/// are; each rule is one block that returns TRACE or ALLOW once its number matched.
pub(crate) fn program() -> Vec<sock_filter> {
    let mut p = vec![stmt(LOAD, ARCH), jump(JEQ, AUDIT_ARCH, 1, 0), stmt(RET, RET_ALLOW)];
    for rule in rules() {
        // Each block starts by loading the number again: a block that looked at an argument
        // left that in the accumulator.
        p.push(stmt(LOAD, NR));
        let body: Vec<sock_filter> = match rule {
            Rule::Always(_) => vec![stmt(RET, RET_TRACE)],
            Rule::AnyBit { arg: a, mask, .. } => {
                vec![stmt(LOAD, arg(a)), jump(JSET, mask, 0, 1), stmt(RET, RET_TRACE), stmt(RET, RET_ALLOW)]
            }
            Rule::OneOf { arg: i, a, b, .. } => vec![
                stmt(LOAD, arg(i)),
                jump(JEQ, a, 1, 0),
                jump(JEQ, b, 0, 1),
                stmt(RET, RET_TRACE),
                stmt(RET, RET_ALLOW),
            ],
            Rule::Both { a0, a2, .. } => vec![
                stmt(LOAD, arg(0)),
                jump(JEQ, a0, 0, 3),
                stmt(LOAD, arg(2)),
                jump(JEQ, a2, 0, 1),
                stmt(RET, RET_TRACE),
                stmt(RET, RET_ALLOW),
            ],
        };
        let nr = match rule {
            Rule::Always(nr) | Rule::AnyBit { nr, .. } | Rule::OneOf { nr, .. } | Rule::Both { nr, .. } => nr,
        };
        p.push(jump(JEQ, nr as u32, 0, body.len() as u8));
        p.extend(body);
    }
    p.push(stmt(RET, RET_ALLOW));
    p
}

/// Install the filter on the calling process (and so on all it will fork). It must already be
/// traced. Needs CAP_SYS_ADMIN, which the caller (root, before it joins anything) has: with it,
/// no_new_privs is not needed and stays as the student leaves it.
pub(crate) fn install() -> std::io::Result<()> {
    let prog = program();
    let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_ptr().cast_mut() };
    // SAFETY: a valid program that outlives the call; the kernel copies it.
    let rc = unsafe {
        libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &fprog as *const libc::sock_fprog)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The four instructions the program uses, run as the kernel would run them.
    fn run(prog: &[sock_filter], nr: i64, args: [u64; 6], arch: u32) -> u32 {
        let word = |off: u32| -> u32 {
            match off {
                NR => nr as u32,
                ARCH => arch,
                o => {
                    let i = ((o - 16) / 8) as usize;
                    if (o - 16) % 8 == 0 {
                        args[i] as u32
                    } else {
                        (args[i] >> 32) as u32
                    }
                }
            }
        };
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let ins = prog[pc];
            let code = u32::from(ins.code);
            pc += 1;
            match code {
                LOAD => acc = word(ins.k),
                RET => return ins.k,
                JEQ | JSET => {
                    let hit = if code == JEQ { acc == ins.k } else { acc & ins.k != 0 };
                    pc += usize::from(if hit { ins.jt } else { ins.jf });
                }
                other => panic!("unexpected instruction {other:#x}"),
            }
        }
    }

    fn verdict(nr: i64, args: [u64; 6]) -> u32 {
        run(&program(), nr, args, AUDIT_ARCH)
    }

    #[test]
    fn the_taught_calls_stop_and_the_rest_run() {
        assert_eq!(verdict(libc::SYS_sethostname, [0; 6]), RET_TRACE);
        assert_eq!(verdict(libc::SYS_unshare, [0; 6]), RET_TRACE);
        assert_eq!(verdict(libc::SYS_execve, [0; 6]), RET_TRACE);
        assert_eq!(verdict(libc::SYS_write, [1, 0, 5, 0, 0, 0]), RET_ALLOW);
        assert_eq!(verdict(libc::SYS_read, [0; 6]), RET_ALLOW);
        assert_eq!(verdict(libc::SYS_getpid, [0; 6]), RET_ALLOW);
    }

    #[test]
    fn a_plain_fork_runs_and_a_clone_that_makes_a_namespace_stops() {
        let fork = libc::SIGCHLD as u64 | libc::CLONE_CHILD_SETTID as u64;
        assert_eq!(verdict(libc::SYS_clone, [fork, 0, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(verdict(libc::SYS_clone, [fork | libc::CLONE_NEWPID as u64, 0, 0, 0, 0, 0]), RET_TRACE);
    }

    #[test]
    fn opens_stop_only_for_writing() {
        let at = |flags: i32| verdict(libc::SYS_openat, [libc::AT_FDCWD as u64, 0, flags as u64, 0, 0, 0]);
        assert_eq!(at(libc::O_RDONLY | libc::O_CLOEXEC), RET_ALLOW);
        assert_eq!(at(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC), RET_TRACE);
        assert_eq!(at(libc::O_RDWR), RET_TRACE);
    }

    #[test]
    fn only_rtnetlink_sockets_and_the_two_prctls_stop() {
        let socket = |a0: i32, a2: i32| verdict(libc::SYS_socket, [a0 as u64, 3, a2 as u64, 0, 0, 0]);
        assert_eq!(socket(libc::AF_NETLINK, libc::NETLINK_ROUTE), RET_TRACE);
        assert_eq!(socket(libc::AF_NETLINK, libc::NETLINK_AUDIT), RET_ALLOW);
        assert_eq!(socket(libc::AF_INET, 0), RET_ALLOW);
        let prctl = |op: i32| verdict(libc::SYS_prctl, [op as u64, 0, 0, 0, 0, 0]);
        assert_eq!(prctl(libc::PR_CAPBSET_DROP), RET_TRACE);
        assert_eq!(prctl(libc::PR_SET_NO_NEW_PRIVS), RET_TRACE);
        assert_eq!(prctl(libc::PR_SET_NAME), RET_ALLOW);
        let rmdir = |flags: i32| verdict(libc::SYS_unlinkat, [0, 0, flags as u64, 0, 0, 0]);
        assert_eq!(rmdir(libc::AT_REMOVEDIR), RET_TRACE);
        assert_eq!(rmdir(0), RET_ALLOW);
    }

    #[test]
    fn another_architectures_calls_are_let_through() {
        assert_eq!(run(&program(), libc::SYS_sethostname, [0; 6], 0x4000_0003), RET_ALLOW);
    }
}
