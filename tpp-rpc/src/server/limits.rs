//! [`Limits`]: the sizes and timeouts a server enforces, with their defaults.

use std::time::Duration;

use super::ServerError;
use crate::settings;
use crate::wire::frame::DEFAULT_MAX_FRAME_SIZE;

/// Default [`Limits::first_request_timeout`]: 10 s. A client sends its first
/// request within a few round trips of connecting (TLS included), so 10 s
/// leaves room for slow links and a busy server, while a peer that connects
/// and stays silent frees its connection slot three times sooner than with
/// the 30 s read timeout (to hold all 4 096 default slots it must open 410
/// connections a second, not 137).
pub const DEFAULT_FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Limits and timeouts of a server, each with a documented default. Set them
/// on the [`ServerBuilder`](crate::ServerBuilder) (one setter per limit); read
/// them here. New limits may be added in any release.
///
/// Every value is accepted or refused when the server is bound, never later:
/// durations longer than [`MAX_DURATION`](crate::settings::MAX_DURATION)
/// (one year; `Duration::MAX` included) are shortened to it and so mean "no
/// limit"; counts beyond [`MAX_COUNT`](crate::settings::MAX_COUNT)
/// (`usize::MAX` included) mean "unlimited"; a zero that would fail every
/// request (`max_frame_size`, `request_memory`, `max_answer_size`, `max_connections`, `first_request_timeout`,
/// `read_timeout`, `write_timeout`, `handler_timeout`) makes
/// [`bind`](super::ServerBuilder::bind) fail with an error naming the field.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Limits {
    pub(crate) max_frame_size: usize,
    pub(crate) request_memory: usize,
    pub(crate) max_answer_size: usize,
    pub(crate) max_connections: usize,
    pub(crate) first_request_timeout: Duration,
    pub(crate) read_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) keep_alive: bool,
    pub(crate) idle_timeout: Duration,
    pub(crate) handler_timeout: Option<Duration>,
    pub(crate) shutdown_grace: Duration,
    pub(crate) auth_failures: u32,
    pub(crate) auth_failure_interval: Duration,
    pub(crate) shutdown_delay: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            request_memory: crate::wire::budget::default_request_memory(DEFAULT_MAX_FRAME_SIZE),
            max_answer_size: DEFAULT_MAX_FRAME_SIZE,
            max_connections: 4096,
            first_request_timeout: DEFAULT_FIRST_REQUEST_TIMEOUT,
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

impl Limits {
    /// Largest accepted request payload (default 64 MiB). A larger declared
    /// length is answered with code 1 before any memory is reserved.
    pub fn max_frame_size(&self) -> usize {
        self.max_frame_size
    }

    /// Bytes of requests all connections together may hold before they are
    /// answered (default: a quarter of the memory the process may use, its
    /// cgroup's `memory.max` or else the machine's total, and at least
    /// 64 MiB; 1 GiB where neither can be read). Each request from 4 KiB on
    /// is charged its declared length when its header arrives, before its
    /// payload is read, for as long as its bytes are held (until it has been
    /// answered and the next request replaced it; messages a handler reads
    /// with [`Connection::read_message`](super::Connection::read_message)
    /// are charged the same way, alongside its request); a request that does not
    /// fit is answered `{"code": 1, "body": {"error": "Server busy: …"}}`
    /// at once and the connection closed. Smaller requests are not charged:
    /// they are bounded by [`max_connections`](Self::max_connections) (4 KiB
    /// each). `usize::MAX` turns the budget off; 0 is refused.
    pub fn request_memory(&self) -> usize {
        self.request_memory
    }

    /// Largest answer a handler may send, payload bytes (default 64 MiB, the
    /// largest a tpp client accepts by default). A larger answer is not
    /// sent: the client gets `{"code": 1, "body": {"error": "…answer too
    /// large…"}}` instead, the handler's call returns an error, and the
    /// server logs it. `usize::MAX`: no limit.
    pub fn max_answer_size(&self) -> usize {
        self.max_answer_size
    }

    /// Connections served at once (default 4096). Beyond it a new connection
    /// is answered `{"code": 1, "body": {"error": "Server busy"}}` and closed.
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// Time allowed from accepting a connection until its first request has
    /// arrived whole (default [`DEFAULT_FIRST_REQUEST_TIMEOUT`], 10 s): one
    /// deadline for the PROXY header, the TLS handshake and the first frame
    /// together, so a connection that never sends a request holds its
    /// connection slot at most this long.
    pub fn first_request_timeout(&self) -> Duration {
        self.first_request_timeout
    }

    /// Time allowed to receive a whole request from the moment the server
    /// starts waiting for it (default 30 s): the first request (within
    /// [`first_request_timeout`](Self::first_request_timeout)) and every
    /// further message a handler reads from the client
    /// ([`Connection::read_message`](super::Connection::read_message)). Later requests on a
    /// kept-alive connection are bounded by
    /// [`idle_timeout`](Self::idle_timeout) instead.
    pub fn read_timeout(&self) -> Duration {
        self.read_timeout
    }

    /// Time allowed for one response write (default 30 s); a peer that does
    /// not read is disconnected.
    pub fn write_timeout(&self) -> Duration {
        self.write_timeout
    }

    /// Allow clients to keep a connection open after a unary response
    /// (default true). The connection is kept only when the request asked,
    /// with the top-level field `"tpp_keep_alive": true` (tpp clients send it
    /// when they pool connections); the response then carries
    /// `"tpp_keep_alive": true` too. Any other request is answered and the
    /// connection closed, as the Python reference does, so clients that read
    /// until the server closes (toxiccore's, `nc`) see the end at once.
    /// With `false` every connection closes after its response.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// How long a kept-alive connection may wait for its next request to
    /// arrive whole, counted from the previous answer (default 30 s). 0
    /// closes it after each answer unless the next request is already there.
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// Upper bound on one handler call, if set (default none). A handler that
    /// overruns is dropped and, if it had not answered, code 1 is sent.
    pub fn handler_timeout(&self) -> Option<Duration> {
        self.handler_timeout
    }

    /// On shutdown, how long in-flight connections may take to finish before
    /// they are dropped (default 30 s). Requests already received are served;
    /// a connection still sending one gets up to 1 s more to finish it; idle
    /// kept-alive connections are closed at once.
    pub fn shutdown_grace(&self) -> Duration {
        self.shutdown_grace
    }

    /// Failed slow token verifications (bcrypt) one client address may have
    /// in a burst (default 5; 0 turns the limit off). Each failure is
    /// forgiven after [`auth_failure_interval`](Self::auth_failure_interval);
    /// while an address is over the limit its unknown tokens are refused at
    /// once (code 3) without hashing. Tokens already verified, and
    /// authenticators that answer at once (plain tokens), are not limited.
    /// Whatever this limit, an address has one slow verification running at
    /// a time (its others wait), so no single address can hold every
    /// verification thread. IPv6 addresses count by /64.
    pub fn auth_failures(&self) -> u32 {
        self.auth_failures
    }

    /// See [`auth_failures`](Self::auth_failures) (default 5 s: one more
    /// verification every 5 s for an address over the limit).
    pub fn auth_failure_interval(&self) -> Duration {
        self.auth_failure_interval
    }

    /// On shutdown, how long the server goes on accepting and serving after
    /// its health action starts failing (default 0: no delay), so a load
    /// balancer marks the replica down before it stops accepting. Set it to
    /// the balancer's time to notice: HAProxy's `inter × fall` plus a margin.
    pub fn shutdown_delay(&self) -> Duration {
        self.shutdown_delay
    }

    /// These limits with every extreme value given its documented meaning,
    /// or the first unusable one named.
    pub(super) fn checked(mut self) -> Result<Limits, ServerError> {
        let e = ServerError::Config;
        self.max_frame_size = settings::size("max_frame_size", self.max_frame_size).map_err(e)?;
        self.request_memory = settings::size("request_memory", self.request_memory).map_err(e)?;
        self.max_answer_size =
            settings::size("max_answer_size", self.max_answer_size).map_err(e)?;
        self.max_connections =
            settings::positive_count("max_connections", self.max_connections).map_err(e)?;
        self.first_request_timeout =
            settings::timeout("first_request_timeout", self.first_request_timeout).map_err(e)?;
        self.read_timeout = settings::timeout("read_timeout", self.read_timeout).map_err(e)?;
        self.write_timeout = settings::timeout("write_timeout", self.write_timeout).map_err(e)?;
        self.idle_timeout = settings::duration(self.idle_timeout);
        self.handler_timeout = match self.handler_timeout {
            Some(d) => Some(settings::timeout("handler_timeout", d).map_err(e)?),
            None => None,
        };
        self.shutdown_grace = settings::duration(self.shutdown_grace);
        self.auth_failure_interval = settings::duration(self.auth_failure_interval);
        self.shutdown_delay = settings::duration(self.shutdown_delay);
        Ok(self)
    }
}
