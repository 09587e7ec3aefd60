//! A token bucket per client: a student's sender makes a request every second or so, a broken
//! (or hostile) one in a loop must not starve the rest of the room. A client is a student
//! session once it has joined (its batches name it), the instructor with the token, and
//! otherwise an address: a room behind one NAT address is many sessions, not one client.
//! Plain arithmetic on the server's clock, so it is tested without sleeping.

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

/// Who a bucket is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    /// A request without the join code or the token (or with the code, not from a session).
    Addr(IpAddr),
    /// A student session's batches (its id, from the batch).
    Session(String),
    /// The holder of the instructor's token.
    Instructor,
}

#[derive(Debug, Default)]
pub(crate) struct Limiter {
    buckets: HashMap<Key, Bucket>,
}

impl Limiter {
    /// Takes one token for `key` at `now_ms`; false = too many requests.
    pub(crate) fn allow(&mut self, key: Key, now_ms: u64) -> bool {
        if self.buckets.len() >= MAX_CLIENTS && !self.buckets.contains_key(&key) {
            self.forget_idle(now_ms);
            if self.buckets.len() >= MAX_CLIENTS {
                if let Some(oldest) = self.buckets.iter().min_by_key(|(_, b)| b.at_ms).map(|(k, _)| k.clone()) {
                    self.buckets.remove(&oldest);
                }
            }
        }
        let b = self.buckets.entry(key).or_insert(Bucket { tokens: BURST, at_ms: now_ms });
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
        let ip = Key::Addr("10.0.0.7".parse().unwrap());
        let other = Key::Addr("10.0.0.8".parse().unwrap());
        assert!((0..40).all(|_| l.allow(ip.clone(), 1000)));
        assert!(!l.allow(ip.clone(), 1000), "the 41st at once");
        assert!(l.allow(other.clone(), 1000), "another client has its own bucket");
        assert!(l.allow(ip.clone(), 1050), "50 ms refill one token at 20/s");
        assert!(!l.allow(ip.clone(), 1050));
        // A steady 20/s never runs out.
        assert!((1..=200).all(|i| l.allow(ip.clone(), 1050 + i * 50)));
    }

    #[test]
    fn sessions_behind_one_address_have_buckets_of_their_own() {
        let mut l = Limiter::default();
        // 40 students behind one NAT address, each sending its burst at once: none refused.
        for s in 0..40 {
            assert!((0..40).all(|_| l.allow(Key::Session(format!("s{s}")), 1000)), "session {s}");
        }
        assert!(!l.allow(Key::Session("s0".into()), 1000), "each still has its own limit");
        assert!(l.allow(Key::Instructor, 1000));
    }

    #[test]
    fn idle_clients_are_forgotten() {
        let mut l = Limiter::default();
        l.allow(Key::Addr("10.0.0.7".parse().unwrap()), 0);
        l.forget_idle(1000);
        assert_eq!(l.buckets.len(), 1);
        l.forget_idle(2000);
        assert!(l.buckets.is_empty());
    }
}
