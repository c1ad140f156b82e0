//! What watches a connection's requests when the server has metrics or
//! layers: per-action metrics and the layers' response hook (the span and
//! timing of each request are in request_watch.rs).

use std::sync::Arc;

use super::metrics::{ActionMetrics, UNKNOWN_ACTION};
use super::{Context, Shared};

/// Per-connection state of the metrics and layers, present only when the
/// server has either.
pub(super) struct Observer {
    shared: Arc<Shared>,
    pub(super) actions: ActionMetrics,
    pub(super) streaming: bool,
    pub(super) unknown_action: bool,
    /// Whether the handler has the action, when it says (see
    /// [`Handler::has_action`](super::Handler::has_action)).
    pub(super) has_action: Option<bool>,
    /// Whether the request reached the handler (no layer refused it).
    pub(super) reached_handler: bool,
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
    pub(super) fn label<'a>(&self, action: &'a str) -> &'a str {
        let known = !self.unknown_action && self.has_action.unwrap_or(self.reached_handler);
        if known {
            action
        } else {
            UNKNOWN_ACTION
        }
    }
}
