//! The connection pool: idle connections kept for the next call, a bound on
//! the connections open at once, idle expiry, and the check that a kept
//! connection is still open before a request is written on it.
//!
//! Invariant behind the bound: a caller holds a permit from the time it asks
//! for a connection until it hands the connection back (or drops it); a new
//! connection is opened only when no idle one is left. So the connections
//! open are at most the permits handed out plus the idle ones, and idle ones
//! exist only because a holder gave its connection back and its permit with
//! it: never more than `max_open` in all.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::ClientConnection;

/// Idle connections kept per client unless configured
/// ([`ClientBuilder::pool_max_idle`](super::ClientBuilder::pool_max_idle)).
pub const DEFAULT_MAX_IDLE: usize = 64;

/// How long an idle connection is kept unless configured
/// ([`ClientBuilder::pool_idle_timeout`](super::ClientBuilder::pool_idle_timeout)):
/// shorter than a tpp server's default idle timeout (30 s), so the client
/// normally stops using a connection before the server would close it.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// How a client keeps connections.
#[derive(Debug, Clone)]
pub(super) struct PoolSettings {
    pub(super) enabled: bool,
    pub(super) max_idle: usize,
    pub(super) max_open: Option<usize>,
    pub(super) idle_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            max_idle: DEFAULT_MAX_IDLE,
            max_open: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

struct Idle {
    /// Boxed: a call moves its connection out of the pool and back, and
    /// holds it in its future.
    conn: Box<ClientConnection>,
    /// When the call that used it last began (a call's one clock read).
    since: tokio::time::Instant,
}

/// One client's pool (shared by its clones).
pub(super) struct Pool {
    settings: PoolSettings,
    /// Most recently used last: calls take the warmest connection, and the
    /// oldest ones expire at the front.
    idle: Mutex<Vec<Idle>>,
    open: Option<Arc<Semaphore>>,
    opened: AtomicU64,
}

/// The right to use one connection of the pool (see the module's invariant).
pub(super) struct Lease {
    _permit: Option<OwnedSemaphorePermit>,
}

impl Pool {
    pub(super) fn new(settings: PoolSettings) -> Pool {
        let open = settings
            .max_open
            .map(|n| Arc::new(Semaphore::new(crate::settings::count(n))));
        Pool {
            settings,
            idle: Mutex::new(Vec::new()),
            open,
            opened: AtomicU64::new(0),
        }
    }

    pub(super) fn enabled(&self) -> bool {
        self.settings.enabled
    }

    /// The right to use a connection, when it needs no wait: always for
    /// an unbounded pool; for a bounded one, when a permit is free (never
    /// ahead of callers already waiting: released permits go to them first).
    pub(super) fn lease_now(&self) -> Option<Lease> {
        let permit = match &self.open {
            Some(open) => Some(open.clone().try_acquire_owned().ok()?),
            None => None,
        };
        Some(Lease { _permit: permit })
    }

    /// Waits (first come, first served) until a connection may be used.
    pub(super) async fn lease(&self) -> Lease {
        let permit = match &self.open {
            // The semaphore is never closed, so acquiring cannot fail.
            Some(open) => open.clone().acquire_owned().await.ok(),
            None => None,
        };
        Lease { _permit: permit }
    }

    /// The most recently used idle connection that is still open, if any.
    /// Expired and closed ones are dropped on the way.
    /// `now`: when the call began.
    pub(super) fn take_idle(
        &self,
        _lease: &Lease,
        now: tokio::time::Instant,
    ) -> Option<Box<ClientConnection>> {
        let mut dropped = Vec::new();
        let found = {
            let mut idle = self.idle.lock().ok()?;
            let mut found = None;
            while let Some(entry) = idle.pop() {
                if now.saturating_duration_since(entry.since) >= self.settings.idle_timeout {
                    // Everything before it is older still.
                    dropped.push(entry.conn);
                    dropped.extend(idle.drain(..).map(|e| e.conn));
                    break;
                }
                let mut conn = entry.conn;
                if conn.is_closed_or_dirty() {
                    dropped.push(conn);
                    continue;
                }
                found = Some(conn);
                break;
            }
            found
        };
        // Closed outside the lock.
        drop(dropped);
        found
    }

    /// Keeps a connection whose server promised to keep it open; `began`:
    /// when the call that used it began (its idle time counts from there,
    /// a little early, so it is never kept past the idle timeout).
    pub(super) fn give_back(
        &self,
        conn: Box<ClientConnection>,
        _lease: Lease,
        began: tokio::time::Instant,
    ) {
        let Ok(mut idle) = self.idle.lock() else {
            return;
        };
        if idle.len() < self.settings.max_idle {
            idle.push(Idle { conn, since: began });
        }
        // The lease (and its permit) ends after the connection is idle, so
        // the next waiter finds it there.
    }

    /// Counts a connection opened (see [`super::Client::connections_opened`]).
    pub(super) fn count_open(&self) {
        self.opened.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    pub(super) fn idle_count(&self) -> usize {
        self.idle.lock().map(|i| i.len()).unwrap_or(0)
    }
}
