//! The client, mirroring toxiccore's `BaseToxicClient`.
//!
//! [`Client`] holds the configuration (address, TLS, token, timeout, extra
//! fields) and a pool of connections; [`ClientConnection`] is one open
//! connection for raw `write`/`read` and response streams.
//!
//! # Connections, keep-alive and the retry rule
//!
//! By default a client pools connections. Each unary request carries
//! `"tpp_keep_alive": true`; a tpp server then keeps the connection open and
//! says so in its response (`"tpp_keep_alive": true`), and the client keeps
//! the connection for a later call. A server that does not answer so (a
//! toxiccore server, which closes after every response; a tpp server with
//! [`Limits::keep_alive`](crate::Limits::keep_alive) off) gets its
//! connection dropped after the response, never reused.
//!
//! Before a kept connection is used, the client checks, without waiting,
//! that the server has not closed it meanwhile (idle timeout, restart,
//! shutdown); a closed one is discarded and another taken or opened.
//!
//! **Retry rule.** A request is sent again on another connection only when
//! no byte of it can have been read by the server: the kept connection was
//! found closed before writing, or the write failed before the first byte
//! left (plain TCP). Once any byte was written, a failure is returned
//! ([`ClientError::Closed`] and friends: the request may have run), so an
//! action never runs twice because of the pool. The one exception is asked
//! for: an action declared `#[action(idempotent)]` is sent once more after
//! a lost connection ([`Client::request_idempotent`]).
//!
//! **Deadlines.** Each unary call sends what is left of its timeout as
//! `tpp_deadline_ms` (inside a handler, no more than the handler has left):
//! see [`crate::deadline`].
//!
//! Defaults: at most [`DEFAULT_MAX_IDLE`] idle connections, each kept at
//! most [`DEFAULT_IDLE_TIMEOUT`]; no bound on the connections open at once
//! ([`ClientBuilder::pool_max_open`] sets one; callers beyond it wait their
//! turn); each whole call bounded by [`DEFAULT_TIMEOUT`]. Streams always use
//! a connection of their own, outside the pool and its bound.
//!
//! With several endpoints (endpoints.rs), each new connection picks one.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio_util::codec::FramedRead;

use crate::transport::{Connector, Stream};
use crate::wire::frame::{FrameCodec, READ_BUFFER};
use crate::wire::message::{OutgoingRequest, Response};

mod builder;
mod call;
mod conn;
mod connect;
mod endpoints;
mod error;
mod pipeline;
mod pool;
mod spans;
mod stream;
mod typed;

pub use builder::{ClientBuilder, DEFAULT_WRITE_TIMEOUT, MAX_PIPELINED};
use conn::check_code;
pub use conn::ClientConnection;
use endpoints::Endpoints;
pub use endpoints::{
    EndpointSelection, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DOWN_BACKOFF, MAX_DOWN_BACKOFF,
};
pub use error::{ClientError, TlsProblem};
use pipeline::Pipelines;
use pool::Pool;
pub use pool::{DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_IDLE};
pub use stream::ResponseStream;
pub use typed::{CallError, CallStream, FuncInfo, FuncList, FuncParam};

/// Runs `work` within `timeout` (`None`: no bound); an overrun is
/// [`ClientError::Timeout`]. The client bounds its calls this way; it is
/// public for code that drives a [`ClientConnection`] itself.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// let slow = async {
///     tokio::time::sleep(Duration::from_secs(5)).await;
///     Ok::<_, tpp_rpc::ClientError>(())
/// };
/// let outcome = tpp_rpc::client::within_timeout(Some(Duration::from_millis(10)), slow).await;
/// assert!(matches!(outcome, Err(tpp_rpc::ClientError::Timeout(_))));
/// # }
/// ```
pub async fn within_timeout<T>(
    timeout: Option<Duration>,
    work: impl std::future::Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    match timeout {
        Some(d) => tokio::time::timeout(d, work)
            .await
            .unwrap_or(Err(ClientError::Timeout(d))),
        None => work.await,
    }
}

/// [`within_timeout`] until an instant (`limit`: the instant, and the
/// timeout it stands for, which an overrun reports). Built from combinators,
/// not an `async fn`, so that `work` is held once (see [`spans::client_call`]).
fn within_deadline<T, F>(
    limit: Option<(tokio::time::Instant, Duration)>,
    work: F,
) -> impl std::future::Future<Output = Result<T, ClientError>>
where
    F: std::future::Future<Output = Result<T, ClientError>>,
{
    use futures_util::future::{lazy, Either, FutureExt};
    match limit {
        // The timer is made on the first poll: a call may be built outside
        // the runtime that awaits it.
        Some((at, timeout)) => Either::Left(
            lazy(move |_| tokio::time::timeout_at(at, work))
                .flatten()
                .map(move |r| r.unwrap_or(Err(ClientError::Timeout(timeout)))),
        ),
        None => Either::Right(work),
    }
}

/// What `work` gives, with a timer only when it is not done at its first
/// poll (the common case for a write or a free connection costs none):
/// `timer` is made then, and `None` means it fired first.
///
/// `work` is pinned by the caller and the timer is boxed: a future that
/// awaits this one then holds neither twice nor a timer it rarely needs
/// (the call's future is allocated for every call, and kept small enough
/// for the allocator's fast path).
async fn ready_or_timed<F: std::future::Future + ?Sized>(
    mut work: std::pin::Pin<&mut F>,
    timer: impl FnOnce() -> tokio::time::Sleep,
) -> Option<F::Output> {
    use std::task::Poll;
    match std::future::poll_fn(|cx| Poll::Ready(work.as_mut().poll(cx))).await {
        Poll::Ready(done) => Some(done),
        Poll::Pending => {
            let timer = Box::pin(timer());
            tokio::select! {
                biased;
                done = work => Some(done),
                () = timer => None,
            }
        }
    }
}

/// The whole-call timeout of a client unless configured
/// ([`ClientBuilder::timeout`], [`ClientBuilder::no_timeout`]): 30 s, the
/// same as a tpp server's read and idle timeouts. A server that has not
/// answered by then has most likely stopped serving this connection, and
/// a caller without a timeout would wait for ever; actions known to take
/// longer set their own.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

struct Inner {
    endpoints: Endpoints,
    tls: Option<Connector>,
    max_frame_size: usize,
    pool: Pool,
    pipelines: Option<Pipelines>,
}

/// A TPP client: where to connect and how to authenticate. Cheap to clone;
/// clones share the configuration and the connection pool (see the
/// [module documentation](self) for keep-alive, pooling and the retry rule).
///
/// ```no_run
/// # async fn run() -> Result<(), tpp_rpc::ClientError> {
/// let client = tpp_rpc::Client::builder("127.0.0.1", 7777).token("secret").build()?;
/// let greeting: String = client.request2server("hello", &serde_json::json!({"name": "ana"})).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    token: Option<Arc<str>>,
    timeout: Option<Duration>,
    item_timeout: Option<Duration>,
    extras: Arc<Map<String, Value>>,
}

impl Client {
    /// The server's `host:port` (the first endpoint's).
    pub fn addr(&self) -> &str {
        &self.inner.endpoints.primary().addrs.display
    }

    /// How many connections this client (and its clones) opened so far,
    /// streams included: with a pool against a keep-alive server, far fewer
    /// than calls made.
    pub fn connections_opened(&self) -> u64 {
        self.inner.pool.opened()
    }

    /// How many idle connections the pool holds now.
    pub fn idle_connections(&self) -> usize {
        self.inner.pool.idle_count()
    }

    /// A copy of this client with another timeout for each call.
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        Client {
            timeout: Some(timeout),
            ..self.clone()
        }
    }

    /// A copy of this client with another wait limit between stream items
    /// (see [`ClientBuilder::item_timeout`]); `None` waits forever.
    pub fn with_item_timeout(&self, timeout: Option<Duration>) -> Client {
        Client {
            item_timeout: timeout,
            ..self.clone()
        }
    }

    /// A copy of this client with another token.
    pub fn with_token(&self, token: impl Into<String>) -> Client {
        Client {
            token: Some(Arc::from(token.into())),
            ..self.clone()
        }
    }

    /// A copy of this client that also sends the extra top-level field `key`.
    pub fn with_field(&self, key: impl Into<String>, value: impl Into<Value>) -> Client {
        let mut extras = (*self.extras).clone();
        extras.insert(key.into(), value.into());
        Client {
            extras: Arc::new(extras),
            ..self.clone()
        }
    }

    /// The timeout of each call, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The wait limit for each stream item, if any.
    pub fn item_timeout(&self) -> Option<Duration> {
        self.item_timeout
    }

    /// Opens a new connection (TCP, a Unix socket or in-process, then TLS if
    /// configured).
    pub async fn connect(&self) -> Result<ClientConnection, ClientError> {
        self.bounded(self.open()).await
    }

    async fn open(&self) -> Result<ClientConnection, ClientError> {
        let inner = &self.inner;
        let (socket, endpoint) = inner.endpoints.connect().await?;
        inner.pool.count_open();
        let stream = match &inner.tls {
            None => Stream::Plain(socket),
            Some(tls) => tls
                .connect(endpoint.tls_name.as_ref(), socket)
                .await
                .map_err(|source| ClientError::Tls {
                    addr: endpoint.addrs.display.clone(),
                    source,
                })?,
        };
        Ok(ClientConnection {
            io: FramedRead::with_capacity(
                stream,
                FrameCodec::new(inner.max_frame_size),
                READ_BUFFER,
            ),
            scratch: Vec::new(),
            timer: None,
        })
    }

    async fn bounded<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, ClientError>>,
    ) -> Result<T, ClientError> {
        within_timeout(self.timeout, work).await
    }

    /// Sends `{"action", "body", "token", …extra fields}` and returns the
    /// successful response (a code > 0 becomes [`ClientError::Server`]).
    pub fn request<'a, B: Serialize + ?Sized>(
        &'a self,
        action: &'a str,
        body: &'a B,
    ) -> impl std::future::Future<Output = Result<Response, ClientError>> + 'a {
        // The call's timeout, or less when a handler's deadline comes first
        // (see `crate::deadline`): sent as `tpp_deadline_ms`, and the wait.
        // Built without an `async fn` layer, so the call's future holds the
        // exchange once and stays small (it is moved, and often boxed).
        let limit = crate::wire::deadline::call_deadline(self.timeout);
        spans::client_call(action, self.addr(), self.exchange(action, body, limit))
    }

    /// [`request`](Self::request) for an action that is safe to run twice
    /// (`#[action(idempotent)]`): when the connection is lost after the
    /// request was sent ([`ClientError::is_connection_lost`]), it is sent
    /// once more, on another connection, within the same timeout. Calls of
    /// other actions are never sent again once a byte of them left.
    pub async fn request_idempotent<B: Serialize + ?Sized>(
        &self,
        action: &str,
        body: &B,
    ) -> Result<Response, ClientError> {
        let limit = crate::wire::deadline::call_deadline(self.timeout);
        let call = async {
            match self.exchange(action, body, limit).await {
                Err(e) if e.is_connection_lost() => {
                    tracing::debug!(action, error = %e, "connection lost; idempotent call sent again");
                    self.exchange(action, body, limit).await
                }
                result => result,
            }
        };
        spans::client_call(action, self.addr(), call).await
    }

    /// Calls `action` and returns `body[action]` deserialized, as toxiccore's
    /// `request2server` does.
    pub async fn request2server<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        action: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let response = self.request(action, body).await?;
        action_result(&response, action)
    }

    /// Calls `action` and returns the whole body deserialized (for actions
    /// that answer a bare body, like toxicbuild's `list_builders`).
    pub async fn request_bare<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        action: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let response = self.request(action, body).await?;
        response.body().map_err(|source| ClientError::Decode {
            action: action.to_owned(),
            source,
        })
    }

    /// Calls a streaming `action` and returns its responses as a stream that
    /// ends when the server closes or sends a `null` body. The client's
    /// timeout bounds connecting and sending; `item_timeout` (if any) bounds
    /// the wait for each response.
    pub async fn request_stream<B: Serialize + ?Sized>(
        &self,
        action: &str,
        body: &B,
        item_timeout: Option<Duration>,
    ) -> Result<ResponseStream, ClientError> {
        let call = async {
            let mut conn = self.connect().await?;
            let write = conn.write_request(action, body, self.token.as_deref(), &self.extras);
            self.bounded(write).await?;
            Ok(conn.into_stream(item_timeout))
        };
        spans::client_call(action, self.addr(), call).await
    }

    /// Calls a streaming `action` that acknowledges first, like the hole's
    /// `stream` action: the first response is
    /// `{"code": 0, "body": {"<action>": ack}}` (what `request2server`
    /// unwraps), every later one a bare item `{"code": 0, "body": item}`.
    ///
    /// Returns the acknowledgement, deserialized into `A`, and the stream of
    /// the responses after it (which ends as [`Client::request_stream`]'s
    /// does). An error code in place of the acknowledgement is
    /// [`ClientError::Server`]; a connection closed before it,
    /// [`ClientError::Closed`]; a body without the action's key,
    /// [`ClientError::MissingActionKey`]. The client's timeout bounds
    /// connecting, sending and reading the acknowledgement together;
    /// `item_timeout` (if any) bounds the wait for each later response.
    ///
    /// ```no_run
    /// # async fn run(client: tpp_rpc::Client) -> Result<(), tpp_rpc::ClientError> {
    /// use futures_util::StreamExt;
    /// // -> {"action": "stream", "body": {}, "token": "…"}
    /// // <- {"code": 0, "body": {"stream": "ok"}}
    /// // <- {"code": 0, "body": {"event_type": "build_started", …}} …
    /// let (ack, events) = client
    ///     .request_stream_ack::<_, String>("stream", &serde_json::json!({}), None)
    ///     .await?;
    /// assert_eq!(ack, "ok");
    /// let mut events = events.typed::<serde_json::Value>();
    /// while let Some(event) = events.next().await {
    ///     println!("{}", event?);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn request_stream_ack<B: Serialize + ?Sized, A: DeserializeOwned>(
        &self,
        action: &str,
        body: &B,
        item_timeout: Option<Duration>,
    ) -> Result<(A, ResponseStream), ClientError> {
        self.request_stream_ack_with(action, body, item_timeout, |response| {
            action_result(response, action)
        })
        .await
    }

    /// [`Client::request_stream_ack`] with the acknowledgement decoded by
    /// `decode` (the generated clients pass theirs).
    pub(crate) async fn request_stream_ack_with<B: Serialize + ?Sized, A>(
        &self,
        action: &str,
        body: &B,
        item_timeout: Option<Duration>,
        decode: impl FnOnce(&Response) -> Result<A, ClientError>,
    ) -> Result<(A, ResponseStream), ClientError> {
        let acknowledged = async {
            let mut conn = self.open().await?;
            conn.write_request(action, body, self.token.as_deref(), &self.extras)
                .await?;
            let response = conn.get_response().await?;
            let ack = decode(&response)?;
            Ok((ack, conn))
        };
        let call = self.bounded(acknowledged);
        let (ack, conn) = spans::client_call(action, self.addr(), call).await?;
        Ok((ack, conn.into_stream(item_timeout)))
    }
}

/// Unwraps `body[action]` from a successful response.
pub(crate) fn action_result<T: DeserializeOwned>(
    response: &Response,
    action: &str,
) -> Result<T, ClientError> {
    match response.action_result(action) {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(ClientError::MissingActionKey {
            action: action.to_owned(),
            body: cut(response.body_json(), 200),
        }),
        Err(source) => Err(ClientError::Decode {
            action: action.to_owned(),
            source,
        }),
    }
}
