//! A token bucket per client address: a student's sender makes a request every second or so,
//! a broken (or hostile) one in a loop must not starve the rest of the room. Plain arithmetic
//! on the server's clock, so it is tested without sleeping.

use std::collections::HashMap;
use std::net::IpAddr;

/// Requests per second a client may keep up.
pub(crate) const RATE: f64 = 20.0;
/// Requests a client may make at once after a quiet spell (a sender catching up its outbox).
pub(crate) const BURST: f64 = 40.0;
/// Addresses remembered at most: a full bucket is forgotten first, then the oldest.
const MAX_CLIENTS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at_ms: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Limiter {
    buckets: HashMap<IpAddr, Bucket>,
}

impl Limiter {
    /// Takes one token for `ip` at `now_ms`; false = too many requests.
    pub(crate) fn allow(&mut self, ip: IpAddr, now_ms: u64) -> bool {
        if self.buckets.len() >= MAX_CLIENTS && !self.buckets.contains_key(&ip) {
            self.forget_idle(now_ms);
            if self.buckets.len() >= MAX_CLIENTS {
                if let Some(oldest) = self.buckets.iter().min_by_key(|(_, b)| b.at_ms).map(|(ip, _)| *ip) {
                    self.buckets.remove(&oldest);
                }
            }
        }
        let b = self.buckets.entry(ip).or_insert(Bucket { tokens: BURST, at_ms: now_ms });
        let elapsed = now_ms.saturating_sub(b.at_ms) as f64 / 1000.0;
        b.tokens = (b.tokens + elapsed * RATE).min(BURST);
        b.at_ms = now_ms;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Drops the buckets that have refilled: they hold nothing a new bucket would not.
    pub(crate) fn forget_idle(&mut self, now_ms: u64) {
        let full_after_ms = (BURST / RATE * 1000.0) as u64;
        self.buckets.retain(|_, b| now_ms.saturating_sub(b.at_ms) < full_after_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let mut l = Limiter::default();
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        let other: IpAddr = "10.0.0.8".parse().unwrap();
        assert!((0..40).all(|_| l.allow(ip, 1000)));
        assert!(!l.allow(ip, 1000), "the 41st at once");
        assert!(l.allow(other, 1000), "another client has its own bucket");
        assert!(l.allow(ip, 1050), "50 ms refill one token at 20/s");
        assert!(!l.allow(ip, 1050));
        // A steady 20/s never runs out.
        assert!((1..=200).all(|i| l.allow(ip, 1050 + i * 50)));
    }

    #[test]
    fn idle_clients_are_forgotten() {
        let mut l = Limiter::default();
        l.allow("10.0.0.7".parse().unwrap(), 0);
        l.forget_idle(1000);
        assert_eq!(l.buckets.len(), 1);
        l.forget_idle(2000);
        assert!(l.buckets.is_empty());
    }
}
