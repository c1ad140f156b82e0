//! The guard around slow token checks: a per-address limit on failed
//! verifications, one verification at a time per address, and dropping a
//! verification whose client has left.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{debug, warn};

use super::{Limits, Shared};
use crate::server::auth::{AuthCheck, Identity, Refused};

/// Addresses tracked at most; past it, addresses not over the limit are
/// forgotten first.
const TRACKED_ADDRESSES: usize = 65_536;

/// Failed verifications per address, as a leaky bucket: each verification
/// is charged `interval` in advance, a success is refunded, and an address
/// whose debt would exceed `burst × interval` is refused.
pub(crate) struct FailureLimiter {
    burst: u32,
    interval: Duration,
    /// Per address: when its debt is paid off.
    debts: Mutex<HashMap<IpAddr, Instant>>,
    /// Per address with a verification waiting or running: its turn.
    turns: Mutex<HashMap<IpAddr, Arc<Semaphore>>>,
}

impl FailureLimiter {
    pub(super) fn new(limits: &Limits) -> Self {
        Self {
            burst: limits.auth_failures,
            interval: limits.auth_failure_interval,
            debts: Mutex::new(HashMap::new()),
            turns: Mutex::new(HashMap::new()),
        }
    }

    /// Charges one verification to `ip`; false when it is over the limit.
    fn charge(&self, ip: IpAddr) -> bool {
        if self.burst == 0 {
            return true;
        }
        let Ok(mut debts) = self.debts.lock() else {
            return true;
        };
        let now = Instant::now();
        let key = address_key(ip);
        if let Some(paid_off) = debts.get_mut(&key) {
            let from = (*paid_off).max(now);
            // Saturating: a huge burst or interval means "no limit", never an overflow.
            let limit = self.interval.saturating_mul(self.burst);
            if from.duration_since(now).saturating_add(self.interval) > limit {
                return false;
            }
            match from.checked_add(self.interval) {
                Some(later) => *paid_off = later,
                None => return false,
            }
            return true;
        }
        if debts.len() >= TRACKED_ADDRESSES {
            debts.retain(|_, paid_off| *paid_off > now);
        }
        if debts.len() < TRACKED_ADDRESSES {
            debts.insert(key, now.checked_add(self.interval).unwrap_or(now));
        }
        true
    }

    /// Gives back the charge of a verification that succeeded.
    fn refund(&self, ip: IpAddr) {
        let Ok(mut debts) = self.debts.lock() else {
            return;
        };
        let key = address_key(ip);
        let now = Instant::now();
        if let Some(paid_off) = debts.get_mut(&key) {
            *paid_off = paid_off.checked_sub(self.interval).unwrap_or(now);
            if *paid_off <= now {
                debts.remove(&key);
            }
        }
    }
}

/// IPv4 addresses count one by one, IPv6 ones by /64 (what one host gets).
fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (!0u128 << 64))),
        v4 => v4,
    }
}

/// One address's turn at slow verification: while it is held, further
/// unknown tokens from the same address wait, so one address never holds
/// more than one of the verification threads.
struct Turn<'a> {
    turns: &'a Mutex<HashMap<IpAddr, Arc<Semaphore>>>,
    key: IpAddr,
    permit: Option<OwnedSemaphorePermit>,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let Ok(mut turns) = self.turns.lock() else {
            return;
        };
        drop(permit);
        // Forget the address when nobody else holds or waits for its turn.
        if turns
            .get(&self.key)
            .is_some_and(|s| Arc::strong_count(s) == 1)
        {
            turns.remove(&self.key);
        }
    }
}

impl FailureLimiter {
    async fn turn(&self, ip: IpAddr) -> Turn<'_> {
        let key = address_key(ip);
        let mut turn = Turn {
            turns: &self.turns,
            key,
            permit: None,
        };
        let semaphore = match self.turns.lock() {
            Ok(mut turns) => turns
                .entry(key)
                .or_insert_with(|| Arc::new(Semaphore::new(1)))
                .clone(),
            Err(_) => return turn,
        };
        turn.permit = semaphore.acquire_owned().await.ok();
        turn
    }
}

/// The verdict on a token when the authenticator decided it at once (a
/// plain token, a cached hash); `None` when it must wait: then
/// [`verdict`] verifies it under the limits above.
pub(super) fn verdict_now(
    check: AuthCheck<'_>,
    shared: &Shared,
) -> Option<Result<Option<Identity>, Refused>> {
    let verdict = match check {
        AuthCheck::Done(true) => Some(Ok(None)),
        AuthCheck::Done(false) => Some(Err(Refused)),
        AuthCheck::Identified(id) => Some(id.map(Some).ok_or(Refused)),
        _ => None,
    };
    if let Some(m) = &shared.metrics {
        m.auth_checked(verdict.is_some());
    }
    verdict
}

/// The verdict on a token that [`verdict_now`] could not give, or `None`
/// when the client left (the future `client_left` makes resolved) while its
/// token was being verified (the verification is then dropped).
///
/// `check` is called once, when this address's turn comes: a token
/// verified meanwhile (as when a client opens several connections at once)
/// is then answered from the cache.
pub(super) async fn verdict<'a, Left: Future<Output = &'static str>>(
    check: impl Fn() -> AuthCheck<'a>,
    client_left: impl FnOnce() -> Left,
    shared: &Shared,
    peer: SocketAddr,
) -> Option<Result<Option<Identity>, Refused>> {
    let limiter = &shared.failures;
    if !limiter.charge(peer.ip()) {
        warn!(%peer, "too many failed token verifications from this address; refused without verifying");
        return Some(Err(Refused));
    }
    let verify = async {
        let _turn = limiter.turn(peer.ip()).await;
        check().identity().await
    };
    let verdict = tokio::select! {
        biased;
        verdict = verify => verdict,
        gone = client_left() => {
            debug!(%peer, reason = gone, "client left during token verification");
            return None;
        }
    };
    if verdict.is_ok() {
        limiter.refund(peer.ip());
    }
    Some(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(burst: u32, interval: Duration) -> FailureLimiter {
        FailureLimiter::new(&Limits {
            auth_failures: burst,
            auth_failure_interval: interval,
            ..Limits::default()
        })
    }

    #[test]
    fn an_address_gets_its_burst_then_waits() {
        let l = limiter(3, Duration::from_secs(60));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(l.charge(a) && l.charge(a) && l.charge(a));
        assert!(!l.charge(a));
        assert!(l.charge(b));
        // A success is refunded.
        l.refund(a);
        assert!(l.charge(a));
        assert!(!l.charge(a));
    }

    #[test]
    fn debts_are_paid_off_with_time() {
        let l = limiter(1, Duration::from_millis(30));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(l.charge(a));
        assert!(!l.charge(a));
        std::thread::sleep(Duration::from_millis(40));
        assert!(l.charge(a));
    }

    #[test]
    fn extreme_bursts_and_intervals_do_not_overflow() {
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for (burst, interval) in [
            (u32::MAX, Duration::MAX),
            (u32::MAX, crate::settings::MAX_DURATION),
            (1, Duration::MAX),
            (u32::MAX, Duration::ZERO),
        ] {
            let l = limiter(burst, interval);
            for _ in 0..10 {
                l.charge(a);
                l.refund(a);
                l.charge(a);
            }
        }
        // The largest interval the builder passes on still limits.
        let l = limiter(1, crate::settings::MAX_DURATION);
        assert!(l.charge(a));
        assert!(!l.charge(a));
    }

    #[test]
    fn ipv6_counts_by_64_and_zero_turns_it_off() {
        let l = limiter(1, Duration::from_secs(60));
        assert!(l.charge("2001:db8::1".parse().unwrap()));
        assert!(!l.charge("2001:db8::2".parse().unwrap()));
        assert!(l.charge("2001:db8:0:1::1".parse().unwrap()));
        let off = limiter(0, Duration::from_secs(60));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert!((0..100).all(|_| off.charge(a)));
    }
}
