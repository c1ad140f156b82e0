//! What watches each request: its span, its metrics, the layers' response
//! hook. All of it is skipped when metrics are off, no layer is installed and
//! nothing records the `tpp.request` span.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use tracing::Span;

use super::connection::Connection;
use super::outcome::Ended;
use super::spans;
use super::{Handler, Shared};
use crate::wire::trace::TraceContext;

/// One request being watched, from the checks passed to its last response.
pub(super) struct RequestWatch {
    span: Span,
    trace: Option<TraceContext>,
    started: Option<Instant>,
}

impl RequestWatch {
    pub(super) fn start(conn: &mut Connection, shared: &Shared, handler: &impl Handler) -> Self {
        let (ctx, connection_span, observer) = conn.watched();
        let span = spans::request_span(ctx, connection_span);
        let metrics = shared.metrics.as_ref();
        if let Some(m) = metrics {
            m.request_started();
        }
        if let Some(o) = observer {
            o.streaming = false;
            o.unknown_action = false;
            o.reached_handler = false;
            o.has_action = match metrics {
                Some(_) => handler.has_action(ctx.action()),
                None => None,
            };
        }
        let timed = metrics.is_some() || !span.is_disabled();
        Self {
            trace: ctx.trace.clone(),
            started: timed.then(Instant::now),
            span,
        }
    }

    /// Runs the handler's future in the request's span, with its trace
    /// context as the current one (for the clients the handler uses).
    pub(super) async fn around<F: Future>(&self, mut work: Pin<&mut F>) -> F::Output {
        // `Instrumented` would need its own handle on the span (a clone and a
        // close in the subscriber per request); entering by reference does not.
        let in_span = std::future::poll_fn(|cx| {
            let _entered = self.span.enter();
            work.as_mut().poll(cx)
        });
        match self.trace.clone() {
            Some(t) => t.scope(in_span).await,
            None => in_span.await,
        }
    }

    /// Records how the request ended.
    pub(super) fn finish(self, conn: &mut Connection, shared: &Shared) {
        let Some(started) = self.started else {
            return;
        };
        let elapsed = started.elapsed();
        let code = conn.last_code();
        let sent = conn.responses_sent();
        let cancelled = conn.cancelled();
        if !self.span.is_disabled() {
            let responses = (sent > 1).then_some(sent);
            spans::record_end(&self.span, code, responses, elapsed, cancelled);
        }
        let (ctx, _, observer) = conn.watched();
        if let (Some(m), Some(o)) = (&shared.metrics, observer) {
            m.request_ended();
            let action = o.label(ctx.action());
            o.actions
                .request_done(action, Ended::of(code, cancelled), elapsed);
        }
    }
}
