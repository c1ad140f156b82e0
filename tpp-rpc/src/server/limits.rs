//! [`Limits`]: the sizes and timeouts a server enforces, with their defaults.

use std::time::Duration;

use crate::wire::frame::DEFAULT_MAX_FRAME_SIZE;

/// Limits and timeouts of a server. Every field has a documented default.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest accepted request payload (default 64 MiB). A larger declared
    /// length is answered with code 1 before any memory is reserved.
    pub max_frame_size: usize,
    /// Connections served at once (default 4096). Beyond it a new connection
    /// is answered `{"code": 1, "body": {"error": "Server busy"}}` and closed.
    pub max_connections: usize,
    /// Time allowed to receive a whole request, TLS handshake included, from
    /// the moment the server starts waiting for it (default 30 s).
    pub read_timeout: Duration,
    /// Time allowed for one response write (default 30 s); a peer that does
    /// not read is disconnected.
    pub write_timeout: Duration,
    /// Allow clients to keep a connection open after a unary response
    /// (default true). The connection is kept only when the request asked,
    /// with the top-level field `"tpp_keep_alive": true` (tpp clients send it
    /// when they pool connections); the response then carries
    /// `"tpp_keep_alive": true` too. Any other request is answered and the
    /// connection closed, as the Python reference does, so clients that read
    /// until the server closes (toxiccore's, `nc`) see the end at once.
    /// With `false` every connection closes after its response.
    pub keep_alive: bool,
    /// How long a kept-alive connection may wait for its next request
    /// (default 30 s).
    pub idle_timeout: Duration,
    /// Upper bound on one handler call, if set (default none). A handler that
    /// overruns is dropped and, if it had not answered, code 1 is sent.
    pub handler_timeout: Option<Duration>,
    /// On shutdown, how long in-flight connections may take to finish before
    /// they are dropped (default 30 s). Requests already received are served;
    /// a connection still sending one gets up to 1 s more to finish it; idle
    /// kept-alive connections are closed at once.
    pub shutdown_grace: Duration,
    /// Failed slow token verifications (bcrypt) one client address may have
    /// in a burst (default 5; 0 turns the limit off). Each failure is
    /// forgiven after [`auth_failure_interval`](Self::auth_failure_interval);
    /// while an address is over the limit its unknown tokens are refused at
    /// once (code 3) without hashing. Tokens already verified, and
    /// authenticators that answer at once (plain tokens), are not limited.
    /// Whatever this limit, an address has one slow verification running at
    /// a time (its others wait), so no single address can hold every
    /// verification thread. IPv6 addresses count by /64.
    pub auth_failures: u32,
    /// See [`auth_failures`](Self::auth_failures) (default 5 s: one more
    /// verification every 5 s for an address over the limit).
    pub auth_failure_interval: Duration,
    /// On shutdown, how long the server goes on accepting and serving after
    /// its health action starts failing (default 0: no delay), so a load
    /// balancer marks the replica down before it stops accepting. Set it to
    /// the balancer's time to notice: HAProxy's `inter × fall` plus a margin.
    pub shutdown_delay: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_connections: 4096,
            read_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            keep_alive: true,
            idle_timeout: Duration::from_secs(30),
            handler_timeout: None,
            shutdown_grace: Duration::from_secs(30),
            auth_failures: 5,
            auth_failure_interval: Duration::from_secs(5),
            shutdown_delay: Duration::ZERO,
        }
    }
}
