//! How webhook bodies are taken in, so that slow senders cannot hold the server's attention:
//! at most [`MAX_PER_ADDRESS`] bodies from one client address are read at once (an IPv6
//! client counts by its /64, what one host is usually given), and a body must keep arriving at
//! [`MIN_RATE`] bytes a second once [`GRACE`] has passed. Eight connections trickling a byte a
//! second from one address held every slot for 30 s before; now they hold at most
//! [`MAX_PER_ADDRESS`], each for a few seconds, and a delivery from any other address is read
//! at once.
//!
//! Behind a reverse proxy every delivery comes from the proxy's address: the per-address limit
//! then counts them all together, unless `--trust-forwarded-for` says to count by the address
//! the proxy appends to `X-Forwarded-For` ([`client_address`]). (nginx also buffers a request's
//! body before passing it on, by default, so slow clients wait at the proxy.)

use axum::body::Body;
use axum::http::HeaderMap;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Webhook bodies read at once from one address: half of all ([`super::hooks::MAX_IN_FLIGHT`]),
/// so that one address never holds every slot. A forge sends a project's deliveries one after
/// another, each in milliseconds.
pub const MAX_PER_ADDRESS: usize = 4;

/// The slowest a body may arrive, on average, after [`GRACE`]: a delivery of GitHub's largest
/// (25 MiB) at this rate would take longer than the overall limit anyway; real deliveries are a
/// few kilobytes, sent at once.
pub const MIN_RATE: u64 = 16 * 1024;

/// How long a body may take before [`MIN_RATE`] applies: a slow start (a TLS proxy, a busy
/// forge) is forgiven.
pub const GRACE: Duration = Duration::from_secs(3);
/// The longest a body may pause between two pieces. The rate is an average since the start,
/// so without this a burst followed by silence (480 KiB, then nothing) held a slot for the
/// whole 30 s that burst "paid" for: a few such senders kept deliveries out for good.
pub const MAX_PAUSE: Duration = Duration::from_secs(3);

/// Who sent a request, as `serve` found it: what the webhook limits count by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// The connection's peer; or, when `trust_forwarded_for`, the last address of the last
/// `X-Forwarded-For` header: the one the proxy in front added (what the client wrote itself
/// comes before it, and is not looked at). A header that is missing or not an address leaves
/// the peer (the proxy: all such requests count together).
pub fn client_address(peer: SocketAddr, headers: &HeaderMap, trust_forwarded_for: bool) -> ClientAddress {
    let forwarded = || {
        let last = headers.get_all("x-forwarded-for").iter().next_back()?;
        last.to_str().ok()?.rsplit(',').next()?.trim().parse::<IpAddr>().ok()
    };
    ClientAddress(trust_forwarded_for.then(forwarded).flatten().unwrap_or(peer.ip()))
}

/// The address a delivery is counted under: an IPv4 address (an IPv4-mapped IPv6 one too), or
/// an IPv6 address's /64.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !((1u128 << 64) - 1))),
        },
    }
}

/// Bodies being read, per address. Without the peer's address (a request handed to the router
/// in a test, say) all such requests count as one address.
#[derive(Default)]
pub struct AddressSlots(Mutex<HashMap<Option<IpAddr>, usize>>);

/// One body being read from an address; the slot is given back when it is dropped.
pub struct AddressSlot {
    slots: Arc<AddressSlots>,
    key: Option<IpAddr>,
}

impl AddressSlots {
    /// A slot for a body from `peer`, unless [`MAX_PER_ADDRESS`] are being read from it already.
    pub fn try_acquire(self: &Arc<Self>, peer: Option<IpAddr>) -> Option<AddressSlot> {
        let key = peer.map(address_key);
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = held.entry(key).or_default();
        if *n >= MAX_PER_ADDRESS {
            return None;
        }
        *n += 1;
        Some(AddressSlot { slots: self.clone(), key })
    }

    #[cfg(test)]
    fn addresses(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut held = self.slots.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.key) {
            *n -= 1;
            // An address with nothing in flight takes no room: the map holds at most the
            // addresses being read from, bounded by the overall slots.
            if *n == 0 {
                held.remove(&self.key);
            }
        }
    }
}

/// Why a body was not taken.
#[derive(Debug)]
pub enum BodyError {
    /// Over `limit` bytes (413).
    TooLarge { limit: usize },
    /// Slower than [`MIN_RATE`] after [`GRACE`] (408).
    TooSlow { received: usize, after: Duration },
    /// Not all there within the overall limit (408).
    TimedOut { within: Duration },
    /// The connection broke (400).
    Broken(String),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge { limit } => write!(f, "the body is larger than the limit of {limit} bytes"),
            BodyError::TooSlow { received, after } => write!(
                f,
                "the body arrived too slowly ({received} bytes in {:.1} s; at least {} KiB/s after the first {} s)",
                after.as_secs_f64(),
                MIN_RATE / 1024,
                GRACE.as_secs()
            ),
            BodyError::TimedOut { within } => write!(f, "the body did not arrive within {} s", within.as_secs()),
            BodyError::Broken(_) => f.write_str("the body ended early (the connection broke while it was sent)"),
        }
    }
}

/// When a body of which `received` bytes have come since `start` must have more: the moment
/// its average rate after [`GRACE`] would fall below [`MIN_RATE`].
fn pace_deadline(start: Instant, received: usize) -> Instant {
    start + GRACE + Duration::from_secs_f64(received as f64 / MIN_RATE as f64)
}

/// Read `body` whole: at most `limit` bytes, at [`MIN_RATE`] after [`GRACE`], never pausing
/// longer than [`MAX_PAUSE`] after the grace, all of it within `overall`.
pub async fn read_body(body: Body, limit: usize, overall: Duration) -> Result<Bytes, BodyError> {
    let start = Instant::now();
    let mut body = body;
    let mut got = BytesMut::new();
    let mut last = start;
    loop {
        let slow = pace_deadline(start, got.len()).min(last.max(start + GRACE - MAX_PAUSE) + MAX_PAUSE);
        let end = start + overall;
        let frame = match tokio::time::timeout_at(slow.min(end), body.frame()).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(Some(Err(e))) => return Err(BodyError::Broken(e.to_string())),
            Ok(None) => return Ok(got.freeze()),
            Err(_) if slow < end => {
                return Err(BodyError::TooSlow { received: got.len(), after: start.elapsed() });
            }
            Err(_) => return Err(BodyError::TimedOut { within: overall }),
        };
        // (Trailers are not part of a delivery.)
        if let Ok(data) = frame.into_data() {
            if got.len() + data.len() > limit {
                return Err(BodyError::TooLarge { limit });
            }
            got.extend_from_slice(&data);
            last = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_counts_by_its_64_and_a_mapped_ipv4_one_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn the_forwarded_address_counts_only_when_trusted_and_only_the_proxys_own_entry() {
        let peer: SocketAddr = "10.0.0.5:40000".parse().unwrap();
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "1.2.3.4, 198.51.100.9".parse().unwrap());
        assert_eq!(client_address(peer, &h, false).0, peer.ip());
        assert_eq!(client_address(peer, &h, true).0, "198.51.100.9".parse::<IpAddr>().unwrap());
        h.append("x-forwarded-for", "203.0.113.7".parse().unwrap());
        assert_eq!(client_address(peer, &h, true).0, "203.0.113.7".parse::<IpAddr>().unwrap());
        let mut bad = HeaderMap::new();
        bad.append("x-forwarded-for", "203.0.113.7, not-an-address".parse().unwrap());
        assert_eq!(client_address(peer, &bad, true).0, peer.ip());
        assert_eq!(client_address(peer, &HeaderMap::new(), true).0, peer.ip());
    }

    #[test]
    fn slots_are_per_address_and_given_back() {
        let slots = Arc::new(AddressSlots::default());
        let one = Some("192.0.2.1".parse().unwrap());
        let held: Vec<_> = (0..MAX_PER_ADDRESS).map(|_| slots.try_acquire(one).unwrap()).collect();
        assert!(slots.try_acquire(one).is_none());
        let other = slots.try_acquire(Some("192.0.2.2".parse().unwrap()));
        assert!(other.is_some());
        drop(held);
        drop(other);
        assert_eq!(slots.addresses(), 0, "addresses with nothing in flight are forgotten");
        assert!(slots.try_acquire(one).is_some());
    }

    #[tokio::test]
    async fn a_body_slower_than_the_minimum_rate_is_dropped_after_the_grace() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        }));
        let sender = tokio::spawn(async move {
            for _ in 0..100 {
                if tx.send(Ok(Bytes::from_static(b"0123456789"))).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let started = Instant::now();
        let e = read_body(body, 1 << 20, Duration::from_secs(30)).await.unwrap_err();
        assert!(matches!(e, BodyError::TooSlow { .. }), "{e}");
        // 100 bytes a second: dropped right after the grace.
        assert!(started.elapsed() < GRACE + Duration::from_millis(500), "{:?}", started.elapsed());
        sender.abort();
    }

    /// A burst, then silence: dropped once the pause is over, not when the burst's average runs
    /// out (found by an adversarial test: 480 KiB held a slot for 30 s).
    #[tokio::test]
    async fn a_burst_then_silence_is_dropped_after_the_longest_pause() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        }));
        tx.send(Ok(Bytes::from(vec![b'x'; 480 * 1024]))).await.unwrap();
        let started = Instant::now();
        let e = read_body(body, 1 << 20, Duration::from_secs(30)).await.unwrap_err();
        assert!(matches!(e, BodyError::TooSlow { .. }), "{e}");
        assert!(started.elapsed() < GRACE + MAX_PAUSE + Duration::from_millis(500), "{:?}", started.elapsed());
        drop(tx);
    }
}
