//! How a request ended, as metrics and spans record it.

/// How a request ended, for its metrics label `code` and its span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ended {
    /// The last code sent.
    Code(i64),
    /// Nothing was sent (label `none`).
    Silent,
    /// Its client left while it ran; its work was dropped (label `cancelled`).
    Cancelled,
}

impl Ended {
    pub(super) fn of(last_code: Option<i64>, cancelled: bool) -> Ended {
        match (last_code, cancelled) {
            (_, true) => Ended::Cancelled,
            (Some(code), false) => Ended::Code(code),
            (None, false) => Ended::Silent,
        }
    }

    /// The metrics label.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(super) fn label(self) -> String {
        match self {
            Ended::Code(code) => code.to_string(),
            Ended::Silent => "none".to_owned(),
            Ended::Cancelled => "cancelled".to_owned(),
        }
    }
}
