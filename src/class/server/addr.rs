//! What the server prints at start: the lines the instructor puts on the slide. A server bound
//! to every address (0.0.0.0) is reached by students at the machine's LAN address, so that is
//! the address the join line names; `--advertise` names another, for a server in a VM that the
//! laptop forwards a port to (the VM's own address is not on the room's network).

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

/// `--advertise HOST[:PORT]`: the address students reach the server at, when it is not one of
/// the machine's own (a port forwarded from the laptop into a VM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertise {
    host: String,
    port: Option<u16>,
}

/// Why an `--advertise` value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AdvertiseError {
    #[error("`{0}` is not HOST or HOST:PORT (an address or name on the room's network, e.g. 192.168.1.10:8080)")]
    Malformed(String),
}

impl std::str::FromStr for Advertise {
    type Err = AdvertiseError;

    fn from_str(s: &str) -> Result<Advertise, AdvertiseError> {
        let bad = || AdvertiseError::Malformed(s.to_string());
        if let Ok(sa) = s.parse::<SocketAddr>() {
            return Ok(Advertise { host: host_of(sa.ip()), port: Some(sa.port()) });
        }
        if let Ok(ip) = s.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            return Ok(Advertise { host: host_of(ip), port: None });
        }
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(bad)?)),
            None => (s, None),
        };
        // A DNS name: letters, digits, dots and hyphens (what a join URL's authority allows).
        let name = !host.is_empty()
            && host.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        name.then(|| Advertise { host: host.to_string(), port }).ok_or_else(bad)
    }
}

/// An address as a URL's host: IPv6 in brackets.
fn host_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// The address students use, as `host:port`: `--advertise` (with the bound port unless it names
/// one), else the bound one, unless that is the unspecified address, then the LAN address.
pub(crate) fn public(bound: SocketAddr, lan: Option<Ipv4Addr>, advertise: Option<&Advertise>) -> String {
    if let Some(a) = advertise {
        return format!("{}:{}", a.host, a.port.unwrap_or(bound.port()));
    }
    if bound.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(lan.unwrap_or(Ipv4Addr::LOCALHOST)), bound.port()).to_string()
    } else {
        bound.to_string()
    }
}

/// The VM whose private NAT network `lan` is the guest's address on, when it is one whose
/// default address is fixed: students cannot reach that address, so the banner says how to
/// forward the port. VirtualBox's NAT (Vagrant's first adapter) and QEMU's user network give
/// the guest 10.0.2.15; Lima's user-mode network gives 192.168.5.15. WSL 2 in its default NAT
/// mode gives an address in 172.16.0.0/12 (`wsl2`: this kernel is WSL 2's, `machine::wsl`).
pub(crate) fn behind_vm_nat(lan: Ipv4Addr, wsl2: bool) -> Option<VmNat> {
    match lan.octets() {
        [10, 0, 2, 15] => Some(VmNat::VirtualBoxOrQemu),
        [192, 168, 5, 15] => Some(VmNat::Lima),
        [172, b, _, _] if (16..32).contains(&b) && wsl2 => Some(VmNat::Wsl2),
        _ => None,
    }
}

/// A VM network that students cannot reach without a forwarded port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VmNat {
    VirtualBoxOrQemu,
    Lima,
    Wsl2,
}

impl VmNat {
    /// The lines printed under the banner: what the address is, and the laptop's side of it.
    pub(crate) fn advice(self, port: u16) -> String {
        let (what, how) = match self {
            VmNat::VirtualBoxOrQemu => (
                "a VirtualBox or QEMU NAT address (a Vagrant VM)",
                format!("on the laptop: NSDOJO_SERVE_PORT={port} vagrant reload   (forwards the laptop's port {port} to this VM)"),
            ),
            VmNat::Lima => (
                "Lima's user-mode network",
                format!(
                    "on the Mac: limactl stop nsdojo && limactl start --set '.portForwards += [{{\"guestPort\": {port}, \"hostIP\": \"0.0.0.0\"}}]' nsdojo"
                ),
            ),
            VmNat::Wsl2 => (
                "WSL 2's NAT network",
                "on Windows: networkingMode=mirrored under [wsl2] in %UserProfile%\\.wslconfig, then wsl --shutdown (Windows 11 22H2 or later)".to_string(),
            ),
        };
        format!(
            "note:      this address is {what}: students cannot reach it.\n           {how}\n           then: nsdojo serve --advertise LAPTOP_LAN_IP:{port}   (docs/instructors.md, \"The class server in a VM\")\n"
        )
    }
}

/// The start-up text: bound address, join line, short form, dashboard and presenter URLs.
pub(crate) fn banner(bound: SocketAddr, public: &str, code: &str, token: &str) -> String {
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

    fn join_line(text: &str) -> &str {
        text.lines().find_map(|l| l.strip_prefix("join:      sudo nsdojo --class ")).unwrap()
    }

    #[test]
    fn the_join_line_names_the_lan_address_when_bound_to_all() {
        let lan = Some(Ipv4Addr::new(192, 168, 1, 10));
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let lo: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        assert_eq!(public(any, lan, None), "192.168.1.10:8080");
        assert_eq!(public(lo, lan, None), "127.0.0.1:9000");
        let text = banner(any, &public(any, lan, None), "K7Q2M9", "ab");
        assert!(text.contains("sudo nsdojo --class http://192.168.1.10:8080/K7Q2M9\n"), "{text}");
        assert!(text.contains("short:     192.168.1.10:8080/K7Q2M9\n"));
        assert!(text.contains("http://192.168.1.10:8080/?token=ab\n"));
        assert!(crate::class::protocol::parse_join_url(join_line(&text)).is_some(), "the student side accepts it");
    }

    #[test]
    fn an_advertised_address_replaces_the_vms_own_in_every_line() {
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let vm = Some(Ipv4Addr::new(10, 0, 2, 15));
        for (given, shown) in [
            ("192.168.1.10", "192.168.1.10:8080"),
            ("192.168.1.10:9000", "192.168.1.10:9000"),
            ("teacher-mac.local:8080", "teacher-mac.local:8080"),
            ("fe80::1", "[fe80::1]:8080"),
            ("[2001:db8::5]:80", "[2001:db8::5]:80"),
        ] {
            let a: Advertise = given.parse().unwrap();
            let text = banner(any, &public(any, vm, Some(&a)), "K7Q2M9", "ab");
            assert!(!text.contains("10.0.2.15"), "{given}: {text}");
            assert!(text.contains(&format!("http://{shown}/K7Q2M9\n")), "{given}: {text}");
            assert!(text.contains(&format!("presenter: http://{shown}/present?code=K7Q2M9\n")), "{text}");
            assert!(crate::class::protocol::parse_join_url(join_line(&text)).is_some(), "{given}: {text}");
        }
        for bad in ["", ":8080", "host:", "host:0", "host:99999", "a b", "http://x", "x..y", "x/y"] {
            assert_eq!(bad.parse::<Advertise>(), Err(AdvertiseError::Malformed(bad.into())), "{bad:?}");
        }
    }

    #[test]
    fn a_vms_nat_address_is_told_apart_from_a_room_address() {
        let ip = |a, b, c, d| Ipv4Addr::new(a, b, c, d);
        assert_eq!(behind_vm_nat(ip(10, 0, 2, 15), false), Some(VmNat::VirtualBoxOrQemu));
        assert_eq!(behind_vm_nat(ip(192, 168, 5, 15), false), Some(VmNat::Lima));
        assert_eq!(behind_vm_nat(ip(172, 28, 144, 3), true), Some(VmNat::Wsl2));
        // The same private ranges on a real LAN are room addresses.
        assert_eq!(behind_vm_nat(ip(172, 28, 144, 3), false), None);
        assert_eq!(behind_vm_nat(ip(10, 0, 2, 16), false), None);
        assert_eq!(behind_vm_nat(ip(192, 168, 1, 10), true), None);
        assert_eq!(behind_vm_nat(ip(172, 32, 0, 1), true), None);
        let advice = VmNat::VirtualBoxOrQemu.advice(8080);
        assert!(advice.contains("NSDOJO_SERVE_PORT=8080 vagrant reload"), "{advice}");
        assert!(advice.contains("--advertise LAPTOP_LAN_IP:8080"), "{advice}");
        assert!(VmNat::Lima.advice(9000).contains(r#"{"guestPort": 9000, "hostIP": "0.0.0.0"}"#));
        assert!(VmNat::Wsl2.advice(8080).contains("networkingMode=mirrored"));
    }

    #[test]
    fn a_lan_address_is_never_loopback() {
        assert!(lan_ipv4().is_none_or(|ip| !ip.is_loopback()));
    }
}
