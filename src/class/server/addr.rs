//! What the server prints at start: the lines the instructor puts on the slide. A server bound
//! to every address (0.0.0.0) is reached by students at the machine's LAN address, so that is
//! the address the join line names.

use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The first non-loopback IPv4 address of the machine's interfaces that are up.
pub(crate) fn lan_ipv4() -> Option<Ipv4Addr> {
    use nix::net::if_::InterfaceFlags;
    nix::ifaddrs::getifaddrs().ok()?.find_map(|i| {
        let up = i.flags.contains(InterfaceFlags::IFF_UP) && !i.flags.contains(InterfaceFlags::IFF_LOOPBACK);
        let ip = i.address.as_ref()?.as_sockaddr_in()?.ip();
        (up && !ip.is_loopback()).then_some(ip)
    })
}

/// The address students use: the bound one, unless it is the unspecified address.
pub(crate) fn public(bound: SocketAddr, lan: Option<Ipv4Addr>) -> SocketAddr {
    if bound.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(lan.unwrap_or(Ipv4Addr::LOCALHOST)), bound.port())
    } else {
        bound
    }
}

/// The start-up text: bound address, join line, short form, dashboard and presenter URLs.
pub(crate) fn banner(bound: SocketAddr, public: SocketAddr, code: &str, token: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "nsdojo serve: listening on {bound}");
    let _ = writeln!(s, "join:      sudo nsdojo --class http://{public}/{code}");
    let _ = writeln!(s, "short:     {public}/{code}");
    let _ = writeln!(s, "dashboard: http://{public}/?token={token}");
    let _ = writeln!(s, "presenter: http://{public}/present?code={code}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_join_line_names_the_lan_address_when_bound_to_all() {
        let lan = Some(Ipv4Addr::new(192, 168, 1, 10));
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let lo: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        assert_eq!(public(any, lan).to_string(), "192.168.1.10:8080");
        assert_eq!(public(lo, lan), lo);
        let text = banner(any, public(any, lan), "K7Q2M9", "ab");
        assert!(text.contains("sudo nsdojo --class http://192.168.1.10:8080/K7Q2M9\n"), "{text}");
        assert!(text.contains("short:     192.168.1.10:8080/K7Q2M9\n"));
        assert!(text.contains("http://192.168.1.10:8080/?token=ab\n"));
        let join = text.lines().find_map(|l| l.strip_prefix("join:      sudo nsdojo --class ")).unwrap();
        assert!(crate::class::protocol::parse_join_url(join).is_some(), "the student side accepts it");
    }

    #[test]
    fn a_lan_address_is_never_loopback() {
        assert!(lan_ipv4().is_none_or(|ip| !ip.is_loopback()));
    }
}
