//! Network actions inside the sandbox: bringing an interface up (what
//! `ip link set lo up` does, one ioctl) and named network namespaces made
//! the way `ip netns add` makes them (a net namespace kept alive by a bind
//! mount on /run/netns/NAME) — and removed completely, which iproute2 does
//! not do: it leaves /run/netns created and bind-mounted onto itself.

use std::os::fd::AsRawFd;

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};

use super::perform::Origin;
use super::protocol::Outcome;
use crate::lesson::Ns;
use crate::trace::{quote, Syscall};

pub const NETNS_DIR: &str = "/run/netns";

pub fn netns_path(name: &str) -> String {
    format!("{NETNS_DIR}/{name}")
}

fn errno_of(e: std::io::Error) -> Errno {
    // (consumes the error: callers format their message first)
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// SIOCGIFFLAGS, set IFF_UP, SIOCSIFFLAGS.
pub fn link_up(name: &str, out: &mut Outcome) -> Result<(), String> {
    if name.len() >= libc::IFNAMSIZ {
        return Err(format!("interface name {name:?} is too long"));
    }
    let sock = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Inet,
        nix::sys::socket::SockType::Datagram,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| format!("socket: {e}"))?;
    // SAFETY: ifreq is plain data; the name fits (checked above) and is NUL-terminated by zeroing.
    unsafe {
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in name.bytes().enumerate() {
            req.ifr_name[i] = b as libc::c_char;
        }
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut req) < 0 {
            let e = Errno::last();
            out.trace.push(Syscall::failed(
                format!("ioctl({}, SIOCGIFFLAGS, {{ifr_name={}}})", sock.as_raw_fd(), quote(name)),
                e,
            ));
            return Err(format!("no interface {name}: {}", e.desc()));
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        let call =
            format!("ioctl({}, SIOCSIFFLAGS, {{ifr_name={}, ifr_flags|=IFF_UP}})", sock.as_raw_fd(), quote(name));
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS as _, &req) < 0 {
            let e = Errno::last();
            out.trace.push(Syscall::failed(call, e));
            return Err(format!("link-up {name}: {}", e.desc()));
        }
        out.trace.push(Syscall::ok(call, 0));
    }
    Ok(())
}

/// `ip netns add NAME`, done by the sandbox itself: it enters a new net namespace and
/// pins it on /run/netns/NAME in the host's mount namespace (the host recorded the path first).
pub fn add(name: &str, origin: &mut Origin, out: &mut Outcome) -> Result<(), String> {
    if origin.unshared.contains(&Ns::Mnt) {
        return Err("netns add pins the namespace in the host's mount table: run it before `unshare mnt`".into());
    }
    let t = &mut out.trace;
    match std::fs::create_dir(NETNS_DIR) {
        Ok(()) => {
            t.push(Syscall::ok(format!("mkdir({}, 0755)", quote(NETNS_DIR)), 0));
            origin.made_netns_dir = true;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            t.push(
                Syscall::failed(format!("mkdir({}, 0755)", quote(NETNS_DIR)), Errno::EEXIST)
                    .with_note("already there: fine"),
            );
        }
        Err(e) => {
            let msg = format!("mkdir {NETNS_DIR}: {e}");
            t.push(Syscall::failed(format!("mkdir({}, 0755)", quote(NETNS_DIR)), errno_of(e)));
            return Err(msg);
        }
    }
    let path = netns_path(name);
    let created = std::fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(errno_of);
    t.record(format!("openat(AT_FDCWD, {}, O_RDONLY|O_CREAT|O_EXCL, 0) ", quote(&path)), created.map(|_| ()))
        .map_err(|e| format!("create {path}: {}", e.desc()))?;
    t.record("unshare(CLONE_NEWNET)", unshare(CloneFlags::CLONE_NEWNET))
        .map_err(|e| format!("unshare: {}", e.desc()))?;
    if !origin.unshared.contains(&Ns::Net) {
        origin.unshared.push(Ns::Net);
    }
    let res = mount(Some("/proc/self/ns/net"), path.as_str(), None::<&str>, MsFlags::MS_BIND, None::<&str>);
    t.push(
        Syscall::from_result(format!("mount(\"/proc/self/ns/net\", {}, NULL, MS_BIND, NULL)", quote(&path)), &res, 0)
            .with_note("the bind mount keeps the namespace alive with no process in it; that is all a named netns is"),
    );
    res.map_err(|e| format!("bind mount on {path}: {}", e.desc()))
}

/// `ip netns delete NAME`, plus what iproute2 leaves behind.
pub fn delete(name: &str, origin: &mut Origin, out: &mut Outcome) -> Result<(), String> {
    let path = netns_path(name);
    let t = &mut out.trace;
    t.record(format!("umount2({}, MNT_DETACH)", quote(&path)), umount2(path.as_str(), MntFlags::MNT_DETACH))
        .map_err(|e| format!("umount {path}: {}", e.desc()))?;
    t.record(format!("unlink({})", quote(&path)), std::fs::remove_file(&path).map_err(errno_of))
        .map_err(|e| format!("unlink {path}: {}", e.desc()))?;
    if origin.made_netns_dir {
        let res = std::fs::remove_dir(NETNS_DIR).map_err(errno_of);
        t.push(Syscall::from_result(format!("rmdir({})", quote(NETNS_DIR)), &res, 0).with_note(
            "iproute2 leaves /run/netns behind (even bind-mounted onto itself); nsdojo made it, so it removes it",
        ));
        if res.is_ok() {
            origin.made_netns_dir = false;
        }
    }
    Ok(())
}
