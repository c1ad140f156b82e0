//! The server-wide budget for request bytes: what all connections together
//! may hold of requests not yet answered. A frame's declared length is
//! charged when its header arrives, before any byte of its payload is
//! buffered; once the frame is whole the charge goes with its bytes
//! ([`Charge::attach`]) and is given back when the last handle to them is
//! dropped (the request was answered and the next one replaced it, or the
//! connection ended) and, on a kept-alive connection that keeps the frame's
//! buffer for its next requests, once that buffer is freed too (the next
//! large frame's charge replaces it, or the connection goes idle). A handler that reads further messages while it holds
//! its request's bytes is charged for all of them. A frame the budget cannot
//! take is refused at once, with an answer saying the server is busy.
//!
//! Frames under [`CHARGED_FROM`] bytes are not charged: they arrive in one
//! or two reads into the connection's small buffer, and charging them would
//! cost every small request an atomic operation for nothing; what they hold
//! is bounded by the connection limit instead.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Frames from this size on are charged to the budget.
pub(crate) const CHARGED_FROM: usize = 4096;

/// The budget is counted in units of this many bytes (a semaphore takes at
/// most `u32::MAX` permits at once: units of 1 KiB allow 4 TiB frames).
const UNIT: usize = 1024;

/// The budget of one server (shared by its connections).
#[derive(Debug)]
pub(crate) struct RequestBudget {
    units: Arc<Semaphore>,
    #[cfg(test)]
    total_units: usize,
}

/// Bytes charged for one frame, given back when dropped.
#[derive(Debug, Clone)]
pub(crate) struct Charge {
    _permit: Arc<OwnedSemaphorePermit>,
}

impl RequestBudget {
    /// A budget of `bytes` (at most [`crate::settings::MAX_COUNT`] units).
    pub(crate) fn new(bytes: usize) -> Arc<RequestBudget> {
        let total_units = (bytes / UNIT).clamp(1, crate::settings::MAX_COUNT);
        Arc::new(RequestBudget {
            units: Arc::new(Semaphore::new(total_units)),
            #[cfg(test)]
            total_units,
        })
    }

    /// Charges a frame of `len` bytes: `Ok(None)` when it is too small to
    /// count, `Err(())` when the budget cannot take it now.
    pub(crate) fn charge(&self, len: usize) -> Result<Option<Charge>, ()> {
        if len < CHARGED_FROM {
            return Ok(None);
        }
        let units = len.div_ceil(UNIT);
        let units = u32::try_from(units).map_err(|_| ())?;
        match self.units.clone().try_acquire_many_owned(units) {
            Ok(permit) => Ok(Some(Charge {
                _permit: Arc::new(permit),
            })),
            Err(_) => Err(()),
        }
    }

    /// Bytes charged now.
    #[cfg(test)]
    pub(crate) fn in_use(&self) -> usize {
        (self.total_units - self.units.available_permits()) * UNIT
    }
}

impl Charge {
    /// `bytes`, holding this charge until the last handle to them (or to
    /// a slice of them) is dropped.
    pub(crate) fn attach(self, bytes: Bytes) -> Bytes {
        Bytes::from_owner(Charged {
            bytes,
            _charge: self,
        })
    }
}

/// A frame's bytes and their charge.
struct Charged {
    bytes: Bytes,
    _charge: Charge,
}

impl AsRef<[u8]> for Charged {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

/// The default budget: a quarter of the memory this process may use (its
/// cgroup's `memory.max`, else the machine's `MemTotal`), at least `floor`
/// (the server passes one default-sized frame, 64 MiB); 1 GiB where neither
/// can be read.
pub(crate) fn default_request_memory(floor: usize) -> usize {
    const FALLBACK: usize = 1 << 30;
    let memory = cgroup_memory_max()
        .or_else(mem_total)
        .unwrap_or(FALLBACK * 4);
    (memory / 4).max(floor)
}

fn cgroup_memory_max() -> Option<usize> {
    let text = std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok()?;
    text.trim().parse().ok()
}

fn mem_total() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_charged_until_dropped_and_refused_beyond_the_budget() {
        let budget = RequestBudget::new(100 * 1024);
        assert!(budget.charge(100).unwrap().is_none(), "small: not charged");
        let a = budget.charge(60 * 1024).unwrap().expect("charged");
        assert_eq!(budget.in_use(), 60 * 1024);
        assert!(budget.charge(60 * 1024).is_err(), "over the budget");
        let b = budget.charge(40 * 1024).unwrap().expect("fits");
        drop(a);
        assert_eq!(budget.in_use(), 40 * 1024);
        drop(b);
        assert_eq!(budget.in_use(), 0);
        assert!(budget.charge(usize::MAX).is_err());
        // Attached to bytes: held while any handle to them is.
        let c = budget.charge(50 * 1024).unwrap().unwrap();
        let bytes = c.attach(Bytes::from(vec![7u8; 50 * 1024]));
        let part = bytes.slice(10..20);
        drop(bytes);
        assert_eq!(budget.in_use(), 50 * 1024, "a slice still holds them");
        assert_eq!(part[..], [7u8; 10]);
        drop(part);
        assert_eq!(budget.in_use(), 0);
        assert!(
            budget.charge(200 * 1024).is_err(),
            "larger than the whole budget"
        );
        let huge = RequestBudget::new(usize::MAX);
        assert!(huge.charge(1 << 40).unwrap().is_some());
    }

    #[test]
    fn the_default_is_a_quarter_of_memory_and_at_least_one_frame() {
        const FLOOR: usize = 64 << 20;
        let d = default_request_memory(FLOOR);
        assert!(d >= FLOOR);
        if let Some(total) = cgroup_memory_max().or_else(mem_total) {
            assert_eq!(d, (total / 4).max(FLOOR));
        }
    }
}
