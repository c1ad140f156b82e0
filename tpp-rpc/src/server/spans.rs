//! The spans a server opens: `tpp.connection` for each connection,
//! `tpp.request` for each request (described in [`crate::trace`]).

use std::net::SocketAddr;
use std::time::Duration;

use tracing::field::{Empty, Value};
use tracing::Span;

use super::Context;
use crate::wire::trace::{record_all, TraceContext};

/// The span of one server connection.
pub(crate) fn connection_span(peer: SocketAddr, tls: bool) -> Span {
    tracing::info_span!("tpp.connection", %peer, tls)
}

/// The span of one request on a server (`Span::none()` when nothing records
/// it), and the trace context its handler runs in (the peer's, if it sent
/// one). The peer is on the parent `tpp.connection` span, not repeated here.
pub(crate) fn request_span(ctx: &mut Context, connection: &Span) -> Span {
    ctx.trace = TraceContext::from_request(ctx.request());
    let trace = ctx.trace.as_ref();
    // Every field given at once: each later `record` is another call into
    // the subscriber.
    tracing::info_span!(
        parent: connection,
        "tpp.request",
        action = ?ctx.action(),
        identity = ctx.identity().map(|id| tracing::field::debug(id.name())),
        request_id = trace.map(|t| tracing::field::debug(t.request_id())),
        traceparent = trace.and_then(TraceContext::traceparent),
        code = Empty,
        responses = Empty,
        duration_us = Empty,
        cancelled = Empty,
    )
}

/// Records how a request ended on its span (one call into the subscriber).
pub(crate) fn record_end(
    span: &Span,
    code: Option<i64>,
    responses: Option<usize>,
    elapsed: Duration,
    cancelled: bool,
) {
    let duration_us = elapsed.as_micros() as u64;
    record_all(
        span,
        ["code", "responses", "duration_us", "cancelled"],
        [
            code.as_ref().map(|c| c as &dyn Value),
            responses.as_ref().map(|r| r as &dyn Value),
            Some(&duration_us as &dyn Value),
            cancelled.then_some(&true as &dyn Value),
        ],
    );
}
