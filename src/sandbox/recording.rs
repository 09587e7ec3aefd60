//! A kernel that only writes down what it is asked, for unit tests run as an ordinary user.
//!
//! Nothing is mounted, unshared or changed: each call is kept with its arguments (in order)
//! and answered with success, or with the errno a test asked for, so the tests can say
//! "pivot_root under shared propagation answers EINVAL, and the student reads why" without
//! root and without touching the machine. It prints each call exactly as [`LinuxKernel`]
//! does (through [`Call`]'s Display), so the trace a test reads is the student's.
//!
//! [`LinuxKernel`]: super::kernel::LinuxKernel

use nix::errno::Errno;
use nix::unistd::Pid;

use super::kernel::{Call, CapData, CapSets, Kernel, LinkError, Mount};
use crate::lesson::Ns;
use crate::process::ForkError;
use crate::trace::{Syscall, Trace};

type Matcher = Box<dyn Fn(&Call) -> bool>;

/// Records every call; fails those matching a rule (the first matching rule wins).
pub(crate) struct RecordingKernel {
    pub calls: Vec<Call>,
    failures: Vec<(Matcher, Errno)>,
    /// What `powerless` answers: false is root with its capabilities, as the agent starts.
    pub powerless: bool,
    /// What `apparmor_restricted` answers: true plays Ubuntu's unprivileged_userns profile.
    pub apparmor_restricted: bool,
}

/// The socket descriptor shown in the ioctl lines (the agent's first free one, usually).
pub(crate) const SOCKET_FD: i32 = 3;

impl Call {
    /// The system call's name, to tell a `RecordingKernel` which one to fail.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Call::Unshare(_) => "unshare",
            Call::Mount(_) => "mount",
            Call::Umount2 { .. } => "umount2",
            Call::PivotRoot { .. } => "pivot_root",
            Call::Chroot(_) => "chroot",
            Call::Chdir(_) => "chdir",
            Call::Sethostname(_) => "sethostname",
            Call::Mkdir(_) => "mkdir",
            Call::Rmdir(_) => "rmdir",
            Call::CreateExcl(_) => "openat",
            Call::Unlink(_) => "unlink",
            Call::Write { .. } => "write",
            Call::Msgget => "msgget",
            Call::Setgroups => "setgroups",
            Call::Setresgid(_) => "setresgid",
            Call::Setresuid(_) => "setresuid",
            Call::CapbsetDrop(_) | Call::NoNewPrivs => "prctl",
            Call::Capget => "capget",
            Call::Capset { .. } => "capset",
            Call::IfGetFlags { .. } | Call::IfSetUp { .. } => "ioctl",
            Call::AddrAdd { .. } => "sendmsg",
            Call::Fork => "fork",
        }
    }
}

impl RecordingKernel {
    pub(crate) fn new() -> RecordingKernel {
        RecordingKernel { calls: Vec::new(), failures: Vec::new(), powerless: false, apparmor_restricted: false }
    }

    /// Every call of this name (`"pivot_root"`, `"mount"`, ...) answers `errno`.
    pub(crate) fn failing(self, name: &'static str, errno: Errno) -> RecordingKernel {
        self.failing_when(move |c| c.name() == name, errno)
    }

    /// Every call `which` accepts answers `errno`.
    pub(crate) fn failing_when(mut self, which: impl Fn(&Call) -> bool + 'static, errno: Errno) -> RecordingKernel {
        self.failures.push((Box::new(which), errno));
        self
    }

    /// An unprivileged user with no capability left.
    pub(crate) fn powerless(mut self) -> RecordingKernel {
        self.powerless = true;
        self
    }

    /// A process AppArmor's unprivileged_userns profile holds: its capabilities are refused.
    pub(crate) fn apparmor_restricted(mut self) -> RecordingKernel {
        self.apparmor_restricted = true;
        self
    }

    /// The names of the calls made, in order.
    pub(crate) fn names(&self) -> Vec<&'static str> {
        self.calls.iter().map(Call::name).collect()
    }

    fn answer<T>(&mut self, call: Call, ok: T, ret: i64, t: &mut Trace) -> Result<T, Errno> {
        let res = match self.failures.iter().find(|(which, _)| which(&call)) {
            Some((_, errno)) => Err(*errno),
            None => Ok(ok),
        };
        t.push(Syscall::from_result(call.to_string(), &res, ret));
        self.calls.push(call);
        res
    }
}

impl Kernel for RecordingKernel {
    fn unshare(&mut self, set: &[Ns], t: &mut Trace) -> Result<(), Errno> {
        self.answer(Call::Unshare(set.to_vec()), (), 0, t)
    }
    fn mount(&mut self, m: &Mount, t: &mut Trace) -> Result<(), Errno> {
        self.answer(Call::Mount(m.clone()), (), 0, t)
    }
    fn umount2(&mut self, target: &str, lazy: bool, t: &mut Trace) -> Result<(), Errno> {
        self.answer(Call::Umount2 { target: target.into(), lazy }, (), 0, t)
    }
    fn pivot_root(&mut self, new_root: &str, put_old: &str, t: &mut Trace) -> Result<(), Errno> {
        self.answer(Call::PivotRoot { new_root: new_root.into(), put_old: put_old.into() }, (), 0, t)
    }
    fn chroot(&mut self, path: &str, t: &mut Trace) -> Result<(), Errno> {
        self.answer(Call::Chroot(path.into()), (), 0, t)
    }
    fn chdir(&mut self, path: &str, t: &mut Trace) -> Result<(), Errno> {
        self.answer(Call::Chdir(path.into()), (), 0, t)
    }
    fn sethostname(&mut self, name: &str, t: &mut Trace) -> Result<(), Errno> {
        self.answer(Call::Sethostname(name.into()), (), 0, t)
    }
    fn mkdir(&mut self, path: &str, t: &mut Trace) -> Result<(), Errno> {
        self.answer(Call::Mkdir(path.into()), (), 0, t)
    }
    fn rmdir(&mut self, path: &str, t: &mut Trace) -> Result<(), Errno> {
        self.answer(Call::Rmdir(path.into()), (), 0, t)
    }
    fn create_excl(&mut self, path: &str, t: &mut Trace) -> Result<(), Errno> {
        self.answer(Call::CreateExcl(path.into()), (), 0, t)
    }
    fn unlink(&mut self, path: &str, t: &mut Trace) -> Result<(), Errno> {
        self.answer(Call::Unlink(path.into()), (), 0, t)
    }
    fn write_file(&mut self, path: &str, text: &str, t: &mut Trace) -> Result<(), Errno> {
        self.answer(Call::Write { path: path.into(), text: text.into() }, (), text.len() as i64, t)
    }
    fn msgget(&mut self, t: &mut Trace) -> Result<i32, Errno> {
        self.answer(Call::Msgget, 0, 0, t)
    }
    fn setgroups_none(&mut self, t: &mut Trace) -> Result<(), Errno> {
        self.answer(Call::Setgroups, (), 0, t)
    }
    fn setresgid(&mut self, id: u32, t: &mut Trace) -> Result<(), Errno> {
        self.answer(Call::Setresgid(id), (), 0, t)
    }
    fn setresuid(&mut self, id: u32, t: &mut Trace) -> Result<(), Errno> {
        self.answer(Call::Setresuid(id), (), 0, t)
    }
    fn die_with_parent(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn capbset_drop(&mut self, cap: u8, t: &mut Trace) -> Result<(), Errno> {
        self.answer(Call::CapbsetDrop(cap), (), 0, t)
    }
    fn capget(&mut self, t: &mut Trace) -> Result<CapSets, Errno> {
        // Full root: every capability in every set.
        let all = CapData { effective: u32::MAX, permitted: u32::MAX, inheritable: u32::MAX };
        self.answer(Call::Capget, CapSets([all; 2]), 0, t)
    }
    fn capset(&mut self, _sets: &CapSets, without: &[u8], t: &mut Trace) -> Result<(), Errno> {
        self.answer(Call::Capset { without: without.to_vec() }, (), 0, t)
    }
    fn no_new_privs(&mut self, t: &mut Trace) -> Result<(), Errno> {
        self.answer(Call::NoNewPrivs, (), 0, t)
    }
    fn link_up(&mut self, name: &str, t: &mut Trace) -> Result<(), LinkError> {
        let (fd, n) = (SOCKET_FD, name.to_string());
        self.answer(Call::IfGetFlags { fd, name: n.clone() }, (), 0, t)
            .map_err(|errno| LinkError::NoInterface { name: n.clone(), errno })?;
        self.answer(Call::IfSetUp { fd, name: n.clone() }, (), 0, t)
            .map_err(|errno| LinkError::SetFlags { name: n, errno })
    }
    fn add_address(&mut self, iface: &str, addr: std::net::Ipv4Addr, prefix: u8, t: &mut Trace) -> Result<(), Errno> {
        self.answer(Call::AddrAdd { iface: iface.into(), addr, prefix }, (), 0, t)
    }
    fn fork_agent(&mut self, t: &mut Trace) -> Result<Option<Pid>, ForkError> {
        // Tests never fork: answer as the child, which carries on as the agent.
        self.answer(Call::Fork, None, 0, t).map_err(ForkError::Fork)
    }
    fn powerless(&mut self) -> bool {
        self.powerless
    }

    fn apparmor_restricted(&mut self) -> bool {
        self.apparmor_restricted
    }
}

/// The mount calls tests expect, written once for every test module that reads a recording.
impl Call {
    pub(crate) fn mount(
        source: Option<&str>,
        target: &str,
        fstype: Option<&str>,
        flags: nix::mount::MsFlags,
        data: Option<&str>,
    ) -> Call {
        Call::Mount(Mount {
            source: source.map(Into::into),
            target: target.into(),
            fstype: fstype.map(Into::into),
            flags,
            data: data.map(Into::into),
        })
    }

    /// `mount --make-rprivate /`.
    pub(crate) fn root_made_private() -> Call {
        Call::mount(None, "/", None, nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE, None)
    }

    pub(crate) fn tmpfs(target: &str, size: &str) -> Call {
        Call::mount(Some("tmpfs"), target, Some("tmpfs"), nix::mount::MsFlags::empty(), Some(size))
    }
}
