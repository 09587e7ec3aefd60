//! Connections: who may hold one, and for how long. A student's laptop is not trusted to be
//! well behaved, and one that opens a thousand connections and sends half a request header on
//! each (slowloris) would otherwise use up the server's descriptors and stop the class.
//!
//! - Every connection has a deadline for its request head (`HEAD_TIMEOUT`, hyper's
//!   `header_read_timeout`, which also runs while a keep-alive connection waits for its next
//!   request): an idle or half-sent connection is closed, not kept.
//! - Per address, only connections that have not yet made an authenticated request (join code
//!   or token) are bounded (`ANON_PER_ADDR`): a room behind one NAT address, where every
//!   student's sender holds a connection, is not refused; one laptop's flood of half-requests
//!   is. The rest of a flood is closed the moment it is accepted.
//! - All connections together stay below the descriptor limit (`RLIMIT_NOFILE` less a reserve
//!   for the journal and the runtime), so `accept` never fails for want of one.
//! - Live streams (SSE) are long by design: bounded per address and in all, and a reader that
//!   stops reading is cut off after `WRITE_STALL`, so it cannot pin the server's buffers.
//! - Every other request must be answered within `REQUEST_TIMEOUT` (a body sent a byte a
//!   minute included): see `http::limit`.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Sleep;

/// How long a connection may take to send a request head, or wait idle for its next one.
pub(crate) const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request may take, body included, before it is answered 408.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a write may wait for a reader that does not read before the connection is closed.
const WRITE_STALL: Duration = Duration::from_secs(30);
/// Connections per address that have not (yet) made an authenticated request.
pub(crate) const ANON_PER_ADDR: usize = 32;
/// Live streams per address (the projector's dashboard and presenter, students following).
pub(crate) const STREAMS_PER_ADDR: usize = 64;
/// Descriptors kept back from connections: the listener, the journal, the runtime, stdio.
const FD_RESERVE: u64 = 32;

/// The counts every connection and stream is admitted against.
#[derive(Debug, Default)]
struct Counts {
    total: usize,
    anonymous: HashMap<IpAddr, usize>,
    streams_total: usize,
    streams: HashMap<IpAddr, usize>,
}

#[derive(Debug)]
pub(crate) struct Gate {
    max_total: usize,
    counts: Mutex<Counts>,
}

fn dec(map: &mut HashMap<IpAddr, usize>, ip: IpAddr) {
    if let Some(n) = map.get_mut(&ip) {
        *n -= 1;
        if *n == 0 {
            map.remove(&ip);
        }
    }
}

impl Gate {
    /// A gate for `max_total` connections at once.
    pub(crate) fn new(max_total: usize) -> Gate {
        Gate { max_total: max_total.max(8), counts: Mutex::default() }
    }

    /// A gate sized to this process's descriptor limit.
    pub(crate) fn for_fd_limit() -> Gate {
        let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).map_or(1024, |l| l.0);
        Gate::new(soft.saturating_sub(FD_RESERVE).min(1 << 20) as usize)
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits a new connection from `ip`, or None: the server is full, or `ip` already holds
    /// its share of connections that have not made an authenticated request.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Arc<Ticket>> {
        let mut c = self.counts();
        let anon = c.anonymous.get(&ip).copied().unwrap_or(0);
        if c.total >= self.max_total || anon >= ANON_PER_ADDR {
            return None;
        }
        c.total += 1;
        *c.anonymous.entry(ip).or_default() += 1;
        Some(Arc::new(Ticket { gate: self.clone(), ip, joined: AtomicBool::new(false) }))
    }

    /// Connections open now.
    pub(crate) fn open(&self) -> usize {
        self.counts().total
    }

    /// Admits a live stream from `ip`, or None: too many from there, or in all.
    pub(crate) fn stream(self: &Arc<Self>, ip: IpAddr) -> Option<StreamPermit> {
        let mut c = self.counts();
        if c.streams_total >= self.max_total / 2 || c.streams.get(&ip).copied().unwrap_or(0) >= STREAMS_PER_ADDR {
            return None;
        }
        c.streams_total += 1;
        *c.streams.entry(ip).or_default() += 1;
        Some(StreamPermit { gate: self.clone(), ip })
    }
}

/// One admitted connection; it is given back when the connection closes.
#[derive(Debug)]
pub(crate) struct Ticket {
    gate: Arc<Gate>,
    ip: IpAddr,
    joined: AtomicBool,
}

impl Ticket {
    /// The connection made an authenticated request: it no longer counts against its
    /// address's bound (the per-session rate limit applies to it from now on).
    pub(crate) fn join(&self) {
        if !self.joined.swap(true, Ordering::Relaxed) {
            dec(&mut self.gate.counts().anonymous, self.ip);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut c = self.gate.counts();
        c.total -= 1;
        if !self.joined.load(Ordering::Relaxed) {
            dec(&mut c.anonymous, self.ip);
        }
    }
}

/// One admitted live stream; given back when the stream ends.
#[derive(Debug)]
pub(crate) struct StreamPermit {
    gate: Arc<Gate>,
    ip: IpAddr,
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut c = self.gate.counts();
        c.streams_total -= 1;
        dec(&mut c.streams, self.ip);
    }
}

/// A TCP stream whose writes fail once they have waited `WRITE_STALL` for the peer to read:
/// hyper then closes the connection and frees what it had buffered for it.
struct Guarded<T> {
    tcp: T,
    stall_after: Duration,
    stall: Option<Pin<Box<Sleep>>>,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Guarded<T> {
    fn new(tcp: T, stall_after: Duration) -> Guarded<T> {
        Guarded { tcp, stall_after, stall: None }
    }

    fn pending_write<R>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        if r.is_ready() {
            self.stall = None;
            return r;
        }
        let after = self.stall_after;
        let stall = self.stall.get_or_insert_with(|| Box::pin(tokio::time::sleep(after)));
        match stall.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the reader stopped reading"))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.tcp).poll_write(cx, buf);
        self.pending_write(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        self.pending_write(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.tcp).poll_flush(cx);
        self.pending_write(cx, r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// Accepts and serves connections until `shutdown`, then lets the open ones finish (at most
/// a few seconds: the streams end on shutdown by themselves).
pub(crate) async fn run(listener: TcpListener, app: Router, gate: Arc<Gate>, mut shutdown: watch::Receiver<bool>) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(HEAD_TIMEOUT).keep_alive(true);
    let http = Arc::new(http);
    let mut told_full = false;
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of descriptors after all (another process's share): wait, never spin.
                    super::say(&format!("accept: {e}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let Some(ticket) = gate.admit(peer.ip()) else {
            // Closed at once: the descriptor is back before the next accept.
            if !told_full {
                super::say(&format!("refusing connections from {} (too many open, or server full)", peer.ip()));
                told_full = true;
            }
            continue;
        };
        told_full = false;
        // No Nagle: an ack or a dashboard update is one small write that should leave at once,
        // not wait for the peer's delayed ACK (40 ms on Linux).
        let _ = tcp.set_nodelay(true);
        let svc = hyper_util::service::TowerToHyperService::new(app.clone());
        let service = hyper::service::service_fn(move |mut req: axum::http::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            req.extensions_mut().insert(ticket.clone());
            hyper::service::Service::call(&svc, req)
        });
        let io = hyper_util::rt::TokioIo::new(Guarded::new(tcp, WRITE_STALL));
        let conn = http.serve_connection(io, service);
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = stop.wait_for(|stop| *stop) => {}
            }
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
        });
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while gate.open() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_holds_few_anonymous_connections_but_any_number_of_joined_ones() {
        let gate = Arc::new(Gate::new(1000));
        let (nat, other): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let mut held: Vec<_> = (0..ANON_PER_ADDR).map(|_| gate.admit(nat).unwrap()).collect();
        assert!(gate.admit(nat).is_none(), "one more half-request from the same address");
        assert!(gate.admit(other).is_some(), "another address is not affected");
        // Students behind the NAT join: their connections leave the anonymous count.
        held.iter().for_each(|t| t.join());
        let more: Vec<_> = (0..ANON_PER_ADDR).map(|_| gate.admit(nat).unwrap()).collect();
        assert_eq!(gate.open(), 2 * ANON_PER_ADDR);
        drop(more);
        held.clear();
        assert_eq!(gate.open(), 0);
        assert!(gate.counts().anonymous.is_empty());
    }

    #[test]
    fn the_server_stays_below_its_descriptor_limit() {
        let gate = Arc::new(Gate::new(40));
        let held: Vec<_> = (0..40u8)
            .map(|i| {
                let t = gate.admit(IpAddr::from([10, 0, 1, i])).unwrap();
                t.join();
                t
            })
            .collect();
        assert!(gate.admit("10.0.2.1".parse().unwrap()).is_none());
        drop(held);
        assert!(gate.admit("10.0.2.1".parse().unwrap()).is_some());
    }

    #[test]
    fn a_reader_that_stops_reading_is_cut_off() {
        use tokio::io::AsyncWriteExt;
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        rt.block_on(async {
            // A peer that never reads: its 64-byte buffer fills, then the write waits.
            let (ours, _peer) = tokio::io::duplex(64);
            let mut g = Guarded::new(ours, Duration::from_millis(50));
            let cut = tokio::time::timeout(Duration::from_secs(5), g.write_all(&[b'x'; 4096])).await;
            let err = cut.expect("cut off within 5 s").unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::TimedOut);
            // A reader that reads is never cut off, however slow each write is to start.
            let (ours, mut peer) = tokio::io::duplex(64);
            let mut g = Guarded::new(ours, Duration::from_millis(50));
            let reader = tokio::spawn(async move {
                let mut sink = Vec::new();
                tokio::io::AsyncReadExt::read_to_end(&mut peer, &mut sink).await.map(|_| sink.len())
            });
            g.write_all(&[b'x'; 4096]).await.unwrap();
            g.shutdown().await.unwrap();
            drop(g);
            assert_eq!(reader.await.unwrap().unwrap(), 4096);
        });
    }

    #[test]
    fn streams_are_bounded_per_address_and_given_back() {
        let gate = Arc::new(Gate::new(1000));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let held: Vec<_> = (0..STREAMS_PER_ADDR).map(|_| gate.stream(ip).unwrap()).collect();
        assert!(gate.stream(ip).is_none());
        drop(held);
        assert!(gate.stream(ip).is_some());
    }
}
