//! Without the `metrics` feature: the same calls as metrics.rs, recording
//! nothing. No `ServerMetrics` can exist, so `Shared::metrics` is always `None`.

use std::time::Duration;

/// The action label of requests for actions the service does not have.
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

/// Cannot be built: metrics are compiled out.
pub(crate) enum ServerMetrics {}

impl ServerMetrics {
    pub(crate) fn connection_refused(&self) {
        match *self {}
    }

    pub(crate) fn connection_opened(&self) {
        match *self {}
    }

    pub(crate) fn connection_closed(&self) {
        match *self {}
    }

    pub(crate) fn request_started(&self) {
        match *self {}
    }

    pub(crate) fn request_ended(&self) {
        match *self {}
    }

    pub(crate) fn auth_checked(&self, _immediate: bool) {
        match *self {}
    }

    pub(crate) fn auth_failed(&self, _missing: bool) {
        match *self {}
    }

    pub(crate) fn frame_error(&self, _kind: FrameErrorKind) {
        match *self {}
    }
}

/// Records nothing.
#[derive(Default)]
pub(crate) struct ActionMetrics {}

impl ActionMetrics {
    pub(crate) fn request_done(
        &mut self,
        _action: &str,
        _code: super::outcome::Ended,
        _elapsed: Duration,
    ) {
    }

    pub(crate) fn stream_item(&mut self, _action: &str) {}
}
