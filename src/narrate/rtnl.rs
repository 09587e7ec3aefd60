//! The rtnetlink requests `ip` sends, read from the bytes of its sendmsg, and the kernel's
//! answers (NLMSG_ERROR acks) from its recvmsg: shown the way the veth lesson shows its own
//! (`sendmsg(NETLINK_ROUTE, RTM_NEWLINK {IFLA_IFNAME="veth0", …})`). Queries (RTM_GETLINK and
//! its dumps) are not narrated: they change nothing.

use crate::trace::quote;

/// One request that changes something, by its sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub seq: u32,
    pub text: String,
}

const NLMSG_ERROR: u16 = 2;
const HEADER: usize = 16;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|c| u16::from_le_bytes([c[0], c[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// The netlink messages in `bytes`: (type, flags, seq, payload).
fn messages(bytes: &[u8]) -> Vec<(u16, u16, u32, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while let (Some(len), Some(kind), Some(flags), Some(seq)) =
        (u32_at(bytes, at), u16_at(bytes, at + 4), u16_at(bytes, at + 6), u32_at(bytes, at + 8))
    {
        let len = len as usize;
        if len < HEADER || at + len > bytes.len() {
            break;
        }
        out.push((kind, flags, seq, &bytes[at + HEADER..at + len]));
        at += (len + 3) & !3;
    }
    out
}

/// The attributes after a fixed header of `skip` bytes: (type without flags, data).
fn attrs(payload: &[u8], skip: usize) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut at = skip;
    while let (Some(len), Some(kind)) = (u16_at(payload, at), u16_at(payload, at + 2)) {
        let len = len as usize;
        if len < 4 || at + len > payload.len() {
            break;
        }
        out.push((kind & 0x3fff, &payload[at + 4..at + len]));
        at += (len + 3) & !3;
    }
    out
}

fn name(data: &[u8]) -> String {
    quote(&String::from_utf8_lossy(data.split(|&b| b == 0).next().unwrap_or_default()))
}

fn ip(family: u8, data: &[u8]) -> String {
    match (family as i32, data.len()) {
        (libc::AF_INET, 4) => std::net::Ipv4Addr::new(data[0], data[1], data[2], data[3]).to_string(),
        (libc::AF_INET6, 16) => {
            let mut a = [0u8; 16];
            a.copy_from_slice(data);
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => format!("{data:02x?}"),
    }
}

/// A link message's fields, as the lesson's own trace names them.
fn link(payload: &[u8]) -> Vec<String> {
    let mut f = Vec::new();
    let index = u32_at(payload, 4).unwrap_or(0) as i32;
    let (flags, change) = (u32_at(payload, 8).unwrap_or(0), u32_at(payload, 12).unwrap_or(0));
    if index != 0 {
        f.push(format!("ifi_index={index}"));
    }
    if change & libc::IFF_UP as u32 != 0 {
        f.push(if flags & libc::IFF_UP as u32 != 0 { "ifi_flags|=IFF_UP" } else { "ifi_flags&=~IFF_UP" }.into());
    }
    for (kind, data) in attrs(payload, 16) {
        match kind {
            libc::IFLA_IFNAME => f.push(format!("IFLA_IFNAME={}", name(data))),
            libc::IFLA_NET_NS_PID => f.push(format!("IFLA_NET_NS_PID={}", u32_at(data, 0).unwrap_or(0))),
            libc::IFLA_NET_NS_FD => f.push(format!("IFLA_NET_NS_FD={}", u32_at(data, 0).unwrap_or(0))),
            libc::IFLA_LINKINFO => {
                let mut info = Vec::new();
                for (k, d) in attrs(data, 0) {
                    match k {
                        libc::IFLA_INFO_KIND => info.push(format!("kind={}", name(d))),
                        // veth's peer: VETH_INFO_PEER, an ifinfomsg and its attributes.
                        libc::IFLA_INFO_DATA => {
                            for (_, peer) in attrs(d, 0) {
                                let p = link(peer);
                                if !p.is_empty() {
                                    info.push(format!("peer={{{}}}", p.join(", ")));
                                }
                            }
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

fn addr(payload: &[u8]) -> Vec<String> {
    let (family, prefix) = (payload.first().copied().unwrap_or(0), payload.get(1).copied().unwrap_or(0));
    let mut f = vec![format!("ifa_index={}", u32_at(payload, 4).unwrap_or(0))];
    for (kind, data) in attrs(payload, 8) {
        if kind == 2 || (kind == 1 && f.len() == 1) {
            // IFA_LOCAL, else IFA_ADDRESS: the address the interface gets.
            f.truncate(1);
            f.push(format!("{}/{prefix}", ip(family, data)));
        }
    }
    f
}

fn route(payload: &[u8]) -> Vec<String> {
    let (family, dst_len) = (payload.first().copied().unwrap_or(0), payload.get(1).copied().unwrap_or(0));
    let mut dst = "default".to_string();
    let mut f = Vec::new();
    for (kind, data) in attrs(payload, 12) {
        match kind {
            1 => dst = format!("{}/{dst_len}", ip(family, data)),
            5 => f.push(format!("via {}", ip(family, data))),
            4 => f.push(format!("oif={}", u32_at(data, 0).unwrap_or(0))),
            _ => {}
        }
    }
    f.insert(0, dst);
    f
}

fn flag_names(flags: u16) -> String {
    let names: Vec<&str> =
        [(0x400, "NLM_F_CREATE"), (0x200, "NLM_F_EXCL"), (0x100, "NLM_F_REPLACE"), (0x800, "NLM_F_APPEND")]
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
    messages(bytes)
        .into_iter()
        .filter_map(|(kind, flags, seq, payload)| {
            let (what, fields) = match kind {
                libc::RTM_NEWLINK => ("RTM_NEWLINK", link(payload)),
                libc::RTM_DELLINK => ("RTM_DELLINK", link(payload)),
                libc::RTM_SETLINK => ("RTM_SETLINK", link(payload)),
                libc::RTM_NEWADDR => ("RTM_NEWADDR", addr(payload)),
                libc::RTM_DELADDR => ("RTM_DELADDR", addr(payload)),
                libc::RTM_NEWROUTE => ("RTM_NEWROUTE", route(payload)),
                libc::RTM_DELROUTE => ("RTM_DELROUTE", route(payload)),
                _ => return None,
            };
            // iproute2 first sends an empty RTM_NEWLINK to learn what the kernel supports
            // (answered ENODEV): it asks for nothing, so it is not said.
            if fields.is_empty() {
                return None;
            }
            let text = format!("sendmsg(NETLINK_ROUTE, {what} {{{}}}{})", fields.join(", "), flag_names(flags));
            Some(Request { seq, text })
        })
        .collect()
}

/// The kernel's answers in a recvmsg's bytes: (sequence number, 0 or a negative errno).
pub(crate) fn answers(bytes: &[u8]) -> Vec<(u32, i32)> {
    messages(bytes)
        .into_iter()
        .filter(|(kind, ..)| *kind == NLMSG_ERROR)
        .filter_map(|(_, _, seq, payload)| u32_at(payload, 0).map(|e| (seq, e as i32)))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn attr(kind: u16, data: &[u8]) -> Vec<u8> {
        let len = 4 + data.len();
        let mut v = [(len as u16).to_le_bytes(), kind.to_le_bytes()].concat();
        v.extend_from_slice(data);
        v.resize((len + 3) & !3, 0);
        v
    }

    fn message(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let len = (HEADER + payload.len()) as u32;
        let mut v =
            [len.to_le_bytes().as_slice(), &kind.to_le_bytes(), &flags.to_le_bytes(), &seq.to_le_bytes(), &[0; 4]]
                .concat();
        v.extend_from_slice(payload);
        v
    }

    /// What `ip link add veth0 type veth peer name veth1` sends.
    pub(crate) fn veth_request(seq: u32) -> Vec<u8> {
        let peer = [vec![0u8; 16], attr(libc::IFLA_IFNAME, b"veth1\0")].concat();
        let info = [attr(libc::IFLA_INFO_KIND, b"veth\0"), attr(libc::IFLA_INFO_DATA, &attr(1, &peer))].concat();
        let payload = [vec![0u8; 16], attr(libc::IFLA_IFNAME, b"veth0\0"), attr(libc::IFLA_LINKINFO, &info)].concat();
        message(libc::RTM_NEWLINK, 0x605, seq, &payload)
    }

    #[test]
    fn a_veth_request_reads_as_the_lesson_shows_its_own() {
        let asked = requests(&veth_request(7));
        assert_eq!(asked.len(), 1);
        assert_eq!(asked[0].seq, 7);
        assert_eq!(
            asked[0].text,
            r#"sendmsg(NETLINK_ROUTE, RTM_NEWLINK {IFLA_IFNAME="veth0", IFLA_LINKINFO={kind="veth", peer={IFLA_IFNAME="veth1"}}}, NLM_F_CREATE|NLM_F_EXCL)"#
        );
    }

    #[test]
    fn queries_are_not_narrated_and_acks_are_read() {
        assert!(requests(&message(libc::RTM_GETLINK, 0x301, 1, &[0; 16])).is_empty());
        assert!(requests(&message(libc::RTM_NEWLINK, 0x5, 1, &[0; 16])).is_empty(), "iproute2's probe");
        let ack = message(NLMSG_ERROR, 0, 7, &(-libc::EEXIST).to_le_bytes());
        assert_eq!(answers(&ack), vec![(7, -libc::EEXIST)]);
        assert_eq!(answers(&[1, 2, 3]), vec![]);
    }

    #[test]
    fn an_address_and_a_default_route() {
        let a = [vec![libc::AF_INET as u8, 24, 0, 0], 5u32.to_le_bytes().to_vec(), attr(2, &[10, 0, 0, 1])].concat();
        assert_eq!(
            requests(&message(libc::RTM_NEWADDR, 0x605, 2, &a))[0].text,
            "sendmsg(NETLINK_ROUTE, RTM_NEWADDR {ifa_index=5, 10.0.0.1/24}, NLM_F_CREATE|NLM_F_EXCL)"
        );
        let r = [vec![libc::AF_INET as u8, 0, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0], attr(5, &[10, 0, 0, 1])].concat();
        assert_eq!(
            requests(&message(libc::RTM_NEWROUTE, 0x605, 3, &r))[0].text,
            "sendmsg(NETLINK_ROUTE, RTM_NEWROUTE {default, via 10.0.0.1}, NLM_F_CREATE|NLM_F_EXCL)"
        );
    }
}
