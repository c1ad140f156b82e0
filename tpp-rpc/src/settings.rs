//! What a configured limit or duration means at its extremes, decided once
//! when a server or client is built, so that no value a user can pass makes
//! the runtime panic later (a semaphore too large, a deadline past the end
//! of the clock):
//!
//! - durations longer than [`MAX_DURATION`] (up to `Duration::MAX`) are
//!   shortened to it: in practice "no limit";
//! - counts of permits beyond what a semaphore holds (up to `usize::MAX`)
//!   are shortened to [`MAX_COUNT`]: in practice "unlimited";
//! - values that would make every request fail (a zero read timeout, a
//!   zero frame size) are refused with an error naming the setting.

use std::time::Duration;

use tokio::sync::Semaphore;

/// The longest duration any setting takes (one year). Longer values, up to
/// `Duration::MAX`, are shortened to it: they mean "no limit" in practice,
/// and a deadline computed from them cannot overflow the clock.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The largest count of connections or concurrent requests a setting takes
/// (tokio's `Semaphore::MAX_PERMITS`, `usize::MAX >> 3`). Larger values, up
/// to `usize::MAX`, are shortened to it: they mean "unlimited" in practice.
pub const MAX_COUNT: usize = Semaphore::MAX_PERMITS;

/// `d`, at most [`MAX_DURATION`].
pub(crate) fn duration(d: Duration) -> Duration {
    d.min(MAX_DURATION)
}

/// A timeout that must not be zero (it would fail every request), at most
/// [`MAX_DURATION`].
pub(crate) fn timeout(setting: &str, d: Duration) -> Result<Duration, String> {
    if d.is_zero() {
        return Err(format!(
            "{setting} is zero: every request would time out at once (any value up to \
             Duration::MAX is accepted; values over a year mean no limit)"
        ));
    }
    Ok(duration(d))
}

/// `n`, at least 1 and at most [`MAX_COUNT`].
pub(crate) fn count(n: usize) -> usize {
    n.clamp(1, MAX_COUNT)
}

/// A count that must not be zero (nothing could be served), at most
/// [`MAX_COUNT`].
pub(crate) fn positive_count(setting: &str, n: usize) -> Result<usize, String> {
    if n == 0 {
        return Err(format!(
            "{setting} is zero: nothing could be served (usize::MAX means unlimited)"
        ));
    }
    Ok(n.min(MAX_COUNT))
}

/// A size in bytes that must not be zero (no message fits in zero bytes).
pub(crate) fn size(setting: &str, bytes: usize) -> Result<usize, String> {
    if bytes == 0 {
        return Err(format!(
            "{setting} is zero: no message fits (usize::MAX means unlimited)"
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes_are_clamped_or_refused_by_name() {
        assert_eq!(duration(Duration::MAX), MAX_DURATION);
        assert_eq!(duration(Duration::ZERO), Duration::ZERO);
        assert!(timeout("read_timeout", Duration::ZERO)
            .unwrap_err()
            .contains("read_timeout"));
        assert_eq!(timeout("t", Duration::MAX), Ok(MAX_DURATION));
        assert_eq!(count(0), 1);
        assert_eq!(count(usize::MAX), MAX_COUNT);
        assert!(positive_count("max_connections", 0)
            .unwrap_err()
            .contains("max_connections"));
        assert_eq!(positive_count("n", usize::MAX), Ok(MAX_COUNT));
        assert!(size("max_frame_size", 0)
            .unwrap_err()
            .contains("max_frame_size"));
        assert_eq!(size("s", usize::MAX), Ok(usize::MAX));
        // Far deadlines stay on the clock.
        let _ = std::time::Instant::now() + MAX_DURATION * 2;
        let _ = tokio::time::Instant::now() + MAX_DURATION * 2;
    }
}
