//! Why a request is refused before its handler runs (or a connection before
//! its first request), and the one table that says what each refusal
//! answers: the code and message the Python reference sends. The connection
//! closes after a refusal.

use std::borrow::Cow;
use std::net::SocketAddr;

use tracing::warn;

use super::metrics::FrameErrorKind;
use super::Shared;
use crate::wire::frame::FrameError;
use crate::wire::message::BadData;

/// A request that does not reach its handler.
#[derive(Debug)]
pub(super) enum Refusal {
    /// The framing is broken, or the request does not fit in the request
    /// memory budget (only errors the peer can still read an answer to).
    Frame(FrameError),
    /// The payload is not a usable request.
    BadData(BadData),
    /// No token, or a falsy one.
    NoToken,
    /// A token the authenticator refused, or one that is not a string.
    BadToken,
    /// No action, or a falsy one.
    NoAction,
    /// An action that is not a string.
    ActionNotAString,
    /// The server is at its connection limit.
    Busy,
}

impl Refusal {
    /// The answer: code and message.
    pub(super) fn answer(&self) -> (i64, Cow<'static, str>) {
        match self {
            Refusal::Frame(e @ FrameError::OverBudget { .. }) => (1, e.to_string().into()),
            Refusal::Frame(e) => (1, format!("Something wrong with your data: {e}").into()),
            Refusal::BadData(e) => (1, format!("Something wrong with your data: {e}").into()),
            Refusal::NoToken => (2, "No auth token".into()),
            Refusal::BadToken => (3, "Bad auth token".into()),
            Refusal::NoAction => (1, "No action found!".into()),
            Refusal::ActionNotAString => (
                1,
                "Something wrong with your data: action must be a string".into(),
            ),
            Refusal::Busy => (1, "Server busy".into()),
        }
    }

    /// Logs the refusal and counts it in the server's metrics.
    pub(super) fn record(&self, peer: SocketAddr, shared: &Shared) {
        let metrics = shared.metrics.as_ref();
        match self {
            Refusal::Frame(e) => {
                if let Some(m) = metrics {
                    m.frame_error(frame_error_kind(e));
                }
                if let FrameError::OverBudget { declared } = e {
                    warn!(%peer, declared, "request memory budget full; refused a request");
                } else {
                    warn!(%peer, error = %e, "framing error");
                }
            }
            Refusal::BadData(e) => {
                warn!(%peer, error = %e, "bad data");
                if let Some(m) = metrics {
                    m.frame_error(FrameErrorKind::BadData);
                }
            }
            Refusal::NoToken => {
                warn!(%peer, "no auth token");
                if let Some(m) = metrics {
                    m.auth_failed(true);
                }
            }
            Refusal::BadToken => {
                warn!(%peer, "bad auth token");
                if let Some(m) = metrics {
                    m.auth_failed(false);
                }
            }
            Refusal::NoAction => warn!(%peer, "no action"),
            Refusal::ActionNotAString => warn!(%peer, "action is not a string"),
            // Logged and counted where the accept loop turned the connection away.
            Refusal::Busy => {}
        }
    }
}

/// How a framing failure is counted in the server's metrics.
pub(super) fn frame_error_kind(e: &FrameError) -> FrameErrorKind {
    match e {
        FrameError::OverBudget { .. } => FrameErrorKind::OverBudget,
        _ if e.is_answerable() => FrameErrorKind::Framing,
        FrameError::Truncated { .. } => FrameErrorKind::Truncated,
        _ => FrameErrorKind::Io,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_answers_as_the_reference() {
        let empty = Refusal::BadData(BadData::Empty).answer();
        assert_eq!(
            empty,
            (1, "Something wrong with your data: empty message".into())
        );
        assert_eq!(Refusal::NoToken.answer(), (2, "No auth token".into()));
        assert_eq!(Refusal::BadToken.answer(), (3, "Bad auth token".into()));
        assert_eq!(Refusal::NoAction.answer(), (1, "No action found!".into()));
        assert_eq!(
            Refusal::ActionNotAString.answer().1,
            "Something wrong with your data: action must be a string"
        );
        assert_eq!(
            Refusal::Frame(FrameError::HeaderTooLong).answer().1,
            "Something wrong with your data: length header longer than 20 bytes"
        );
        let busy = Refusal::Frame(FrameError::OverBudget { declared: 10 }).answer();
        assert!(busy.1.starts_with("Server busy: a 10-byte request"));
        assert_eq!(Refusal::Busy.answer(), (1, "Server busy".into()));
    }
}
