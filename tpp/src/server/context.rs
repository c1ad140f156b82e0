//! [`Context`]: what a handler may know of its request.

use std::net::SocketAddr;

use crate::message::Request;

/// What a handler may know of its request: action, extra fields, peer.
#[derive(Debug, Clone)]
pub struct Context {
    pub(crate) request: Request,
    pub(crate) peer_addr: SocketAddr,
    pub(crate) secure: bool,
}

impl Context {
    /// The requested action.
    pub fn action(&self) -> &str {
        self.request.action().unwrap_or_default()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer_addr
    }

    /// Whether the connection is TLS.
    pub fn is_tls(&self) -> bool {
        self.secure
    }

    /// An extra top-level request field, such as toxicbuild's `user_id`.
    pub fn extra(&self, key: &str) -> Option<&serde_json::Value> {
        self.request.extra(key)
    }

    /// All extra top-level request fields.
    pub fn extras(&self) -> &serde_json::Map<String, serde_json::Value> {
        self.request.extras()
    }

    /// The whole request.
    pub fn request(&self) -> &Request {
        &self.request
    }
}
