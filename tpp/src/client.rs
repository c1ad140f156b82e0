//! The client, mirroring toxiccore's `BaseToxicClient`.
//!
//! [`Client`] holds the configuration (address, TLS, token, timeout, extra
//! fields) and opens one connection per request by default, as the reference
//! does; [`ClientConnection`] is one open connection for raw `write`/`read`
//! and response streams.

use std::collections::VecDeque;
use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use futures_core::Stream as FuturesStream;
use futures_util::StreamExt;
use rustls_pki_types::ServerName;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::TlsConnector;
use tokio_util::codec::FramedRead;

use crate::frame::{put_header, FrameCodec, FrameError, DEFAULT_MAX_FRAME_SIZE, READ_BUFFER};
use crate::message::{BadResponse, OutgoingRequest, Response};
use crate::service::ToxicError;
use crate::tls::{self, TlsError};
use crate::transport::Stream;

/// Everything that can go wrong on the client side, each failure named.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The TCP connection could not be made.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The cause.
        source: io::Error,
    },
    /// The TLS handshake failed (certificate not trusted, name mismatch, not
    /// a TLS server…).
    #[error("TLS handshake with {addr} failed: {source}")]
    Tls {
        /// `host:port`.
        addr: String,
        /// The cause; for certificate problems it wraps a `rustls::Error`.
        source: io::Error,
    },
    /// The TLS configuration is unusable.
    #[error("TLS configuration: {0}")]
    TlsConfig(#[from] TlsError),
    /// The whole call took longer than its timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The server closed the connection before answering.
    #[error("connection closed by the server before a response")]
    Closed,
    /// The server closed the connection in the middle of a message.
    #[error("connection closed mid-message: {0}")]
    ClosedMidMessage(FrameError),
    /// The server broke the framing.
    #[error("bad frame from the server: {0}")]
    Frame(FrameError),
    /// The response is not a JSON object with a usable code.
    #[error("bad response from the server: {0}")]
    BadResponse(#[from] BadResponse),
    /// The request could not be serialized.
    #[error("cannot serialize the request: {0}")]
    Serialize(serde_json::Error),
    /// A successful response's body has no key named after the action.
    #[error("the response body has no {action:?} key: {body}")]
    MissingActionKey {
        /// The action.
        action: String,
        /// The body received (cut to 200 bytes).
        body: String,
    },
    /// The result does not deserialize into the expected type.
    #[error("cannot decode the result of {action:?}: {source}")]
    Decode {
        /// The action.
        action: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// The server answered with an error code.
    #[error("server error {code}: {message}")]
    Server {
        /// The response code (> 0, or < 0 from odd servers).
        code: i64,
        /// `body["error"]`, or the bare string body.
        message: String,
    },
    /// An I/O error on an established connection.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

impl ClientError {
    /// The server's response code, for [`ClientError::Server`].
    pub fn server_code(&self) -> Option<i64> {
        match self {
            ClientError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The server's message, for [`ClientError::Server`].
    pub fn server_message(&self) -> Option<&str> {
        match self {
            ClientError::Server { message, .. } => Some(message),
            _ => None,
        }
    }

    /// The TLS failure behind [`ClientError::Tls`], when rustls reported one
    /// (an untrusted certificate, a name mismatch…).
    pub fn tls_error(&self) -> Option<&tokio_rustls::rustls::Error> {
        match self {
            ClientError::Tls { source, .. } => source
                .get_ref()
                .and_then(|e| e.downcast_ref::<tokio_rustls::rustls::Error>()),
            _ => None,
        }
    }

    /// Turns a server error into the service's own error type, when that
    /// type knows the code ([`ToxicError::from_parts`]); anything else is
    /// given back unchanged.
    pub fn into_service_error<E: ToxicError>(self) -> Result<E, ClientError> {
        match &self {
            ClientError::Server { code, message } => E::from_parts(*code, message).ok_or(self),
            _ => Err(self),
        }
    }

    fn from_frame(e: FrameError) -> Self {
        match e {
            FrameError::Io(e) => ClientError::Io(e),
            e @ FrameError::Truncated { .. } => ClientError::ClosedMidMessage(e),
            e => ClientError::Frame(e),
        }
    }
}

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
    host: String,
    port: u16,
    addr: String,
    tls: Option<TlsSettings>,
    max_frame_size: usize,
    reuse: bool,
    idle: Mutex<VecDeque<ClientConnection>>,
}

/// A TPP client: where to connect and how to authenticate. Cheap to clone;
/// clones share the configuration and any kept connection.
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

/// Configures a [`Client`].
pub struct ClientBuilder {
    host: String,
    port: u16,
    tls: TlsMode,
    server_name: Option<String>,
    token: Option<String>,
    timeout: Option<Duration>,
    extras: Map<String, Value>,
    max_frame_size: usize,
    reuse: bool,
}

impl ClientBuilder {
    /// The token sent with every request.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Bounds each whole call: connect, write, and read (default: none).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
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

    /// Keeps the connection open after a unary response and reuses it for
    /// the next request. Only for servers that serve several requests per
    /// connection (tpp servers do; toxiccore servers do not).
    pub fn reuse_connections(mut self, on: bool) -> Self {
        self.reuse = on;
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
        let addr = if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        };
        Ok(Client {
            inner: Arc::new(Inner {
                host: self.host,
                port: self.port,
                addr,
                tls,
                max_frame_size: self.max_frame_size,
                reuse: self.reuse,
                idle: Mutex::new(VecDeque::new()),
            }),
            token: self.token.map(Arc::from),
            timeout: self.timeout,
            extras: Arc::new(self.extras),
        })
    }
}

impl Client {
    /// A builder for a client of `host:port` (plain TCP, no token, no timeout).
    pub fn builder(host: impl Into<String>, port: u16) -> ClientBuilder {
        ClientBuilder {
            host: host.into(),
            port,
            tls: TlsMode::Off,
            server_name: None,
            token: None,
            timeout: None,
            extras: Map::new(),
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            reuse: false,
        }
    }

    /// The server's `host:port`.
    pub fn addr(&self) -> &str {
        &self.inner.addr
    }

    /// A copy of this client with another timeout for each call.
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        Client {
            timeout: Some(timeout),
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

    /// Opens a new connection (TCP, then TLS if configured).
    pub async fn connect(&self) -> Result<ClientConnection, ClientError> {
        self.bounded(self.open()).await
    }

    async fn open(&self) -> Result<ClientConnection, ClientError> {
        let inner = &self.inner;
        let tcp = TcpStream::connect((inner.host.as_str(), inner.port))
            .await
            .map_err(|source| ClientError::Connect {
                addr: inner.addr.clone(),
                source,
            })?;
        let _ = tcp.set_nodelay(true);
        let stream = match &inner.tls {
            None => Stream::Tcp(tcp),
            Some(tls) => {
                let s = tls
                    .connector
                    .connect(tls.server_name.clone(), tcp)
                    .await
                    .map_err(|source| ClientError::Tls {
                        addr: inner.addr.clone(),
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
        match self.timeout {
            Some(d) => tokio::time::timeout(d, work)
                .await
                .unwrap_or(Err(ClientError::Timeout(d))),
            None => work.await,
        }
    }

    /// Sends `{"action", "body", "token", …extra fields}` and returns the
    /// successful response (a code > 0 becomes [`ClientError::Server`]).
    pub async fn request<B: Serialize + ?Sized>(
        &self,
        action: &str,
        body: &B,
    ) -> Result<Response, ClientError> {
        self.bounded(self.exchange(action, body)).await
    }

    async fn exchange<B: Serialize + ?Sized>(
        &self,
        action: &str,
        body: &B,
    ) -> Result<Response, ClientError> {
        let reused = if self.inner.reuse {
            self.inner.idle.lock().ok().and_then(|mut q| q.pop_front())
        } else {
            None
        };
        if let Some(mut conn) = reused {
            match self.exchange_on(&mut conn, action, body).await {
                // The server may have closed a kept connection while it sat
                // idle; that request was never read, so send it on a new one.
                Err(ClientError::Closed) | Err(ClientError::Io(_)) => {}
                Ok(response) => {
                    self.keep(conn);
                    return Ok(response);
                }
                Err(e) => return Err(e),
            }
        }
        let mut conn = self.open().await?;
        let response = self.exchange_on(&mut conn, action, body).await?;
        if self.inner.reuse {
            self.keep(conn);
        }
        Ok(response)
    }

    async fn exchange_on<B: Serialize + ?Sized>(
        &self,
        conn: &mut ClientConnection,
        action: &str,
        body: &B,
    ) -> Result<Response, ClientError> {
        conn.write_request(action, body, self.token.as_deref(), &self.extras)
            .await?;
        conn.get_response().await
    }

    fn keep(&self, conn: ClientConnection) {
        if let Ok(mut idle) = self.inner.idle.lock() {
            if idle.len() < 8 {
                idle.push_back(conn);
            }
        }
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
        let mut conn = self.connect().await?;
        let write = conn.write_request(action, body, self.token.as_deref(), &self.extras);
        self.bounded(write).await?;
        Ok(conn.into_stream(item_timeout))
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
        let acknowledged = async {
            let mut conn = self.open().await?;
            conn.write_request(action, body, self.token.as_deref(), &self.extras)
                .await?;
            let response = conn.get_response().await?;
            let ack: A = action_result(&response, action)?;
            Ok((ack, conn))
        };
        let (ack, conn) = self.bounded(acknowledged).await?;
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

/// One open connection: raw messages, request/response, response streams.
pub struct ClientConnection {
    io: FramedRead<Stream, FrameCodec>,
    scratch: Vec<u8>,
}

impl ClientConnection {
    /// Sends any serializable value as one message.
    pub async fn write<T: Serialize + ?Sized>(&mut self, message: &T) -> Result<(), ClientError> {
        self.scratch.clear();
        serde_json::to_writer(&mut self.scratch, message).map_err(ClientError::Serialize)?;
        self.write_raw_scratch().await
    }

    /// Sends raw payload bytes as one message (framing added).
    pub async fn write_raw(&mut self, payload: &[u8]) -> Result<(), ClientError> {
        write_frame(self.io.get_mut(), payload).await
    }

    async fn write_raw_scratch(&mut self) -> Result<(), ClientError> {
        write_frame(self.io.get_mut(), &self.scratch).await
    }

    /// Sends a request: `{"action", "body", "token", …extras}`.
    pub async fn write_request<B: Serialize + ?Sized>(
        &mut self,
        action: &str,
        body: &B,
        token: Option<&str>,
        extras: &Map<String, Value>,
    ) -> Result<(), ClientError> {
        self.write(&OutgoingRequest {
            action,
            body,
            token,
            extras,
        })
        .await
    }

    /// Reads the next response; `None` when the server closed the connection
    /// between messages.
    pub async fn read(&mut self) -> Result<Option<Response>, ClientError> {
        match self.io.next().await {
            None => Ok(None),
            Some(Err(e)) => Err(ClientError::from_frame(e)),
            Some(Ok(frame)) => Ok(Some(Response::parse(frame)?)),
        }
    }

    /// Reads the next response and turns a code other than 0 into
    /// [`ClientError::Server`], and a closed connection into [`ClientError::Closed`].
    pub async fn get_response(&mut self) -> Result<Response, ClientError> {
        let response = self.read().await?.ok_or(ClientError::Closed)?;
        check_code(response)
    }

    /// toxiccore's `request2server` on this connection: writes the request,
    /// reads one response within `timeout`, returns `body[action]`.
    pub async fn request2server<B: Serialize + ?Sized, T: DeserializeOwned>(
        &mut self,
        action: &str,
        body: &B,
        token: &str,
        timeout: Option<Duration>,
    ) -> Result<T, ClientError> {
        let work = async {
            self.write_request(action, body, Some(token), &Map::new())
                .await?;
            let response = self.get_response().await?;
            action_result(&response, action)
        };
        match timeout {
            Some(d) => tokio::time::timeout(d, work)
                .await
                .unwrap_or(Err(ClientError::Timeout(d))),
            None => work.await,
        }
    }

    /// Turns this connection into the stream of its remaining responses.
    pub fn into_stream(self, item_timeout: Option<Duration>) -> ResponseStream {
        ResponseStream {
            io: self.io,
            item_timeout,
            sleep: None,
            done: false,
        }
    }

    /// Closes the connection (TLS close_notify included).
    pub async fn close(mut self) -> Result<(), ClientError> {
        self.io.get_mut().shutdown().await?;
        Ok(())
    }
}

fn check_code(response: Response) -> Result<Response, ClientError> {
    if response.code() != 0 {
        return Err(ClientError::Server {
            code: response.code(),
            message: response.error_message(),
        });
    }
    Ok(response)
}

async fn write_frame(stream: &mut Stream, payload: &[u8]) -> Result<(), ClientError> {
    let mut header = BytesMut::with_capacity(24);
    put_header(&mut header, payload.len());
    let mut chained = header.chain(payload);
    stream.write_all_buf(&mut chained).await?;
    stream.flush().await?;
    Ok(())
}

/// The responses of a streaming action, in order. Ends when the server
/// closes the connection or sends a `null` body (toxicbuild's build loop);
/// an error code ends it with [`ClientError::Server`].
pub struct ResponseStream {
    io: FramedRead<Stream, FrameCodec>,
    item_timeout: Option<Duration>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    done: bool,
}

impl ResponseStream {
    /// The next response, or `None` at the end of the stream.
    pub async fn next_response(&mut self) -> Option<Result<Response, ClientError>> {
        self.next().await
    }

    /// Deserializes each response's body into `T`.
    pub fn typed<T: DeserializeOwned>(self) -> impl FuturesStream<Item = Result<T, ClientError>> {
        self.map(|item| {
            item.and_then(|r| {
                r.body().map_err(|source| ClientError::Decode {
                    action: "stream item".to_owned(),
                    source,
                })
            })
        })
    }
}

impl FuturesStream for ResponseStream {
    type Item = Result<Response, ClientError>;

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(limit) = this.item_timeout {
            let sleep = this
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
            if sleep.as_mut().poll(cx).is_ready() {
                this.done = true;
                return Poll::Ready(Some(Err(ClientError::Timeout(limit))));
            }
        }
        let polled = ready!(this.io.poll_next_unpin(cx));
        this.sleep = None;
        let item = match polled {
            None => None,
            Some(Err(e)) => Some(Err(ClientError::from_frame(e))),
            Some(Ok(frame)) => match Response::parse(frame) {
                Err(e) => Some(Err(e.into())),
                Ok(r) if r.body_is_null() && r.code() == 0 => None,
                Ok(r) => Some(check_code(r)),
            },
        };
        if !matches!(item, Some(Ok(_))) {
            this.done = true;
        }
        Poll::Ready(item)
    }
}
