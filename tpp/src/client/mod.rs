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
//! action never runs twice because of the pool.
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

use rustls_pki_types::ServerName;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::TlsConnector;
use tokio_util::codec::FramedRead;

use crate::frame::{FrameCodec, DEFAULT_MAX_FRAME_SIZE, READ_BUFFER};
use crate::message::{OutgoingRequest, Response};
use crate::tls::{self, TlsError};
use crate::transport::Stream;

mod call;
mod conn;
mod connect;
mod endpoints;
mod error;
mod pipeline;
mod pool;
mod stream;
mod typed;

use conn::check_code;
pub use conn::ClientConnection;
use endpoints::{Endpoint, Endpoints};
pub use endpoints::{EndpointSelection, DEFAULT_DOWN_BACKOFF, MAX_DOWN_BACKOFF};
pub use error::{ClientError, TlsProblem};
use pipeline::Pipelines;
use pool::{Pool, PoolSettings};
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
///     Ok::<_, tpp::ClientError>(())
/// };
/// let outcome = tpp::client::within_timeout(Some(Duration::from_millis(10)), slow).await;
/// assert!(matches!(outcome, Err(tpp::ClientError::Timeout(_))));
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

#[derive(Clone)]
struct TlsSettings {
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

struct Inner {
    endpoints: Endpoints,
    tls: Option<TlsSettings>,
    max_frame_size: usize,
    pool: Pool,
    pipelines: Option<Pipelines>,
}

/// A TPP client: where to connect and how to authenticate. Cheap to clone;
/// clones share the configuration and the connection pool (see the
/// [module documentation](self) for keep-alive, pooling and the retry rule).
///
/// ```no_run
/// # async fn run() -> Result<(), tpp::ClientError> {
/// let client = tpp::Client::builder("127.0.0.1", 7777).token("secret").build()?;
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

/// How the client does TLS.
enum TlsMode {
    Off,
    SystemRoots,
    CaFile(std::path::PathBuf),
    Pinned(std::path::PathBuf),
    Insecure,
    Config(Arc<ClientConfig>),
}

/// Configures a [`Client`]: token, TLS, timeouts, extra fields.
///
/// Over TLS, with a self-signed server certificate pinned (the CA-less way to
/// authenticate a server; see also [`tls_ca_file`](Self::tls_ca_file) and
/// [`tls`](Self::tls) for real CAs):
///
/// ```
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = std::env::temp_dir().join(format!("tpp-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
/// # let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
/// # std::fs::write(&cert, made.cert.pem())?;
/// # std::fs::write(&key, made.key_pair.serialize_pem())?;
/// struct Hello;
/// impl tpp::Handler for Hello {
///     async fn handle(&self, conn: &mut tpp::Connection) -> Result<(), tpp::Error> {
///         conn.send_result(&"hello").await
///     }
/// }
///
/// // `cert` and `key` are PEM files (here a fresh self-signed pair).
/// let server = tpp::Server::builder()
///     .token("s3cret")
///     .tls_pem_files(&cert, &key)
///     .bind("127.0.0.1:0")
///     .await?;
/// let port = server.local_addr().port();
/// tokio::spawn(server.serve(Hello));
///
/// let client = tpp::Client::builder("127.0.0.1", port)
///     .token("s3cret")
///     .tls_pinned_cert_file(&cert)            // exactly this certificate
///     .timeout(Duration::from_secs(5))        // connect + send + answer
///     .item_timeout(Duration::from_secs(60))  // between a stream's items
///     .field("user_id", "42")                 // an extra top-level field
///     .build()?;
/// let answer: String = client.request2server("hello", &serde_json::json!({})).await?;
/// assert_eq!(answer, "hello");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(()) }
/// ```
pub struct ClientBuilder {
    host: String,
    port: u16,
    tls: TlsMode,
    server_name: Option<String>,
    token: Option<String>,
    timeout: Option<Duration>,
    item_timeout: Option<Duration>,
    extras: Map<String, Value>,
    max_frame_size: usize,
    pool: PoolSettings,
    pipelined: Option<usize>,
    more_endpoints: Vec<(String, u16)>,
    selection: EndpointSelection,
    down_backoff: Duration,
}

impl ClientBuilder {
    /// Another server for the same service, for deployments without a load
    /// balancer: new connections go to the endpoints as
    /// [`endpoint_selection`](Self::endpoint_selection) says (round robin by
    /// default), one that refuses the connection is marked down (skipped for
    /// [`down_backoff`](Self::down_backoff), doubling with each error up to
    /// 30 s) and the next is tried in the same call. Only connect errors fail
    /// over: a request already sent is never sent again. With TLS, each
    /// endpoint's certificate is checked against its own host unless
    /// [`server_name`](Self::server_name) is set.
    ///
    /// ```no_run
    /// # fn run() -> Result<(), tpp::ClientError> {
    /// let client = tpp::Client::builder("10.0.0.11", 7777)
    ///     .endpoint("10.0.0.12", 7777)
    ///     .endpoint("10.0.0.13", 7777)
    ///     .token("s3cret")
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn endpoint(mut self, host: impl Into<String>, port: u16) -> Self {
        self.more_endpoints.push((host.into(), port));
        self
    }

    /// How a new connection picks among several endpoints (default
    /// [`EndpointSelection::RoundRobin`]).
    pub fn endpoint_selection(mut self, selection: EndpointSelection) -> Self {
        self.selection = selection;
        self
    }

    /// How long an endpoint that refused a connection is skipped at first
    /// (default [`DEFAULT_DOWN_BACKOFF`], 500 ms; doubling with each further
    /// error, up to 30 s). Skipped endpoints are still tried when every other
    /// one fails.
    pub fn down_backoff(mut self, backoff: Duration) -> Self {
        self.down_backoff = backoff;
        self
    }

    /// The token sent with every request.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Bounds each whole call: waiting for a connection, connecting,
    /// writing and reading (default [`DEFAULT_TIMEOUT`], 30 s): a unary
    /// call's answer, an acknowledged stream's acknowledgement. It never
    /// bounds a stream's items: see [`item_timeout`](Self::item_timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Calls wait as long as the server takes (no whole-call timeout).
    pub fn no_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// The longest wait for each item of a stream, the first one included
    /// (default: none, so an idle stream, such as a watch, stays open as
    /// long as the server keeps it). When it expires the stream ends with
    /// [`ClientError::Timeout`]. The generated clients use it for their
    /// streaming actions; [`Client::request_stream`] takes it as an argument.
    /// The call timeout ([`timeout`](Self::timeout)) never bounds a
    /// stream's items.
    pub fn item_timeout(mut self, timeout: Duration) -> Self {
        self.item_timeout = Some(timeout);
        self
    }

    /// Uses TLS and validates the server's certificate against the system's roots.
    pub fn tls(mut self) -> Self {
        self.tls = TlsMode::SystemRoots;
        self
    }

    /// Uses TLS and trusts only the CA certificates in this PEM file.
    pub fn tls_ca_file(mut self, pem_file: impl Into<std::path::PathBuf>) -> Self {
        self.tls = TlsMode::CaFile(pem_file.into());
        self
    }

    /// Uses TLS and accepts only a server whose certificate is one of those in
    /// this PEM file (certificate pinning): for self-signed servers, still
    /// authenticated. Name, validity period and issuer are not checked; see
    /// [`tls::client_config_pinned_file`].
    pub fn tls_pinned_cert_file(mut self, pem_file: impl Into<std::path::PathBuf>) -> Self {
        self.tls = TlsMode::Pinned(pem_file.into());
        self
    }

    /// Uses TLS without validating the certificate (self-signed servers;
    /// toxiccore's `validate_cert=False`). The traffic is encrypted but the
    /// server is not authenticated.
    pub fn tls_insecure(mut self) -> Self {
        self.tls = TlsMode::Insecure;
        self
    }

    /// Uses TLS with a rustls config of your own.
    pub fn tls_config(mut self, config: Arc<ClientConfig>) -> Self {
        self.tls = TlsMode::Config(config);
        self
    }

    /// The name to validate the certificate against (default: the host).
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// An extra top-level field sent with every request (toxicbuild's `user_id`).
    pub fn field(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extras.insert(key.into(), value.into());
        self
    }

    /// Largest response accepted (default 64 MiB).
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Pools connections (default true): asks the server to keep each
    /// connection open (`"tpp_keep_alive": true`) and reuses those it agreed
    /// to keep. Safe against every server: a toxiccore server, which closes
    /// after each response, simply gets one connection per call. `false`
    /// opens one connection per call and does not ask for keep-alive, as
    /// toxiccore's client does.
    pub fn reuse_connections(mut self, on: bool) -> Self {
        self.pool.enabled = on;
        self
    }

    /// Most idle connections kept for later calls (default
    /// [`DEFAULT_MAX_IDLE`], 64). A connection handed back beyond it is closed.
    pub fn pool_max_idle(mut self, connections: usize) -> Self {
        self.pool.max_idle = connections;
        self
    }

    /// Most connections of the pool open at once (default: no bound). A call
    /// that finds them all busy waits (first come, first served, within its
    /// timeout) for one to be handed back. Streams do not count.
    pub fn pool_max_open(mut self, connections: usize) -> Self {
        self.pool.max_open = Some(connections.max(1));
        self
    }

    /// Pipelines unary calls over `connections` shared connections (default:
    /// off, one call per connection at a time). Concurrent callers then
    /// write their requests on the same connection without waiting for the
    /// earlier answers, which the server sends in order. For servers that
    /// keep connections open (tpp servers); against one that does not (a
    /// toxiccore server) calls go through the pool as usual. Streams always
    /// use a connection of their own.
    ///
    /// When a server closes a pipelined connection, the calls it answered
    /// succeed, those it did not fail with [`ClientError::Closed`] (sent:
    /// they may have run), and those not written yet are sent on a new
    /// connection.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tpp::ClientError> {
    /// let client = tpp::Client::builder("127.0.0.1", 7777)
    ///     .token("secret")
    ///     .pipelined(2)
    ///     .build()?;
    /// // 100 calls at once, on two connections.
    /// let calls = (0..100).map(|i| {
    ///     let client = client.clone();
    ///     async move { client.request2server::<_, i64>("echo", &i).await }
    /// });
    /// let answers = futures_util::future::try_join_all(calls).await?;
    /// # Ok(()) }
    /// ```
    pub fn pipelined(mut self, connections: usize) -> Self {
        self.pipelined = Some(connections.max(1));
        self
    }

    /// How long an idle connection is kept (default [`DEFAULT_IDLE_TIMEOUT`],
    /// 20 s, below a tpp server's 30 s idle timeout). Older ones are closed
    /// when the pool is next used.
    pub fn pool_idle_timeout(mut self, idle: Duration) -> Self {
        self.pool.idle_timeout = idle;
        self
    }

    /// Builds the client (reads CA files and system roots now).
    pub fn build(self) -> Result<Client, ClientError> {
        let config = match self.tls {
            TlsMode::Off => None,
            TlsMode::SystemRoots => Some(tls::client_config_system_roots()?),
            TlsMode::CaFile(path) => Some(tls::client_config_with_ca_file(path)?),
            TlsMode::Pinned(path) => Some(tls::client_config_pinned_file(path)?),
            TlsMode::Insecure => Some(tls::client_config_insecure()),
            TlsMode::Config(c) => Some(c),
        };
        let tls = match config {
            None => None,
            Some(config) => {
                let name = self.server_name.as_deref().unwrap_or(&self.host);
                let server_name = ServerName::try_from(name.to_owned())
                    .map_err(|e| TlsError(format!("invalid server name {name:?}: {e}")))?;
                Some(TlsSettings {
                    connector: TlsConnector::from(config),
                    server_name,
                })
            }
        };
        let own_name = |host: &str| match (&tls, &self.server_name) {
            (Some(_), None) => ServerName::try_from(host.to_owned()).ok(),
            _ => None,
        };
        let mut list = vec![Endpoint::new(self.host, self.port, None)];
        for (host, port) in self.more_endpoints {
            let name = own_name(&host);
            list.push(Endpoint::new(host, port, name));
        }
        Ok(Client {
            inner: Arc::new(Inner {
                endpoints: Endpoints::new(list, self.selection, self.down_backoff),
                tls,
                max_frame_size: self.max_frame_size,
                pool: Pool::new(self.pool),
                pipelines: self.pipelined.map(Pipelines::new),
            }),
            token: self.token.map(Arc::from),
            timeout: self.timeout,
            item_timeout: self.item_timeout,
            extras: Arc::new(self.extras),
        })
    }
}

impl Client {
    /// A builder for a client of `host:port` (plain TCP, no token, pooled
    /// connections, [`DEFAULT_TIMEOUT`] per call).
    pub fn builder(host: impl Into<String>, port: u16) -> ClientBuilder {
        ClientBuilder {
            host: host.into(),
            port,
            tls: TlsMode::Off,
            server_name: None,
            token: None,
            timeout: Some(DEFAULT_TIMEOUT),
            item_timeout: None,
            extras: Map::new(),
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            pool: PoolSettings::default(),
            pipelined: None,
            more_endpoints: Vec::new(),
            selection: EndpointSelection::default(),
            down_backoff: DEFAULT_DOWN_BACKOFF,
        }
    }

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

    /// Opens a new connection (TCP, then TLS if configured).
    pub async fn connect(&self) -> Result<ClientConnection, ClientError> {
        self.bounded(self.open()).await
    }

    async fn open(&self) -> Result<ClientConnection, ClientError> {
        let inner = &self.inner;
        let (tcp, endpoint) = inner.endpoints.connect().await?;
        inner.pool.count_open();
        let stream = match &inner.tls {
            None => Stream::Tcp(tcp),
            Some(tls) => {
                let name = endpoint.tls_name.as_ref().unwrap_or(&tls.server_name);
                let s = tls
                    .connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|source| ClientError::Tls {
                        addr: endpoint.addrs.display.clone(),
                        source,
                    })?;
                Stream::Tls(Box::new(s.into()))
            }
        };
        Ok(ClientConnection {
            io: FramedRead::with_capacity(
                stream,
                FrameCodec::new(inner.max_frame_size),
                READ_BUFFER,
            ),
            scratch: Vec::new(),
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
    pub async fn request<B: Serialize + ?Sized>(
        &self,
        action: &str,
        body: &B,
    ) -> Result<Response, ClientError> {
        let call = self.bounded(self.exchange(action, body));
        crate::trace::client_call(action, self.addr(), call).await
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
        crate::trace::client_call(action, self.addr(), call).await
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
    /// # async fn run(client: tpp::Client) -> Result<(), tpp::ClientError> {
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
        let (ack, conn) = crate::trace::client_call(action, self.addr(), call).await?;
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
