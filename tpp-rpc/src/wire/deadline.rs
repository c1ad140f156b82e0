//! Deadlines across services: the caller's budget travels with each request.
//!
//! A client sends the time it is still willing to wait as the top-level
//! request field `tpp_deadline_ms` (an integer number of milliseconds: a
//! duration, not a point in time, so the two hosts' clocks need not agree;
//! toxiccore servers ignore it). A tpp server starts that budget when it
//! takes the request up and runs the handler until the first of: the
//! budget, the action's own `#[action(timeout = …)]`, the server's
//! [`Limits::handler_timeout`](crate::Limits::handler_timeout) (the ceiling:
//! a budget above it is never trusted). Then the handler's future is
//! dropped and the client is answered code 1 `{"error": "deadline
//! exceeded"}`; a budget of 0 or less is refused the same way without
//! running the handler. The handler reads what is left from
//! [`Context::remaining`](crate::Context::remaining).
//!
//! While a handler runs, its limit is the [`current`] deadline of its task,
//! and every call a tpp [`Client`](crate::Client) makes there sends
//! `min(its own timeout, what is left)` and waits no longer. Outside a
//! server, [`scope`] sets one for a piece of work.
//!
//! ```
//! use std::time::Duration;
//! use tokio::time::Instant;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let at = Instant::now() + Duration::from_millis(250);
//! let seen = tpp_rpc::deadline::scope(at, async { tpp_rpc::deadline::current() }).await;
//! assert_eq!(seen, Some(at));
//! assert_eq!(tpp_rpc::deadline::current(), None);
//! # });
//! ```

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

pub use super::fields::DEADLINE_FIELD;

tokio::task_local! {
    static CURRENT: Instant;
}

/// Runs `work` with `deadline` as the [`current`] one: the clients it uses
/// send no more than what is left of it, and stop waiting when it passes.
/// An outer deadline that comes sooner stays in force (the one current where
/// `scope` is called).
///
/// Not an `async fn`: the returned future holds `work` once, so a large
/// future (a handler's, on every request with a budget) is not copied into
/// a second place.
pub fn scope<F: Future>(deadline: Instant, work: F) -> impl Future<Output = F::Output> {
    let deadline = current().map_or(deadline, |outer| outer.min(deadline));
    CURRENT.scope(deadline, work)
}

/// The deadline of the work running on this task (the handler's limit, or
/// one set with [`scope`]), if any.
pub fn current() -> Option<Instant> {
    CURRENT.try_with(|d| *d).ok()
}

/// When a call must end, and the timeout that stands for (what an overrun
/// reports); `None`: no bound.
pub(crate) type Limit = Option<(Instant, Duration)>;

/// The sooner of `timeout` from now and the [`current`] deadline: when a
/// call made now must end, and how long that is from now.
pub(crate) fn call_deadline(timeout: Option<Duration>) -> Limit {
    let now = Instant::now();
    let own = timeout.and_then(|t| Some((now.checked_add(t)?, t)));
    let outer = current().map(|at| (at, at.saturating_duration_since(now)));
    match (own, outer) {
        (Some(own), Some(outer)) if outer.0 < own.0 => Some(outer),
        (own, outer) => own.or(outer),
    }
}

/// What to send as `tpp_deadline_ms` for a call that must end by
/// `deadline`: whole milliseconds left, rounded up so that a call with time
/// left never sends 0.
pub(crate) fn millis_left(deadline: Instant) -> u64 {
    millis_rounded_up(deadline.saturating_duration_since(Instant::now()))
}

fn millis_rounded_up(left: Duration) -> u64 {
    let ms = left.as_millis() + u128::from(left.subsec_nanos() % 1_000_000 != 0);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_sooner_deadline_wins() {
        let soon = Instant::now() + Duration::from_millis(100);
        let later = Instant::now() + Duration::from_secs(5);
        let inner = scope(soon, async { scope(later, async { current() }).await }).await;
        assert_eq!(inner, Some(soon));
        let call = scope(soon, async { call_deadline(Some(Duration::from_secs(30))) }).await;
        let (at, left) = call.expect("a deadline");
        assert_eq!(at, soon);
        assert!(left <= Duration::from_millis(100));
        let before = Instant::now();
        let call = scope(later, async {
            call_deadline(Some(Duration::from_millis(10)))
        });
        let (at, left) = call.await.expect("a deadline");
        assert!(at >= before + Duration::from_millis(10) && at < later);
        assert_eq!(left, Duration::from_millis(10));
        assert_eq!(call_deadline(None), None);
    }

    #[tokio::test]
    async fn millis_round_up_and_never_go_below_zero() {
        assert_eq!(millis_rounded_up(Duration::from_micros(1)), 1);
        assert_eq!(millis_rounded_up(Duration::from_micros(1500)), 2);
        assert_eq!(millis_rounded_up(Duration::from_millis(7)), 7);
        assert_eq!(millis_rounded_up(Duration::ZERO), 0);
        let at = Instant::now() + Duration::from_secs(3600);
        assert!((3_590_000..=3_600_000).contains(&millis_left(at)));
        let past = Instant::now() - Duration::from_millis(10);
        assert_eq!(millis_left(past), 0);
    }
}
