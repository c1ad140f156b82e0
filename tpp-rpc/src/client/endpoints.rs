//! Several servers for one client, for deployments without a load balancer:
//! which endpoint each new connection goes to (round robin or first
//! healthy), failover to the next one on a connect error, and a back-off
//! during which an endpoint that refused is skipped.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::connect::{Addresses, Local};
use super::ClientError;
use crate::transport::{Socket, TlsName};

/// How a client with several endpoints picks one for a new connection
/// ([`ClientBuilder::endpoint`](super::ClientBuilder::endpoint)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EndpointSelection {
    /// Each new connection goes to the next endpoint in turn (the default).
    #[default]
    RoundRobin,
    /// Every connection goes to the first endpoint that is not marked down,
    /// in the order they were given: a primary and its standbys.
    FirstHealthy,
}

/// The first back-off after a connect error; it doubles with each further
/// error up to [`MAX_DOWN_BACKOFF`], and ends at the first successful connect.
pub const DEFAULT_DOWN_BACKOFF: Duration = Duration::from_millis(500);
/// The longest an endpoint stays marked down.
pub const MAX_DOWN_BACKOFF: Duration = Duration::from_secs(30);
/// How long one address may take to accept a connection unless configured
/// ([`ClientBuilder::connect_timeout`](super::ClientBuilder::connect_timeout)):
/// time for the first SYN and two retransmissions (Linux resends after 1 s,
/// then 2 s more), well under the call's [`DEFAULT_TIMEOUT`](super::DEFAULT_TIMEOUT),
/// so a host name whose first address is unreachable still gets to the next.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One server.
pub(crate) struct Endpoint {
    /// Its host and port, resolved once (see connect.rs).
    pub(super) addrs: Addresses,
    /// The TLS name to check, when it is this endpoint's own host.
    pub(crate) tls_name: Option<TlsName>,
    /// Connect errors in a row.
    failures: AtomicU32,
    /// Skipped until this many milliseconds after `Endpoints::epoch`.
    down_until_ms: AtomicU64,
}

impl Endpoint {
    pub(crate) fn new(host: String, port: u16, tls_name: Option<TlsName>) -> Self {
        Endpoint {
            addrs: Addresses::new(host, port),
            tls_name,
            failures: AtomicU32::new(0),
            down_until_ms: AtomicU64::new(0),
        }
    }

    pub(crate) fn local(local: Local) -> Self {
        Endpoint {
            addrs: Addresses::local(local),
            tls_name: None,
            failures: AtomicU32::new(0),
            down_until_ms: AtomicU64::new(0),
        }
    }
}

/// The endpoints of one client and their health as this client saw it.
pub(crate) struct Endpoints {
    list: Vec<Endpoint>,
    selection: EndpointSelection,
    backoff: Duration,
    /// Per address (see connect.rs).
    connect_timeout: Duration,
    next: AtomicUsize,
    epoch: Instant,
}

impl Endpoints {
    pub(crate) fn new(
        list: Vec<Endpoint>,
        selection: EndpointSelection,
        backoff: Duration,
        connect_timeout: Duration,
    ) -> Endpoints {
        Endpoints {
            list,
            selection,
            backoff,
            connect_timeout,
            next: AtomicUsize::new(0),
            epoch: Instant::now(),
        }
    }

    /// The first endpoint (the builder's own host and port).
    pub(crate) fn primary(&self) -> &Endpoint {
        &self.list[0]
    }

    /// Connects to an endpoint: the selected one, else the next ones in
    /// order. Endpoints marked down are tried last, only when every other
    /// one failed. Returns the last connect error when all fail.
    pub(crate) async fn connect(&self) -> Result<(Socket, &Endpoint), ClientError> {
        if let [only] = self.list.as_slice() {
            // One endpoint: nothing to choose, nothing to mark.
            return Ok((only.addrs.connect(self.connect_timeout).await?, only));
        }
        let mut last_error = None;
        for i in self.order(self.now_ms()) {
            let endpoint = &self.list[i];
            match endpoint.addrs.connect(self.connect_timeout).await {
                Ok(tcp) => {
                    self.mark_up(endpoint);
                    return Ok((tcp, endpoint));
                }
                Err(e) => {
                    self.mark_down(endpoint);
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or(ClientError::Closed))
    }

    /// The order to try the endpoints in at `now_ms`: the healthy ones from
    /// the selected start, then the ones marked down, soonest back first.
    fn order(&self, now_ms: u64) -> Vec<usize> {
        let n = self.list.len();
        let start = match self.selection {
            EndpointSelection::RoundRobin => self.next.fetch_add(1, Ordering::Relaxed) % n,
            EndpointSelection::FirstHealthy => 0,
        };
        let rotated = (0..n).map(|k| (start + k) % n);
        let down_until = |i: usize| self.list[i].down_until_ms.load(Ordering::Relaxed);
        let (mut up, mut down): (Vec<usize>, Vec<usize>) =
            rotated.partition(|&i| down_until(i) <= now_ms);
        down.sort_by_key(|&i| down_until(i));
        up.append(&mut down);
        up
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn mark_up(&self, endpoint: &Endpoint) {
        if endpoint.failures.load(Ordering::Relaxed) != 0 {
            endpoint.failures.store(0, Ordering::Relaxed);
            endpoint.down_until_ms.store(0, Ordering::Relaxed);
        }
    }

    fn mark_down(&self, endpoint: &Endpoint) {
        let failures = endpoint.failures.fetch_add(1, Ordering::Relaxed);
        let backoff = with_jitter(
            self.backoff
                .saturating_mul(1 << failures.min(16))
                .min(MAX_DOWN_BACKOFF),
        );
        let until = self.now_ms().saturating_add(backoff.as_millis() as u64);
        endpoint.down_until_ms.store(until, Ordering::Relaxed);
    }
}

/// `backoff` shortened by a random part of up to a half, so clients that saw
/// the same endpoint fail at the same moment do not all come back together.
fn with_jitter(backoff: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS and varies per instance: enough
    // randomness for spreading retries, without a dependency.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let keep = 0.5 + (random >> 11) as f64 / (1u64 << 53) as f64 / 2.0; // [0.5, 1)
    backoff.mul_f64(keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(ports: &[u16], selection: EndpointSelection) -> Endpoints {
        let list = ports
            .iter()
            .map(|p| Endpoint::new("127.0.0.1".into(), *p, None))
            .collect();
        Endpoints::new(
            list,
            selection,
            Duration::from_millis(100),
            DEFAULT_CONNECT_TIMEOUT,
        )
    }

    /// A port nothing listens on (bound, then released).
    fn closed_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    #[test]
    fn round_robin_rotates_and_first_healthy_keeps_the_order() {
        let rr = endpoints(&[1, 2, 3], EndpointSelection::RoundRobin);
        assert_eq!(rr.order(0), [0, 1, 2]);
        assert_eq!(rr.order(0), [1, 2, 0]);
        assert_eq!(rr.order(0), [2, 0, 1]);
        let first = endpoints(&[1, 2, 3], EndpointSelection::FirstHealthy);
        assert_eq!(first.order(0), [0, 1, 2]);
        assert_eq!(first.order(0), [0, 1, 2]);
    }

    #[test]
    fn endpoints_marked_down_go_last_until_their_back_off_ends() {
        let e = endpoints(&[1, 2, 3], EndpointSelection::FirstHealthy);
        e.mark_down(&e.list[0]);
        e.mark_down(&e.list[1]);
        e.mark_down(&e.list[1]); // twice: 200 ms, less the jitter
        let now = e.now_ms();
        let until = |i: usize| e.list[i].down_until_ms.load(Ordering::Relaxed);
        assert!((now.saturating_sub(5) + 50..=now + 100).contains(&until(0)));
        assert!((now.saturating_sub(5) + 100..=now + 200).contains(&until(1)));
        assert_eq!(e.order(now), [2, 0, 1]);
        assert_eq!(
            e.order(until(0)),
            [0, 2, 1],
            "endpoint 0's back-off is over"
        );
        assert_eq!(e.order(now + 250), [0, 1, 2]);
        e.mark_up(&e.list[1]);
        assert_eq!(e.list[1].failures.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn the_back_off_doubles_up_to_its_maximum() {
        let e = endpoints(&[1, 2], EndpointSelection::RoundRobin);
        for _ in 0..40 {
            e.mark_down(&e.list[0]);
        }
        let until = e.list[0].down_until_ms.load(Ordering::Relaxed);
        assert!(until <= e.now_ms() + MAX_DOWN_BACKOFF.as_millis() as u64);
        assert!(until + 1000 >= MAX_DOWN_BACKOFF.as_millis() as u64 / 2);
    }

    #[test]
    fn back_offs_are_spread_by_jitter() {
        let e = endpoints(&[1; 32], EndpointSelection::RoundRobin);
        for endpoint in &e.list {
            e.mark_down(endpoint);
        }
        let untils: std::collections::HashSet<u64> = e
            .list
            .iter()
            .map(|x| x.down_until_ms.load(Ordering::Relaxed))
            .collect();
        assert!(
            untils.len() > 4,
            "32 endpoints failing at once come back at {} moments",
            untils.len()
        );
        for d in [Duration::ZERO, Duration::from_millis(1), MAX_DOWN_BACKOFF] {
            assert!(with_jitter(d) <= d);
        }
        assert!(with_jitter(Duration::from_secs(10)) >= Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_refused_endpoint_fails_over_and_is_skipped_afterwards() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let live = listener.local_addr().unwrap().port();
        let dead = closed_port();
        let e = endpoints(&[dead, live], EndpointSelection::FirstHealthy);
        let (_tcp, used) = e.connect().await.expect("failover");
        assert_eq!(used.addrs.display, format!("127.0.0.1:{live}"));
        assert_eq!(e.list[0].failures.load(Ordering::Relaxed), 1);
        // Marked down: the next connection goes straight to the live one.
        assert_eq!(e.order(e.now_ms()), [1, 0]);
        let (_tcp, used) = e.connect().await.expect("connect");
        assert_eq!(used.addrs.display, format!("127.0.0.1:{live}"));
        assert_eq!(e.list[0].failures.load(Ordering::Relaxed), 1, "not retried");
    }

    #[tokio::test]
    async fn all_endpoints_down_is_the_last_connect_error() {
        let e = endpoints(
            &[closed_port(), closed_port()],
            EndpointSelection::RoundRobin,
        );
        match e.connect().await {
            Err(ClientError::Connect { addr, .. }) => assert!(addr.starts_with("127.0.0.1:")),
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("connected to a closed port"),
        }
        // Both down: still tried (soonest back first), not refused outright.
        assert!(matches!(
            e.connect().await,
            Err(ClientError::Connect { .. })
        ));
        assert_eq!(e.list[0].failures.load(Ordering::Relaxed), 2);
    }
}
