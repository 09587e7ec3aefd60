//! The rtnetlink requests `ip` sends, read from the bytes of its sendmsg, and the kernel's
//! answers (NLMSG_ERROR acks) from its recvmsg: parsed with the same `netlink-packet-route`
//! types `crate::netlink` builds the veth lesson's own requests with, and shown the way that
//! lesson shows them (`sendmsg(NETLINK_ROUTE, RTM_NEWLINK {IFLA_IFNAME="veth0", …})`).
//! Queries (RTM_GETLINK and its dumps) are not narrated: they change nothing.

use netlink_packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{InfoData, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};
use netlink_packet_route::RouteNetlinkMessage;

use crate::trace::quote;

/// One request that changes something, by its sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub seq: u32,
    pub text: String,
}

/// The netlink messages in `bytes`, as far as they parse.
fn messages(bytes: &[u8]) -> Vec<NetlinkMessage<RouteNetlinkMessage>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let Ok(m) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&bytes[at..]) else { break };
        let len = m.header.length as usize;
        out.push(m);
        if len == 0 {
            break;
        }
        at += (len + 3) & !3;
    }
    out
}

/// A link message's fields, as the lesson's own trace names them.
fn link(m: &LinkMessage) -> Vec<String> {
    let mut f = Vec::new();
    if m.header.index != 0 {
        f.push(format!("ifi_index={}", m.header.index));
    }
    if m.header.change_mask.contains(LinkFlags::Up) {
        f.push(if m.header.flags.contains(LinkFlags::Up) { "ifi_flags|=IFF_UP" } else { "ifi_flags&=~IFF_UP" }.into());
    }
    for a in &m.attributes {
        match a {
            LinkAttribute::IfName(n) => f.push(format!("IFLA_IFNAME={}", quote(n))),
            LinkAttribute::NetNsPid(p) => f.push(format!("IFLA_NET_NS_PID={p}")),
            LinkAttribute::NetNsFd(fd) => f.push(format!("IFLA_NET_NS_FD={fd}")),
            LinkAttribute::LinkInfo(infos) => {
                let mut info = Vec::new();
                for i in infos {
                    match i {
                        LinkInfo::Kind(k) => info.push(format!("kind={}", quote(&k.to_string()))),
                        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))) => {
                            info.push(format!("peer={{{}}}", link(peer).join(", ")))
                        }
                        _ => {}
                    }
                }
                f.push(format!("IFLA_LINKINFO={{{}}}", info.join(", ")));
            }
            _ => {}
        }
    }
    f
}

fn addr(m: &AddressMessage) -> Vec<String> {
    let mut f = vec![format!("ifa_index={}", m.header.index)];
    // IFA_LOCAL, else IFA_ADDRESS: the address the interface gets.
    let local = m.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(ip) => Some(ip),
        _ => None,
    });
    let any = m.attributes.iter().find_map(|a| match a {
        AddressAttribute::Address(ip) => Some(ip),
        _ => None,
    });
    if let Some(ip) = local.or(any) {
        f.push(format!("{ip}/{}", m.header.prefix_len));
    }
    f
}

fn route_address(a: &RouteAddress) -> String {
    match a {
        RouteAddress::Inet(ip) => ip.to_string(),
        RouteAddress::Inet6(ip) => ip.to_string(),
        other => format!("{other:?}"),
    }
}

fn route(m: &RouteMessage) -> Vec<String> {
    let mut dst = "default".to_string();
    let mut f = Vec::new();
    for a in &m.attributes {
        match a {
            RouteAttribute::Destination(d) => {
                dst = format!("{}/{}", route_address(d), m.header.destination_prefix_length)
            }
            RouteAttribute::Gateway(g) => f.push(format!("via {}", route_address(g))),
            RouteAttribute::Oif(i) => f.push(format!("oif={i}")),
            _ => {}
        }
    }
    f.insert(0, dst);
    f
}

fn flag_names(flags: u16) -> String {
    let names: Vec<&str> = [
        (NLM_F_CREATE, "NLM_F_CREATE"),
        (NLM_F_EXCL, "NLM_F_EXCL"),
        (NLM_F_REPLACE, "NLM_F_REPLACE"),
        (NLM_F_APPEND, "NLM_F_APPEND"),
    ]
    .into_iter()
    .filter(|(b, _)| flags & b != 0)
    .map(|(_, n)| n)
    .collect();
    if names.is_empty() {
        String::new()
    } else {
        format!(", {}", names.join("|"))
    }
}

/// The requests in a sendmsg's bytes that change the network.
pub(crate) fn requests(bytes: &[u8]) -> Vec<Request> {
    use RouteNetlinkMessage as R;
    messages(bytes)
        .into_iter()
        .filter_map(|m| {
            let NetlinkPayload::InnerMessage(inner) = &m.payload else { return None };
            let (what, fields) = match inner {
                R::NewLink(l) => ("RTM_NEWLINK", link(l)),
                R::DelLink(l) => ("RTM_DELLINK", link(l)),
                R::SetLink(l) => ("RTM_SETLINK", link(l)),
                R::NewAddress(a) => ("RTM_NEWADDR", addr(a)),
                R::DelAddress(a) => ("RTM_DELADDR", addr(a)),
                R::NewRoute(r) => ("RTM_NEWROUTE", route(r)),
                R::DelRoute(r) => ("RTM_DELROUTE", route(r)),
                _ => return None,
            };
            // iproute2 first sends an empty RTM_NEWLINK to learn what the kernel supports
            // (answered ENODEV): it asks for nothing, so it is not said.
            if fields.is_empty() {
                return None;
            }
            let text =
                format!("sendmsg(NETLINK_ROUTE, {what} {{{}}}{})", fields.join(", "), flag_names(m.header.flags));
            Some(Request { seq: m.header.sequence_number, text })
        })
        .collect()
}

/// The kernel's answers in a recvmsg's bytes: (sequence number, 0 or a negative errno).
pub(crate) fn answers(bytes: &[u8]) -> Vec<(u32, i32)> {
    messages(bytes)
        .into_iter()
        .filter_map(|m| match &m.payload {
            NetlinkPayload::Error(e) => Some((m.header.sequence_number, e.code.map_or(0, |c| c.get()))),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use netlink_packet_core::{ErrorMessage, NetlinkHeader, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};
    use netlink_packet_route::link::InfoKind;
    use netlink_packet_route::AddressFamily;

    use super::*;

    fn bytes(payload: NetlinkPayload<RouteNetlinkMessage>, flags: u16, seq: u32) -> Vec<u8> {
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = seq;
        let mut m = NetlinkMessage::new(header, payload);
        m.finalize();
        let mut buf = vec![0; m.buffer_len()];
        m.serialize(&mut buf);
        buf
    }

    fn named(name: &str) -> LinkMessage {
        let mut m = LinkMessage::default();
        m.attributes = vec![LinkAttribute::IfName(name.into())];
        m
    }

    const CREATE: u16 = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;

    /// What `ip link add veth0 type veth peer name veth1` sends.
    #[test]
    fn a_veth_request_reads_as_the_lesson_shows_its_own() {
        let mut m = named("veth0");
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(named("veth1")))),
        ]));
        let asked = requests(&bytes(RouteNetlinkMessage::NewLink(m).into(), CREATE, 7));
        assert_eq!(asked.len(), 1);
        assert_eq!(asked[0].seq, 7);
        assert_eq!(
            asked[0].text,
            r#"sendmsg(NETLINK_ROUTE, RTM_NEWLINK {IFLA_IFNAME="veth0", IFLA_LINKINFO={kind="veth", peer={IFLA_IFNAME="veth1"}}}, NLM_F_CREATE|NLM_F_EXCL)"#
        );
    }

    #[test]
    fn queries_and_iproute2s_probe_are_not_narrated_and_acks_are_read() {
        let dump = RouteNetlinkMessage::GetLink(LinkMessage::default());
        assert!(requests(&bytes(dump.into(), NLM_F_REQUEST | NLM_F_DUMP, 1)).is_empty());
        let probe = RouteNetlinkMessage::NewLink(LinkMessage::default());
        assert!(requests(&bytes(probe.into(), NLM_F_REQUEST | NLM_F_ACK, 2)).is_empty(), "iproute2's probe");
        let mut e = ErrorMessage::default();
        e.code = std::num::NonZeroI32::new(-libc::EEXIST);
        assert_eq!(answers(&bytes(NetlinkPayload::Error(e), 0, 7)), vec![(7, -libc::EEXIST)]);
        assert_eq!(answers(&bytes(NetlinkPayload::Error(ErrorMessage::default()), 0, 8)), vec![(8, 0)]);
        assert_eq!(answers(&[1, 2, 3]), vec![]);
    }

    #[test]
    fn an_address_and_a_default_route() {
        let mut a = AddressMessage::default();
        a.header.family = AddressFamily::Inet;
        a.header.prefix_len = 24;
        a.header.index = 5;
        a.attributes = vec![AddressAttribute::Local(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))];
        assert_eq!(
            requests(&bytes(RouteNetlinkMessage::NewAddress(a).into(), CREATE, 2))[0].text,
            "sendmsg(NETLINK_ROUTE, RTM_NEWADDR {ifa_index=5, 10.0.0.1/24}, NLM_F_CREATE|NLM_F_EXCL)"
        );
        let mut r = RouteMessage::default();
        r.header.address_family = AddressFamily::Inet;
        r.attributes = vec![RouteAttribute::Gateway(RouteAddress::Inet(Ipv4Addr::new(10, 0, 0, 1)))];
        assert_eq!(
            requests(&bytes(RouteNetlinkMessage::NewRoute(r).into(), CREATE, 3))[0].text,
            "sendmsg(NETLINK_ROUTE, RTM_NEWROUTE {default, via 10.0.0.1}, NLM_F_CREATE|NLM_F_EXCL)"
        );
    }
}
