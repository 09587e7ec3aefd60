//! What a second terminal reads of a network namespace through /proc/PID/net (which is
//! the namespace of PID, whoever reads it): the IPv4 routes (`ip route`, from
//! /proc/PID/net/route) and the listening TCP sockets (`ss -ltn`, from /proc/PID/net/tcp).
//! Read from the host for both sides, so the sandbox needs no /proc of its own.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::procfs::{read_text, Proc, ProcError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub dest: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Option<Ipv4Addr>,
    pub dev: String,
}

impl std::fmt::Display for Route {
    /// As `ip route` prints it: `192.0.2.0/24 dev eth0`, `default via 192.0.2.1 dev eth0`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.prefix == 0 {
            write!(f, "default")?;
        } else {
            write!(f, "{}/{}", self.dest, self.prefix)?;
        }
        if let Some(gw) = self.gateway {
            write!(f, " via {gw}")?;
        }
        write!(f, " dev {}", self.dev)
    }
}

/// /proc/net/route holds addresses as host-order hex of the network-order bytes.
fn hex_addr(s: &str) -> Option<Ipv4Addr> {
    Some(Ipv4Addr::from(u32::from_str_radix(s, 16).ok()?.to_le_bytes()))
}

/// The routes in /proc/PID/net/route (its main table, IPv4).
pub fn routes(text: &str) -> Vec<Route> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (dev, dest, gw, mask) = (f.first()?, hex_addr(f.get(1)?)?, hex_addr(f.get(2)?)?, hex_addr(f.get(7)?)?);
            Some(Route {
                dest,
                prefix: u32::from(mask).count_ones() as u8,
                gateway: (!gw.is_unspecified()).then_some(gw),
                dev: dev.to_string(),
            })
        })
        .collect()
}

/// /proc/PID/net/route (or /proc/self/net/route: the caller's own namespace), parsed.
pub(crate) fn read_routes(who: Proc) -> Result<Vec<Route>, ProcError> {
    read_text(who, "net/route").map(|t| routes(&t))
}

/// `ADDR:PORT` of each listening socket in /proc/PID/net/tcp (state 0A).
pub fn listening(text: &str) -> Vec<String> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.get(3)? != &"0A" {
                return None;
            }
            let (addr, port) = f.get(1)?.split_once(':')?;
            Some(format!("{}:{}", hex_addr(addr)?, u16::from_str_radix(port, 16).ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTE: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
";

    #[test]
    fn routes_read_as_ip_route_prints_them() {
        let shown: Vec<String> = routes(ROUTE).iter().map(Route::to_string).collect();
        assert_eq!(shown, ["default via 192.0.2.1 dev eth0", "192.0.2.0/24 dev eth0"]);
    }

    #[test]
    fn only_listening_sockets_count() {
        let tcp = "  sl  local_address rem_address   st tx_queue
   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1054
   1: 026433C6:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1055
   2: 0100007F:0050 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 1056
";
        assert_eq!(listening(tcp), ["0.0.0.0:2024", "198.51.100.2:80"]);
    }
}
