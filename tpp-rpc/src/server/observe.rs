//! What watches each request: its span, its metrics, the layers' response
//! hook. All of it is skipped when metrics are off, no layer is installed and
//! nothing records the `tpp.request` span.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use tracing::Span;

use super::metrics::{ActionMetrics, UNKNOWN_ACTION};
use super::{Connection, Context, Handler, Shared};
use crate::trace::{self, TraceContext};

/// Per-connection state of the metrics and layers, present only when the
/// server has either.
pub(super) struct Observer {
    shared: Arc<Shared>,
    actions: ActionMetrics,
    streaming: bool,
    unknown_action: bool,
    /// Whether the handler has the action, when it says (see
    /// [`Handler::has_action`](super::Handler::has_action)).
    has_action: Option<bool>,
    /// Whether the request reached the handler (no layer refused it).
    reached_handler: bool,
}

impl Observer {
    pub(super) fn for_connection(shared: &Arc<Shared>) -> Option<Box<Observer>> {
        let wanted = shared.metrics.is_some() || !shared.layers.is_empty();
        wanted.then(|| {
            Box::new(Observer {
                shared: shared.clone(),
                actions: ActionMetrics::default(),
                streaming: false,
                unknown_action: false,
                has_action: None,
                reached_handler: false,
            })
        })
    }

    /// A response with `code` is about to be sent.
    pub(super) fn on_response(&mut self, ctx: &Context, code: i64) {
        if self.streaming && code == 0 && self.shared.metrics.is_some() {
            let action = self.label(ctx.action());
            self.actions.stream_item(action);
        }
        for layer in self.shared.layers.iter() {
            layer.on_response(ctx, code);
        }
    }
}

impl Observer {
    /// The metrics label for `action`: the name only for an action the
    /// service has (or, when the handler does not say, one it was asked and
    /// did not refuse as unknown).
    fn label<'a>(&self, action: &'a str) -> &'a str {
        let known = !self.unknown_action && self.has_action.unwrap_or(self.reached_handler);
        if known {
            action
        } else {
            UNKNOWN_ACTION
        }
    }
}

impl Connection {
    /// The request reached the handler: no layer refused it.
    pub(super) fn observe_reached_handler(&mut self) {
        if let Some(o) = self.observer.as_deref_mut() {
            o.reached_handler = true;
        }
    }

    /// What follows are stream items (after the acknowledgement, if any).
    pub(crate) fn observe_stream(&mut self) {
        if let Some(o) = self.observer.as_deref_mut() {
            o.streaming = true;
        }
    }

    /// The action was not found: metrics label it `<unknown>`, so a peer
    /// cannot make one time series per name it invents.
    pub(crate) fn observe_unknown_action(&mut self) {
        if let Some(o) = self.observer.as_deref_mut() {
            o.unknown_action = true;
        }
    }
}

/// One request being watched, from the checks passed to its last response.
pub(super) struct RequestWatch {
    span: Span,
    trace: Option<TraceContext>,
    started: Option<Instant>,
}

impl RequestWatch {
    pub(super) fn start(conn: &mut Connection, shared: &Shared, handler: &impl Handler) -> Self {
        let span = trace::request_span(&mut conn.ctx, &conn.span);
        let metrics = shared.metrics.as_ref();
        if let Some(m) = metrics {
            m.in_flight.increment(1.0);
        }
        if let Some(o) = conn.observer.as_deref_mut() {
            o.streaming = false;
            o.unknown_action = false;
            o.reached_handler = false;
            o.has_action = match metrics {
                Some(_) => handler.has_action(conn.ctx.action()),
                None => None,
            };
        }
        let timed = metrics.is_some() || !span.is_disabled();
        Self {
            trace: conn.ctx.trace.clone(),
            started: timed.then(Instant::now),
            span,
        }
    }

    /// Runs the handler's future in the request's span, with its trace
    /// context as the current one (for the clients the handler uses).
    pub(super) async fn around<F: Future>(&self, work: F) -> F::Output {
        // `Instrumented` would need its own handle on the span (a clone and a
        // close in the subscriber per request); entering by reference does not.
        let mut work = std::pin::pin!(work);
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
        let code = conn.last_code;
        if !self.span.is_disabled() {
            let responses = (conn.sent > 1).then_some(conn.sent);
            trace::record_end(&self.span, code, responses, elapsed);
        }
        if let (Some(m), Some(o)) = (&shared.metrics, conn.observer.as_deref_mut()) {
            m.in_flight.decrement(1.0);
            let action = o.label(conn.ctx.action());
            o.actions.request_done(action, code, elapsed);
        }
    }
}
