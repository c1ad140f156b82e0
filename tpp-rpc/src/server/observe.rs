//! What watches a connection's requests when the server has metrics or
//! layers: per-action metrics and the layers' response hook (the span and
//! timing of each request are in request_watch.rs).

use std::sync::Arc;

use super::metrics::ActionMetrics;
use super::{Context, Shared};

/// Per-connection state of the metrics and layers, present only when the
/// server has either.
pub(super) struct Observer {
    shared: Arc<Shared>,
    pub(super) actions: ActionMetrics,
    pub(super) streaming: bool,
    pub(super) unknown_action: bool,
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
            })
        })
    }

    /// A response with `code` is about to be sent.
    pub(super) fn on_response(&mut self, ctx: &Context, code: i64) {
        if self.streaming && code == 0 && self.shared.metrics.is_some() {
            self.actions.stream_item(ctx.action());
        }
        for layer in self.shared.layers.iter() {
            layer.on_response(ctx, code);
        }
    }
}
