//! [`Context`]: what a handler may know of its request.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::server::auth::Identity;
#[cfg(feature = "tls")]
use crate::transport::PeerCertificate;
use crate::transport::Transport;
use crate::wire::message::Request;
use crate::wire::trace::TraceContext;

/// What a handler may know of its request: action, extra fields, peer,
/// caller identity, request id.
///
/// A `#[toxic_service]` method gets it by declaring a `&tpp_rpc::Context`
/// parameter (not a body key, not in the client's signature); a [`Handler`](crate::Handler)
/// from [`Connection::context`](crate::Connection::context).
///
/// ```
/// #[tpp_rpc::toxic_service]
/// pub trait Who {
///     /// Who is asking: the hole's top-level `user_id`.
///     async fn whoami(&self, ctx: &tpp_rpc::Context) -> Result<String, tpp_rpc::ActionError>;
/// }
///
/// struct Impl;
/// impl Who for Impl {
///     async fn whoami(&self, ctx: &tpp_rpc::Context) -> Result<String, tpp_rpc::ActionError> {
///         let user = ctx.extra("user_id").and_then(|v| v.as_str()).unwrap_or("nobody");
///         Ok(format!("{user} asks {} from {}", ctx.action(), ctx.peer_addr().ip()))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = tpp_rpc::Server::builder().token("t").bind("127.0.0.1:0").await?;
/// let port = server.local_addr().port();
/// tokio::spawn(server.serve(WhoServer::new(Impl)));
/// let client = WhoClient::new(tpp_rpc::Client::builder("127.0.0.1", port).token("t").build()?);
/// // -> {"action": "whoami", "body": {}, "token": "t", "user_id": "ana"}
/// let answer = client.with_field("user_id", "ana").whoami().await?;
/// assert_eq!(answer, "ana asks whoami from 127.0.0.1");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Context {
    pub(crate) request: Request,
    pub(crate) peer_addr: SocketAddr,
    pub(crate) secure: bool,
    pub(crate) transport: Transport,
    /// The verified client certificate (mutual TLS), for the whole connection.
    #[cfg(feature = "tls")]
    pub(crate) peer_certificate: Option<PeerCertificate>,
    pub(crate) identity: Option<Identity>,
    pub(crate) trace: Option<TraceContext>,
    /// When the handler's time is up (see [`Context::deadline`]).
    pub(crate) deadline: Option<Instant>,
}

impl Context {
    /// The requested action.
    pub fn action(&self) -> &str {
        self.request.action().unwrap_or_default()
    }

    /// The peer's address (the client the PROXY header names, behind a
    /// trusted balancer). Over a Unix domain socket or in-process, where
    /// peers have no IP address, the unspecified address `0.0.0.0:0`; see
    /// [`transport`](Self::transport).
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer_addr
    }

    /// Whether the connection is TLS.
    pub fn is_tls(&self) -> bool {
        self.secure
    }

    /// What the connection runs over: TCP, a Unix domain socket, in-process.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The certificate the client presented and the server verified (mutual
    /// TLS, see [`ServerBuilder::client_auth`](crate::ServerBuilder::client_auth));
    /// `None` without one.
    #[cfg(feature = "tls")]
    pub fn peer_certificate(&self) -> Option<&PeerCertificate> {
        self.peer_certificate.as_ref()
    }

    /// Who the caller is, when the server's authenticator names callers
    /// (such as [`UserTokens`](crate::auth::UserTokens)), else the verified
    /// client certificate's [name](crate::tls::PeerCertificate::name) (mutual
    /// TLS; the identity then carries the [`PeerCertificate`](crate::tls::PeerCertificate)
    /// as its [data](Identity::data)); `None` for an anonymous caller (a
    /// single shared token, no client certificate).
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// The request id the peer sent as `tpp_request_id` (`None` if it sent
    /// none). The clients a handler uses send it on. See [`crate::trace`].
    pub fn request_id(&self) -> Option<&str> {
        self.trace.as_ref().map(TraceContext::request_id)
    }

    /// The request's trace context (request id and W3C `traceparent`).
    pub fn trace(&self) -> Option<&TraceContext> {
        self.trace.as_ref()
    }

    /// When the handler's time is up: the soonest of the caller's budget
    /// (`tpp_deadline_ms`, from when the server took the request up), the
    /// action's own `#[action(timeout = …)]` and the server's
    /// [`Limits::handler_timeout`](crate::Limits::handler_timeout); `None`
    /// when none applies. The handler's future is dropped then. See
    /// [`crate::deadline`].
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The time left before the [`deadline`](Self::deadline) (zero once it
    /// passed); `None` without one.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|at| at.saturating_duration_since(Instant::now()))
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
