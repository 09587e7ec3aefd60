//! The rtnetlink requests the `veth` lesson makes, what `ip link add … type veth`,
//! `ip link set … netns PID name …`, `ip addr add` and `ip link set … up|del` send:
//! one request, one acknowledgement, over a NETLINK_ROUTE socket of the caller's own
//! network namespace. Messages are built with the maintained `netlink-packet-route`
//! types rather than by hand; the socket is blocking and the caller single-threaded.
//!
//! Each request returns its strace-style line (the message type and the attributes that
//! matter, not the bytes), so a step shows the netlink conversation as it shows syscalls.

use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use nix::errno::Errno;

use crate::trace::{quote, Syscall};

/// An interface name the kernel accepts: 1–15 bytes, no `/`, no whitespace, not `.`/`..`.
pub(crate) fn valid_ifname(name: &str) -> bool {
    (1..libc::IFNAMSIZ).contains(&name.len())
        && name != "."
        && name != ".."
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b'/' && b != b':')
}

/// The index of interface `name` in the caller's network namespace.
pub(crate) fn index_of(name: &str) -> Option<u32> {
    nix::net::if_::if_nametoindex(name).ok().filter(|&i| i != 0)
}

fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Send one request and wait for its acknowledgement: `Ok` or the kernel's errno.
fn request(message: RouteNetlinkMessage, create: bool) -> Result<(), Errno> {
    let mut socket = Socket::new(NETLINK_ROUTE).map_err(|e| errno_of(&e))?;
    socket.bind_auto().map_err(|e| errno_of(&e))?;
    socket.connect(&SocketAddr::new(0, 0)).map_err(|e| errno_of(&e))?;
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_ACK | if create { NLM_F_CREATE | NLM_F_EXCL } else { 0 };
    header.sequence_number = 1;
    let mut msg = NetlinkMessage::new(header, NetlinkPayload::from(message));
    msg.finalize();
    let mut buf = vec![0; msg.buffer_len()];
    msg.serialize(&mut buf);
    socket.send(&buf, 0).map_err(|e| errno_of(&e))?;
    let mut reply = vec![0u8; 8192];
    loop {
        let n = socket.recv(&mut &mut reply[..], 0).map_err(|e| errno_of(&e))?;
        let mut offset = 0;
        while offset < n {
            let answer =
                <NetlinkMessage<RouteNetlinkMessage>>::deserialize(&reply[offset..n]).map_err(|_| Errno::EBADMSG)?;
            let len = answer.header.length as usize;
            if let NetlinkPayload::Error(e) = answer.payload {
                return match e.code {
                    None => Ok(()),
                    Some(code) => Err(Errno::from_raw(-code.get())),
                };
            }
            if len == 0 {
                break;
            }
            offset += len;
        }
    }
}

fn link_message(index: u32, attributes: Vec<LinkAttribute>) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = index;
    m.attributes = attributes;
    m
}

fn sent(call: String, res: &Result<(), Errno>) -> Syscall {
    Syscall::from_result(call, res, 0)
}

/// `ip link add NAME type veth peer name PEER`: both ends in the caller's namespace.
pub(crate) fn add_veth(name: &str, peer: &str) -> (Syscall, Result<(), Errno>) {
    let peer_msg = link_message(0, vec![LinkAttribute::IfName(peer.to_string())]);
    let msg = link_message(
        0,
        vec![
            LinkAttribute::IfName(name.to_string()),
            LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::Veth),
                LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
            ]),
        ],
    );
    let res = request(RouteNetlinkMessage::NewLink(msg), true);
    let call = format!(
        "sendmsg(NETLINK_ROUTE, RTM_NEWLINK {{IFLA_IFNAME={}, IFLA_LINKINFO={{kind=\"veth\", peer={{IFLA_IFNAME={}}}}}}}, NLM_F_CREATE|NLM_F_EXCL)",
        quote(name),
        quote(peer)
    );
    (sent(call, &res), res)
}

/// `ip link set NAME netns PID name NEW_NAME`: the interface leaves the caller's namespace for
/// the network namespace of process `pid`, renamed on the way.
pub(crate) fn move_to_netns_of(name: &str, pid: i32, new_name: &str) -> (Syscall, Result<(), Errno>) {
    let call = format!(
        "sendmsg(NETLINK_ROUTE, RTM_NEWLINK {{ifi_index=if_nametoindex({}), IFLA_NET_NS_PID={pid}, IFLA_IFNAME={}}})",
        quote(name),
        quote(new_name)
    );
    let res = match (index_of(name), u32::try_from(pid)) {
        (Some(index), Ok(pid)) => request(
            RouteNetlinkMessage::NewLink(link_message(
                index,
                vec![LinkAttribute::NetNsPid(pid), LinkAttribute::IfName(new_name.to_string())],
            )),
            false,
        ),
        _ => Err(Errno::ENODEV),
    };
    (sent(call, &res), res)
}

/// `ip link set NAME up`.
pub(crate) fn set_up(name: &str) -> (Syscall, Result<(), Errno>) {
    let call =
        format!("sendmsg(NETLINK_ROUTE, RTM_NEWLINK {{ifi_index=if_nametoindex({}), ifi_flags|=IFF_UP}})", quote(name));
    let res = match index_of(name) {
        Some(index) => {
            let mut m = link_message(index, Vec::new());
            m.header.flags = LinkFlags::Up;
            m.header.change_mask = LinkFlags::Up;
            request(RouteNetlinkMessage::NewLink(m), false)
        }
        None => Err(Errno::ENODEV),
    };
    (sent(call, &res), res)
}

/// `ip addr add ADDR/PREFIX dev NAME` (IPv4).
pub(crate) fn add_address(name: &str, addr: Ipv4Addr, prefix: u8) -> (Syscall, Result<(), Errno>) {
    let call = format!(
        "sendmsg(NETLINK_ROUTE, RTM_NEWADDR {{ifa_prefixlen={prefix}, ifa_index=if_nametoindex({}), IFA_LOCAL={addr}, IFA_ADDRESS={addr}}}, NLM_F_CREATE|NLM_F_EXCL)",
        quote(name)
    );
    let res = match index_of(name) {
        Some(index) => {
            let mut m = AddressMessage::default();
            m.header.family = AddressFamily::Inet;
            m.header.prefix_len = prefix;
            m.header.index = index;
            m.attributes = vec![AddressAttribute::Local(IpAddr::V4(addr)), AddressAttribute::Address(IpAddr::V4(addr))];
            request(RouteNetlinkMessage::NewAddress(m), true)
        }
        None => Err(Errno::ENODEV),
    };
    (sent(call, &res), res)
}

/// `ip link del NAME`: for a veth, its peer goes with it, wherever it is.
pub(crate) fn delete_link(name: &str) -> (Syscall, Result<(), Errno>) {
    let call = format!("sendmsg(NETLINK_ROUTE, RTM_DELLINK {{ifi_index=if_nametoindex({})}})", quote(name));
    let res = match index_of(name) {
        Some(index) => request(RouteNetlinkMessage::DelLink(link_message(index, Vec::new())), false),
        None => Err(Errno::ENODEV),
    };
    (sent(call, &res), res)
}

/// Delete link `name` only while it is still the one with `index` (cleanup: a name alone
/// could by now be someone else's interface).
pub(crate) fn delete_if_still(name: &str, index: Option<u32>) -> Result<bool, Errno> {
    match (index_of(name), index) {
        (None, _) => Ok(false),
        (Some(now), Some(was)) if now != was => Ok(false),
        _ => delete_link(name).1.map(|()| true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_follow_the_kernels_rules() {
        assert!(valid_ifname("veth0-1a2b3c4d"));
        assert!(valid_ifname("eth0"));
        assert!(!valid_ifname(""));
        assert!(!valid_ifname("sixteen-letters!"));
        assert!(!valid_ifname("a/b"));
        assert!(!valid_ifname(".."));
        assert!(!valid_ifname("has space"));
    }

    #[test]
    fn a_request_for_a_missing_interface_names_it_and_fails_with_enodev() {
        let (line, res) = set_up("nsdojo-none-x");
        assert_eq!(res, Err(Errno::ENODEV));
        assert!(line.call.contains("if_nametoindex(\"nsdojo-none-x\")"), "{}", line.call);
        assert_eq!(line.errno(), Some(Errno::ENODEV));
    }
}
