//! The host's end of the `veth` lesson: a cable made in the host's network namespace,
//! one end handed to the sandbox, an address on the host's end, a page fetched over it.
//!
//! What the host may touch is structural, not a matter of lesson text: every interface is
//! recorded in the session record *before* it is made (so `nsdojo cleanup` finds it after a
//! SIGKILL), host-side changes apply only to interfaces this lesson made, host addresses come
//! from the documentation ranges, and `fetch` is bound to the lesson's interface, so nothing
//! it sends can leave the machine.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::Lab;
use crate::hostguard::LinkId;
use crate::msg::Msg;
use crate::netlink;
use crate::sandbox::rpc::ShellOutput;
use crate::sandbox::Outcome;
use crate::trace::{quote, Syscall};

/// How long `fetch` retries a refused connection (the server may still be starting).
const CONNECT_FOR: Duration = Duration::from_secs(3);
const MAX_BODY: u64 = 64 * 1024;

/// Why a host-side network action did not happen (the one line the student reads).
#[derive(Debug, thiserror::Error)]
pub(crate) enum VethError {
    #[error("{0:?} is not an interface name (1 to 15 characters, no / or :)")]
    IfName(String),
    #[error("{0} is not an interface this lesson made: nsdojo changes no other host interface")]
    NotOurs(String),
    #[error("{0} exists already on the host: the lesson will not take it over")]
    Exists(String),
    #[error("{0} is not the peer of an interface this lesson made")]
    NotOurPeer(String),
    #[error("no sandbox is running yet")]
    NoSandbox,
    #[error("{what}: {}", .errno.desc())]
    Kernel { what: String, errno: Errno },
    #[error("could not record {name} in the session file: {source}")]
    Record { name: String, source: std::io::Error },
    #[error("`{0}`: the host side takes an address from a documentation range, /24 or narrower")]
    NotDocumentation(String),
    #[error("the host already routes {net}/{prefix} (dev {dev}): pick another documentation range")]
    Routed { net: Ipv4Addr, prefix: u8, dev: String },
    #[error("`{0}` is not http://IPv4[:PORT][/PATH]")]
    Url(String),
    #[error("{0} is not on an interface this lesson made: fetch reaches nothing else")]
    Unreachable(Ipv4Addr),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
}

impl VethError {
    /// The one line the student reads.
    pub(crate) fn msg(&self) -> Msg {
        use VethError as E;
        match self {
            E::IfName(name) => Msg::NotIfName(name.clone()),
            E::NotOurs(name) => Msg::VethNotOurs(name.clone()),
            E::Exists(name) => Msg::VethExists(name.clone()),
            E::NotOurPeer(name) => Msg::VethNotOurPeer(name.clone()),
            E::NoSandbox => Msg::NoSandboxYet,
            E::Kernel { what, errno } => Msg::CallError { what: what.clone(), errno: *errno as i32 },
            E::Record { name, source } => Msg::RecordIface { name: name.clone(), error: source.into() },
            E::NotDocumentation(cidr) => Msg::VethNotDocumentation(cidr.clone()),
            E::Routed { net, prefix, dev } => Msg::VethRouted { net: format!("{net}/{prefix}"), dev: dev.clone() },
            E::Url(url) => Msg::NotUrl(url.clone()),
            E::Unreachable(addr) => Msg::VethUnreachable(addr.to_string()),
            E::Io { what, source } => Msg::IoError { what: what.clone(), error: source.into() },
        }
    }
}

fn kernel(what: String) -> impl FnOnce(Errno) -> VethError {
    move |errno| VethError::Kernel { what, errno }
}

fn checked_name(name: &str) -> Result<(), VethError> {
    if netlink::valid_ifname(name) {
        Ok(())
    } else {
        Err(VethError::IfName(name.to_string()))
    }
}

/// The IPv4 routes of this (the host's) network namespace, as (network, prefix, device).
fn host_routes() -> Vec<(Ipv4Addr, u8, String)> {
    crate::observe::net::read_routes(crate::observe::Proc::Myself)
        .unwrap_or_default()
        .into_iter()
        .map(|r| (r.dest, r.prefix, r.dev))
        .collect()
}

/// `$NET`: the first documentation /24 (RFC 5737) this host routes nowhere, as its first three
/// octets (`198.51.100`), so the lesson's cable never shadows a network the host uses (some
/// test machines, this project's own, use 192.0.2.0/24 for real).
pub(super) fn free_documentation_net() -> String {
    let routes = host_routes();
    ["192.0.2", "198.51.100", "203.0.113"]
        .into_iter()
        .find(|n| {
            let net: Ipv4Addr = format!("{n}.0").parse().expect("a literal network");
            !routes.iter().any(|(r, p, _)| *p > 0 && (contains(*r, *p, net) || contains(net, 24, *r)))
        })
        .unwrap_or("203.0.113")
        .to_string()
}

fn contains(net: Ipv4Addr, prefix: u8, addr: Ipv4Addr) -> bool {
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
    u32::from(net) & mask == u32::from(addr) & mask
}

impl Lab {
    /// Is `name` an interface this lesson made (and still has)?
    fn own_link(&self, name: &str) -> Result<(), VethError> {
        checked_name(name)?;
        if self.links.borrow().iter().any(|l| l.name == name) {
            Ok(())
        } else {
            Err(VethError::NotOurs(name.to_string()))
        }
    }

    /// Before `veth add`: the name goes into the session record (the peer goes with it).
    pub(super) fn record_link(&self, name: &str) -> std::io::Result<()> {
        // A name that exists is someone else's: the kernel's EEXIST will say so, and cleanup
        // must not remove it.
        if !netlink::valid_ifname(name) || netlink::index_of(name).is_some() {
            return Ok(());
        }
        let id = LinkId { name: name.to_string(), index: None };
        self.links.borrow_mut().push(id.clone());
        crate::hostguard::record_add(&self.session_id, |r| r.links.push(id))
    }

    fn forget_link(&self, name: &str) {
        self.links.borrow_mut().retain(|l| l.name != name);
        let _ = crate::hostguard::record_add(&self.session_id, |r| r.links.retain(|l| l.name != name));
    }

    pub(super) fn veth_add(&mut self, name: &str, peer: &str, out: &mut Outcome) -> Result<(), VethError> {
        checked_name(name)?;
        checked_name(peer)?;
        if !self.links.borrow().iter().any(|l| l.name == name) {
            return Err(VethError::Exists(name.to_string()));
        }
        let (sc, res) = netlink::add_veth(name, peer);
        out.trace.push(sc);
        if let Err(e) = res {
            self.forget_link(name);
            return Err(kernel(format!("veth add {name}"))(e));
        }
        // Its identity, now that it exists: cleanup deletes this interface, not a namesake.
        let index = netlink::index_of(name);
        for l in self.links.borrow_mut().iter_mut().filter(|l| l.name == name) {
            l.index = index;
        }
        crate::hostguard::record_add(&self.session_id, |r| {
            for l in r.links.iter_mut().filter(|l| l.name == name) {
                l.index = index;
            }
        })
        .map_err(|source| VethError::Record { name: name.to_string(), source })
    }

    /// `veth move PEER as NEW_NAME`: PEER is the other end of a veth this lesson made.
    pub(super) fn veth_move(&mut self, name: &str, new_name: &str, out: &mut Outcome) -> Result<(), VethError> {
        checked_name(name)?;
        checked_name(new_name)?;
        let pid = self.sandbox.as_ref().ok_or(VethError::NoSandbox)?.pid();
        let peer_of_ours = self.links.borrow().iter().any(|l| {
            std::fs::read_to_string(format!("/sys/class/net/{name}/iflink"))
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
                .is_some_and(|peer| Some(peer) == netlink::index_of(&l.name))
        });
        if !peer_of_ours {
            return Err(VethError::NotOurPeer(name.to_string()));
        }
        let (sc, res) = netlink::move_to_netns_of(name, pid, new_name);
        out.trace.push(sc.with_note(Msg::VethLeavesHost));
        res.map_err(kernel(format!("veth move {name}")))
    }

    pub(super) fn veth_delete(&mut self, name: &str, out: &mut Outcome) -> Result<(), VethError> {
        self.own_link(name)?;
        let (sc, res) = netlink::delete_link(name);
        out.trace.push(sc.with_note(Msg::VethEndsTogether));
        res.map_err(kernel(format!("veth delete {name}")))?;
        self.forget_link(name);
        Ok(())
    }

    pub(super) fn host_link_up(&mut self, name: &str, out: &mut Outcome) -> Result<(), VethError> {
        self.own_link(name)?;
        let (sc, res) = netlink::set_up(name);
        out.trace.push(sc);
        res.map_err(kernel(format!("host link-up {name}")))
    }

    pub(super) fn host_addr_add(&mut self, cidr: &str, name: &str, out: &mut Outcome) -> Result<(), VethError> {
        self.own_link(name)?;
        let (addr, prefix) = crate::lesson::action::cidr(cidr)
            .filter(|(a, p)| crate::lesson::action::is_documentation_net(*a, *p))
            .ok_or_else(|| VethError::NotDocumentation(cidr.to_string()))?;
        // An address whose network the host already routes elsewhere would shadow or split it.
        if let Some((net, p, dev)) = host_routes()
            .into_iter()
            .find(|(net, p, _)| *p > 0 && (contains(*net, *p, addr) || contains(addr, prefix, *net)))
        {
            return Err(VethError::Routed { net, prefix: p, dev });
        }
        let (sc, res) = netlink::add_address(name, addr, prefix);
        out.trace.push(sc.with_note(Msg::RouteWhenUp));
        res.map_err(kernel(format!("host addr-add {addr}/{prefix} {name}")))
    }

    /// Delete the interfaces this lesson made (on reset and when the lesson ends; a veth whose
    /// other end was in the sandbox is usually gone already, with the sandbox's namespace).
    pub(super) fn remove_links(&mut self) {
        let links: Vec<LinkId> = self.links.borrow_mut().drain(..).collect();
        if links.is_empty() {
            return;
        }
        // What could not be deleted stays in the record, for quit, the watchdog or `cleanup`.
        let kept: Vec<LinkId> = links
            .into_iter()
            .filter(|l| crate::hostguard::HostChange::Link { name: l.name.clone(), index: l.index }.revert().is_err())
            .collect();
        let _ = crate::hostguard::record_add(&self.session_id, |r| r.links.retain(|l| kept.contains(l)));
    }

    /// `curl http://ADDR:PORT/PATH` from terminal #2, through the lesson's interface only.
    pub(super) fn fetch(&mut self, url: &str, out: &mut Outcome) -> Result<(), VethError> {
        let (addr, port, path) = crate::lesson::action::http_url(url).ok_or_else(|| VethError::Url(url.to_string()))?;
        let dev = host_routes()
            .into_iter()
            .find(|(net, p, dev)| {
                *p > 0 && contains(*net, *p, addr) && self.links.borrow().iter().any(|l| &l.name == dev)
            })
            .map(|(_, _, dev)| dev)
            .ok_or(VethError::Unreachable(addr))?;
        let mut body = String::new();
        let status = fetch_over(&dev, SocketAddrV4::new(addr, port), &path, &mut body, out)?;
        // As curl -f exits: 0 for a 2xx reply, else the HTTP status.
        let status = if (200..300).contains(&status) { 0 } else { status.max(1) };
        out.output = Some(ShellOutput { stdout: body, status, ..Default::default() });
        Ok(())
    }
}

/// One HTTP/1.0 GET over a socket bound to `dev` (SO_BINDTODEVICE): the reply's status code
/// (0 when there was no reply) and its body.
fn fetch_over(dev: &str, to: SocketAddrV4, path: &str, body: &mut String, out: &mut Outcome) -> Result<i32, VethError> {
    use nix::sys::socket::{connect, setsockopt, socket, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn};
    let started = Instant::now();
    let mut refused = 0;
    let stream = loop {
        let fd = socket(AddressFamily::Inet, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)
            .map_err(kernel("socket".into()))?;
        let bind = setsockopt(&fd, sockopt::BindToDevice, &std::ffi::OsString::from(dev));
        if refused == 0 || bind.is_err() {
            out.trace.push(
                Syscall::from_result(format!("setsockopt(SOL_SOCKET, SO_BINDTODEVICE, {})", quote(dev)), &bind, 0)
                    .with_note(Msg::BoundToCable),
            );
        }
        bind.map_err(kernel(format!("bind to {dev}")))?;
        let res = connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn::from(to));
        let call = format!("connect(AF_INET, {to})");
        match res {
            Err(nix::errno::Errno::ECONNREFUSED) if started.elapsed() < CONNECT_FOR => {
                refused += 1;
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            Err(e) => {
                let tried = Msg::ConnectRefused {
                    times: refused as u32 + 1,
                    secs: format!("{:.1}", started.elapsed().as_secs_f64()),
                };
                out.trace.push(if refused > 0 {
                    Syscall::failed(call, e).with_note(tried)
                } else {
                    Syscall::failed(call, e)
                });
                return Err(kernel(format!("connect to {to}"))(e));
            }
            Ok(()) => {
                out.trace.push(Syscall::ok(call, 0));
                break TcpStream::from(fd);
            }
        }
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(3)));
    let request = format!("GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", to.ip());
    (&stream)
        .write_all(request.as_bytes())
        .map_err(|source| VethError::Io { what: format!("send to {to}"), source })?;
    out.trace.push(Syscall::ok(format!("write(GET {} HTTP/1.0)", quote(path)), request.len() as i64));
    let mut reply = Vec::new();
    (&stream)
        .take(MAX_BODY)
        .read_to_end(&mut reply)
        .map_err(|source| VethError::Io { what: format!("read from {to}"), source })?;
    out.trace.push(Syscall::ok("read(…) until EOF", reply.len() as i64));
    let text = String::from_utf8_lossy(&reply);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    *body = rest.to_string();
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_contains_its_addresses_and_no_others() {
        let net = Ipv4Addr::new(192, 0, 2, 0);
        assert!(contains(net, 24, Ipv4Addr::new(192, 0, 2, 2)));
        assert!(!contains(net, 24, Ipv4Addr::new(192, 0, 3, 2)));
        assert!(contains(Ipv4Addr::new(0, 0, 0, 0), 0, Ipv4Addr::new(8, 8, 8, 8)));
    }
}
