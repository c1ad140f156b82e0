//! The server side's two error types: [`Error`], what a handler (and a
//! [`Connection`](super::Connection)'s sends and reads) fails with, and
//! [`ServerError`], what binding or serving fails with.

use crate::wire::frame::FrameError;

/// What a handler fails with, and what answering or reading on its
/// [`Connection`](super::Connection) fails with: I/O, framing, JSON,
/// timeouts, or the handler's own failure (answered with code 1 when
/// nothing was answered yet).
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

/// What starting a server fails with ([`ServerBuilder::bind`](super::ServerBuilder::bind)
/// and its siblings, [`Server::serve`](super::Server::serve)): distinct from
/// [`Error`], which is about one request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The address could not be bound or the listener could not be used
    /// (address in use, permission denied…).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The server's configuration is unusable (missing authenticator, bad TLS
    /// files, an unusable limit…).
    #[error("configuration error: {0}")]
    Config(String),
}
