//! Network actions inside the sandbox: bringing an interface up (what
//! `ip link set lo up` does, one ioctl) and named network namespaces made
//! the way `ip netns add` makes them (a net namespace kept alive by a bind
//! mount on /run/netns/NAME) — and removed completely, which iproute2 does
//! not do: it leaves /run/netns created and bind-mounted onto itself.
//! The calls go through the `Kernel` seam; the order and the notes are here.

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::kernel::{Kernel, LinkError, Mount};
use super::perform::AgentState;
use crate::lesson::Ns;
use crate::msg::Msg;
use crate::trace::Trace;

pub const NETNS_DIR: &str = "/run/netns";

pub fn netns_path(name: &str) -> String {
    format!("{NETNS_DIR}/{name}")
}

/// Why a network action failed, in the one line the student reads.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NetError {
    #[error("interface name {0:?} is too long")]
    NameTooLong(String),
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error("netns add pins the namespace in the host's mount table: run it before `unshare mnt`")]
    AfterUnshareMnt,
    #[error("mkdir {NETNS_DIR}: {}", std::io::Error::from(*.0))]
    NetnsDir(Errno),
    #[error("unshare: {}", .0.desc())]
    Unshare(Errno),
    /// `create PATH`, `bind mount on PATH`, `umount PATH`, `unlink PATH`.
    #[error("{what} {path}: {}", .errno.desc())]
    OnPath { what: &'static str, path: String, errno: Errno },
}

impl NetError {
    /// The one line the student reads.
    pub(crate) fn msg(&self) -> Msg {
        let call = |what: String, errno: &Errno| Msg::CallError { what, errno: *errno as i32 };
        match self {
            NetError::NameTooLong(name) => Msg::IfNameTooLong(name.clone()),
            NetError::Link(LinkError::Socket(e)) => call("socket".into(), e),
            NetError::Link(LinkError::NoInterface { name, errno }) => {
                Msg::NoInterface { name: name.clone(), errno: *errno as i32 }
            }
            NetError::Link(LinkError::SetFlags { name, errno }) => call(format!("link-up {name}"), errno),
            NetError::AfterUnshareMnt => Msg::NetnsAfterUnshareMnt,
            NetError::NetnsDir(e) => {
                Msg::IoError { what: format!("mkdir {NETNS_DIR}"), error: (&std::io::Error::from(*e)).into() }
            }
            NetError::Unshare(e) => call("unshare".into(), e),
            NetError::OnPath { what, path, errno } => call(format!("{what} {path}"), errno),
        }
    }
}

fn on(what: &'static str, path: &str) -> impl FnOnce(Errno) -> NetError {
    let path = path.to_string();
    move |errno| NetError::OnPath { what, path, errno }
}

fn note_last(trace: &mut Trace, note: Msg) {
    if let Some(last) = trace.calls.last_mut() {
        last.note = Some(note);
    }
}

/// SIOCGIFFLAGS, set IFF_UP, SIOCSIFFLAGS.
pub(crate) fn link_up(name: &str, k: &mut dyn Kernel, trace: &mut Trace) -> Result<(), NetError> {
    if name.len() >= libc::IFNAMSIZ {
        return Err(NetError::NameTooLong(name.into()));
    }
    Ok(k.link_up(name, trace)?)
}

/// `ip netns add NAME`, done by the sandbox itself: it enters a new net namespace and
/// pins it on /run/netns/NAME in the host's mount namespace (the host recorded the path first).
pub(crate) fn add(name: &str, origin: &mut AgentState, k: &mut dyn Kernel, t: &mut Trace) -> Result<(), NetError> {
    if origin.unshared.contains(&Ns::Mnt) {
        return Err(NetError::AfterUnshareMnt);
    }
    match k.mkdir(NETNS_DIR, t) {
        Ok(()) => origin.made_netns_dir = true,
        Err(Errno::EEXIST) => note_last(t, Msg::AlreadyThere),
        Err(e) => return Err(NetError::NetnsDir(e)),
    }
    let path = netns_path(name);
    k.create_excl(&path, t).map_err(on("create", &path))?;
    k.unshare(&[Ns::Net], t).map_err(NetError::Unshare)?;
    if !origin.unshared.contains(&Ns::Net) {
        origin.unshared.push(Ns::Net);
    }
    let pin = Mount {
        source: Some("/proc/self/ns/net".into()),
        target: path.clone(),
        fstype: None,
        flags: MsFlags::MS_BIND,
        data: None,
    };
    let res = k.mount(&pin, t);
    note_last(t, Msg::NetnsBindKeeps);
    res.map_err(on("bind mount on", &path))
}

/// `ip netns delete NAME`, plus what iproute2 leaves behind.
pub(crate) fn delete(name: &str, origin: &mut AgentState, k: &mut dyn Kernel, t: &mut Trace) -> Result<(), NetError> {
    let path = netns_path(name);
    k.umount2(&path, true, t).map_err(on("umount", &path))?;
    k.unlink(&path, t).map_err(on("unlink", &path))?;
    if origin.made_netns_dir {
        let res = k.rmdir(NETNS_DIR, t);
        note_last(t, Msg::NetnsDirLeft);
        if res.is_ok() {
            origin.made_netns_dir = false;
        }
    }
    Ok(())
}
