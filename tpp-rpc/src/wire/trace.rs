//! Request ids and trace context across services, and the spans tpp opens.
//!
//! Every request a server handles gets a `tpp.request` span (fields
//! `action`, `identity`, `request_id`, `traceparent`, then `code`,
//! `duration_us` and, for a stream, `responses` when it ends) inside its
//! connection's `tpp.connection` span (`peer`, `tls`), so every event and span
//! of the request carries the peer without formatting it per request (the
//! connection span is their parent but is not entered between requests: the
//! server's events outside a request carry `peer` as a field). Every client call gets a
//! `tpp.client` span (`action`, `addr`, `request_id`, then `code` and
//! `duration_us`). All are at `INFO` level: with no subscriber, or a filter
//! above `INFO` for `tpp`, they cost nothing.
//!
//! A request id travels as the top-level request field `tpp_request_id`, a
//! W3C trace context as `tpp_traceparent` (toxiccore servers ignore unknown
//! top-level fields). A server takes them from the request; the handler runs
//! with them as the [`current`] [`TraceContext`], so the calls its
//! clients make carry the same request id, and the logs of several services
//! join on it. A client call with no current context makes a fresh id when
//! its span is recorded (the span is a child of the handler's request span,
//! so the server's request and the next service's join through it). Outside
//! a server, [`TraceContext::scope`] sets one for a piece of work.
//!
//! ```
//! use tpp_rpc::trace::TraceContext;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let ctx = TraceContext::new("order-42");
//! let seen = ctx.scope(async { tpp_rpc::trace::current().map(|c| c.request_id().to_owned()) }).await;
//! assert_eq!(seen.as_deref(), Some("order-42"));
//! assert!(tpp_rpc::trace::current().is_none());
//! # });
//! ```

use std::fmt::Write as _;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use serde_json::Value as Json;
use tracing::field::Value;
use tracing::Span;

use crate::wire::message::Request;

use super::fields::{MAX_REQUEST_ID_LEN, REQUEST_ID_FIELD, TRACEPARENT_FIELD};

tokio::task_local! {
    static CURRENT: TraceContext;
}

/// A request id and, optionally, a W3C trace context
/// (`00-<trace id>-<parent id>-<flags>`), shared by every call made on
/// behalf of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    request_id: Arc<str>,
    traceparent: Option<Arc<str>>,
}

impl TraceContext {
    /// A context with this request id and no trace context.
    pub fn new(request_id: impl Into<Arc<str>>) -> Self {
        Self {
            request_id: request_id.into(),
            traceparent: None,
        }
    }

    /// A context with a fresh request id (32 hex digits, unique per process
    /// and random across processes).
    pub fn generate() -> Self {
        Self::new(new_id())
    }

    /// Adds a W3C `traceparent`; ignored unless well-formed.
    pub fn with_traceparent(mut self, traceparent: &str) -> Self {
        if is_traceparent(traceparent) {
            self.traceparent = Some(traceparent.into());
        }
        self
    }

    /// The request id.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The W3C `traceparent`, if any.
    pub fn traceparent(&self) -> Option<&str> {
        self.traceparent.as_deref()
    }

    /// Runs `work` with this context as the [current] one: the clients it
    /// uses send this request id.
    pub async fn scope<F: Future>(self, work: F) -> F::Output {
        CURRENT.scope(self, work).await
    }

    /// What a request carries, if it carries a usable request id.
    pub(crate) fn from_request(request: &Request) -> Option<Self> {
        let id = match request.reserved_one(REQUEST_ID_FIELD) {
            Some(Json::String(id)) if !id.is_empty() && id.len() <= MAX_REQUEST_ID_LEN => id,
            _ => return None,
        };
        let ctx = Self::new(id.as_str());
        Some(match request.reserved_one(TRACEPARENT_FIELD) {
            Some(Json::String(tp)) => ctx.with_traceparent(&tp),
            _ => ctx,
        })
    }

    /// The `traceparent` to send on an outgoing call: same trace and flags,
    /// a new parent id (the call is a new span of the trace).
    pub(crate) fn outgoing_traceparent(&self) -> Option<String> {
        let tp = self.traceparent.as_deref()?;
        let trace = tp.get(3..35)?;
        let flags = tp.get(53..55)?;
        Some(format!("00-{trace}-{:016x}-{flags}", next_unique()))
    }
}

/// The context of the request being handled (or set with
/// [`TraceContext::scope`]) on this task, if any.
pub fn current() -> Option<TraceContext> {
    CURRENT.try_with(Clone::clone).ok()
}

/// `00-<32 hex>-<16 hex>-<2 hex>`, neither id all zeros.
fn is_traceparent(s: &str) -> bool {
    let b = s.as_bytes();
    let hex = |r: std::ops::Range<usize>| {
        b.get(r)
            .is_some_and(|p| p.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')))
    };
    let not_zero =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|p| p.iter().any(|&c| c != b'0'));
    b.len() == 55
        && s.starts_with("00-")
        && b[35] == b'-'
        && b[52] == b'-'
        && hex(3..35)
        && hex(36..52)
        && hex(53..55)
        && not_zero(3..35)
        && not_zero(36..52)
}

/// A random number drawn once per process (never 0).
fn process_random() -> u64 {
    static RANDOM: OnceLock<u64> = OnceLock::new();
    *RANDOM.get_or_init(|| {
        // std's hasher keys are drawn from the OS's random source once per
        // process (then varied per thread): random enough to tell processes apart.
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        if let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            h.write_u128(now.as_nanos());
        }
        h.finish() | 1
    })
}

/// A non-zero number unique within the process and unlikely to repeat
/// across processes: a counter, spread over 64 bits, mixed with
/// [`process_random`]. (Ids are for joining logs, not secrets.)
fn next_unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    // Multiplying by an odd constant is a bijection: distinct counters stay distinct.
    let mixed = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ process_random();
    mixed.max(1)
}

/// 32 hex digits: the process's random number, then a unique one.
fn new_id() -> String {
    let mut id = String::with_capacity(32);
    let _ = write!(id, "{:016x}{:016x}", process_random(), next_unique());
    id
}

/// Records several fields of `span` at once: each separate `record` is
/// another call into the subscriber (and, for fmt, another formatting pass).
/// Fields the span lacks are skipped.
pub(crate) fn record_all<const N: usize>(
    span: &Span,
    names: [&str; N],
    values: [Option<&dyn Value>; N],
) {
    let Some(meta) = span.metadata() else {
        return;
    };
    let fields = meta.fields();
    let found = names.map(|name| fields.field(name));
    let Some(any) = found.iter().flatten().next().cloned() else {
        return;
    };
    // A missing field stands in as another one with no value: nothing is
    // recorded for it.
    let mut values = values.into_iter();
    let pairs_values = found.map(|f| {
        let value = values.next().flatten();
        match f {
            Some(f) => (f, value),
            None => (any.clone(), None),
        }
    });
    let pairs: [(&tracing::field::Field, Option<&dyn Value>); N] =
        std::array::from_fn(|i| (&pairs_values[i].0, pairs_values[i].1));
    span.record_all(&fields.value_set(&pairs));
}

/// The request id and traceparent a client request carries: the current
/// context's, or a fresh id when the current span (the call's) is recorded.
pub(crate) fn outgoing() -> Option<(Arc<str>, Option<String>)> {
    let span = Span::current();
    let ctx = match current() {
        Some(ctx) => ctx,
        None if !span.is_disabled() => TraceContext::generate(),
        None => return None,
    };
    span.record("request_id", tracing::field::debug(ctx.request_id()));
    let tp = ctx.outgoing_traceparent();
    Some((ctx.request_id, tp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparents_are_checked_and_continued() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let ctx = TraceContext::new("r").with_traceparent(tp);
        assert_eq!(ctx.traceparent(), Some(tp));
        let next = ctx.outgoing_traceparent().unwrap();
        assert!(is_traceparent(&next), "{next}");
        assert_eq!(&next[..36], &tp[..36]);
        assert_ne!(next, tp);
        for bad in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
        ] {
            assert!(
                TraceContext::new("r")
                    .with_traceparent(bad)
                    .traceparent()
                    .is_none(),
                "{bad}"
            );
        }
    }

    #[test]
    fn ids_are_unique() {
        let a = TraceContext::generate();
        let b = TraceContext::generate();
        assert_ne!(a, b);
        assert_eq!(a.request_id().len(), 32);
    }
}
