//! The server: accept loop, per-connection task, limits, graceful shutdown.
//!
//! One request goes through the layers in this order, each failure answered
//! as the reference answers it and the connection then closed:
//! frame → envelope (bad data, code 1) → token (code 2/3) → action (code 1)
//! → [`Layer`]s → your [`Handler`].
//!
//! Operating it: the caller's [`Identity`](crate::auth::Identity) (from the
//! authenticator) and the request id are in the [`Context`]; [`Layer`]s
//! (layer.rs) wrap every request; `ServerBuilder::metrics` (the `metrics` feature) records through
//! the `metrics` facade (metrics.rs); spans are described in [`crate::trace`]
//! (observe.rs applies all three to each request).
//!
//! Layout: [`ServerBuilder`] (builder.rs) binds a [`Server`] (accept.rs),
//! whose accept loop hands each connection to conn_loop.rs. One type owns
//! each connection's socket, `Link` (link.rs): it reads the frames (with the
//! envelope scan of request_codec.rs), writes every answer through one path
//! (link/write.rs) and applies the keep-alive, batching and close rules.
//! Every request goes through the checks of pipeline.rs, which answer
//! nothing themselves: a refused request gets its answer from the one table
//! in refusal.rs, written by the link as the connection ends (closing.rs).
//! An accepted one reaches the [`Handler`] with a [`Connection`]
//! (connection.rs), the handler's handle on the request and its answers;
//! spans.rs and request_watch.rs trace and time each request. [`Limits`]
//! (limits.rs) and [`Context`] (context.rs) are the plain data they share.
//! Binding and serving fail with [`ServerError`], a handler with [`Error`]
//! (error.rs). The server builds on the shared wire layer and the transport,
//! never on the client.

mod accept;
pub mod auth;
mod auth_guard;
mod builder;
mod client_watch;
mod closing;
mod conn_loop;
mod connection;
mod context;
mod error;
mod health;
mod large_answer;
mod layer;
mod limits;
mod link;
mod listener;
#[cfg(feature = "metrics")]
mod metrics;
#[cfg(not(feature = "metrics"))]
#[path = "no_metrics.rs"]
mod metrics;
mod observe;
mod outcome;
mod peer_watch;
mod pipeline;
#[cfg(not(feature = "proxy-protocol"))]
#[path = "no_proxy.rs"]
mod proxy;
#[cfg(feature = "proxy-protocol")]
mod proxy;
mod refusal;
mod request_codec;
mod request_watch;
mod spans;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::transport::Acceptor;
use auth::Authenticator;

pub use accept::{Server, ShutdownHandle};
pub use builder::ServerBuilder;
pub use client_watch::ClientWatch;
pub use connection::Connection;
pub use context::Context;
pub use error::{Error, ServerError};
pub use health::DEFAULT_HEALTH_ACTION;
pub use layer::{ConcurrencyLimit, Layer, Next};
pub use limits::{Limits, DEFAULT_FIRST_REQUEST_TIMEOUT};
#[cfg(feature = "proxy-protocol")]
pub use proxy::MAX_HEADER as MAX_PROXY_HEADER;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Handles one authenticated request, like toxiccore's
/// `BaseToxicProtocol.client_connected`.
///
/// The server calls it after the token verified and the action was found.
/// Send one response for a unary action (the connection may then serve
/// another request, see [`Limits::keep_alive`]), or several for a stream (the
/// connection is closed when the handler returns). A stream that may send a
/// single item should call [`Connection::close`] (or use
/// [`crate::stream::send_stream`], which does), since one response alone
/// looks like a unary answer and would keep the connection open. Returning an error before
/// any response answers code 1 with the error's message; a panic does the
/// same with a generic message.
///
/// ```no_run
/// use tpp_rpc::{Connection, Handler};
///
/// struct Echo;
///
/// impl Handler for Echo {
///     async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
///         match conn.action() {
///             "echo" => {
///                 // A cheap clone (the frame is shared) so the body can be
///                 // borrowed while the connection sends.
///                 let request = conn.request().clone();
///                 conn.send_result(request.body_raw()?).await
///             }
///             _ => tpp_rpc::service::answer_unknown_action(conn).await,
///         }
///     }
/// }
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Handles the request in `conn`.
    fn handle(&self, conn: &mut Connection) -> impl Future<Output = Result<(), Error>> + Send;

    /// Whether this handler answers `action`, when it knows (default `None`:
    /// it does not say). Services made by `#[toxic_service]` and
    /// [`Router`](crate::Router) say. Used to label metrics: an action the
    /// handler does not have is recorded as `<unknown>` whatever refuses it
    /// (a [`Layer`] before the handler included), so peers cannot create time
    /// series at will. When the handler does not say, a name is recorded only
    /// once the handler was reached and did not answer "does not exist".
    fn has_action(&self, action: &str) -> Option<bool> {
        let _ = action;
        None
    }

    /// The action's own time limit, if it has one (`#[action(timeout = …)]`
    /// in a `#[toxic_service]` trait; default `None`). The server runs the
    /// handler until the soonest of this, the caller's budget and
    /// [`Limits::handler_timeout`]: see [`crate::deadline`].
    fn action_timeout(&self, action: &str) -> Option<std::time::Duration> {
        let _ = action;
        None
    }
}

impl<H: Handler> Handler for Arc<H> {
    fn handle(&self, conn: &mut Connection) -> impl Future<Output = Result<(), Error>> + Send {
        (**self).handle(conn)
    }

    fn has_action(&self, action: &str) -> Option<bool> {
        (**self).has_action(action)
    }

    fn action_timeout(&self, action: &str) -> Option<std::time::Duration> {
        (**self).action_timeout(action)
    }
}

/// What every connection task of one server shares.
pub(super) struct Shared {
    pub(super) auth: Arc<dyn Authenticator>,
    pub(super) tls: Option<Acceptor>,
    pub(super) limits: Arc<Limits>,
    pub(super) failures: auth_guard::FailureLimiter,
    /// Bytes of requests not yet answered, all connections together
    /// ([`Limits::request_memory`]); `None` when unlimited.
    pub(super) budget: Option<Arc<crate::wire::budget::RequestBudget>>,
    /// The health action, if enabled (see health.rs).
    pub(super) health: Option<health::HealthCheck>,
    /// Cancelled when shutdown starts: the health action fails from then on.
    pub(super) draining: tokio_util::sync::CancellationToken,
    /// `draining` and the connections' closing signal as flags set just
    /// before the tokens are cancelled: every request reads them, and a
    /// token's `is_cancelled` takes a lock that all connections share.
    pub(super) draining_now: std::sync::atomic::AtomicBool,
    pub(super) closing_now: std::sync::atomic::AtomicBool,
    /// PROXY protocol, if enabled (see proxy.rs).
    pub(super) proxy: Option<proxy::ProxyProtocol>,
    pub(super) layers: Box<[Arc<dyn Layer>]>,
    pub(super) metrics: Option<metrics::ServerMetrics>,
}
