//! The server side's error type.

use crate::wire::frame::FrameError;

/// An error on the server side: I/O, framing, JSON, timeouts, configuration,
/// or a handler's own failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error on the connection.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The peer broke the framing.
    #[error("framing error: {0}")]
    Frame(#[from] FrameError),
    /// A value could not be serialized or deserialized.
    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),
    /// A read or write took longer than its configured timeout.
    #[error("timed out")]
    Timeout,
    /// The peer closed the connection.
    #[error("connection closed by the peer")]
    Closed,
    /// The server's configuration is unusable (missing authenticator, bad TLS files…).
    #[error("configuration error: {0}")]
    Config(String),
    /// A handler failed; the message is sent to the client (code 1) when it
    /// has not been answered yet.
    #[error("{0}")]
    Handler(String),
}

impl Error {
    /// A handler failure with `message`.
    pub fn handler(message: impl std::fmt::Display) -> Self {
        Error::Handler(message.to_string())
    }
}
