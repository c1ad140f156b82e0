//! What a server records through the `metrics` facade when
//! [`ServerBuilder::metrics`](super::ServerBuilder::metrics) is on. The
//! application installs the recorder (Prometheus, StatsD…) before binding.
//!
//! Server-wide handles are registered once at bind time; per-action handles
//! are resolved once per connection and action (a kept-alive connection
//! usually repeats one action), so a request costs a few atomic operations,
//! not a registry lookup with label allocation.

use std::time::Duration;

use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};

use super::outcome::Ended;

/// Requests answered, labels `action` and `code` (the last code sent;
/// `none` when nothing was; `cancelled` when the client left while it ran).
pub(crate) const REQUESTS: &str = "tpp_requests_total";
/// Request latency in seconds (check passed → last response), label `action`.
pub(crate) const REQUEST_DURATION: &str = "tpp_request_duration_seconds";
/// Requests being handled now.
pub(crate) const IN_FLIGHT: &str = "tpp_requests_in_flight";
/// Stream items sent, label `action`.
pub(crate) const STREAM_ITEMS: &str = "tpp_stream_items_sent_total";
/// Connections open now.
pub(crate) const CONNECTIONS_OPEN: &str = "tpp_connections_open";
/// Connections accepted (served).
pub(crate) const CONNECTIONS_ACCEPTED: &str = "tpp_connections_accepted_total";
/// Connections refused at the connection limit ("Server busy").
pub(crate) const CONNECTIONS_REFUSED: &str = "tpp_connections_refused_total";
/// Requests refused by authentication, label `reason` (`missing`, `refused`).
pub(crate) const AUTH_FAILURES: &str = "tpp_auth_failures_total";
/// Token checks, label `cache`: `hit` when decided without waiting (a bcrypt
/// cache hit, or a plain token), `miss` when it waited (a bcrypt verification).
pub(crate) const AUTH_CHECKS: &str = "tpp_auth_checks_total";
/// Broken requests, label `kind`: `framing`, `bad_data`, `truncated`, `io`, `over_budget` (refused: the request memory budget was full).
pub(crate) const FRAME_ERRORS: &str = "tpp_frame_errors_total";

/// The action label of requests for actions the service does not have: a
/// peer must not be able to create one time series per made-up name.
pub(crate) const UNKNOWN_ACTION: &str = "<unknown>";

/// What went wrong with a request before it reached an action.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FrameErrorKind {
    Framing,
    BadData,
    Truncated,
    Io,
    OverBudget,
}

/// Server-wide handles, registered at bind time.
pub(crate) struct ServerMetrics {
    connections_open: Gauge,
    connections_accepted: Counter,
    connections_refused: Counter,
    in_flight: Gauge,
    auth_missing: Counter,
    auth_refused: Counter,
    auth_hit: Counter,
    auth_miss: Counter,
    frame_errors: [Counter; 5],
}

impl ServerMetrics {
    pub(crate) fn register() -> Self {
        let frame = |kind: &'static str| counter!(FRAME_ERRORS, "kind" => kind);
        Self {
            connections_open: gauge!(CONNECTIONS_OPEN),
            connections_accepted: counter!(CONNECTIONS_ACCEPTED),
            connections_refused: counter!(CONNECTIONS_REFUSED),
            in_flight: gauge!(IN_FLIGHT),
            auth_missing: counter!(AUTH_FAILURES, "reason" => "missing"),
            auth_refused: counter!(AUTH_FAILURES, "reason" => "refused"),
            auth_hit: counter!(AUTH_CHECKS, "cache" => "hit"),
            auth_miss: counter!(AUTH_CHECKS, "cache" => "miss"),
            frame_errors: [
                frame("framing"),
                frame("bad_data"),
                frame("truncated"),
                frame("io"),
                frame("over_budget"),
            ],
        }
    }

    /// A connection was refused at the connection limit.
    pub(crate) fn connection_refused(&self) {
        self.connections_refused.increment(1);
    }

    /// A connection was accepted and is now open.
    pub(crate) fn connection_opened(&self) {
        self.connections_accepted.increment(1);
        self.connections_open.increment(1.0);
    }

    /// A connection closed.
    pub(crate) fn connection_closed(&self) {
        self.connections_open.decrement(1.0);
    }

    /// A request passed its checks and is being handled.
    pub(crate) fn request_started(&self) {
        self.in_flight.increment(1.0);
    }

    /// A request's last response was sent.
    pub(crate) fn request_ended(&self) {
        self.in_flight.decrement(1.0);
    }

    /// A token was checked; `immediate` when it was decided without waiting.
    pub(crate) fn auth_checked(&self, immediate: bool) {
        match immediate {
            true => self.auth_hit.increment(1),
            false => self.auth_miss.increment(1),
        }
    }

    /// A request was refused for its token (`missing`: none was sent).
    pub(crate) fn auth_failed(&self, missing: bool) {
        match missing {
            true => self.auth_missing.increment(1),
            false => self.auth_refused.increment(1),
        }
    }

    pub(crate) fn frame_error(&self, kind: FrameErrorKind) {
        self.frame_errors[kind as usize].increment(1);
    }
}

/// One connection's per-action handles: those of the last action served,
/// and of the codes it answered.
#[derive(Default)]
pub(crate) struct ActionMetrics {
    action: String,
    latency: Option<Histogram>,
    items: Option<Counter>,
    by_code: Vec<(Ended, Counter)>,
}

impl ActionMetrics {
    fn select(&mut self, action: &str) {
        if self.latency.is_none() || self.action != action {
            self.action.clear();
            self.action.push_str(action);
            self.latency = Some(histogram!(REQUEST_DURATION, "action" => self.action.clone()));
            self.items = None;
            self.by_code.clear();
        }
    }

    /// A request for `action` ended so after `elapsed`.
    pub(crate) fn request_done(&mut self, action: &str, code: Ended, elapsed: Duration) {
        self.select(action);
        if let Some(latency) = &self.latency {
            latency.record(elapsed.as_secs_f64());
        }
        if let Some((_, counter)) = self.by_code.iter().find(|(c, _)| *c == code) {
            counter.increment(1);
            return;
        }
        let labels = [("action", self.action.clone()), ("code", code.label())];
        let counter = counter!(REQUESTS, &labels);
        counter.increment(1);
        self.by_code.push((code, counter));
    }

    /// A stream of `action` sent an item.
    pub(crate) fn stream_item(&mut self, action: &str) {
        self.select(action);
        let action = &self.action;
        self.items
            .get_or_insert_with(|| counter!(STREAM_ITEMS, "action" => action.clone()))
            .increment(1);
    }
}
