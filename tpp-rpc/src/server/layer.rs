//! Middleware: [`Layer`]s around every request, and [`ConcurrencyLimit`].

use std::sync::Arc;

use tokio::sync::Semaphore;

use super::BoxFuture;
use super::{Connection, Context, Handler};
use crate::server::Error;

/// Middleware: [`Layer`]s around every request.
///
/// A layer wraps the rest of the chain (further layers, then the
/// [`Handler`]): it sees the request's [`Context`] (action, identity,
/// request id, peer) before anything runs, can refuse the call with a code
/// and message instead of running the rest, can time it, and is told of
/// every response code sent ([`Layer::on_response`]), stream items
/// included. Layers run in the order they were added to the
/// [`ServerBuilder`](super::ServerBuilder) (the first is outermost), after
/// the token check and inside [`Limits::handler_timeout`](super::Limits) and
/// the panic guard. Generated services and hand-written handlers go through
/// them alike.
///
/// # Why not tower
///
/// tower's `Service<Request> -> Future<Response>` models one answer per
/// call. A TPP action may answer many times (a stream), each item written to
/// the socket as it is produced, with backpressure. As a tower service a
/// stream would be a response holding a stream: tower's `Timeout` and
/// `ConcurrencyLimit` would see the call end when the stream *starts*, not
/// when it ends, and no layer would see the codes of its items. Answers
/// would also become owned values instead of single writes from the
/// connection's buffer (an allocation and a copy per response), and tower's
/// `poll_ready` on `&mut self` means per-connection clones, so a `RateLimit`
/// would limit each connection separately unless put behind a `Buffer` (a
/// channel hop per request). So tpp has this small trait instead: a layer
/// gets the [`Connection`] and the [`Next`] part of the chain, like axum's
/// `from_fn` middleware, and stacks the same way tower layers do. A
/// concurrency limit, rate limit or timeout is a few lines with tokio (see
/// [`ConcurrencyLimit`]).
///
/// With no layer installed the request path does not change: no box, no
/// dynamic call. Each installed layer costs one boxed future per request.
///
/// ```
/// use std::time::Instant;
/// use tpp_rpc::server::{Layer, Next};
/// use tpp_rpc::{BoxFuture, Connection, Context, Error};
///
/// /// Only `ci` may call `deploy`; every call is timed.
/// struct Policy;
///
/// impl Layer for Policy {
///     fn call<'a>(&'a self, conn: &'a mut Connection, next: Next<'a>) -> BoxFuture<'a, Result<(), Error>> {
///         Box::pin(async move {
///             let caller = conn.context().identity().map(|id| id.name().to_owned());
///             if conn.action() == "deploy" && caller.as_deref() != Some("ci") {
///                 return conn.refuse(4, "not allowed").await;
///             }
///             let started = Instant::now();
///             let result = next.run(conn).await;
///             tracing::info!(elapsed = ?started.elapsed(), "timed");
///             result
///         })
///     }
///
///     fn on_response(&self, ctx: &Context, code: i64) {
///         if code != 0 {
///             tracing::warn!(action = ?ctx.action(), code, "error answered");
///         }
///     }
/// }
/// ```
pub trait Layer: Send + Sync + 'static {
    /// Handles the request in `conn`: run `next` to go on, or answer (e.g.
    /// with [`Connection::refuse`]) and return without running it.
    fn call<'a>(
        &'a self,
        conn: &'a mut Connection,
        next: Next<'a>,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Called with every response code about to be sent for a request (each
    /// stream item, and the error the server sends for a failed handler).
    fn on_response(&self, ctx: &Context, code: i64) {
        let _ = (ctx, code);
    }
}

impl<L: Layer + ?Sized> Layer for Arc<L> {
    fn call<'a>(
        &'a self,
        conn: &'a mut Connection,
        next: Next<'a>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        (**self).call(conn, next)
    }

    fn on_response(&self, ctx: &Context, code: i64) {
        (**self).on_response(ctx, code)
    }
}

/// The rest of the chain after a layer: further layers, then the handler.
pub struct Next<'a> {
    rest: &'a [Arc<dyn Layer>],
    handler: &'a dyn DynHandler,
}

impl<'a> Next<'a> {
    pub(super) fn new(layers: &'a [Arc<dyn Layer>], handler: &'a dyn DynHandler) -> Self {
        Self {
            rest: layers,
            handler,
        }
    }

    /// Runs the rest of the chain on `conn`.
    pub fn run(self, conn: &'a mut Connection) -> BoxFuture<'a, Result<(), Error>> {
        match self.rest.split_first() {
            Some((layer, rest)) => layer.call(
                conn,
                Next {
                    rest,
                    handler: self.handler,
                },
            ),
            None => {
                conn.observe_reached_handler();
                self.handler.call(conn)
            }
        }
    }
}

/// Object-safe [`Handler`], the end of a layer chain.
pub(super) trait DynHandler: Send + Sync {
    fn call<'a>(&'a self, conn: &'a mut Connection) -> BoxFuture<'a, Result<(), Error>>;
}

impl<H: Handler> DynHandler for H {
    fn call<'a>(&'a self, conn: &'a mut Connection) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.handle(conn))
    }
}

/// At most `n` requests handled at once across the server; further ones
/// wait their turn, or are refused at once with [`refuse_when_full`]
/// (tower's `ConcurrencyLimit` and `LoadShed`). The permit is held until the
/// request's last response, streams included.
///
/// [`refuse_when_full`]: Self::refuse_when_full
///
/// ```no_run
/// # async fn run() -> Result<(), tpp_rpc::ServerError> {
/// use tpp_rpc::server::ConcurrencyLimit;
/// let server = tpp_rpc::Server::builder()
///     .token("secret")
///     .layer(ConcurrencyLimit::new(64).refuse_when_full(1, "Server busy"))
///     .bind("127.0.0.1:0")
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ConcurrencyLimit {
    permits: Arc<Semaphore>,
    refuse: Option<(i64, String)>,
}

impl ConcurrencyLimit {
    /// At most `n` requests at once; others wait. 0 counts as 1, and values
    /// beyond [`MAX_COUNT`](crate::settings::MAX_COUNT) (`usize::MAX`
    /// included) as that many: in practice no limit.
    pub fn new(n: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(crate::settings::count(n))),
            refuse: None,
        }
    }

    /// When full, answer `code` and `message` at once instead of waiting.
    pub fn refuse_when_full(mut self, code: i64, message: impl Into<String>) -> Self {
        self.refuse = Some((code, message.into()));
        self
    }
}

impl Layer for ConcurrencyLimit {
    fn call<'a>(
        &'a self,
        conn: &'a mut Connection,
        next: Next<'a>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let permit = match &self.refuse {
                None => self.permits.acquire().await.ok(),
                Some((code, message)) => match self.permits.try_acquire() {
                    Ok(p) => Some(p),
                    Err(_) => return conn.refuse(*code, message).await,
                },
            };
            let result = next.run(conn).await;
            drop(permit);
            result
        })
    }
}
