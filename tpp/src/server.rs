//! The server: accept loop, per-connection task, limits, graceful shutdown.
//!
//! One request goes through the layers in this order, each failure answered
//! as the reference answers it and the connection then closed:
//! frame → envelope (bad data, code 1) → token (code 2/3) → action (code 1)
//! → your [`Handler`].

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use futures_util::{FutureExt, StreamExt};
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream, ToSocketAddrs};
use tokio::sync::Semaphore;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::FramedRead;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::auth::{Authenticator, BcryptToken, PlainToken};
use crate::error::Error;
use crate::frame::{
    header_at_end, put_header, FrameCodec, FrameError, DEFAULT_MAX_FRAME_SIZE, HEADER_ROOM,
    READ_BUFFER,
};
use crate::message::{
    append_response, append_result, write_response, ActionField, BadData, ErrorBody, Request,
    TokenField,
};
use crate::tls::server_config_from_pem_files;
use crate::transport::Stream;

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
/// use tpp::{Connection, Handler};
///
/// struct Echo;
///
/// impl Handler for Echo {
///     async fn handle(&self, conn: &mut Connection) -> Result<(), tpp::Error> {
///         match conn.action() {
///             "echo" => {
///                 // A cheap clone (the frame is shared) so the body can be
///                 // borrowed while the connection sends.
///                 let request = conn.request().clone();
///                 conn.send_result(request.body_raw()?).await
///             }
///             _ => tpp::service::answer_unknown_action(conn).await,
///         }
///     }
/// }
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Handles the request in `conn`.
    fn handle(&self, conn: &mut Connection) -> impl Future<Output = Result<(), Error>> + Send;
}

impl<H: Handler> Handler for Arc<H> {
    fn handle(&self, conn: &mut Connection) -> impl Future<Output = Result<(), Error>> + Send {
        (**self).handle(conn)
    }
}

/// What a handler may know of its request: action, extra fields, peer.
#[derive(Debug, Clone)]
pub struct Context {
    request: Request,
    peer_addr: SocketAddr,
    secure: bool,
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
    /// Serve further requests on a connection after a unary response
    /// (default true). Python clients never send one, so they cannot tell.
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
        }
    }
}

/// The authenticated request being handled, and the connection it came on.
pub struct Connection {
    io: FramedRead<Stream, FrameCodec>,
    ctx: Context,
    scratch: Vec<u8>,
    sent: usize,
    first_code: Option<i64>,
    keep_open: bool,
    limits: Arc<Limits>,
    shutdown: CancellationToken,
}

impl Connection {
    /// The request's context (action, extra fields, peer).
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The requested action.
    pub fn action(&self) -> &str {
        self.ctx.action()
    }

    /// The whole request.
    pub fn request(&self) -> &Request {
        &self.ctx.request
    }

    /// The raw JSON text of the request's `body` (`"null"` when absent).
    pub fn body_json(&self) -> &str {
        self.ctx.request.body_json()
    }

    /// Deserializes the body into `T`.
    pub fn body<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        Ok(self.ctx.request.body()?)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.ctx.peer_addr
    }

    /// How many responses were sent for this request so far.
    pub fn responses_sent(&self) -> usize {
        self.sent
    }

    /// Resolves when the server starts shutting down: long streams should end.
    pub fn shutdown_signal(&self) -> impl Future<Output = ()> + Send + 'static {
        self.shutdown.clone().cancelled_owned()
    }

    /// Whether the server is shutting down.
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// Sends `{"code": code, "body": body}`.
    pub async fn send_response<B: Serialize + ?Sized>(
        &mut self,
        code: i64,
        body: &B,
    ) -> Result<(), Error> {
        start_frame(&mut self.scratch);
        append_response(&mut self.scratch, code, body)?;
        self.send_scratch(code).await
    }

    /// Sends `{"code": 0, "body": {"<action>": value}}`, the shape toxiccore's
    /// `request2server` unwraps.
    pub async fn send_result<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let action = self.ctx.request.action().unwrap_or_default();
        start_frame(&mut self.scratch);
        append_result(&mut self.scratch, action, value)?;
        self.send_scratch(0).await
    }

    async fn send_scratch(&mut self, code: i64) -> Result<(), Error> {
        self.first_code.get_or_insert(code);
        self.sent += 1;
        let frame = finish_frame(&mut self.scratch);
        let write = async {
            let stream = self.io.get_mut();
            stream.write_all(frame).await?;
            stream.flush().await?;
            Ok(())
        };
        let mut write = std::pin::pin!(write);
        // Most responses fit in the socket's send buffer and leave on the
        // first poll: only a write that has to wait pays for a timer.
        let first = std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await;
        if let Poll::Ready(result) = first {
            return result;
        }
        match tokio::time::timeout(self.limits.write_timeout, write).await {
            Ok(result) => result,
            Err(_) => {
                self.keep_open = false;
                Err(Error::Timeout)
            }
        }
    }

    /// Sends `{"code": code, "body": {"error": message}}`.
    pub async fn send_error(&mut self, code: i64, message: &str) -> Result<(), Error> {
        self.send_response(code, &ErrorBody { error: message })
            .await
    }

    /// Reads the peer's next message on this connection, if it sends one
    /// (`None` when it closes). Bounded by [`Limits::read_timeout`].
    pub async fn read_message(&mut self) -> Result<Option<Bytes>, Error> {
        match tokio::time::timeout(self.limits.read_timeout, self.io.next()).await {
            Err(_) => Err(Error::Timeout),
            Ok(None) => Ok(None),
            Ok(Some(frame)) => Ok(Some(frame?)),
        }
    }

    /// Closes the connection after this request instead of keeping it alive.
    pub fn close(&mut self) {
        self.keep_open = false;
    }

    /// Resolves when the peer closes or resets the connection (used while
    /// streaming, when the client has nothing more to send). Messages the
    /// peer sends meanwhile are read and dropped.
    pub async fn peer_gone(&mut self) -> &'static str {
        loop {
            match self.io.next().await {
                None => return "closed",
                Some(Err(FrameError::Io(_))) => return "reset",
                Some(Err(_)) => return "broke the framing",
                Some(Ok(_)) => continue,
            }
        }
    }
}

/// Empties `buf` and reserves the header room. A new connection's buffer
/// starts with room for a small response, so the serializer does not grow it
/// from a few bytes by doubling.
fn start_frame(buf: &mut Vec<u8>) {
    buf.clear();
    buf.reserve(HEADER_ROOM + SMALL_RESPONSE);
    buf.resize(HEADER_ROOM, 0);
}

/// See [`start_frame`].
const SMALL_RESPONSE: usize = 256;

/// Writes the header of the payload that follows the header room; returns
/// the whole frame. (A response buffer starts with [`HEADER_ROOM`] bytes:
/// the payload is serialized after them, then the header is written right
/// before the payload, so a response leaves in one contiguous write.)
fn finish_frame(buf: &mut [u8]) -> &[u8] {
    let len = buf.len().saturating_sub(HEADER_ROOM);
    let start = match buf.first_chunk_mut::<HEADER_ROOM>() {
        Some(room) => header_at_end(room, len),
        None => 0, // never: start_frame reserved the room
    };
    &buf[start..]
}

/// Writes one frame straight from `payload`, without copying it into the
/// codec's buffer (vectored: header and payload in one system call).
async fn write_frame(io: &mut FramedRead<Stream, FrameCodec>, payload: &[u8]) -> Result<(), Error> {
    let mut header = bytes::BytesMut::with_capacity(24);
    put_header(&mut header, payload.len());
    let stream = io.get_mut();
    let mut chained = header.chain(payload);
    stream.write_all_buf(&mut chained).await?;
    stream.flush().await?;
    Ok(())
}

enum Tls {
    None,
    Config(Arc<ServerConfig>),
    PemFiles(PathBuf, PathBuf),
}

/// Configures and binds a [`Server`].
pub struct ServerBuilder {
    auth: Option<Arc<dyn Authenticator>>,
    config_error: Option<String>,
    backlog: u32,
    tls: Tls,
    limits: Limits,
}

impl ServerBuilder {
    /// Authenticates with a bcrypt hash, as toxiccore's `encrypted_token`.
    /// A malformed hash is reported by [`bind`](Self::bind).
    pub fn token_hash(mut self, hash: &str) -> Self {
        match BcryptToken::new(hash) {
            Ok(a) => self.auth = Some(Arc::new(a)),
            Err(e) => self.config_error = Some(e.to_string()),
        }
        self
    }

    /// Authenticates with a plain shared token (constant-time comparison).
    pub fn token(mut self, token: &str) -> Self {
        self.auth = Some(Arc::new(PlainToken::new(token)));
        self
    }

    /// Authenticates with any [`Authenticator`].
    pub fn auth(mut self, auth: impl Authenticator) -> Self {
        self.auth = Some(Arc::new(auth));
        self
    }

    /// Serves TLS with a rustls config.
    pub fn tls(mut self, config: Arc<ServerConfig>) -> Self {
        self.tls = Tls::Config(config);
        self
    }

    /// Serves TLS with a PEM certificate chain and key, read by [`bind`](Self::bind).
    pub fn tls_pem_files(
        mut self,
        cert_file: impl Into<PathBuf>,
        key_file: impl Into<PathBuf>,
    ) -> Self {
        self.tls = Tls::PemFiles(cert_file.into(), key_file.into());
        self
    }

    /// The listen backlog: connections the kernel queues before they are
    /// accepted (default 4096, capped by the system's `somaxconn`).
    pub fn backlog(mut self, n: u32) -> Self {
        self.backlog = n;
        self
    }

    /// Replaces every limit at once.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// See [`Limits::max_frame_size`].
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.limits.max_frame_size = bytes;
        self
    }

    /// See [`Limits::max_connections`].
    pub fn max_connections(mut self, n: usize) -> Self {
        self.limits.max_connections = n;
        self
    }

    /// See [`Limits::read_timeout`].
    pub fn read_timeout(mut self, d: Duration) -> Self {
        self.limits.read_timeout = d;
        self
    }

    /// See [`Limits::write_timeout`].
    pub fn write_timeout(mut self, d: Duration) -> Self {
        self.limits.write_timeout = d;
        self
    }

    /// See [`Limits::keep_alive`].
    pub fn keep_alive(mut self, on: bool) -> Self {
        self.limits.keep_alive = on;
        self
    }

    /// See [`Limits::idle_timeout`].
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.limits.idle_timeout = d;
        self
    }

    /// See [`Limits::handler_timeout`].
    pub fn handler_timeout(mut self, d: Duration) -> Self {
        self.limits.handler_timeout = Some(d);
        self
    }

    /// See [`Limits::shutdown_grace`].
    pub fn shutdown_grace(mut self, d: Duration) -> Self {
        self.limits.shutdown_grace = d;
        self
    }

    /// Binds the listening socket (port 0 picks a free port; see
    /// [`Server::local_addr`]). Fails on an unusable configuration.
    pub async fn bind(self, addr: impl ToSocketAddrs) -> Result<Server, Error> {
        if let Some(e) = self.config_error {
            return Err(Error::Config(e));
        }
        let auth = self.auth.ok_or_else(|| {
            Error::Config(
                "no authenticator: call token_hash(), token() or auth() on the builder".into(),
            )
        })?;
        let tls = match self.tls {
            Tls::None => None,
            Tls::Config(c) => Some(TlsAcceptor::from(c)),
            Tls::PemFiles(cert, key) => Some(TlsAcceptor::from(
                server_config_from_pem_files(cert, key).map_err(|e| Error::Config(e.0))?,
            )),
        };
        let listener = listen(addr, self.backlog).await?;
        let local_addr = listener.local_addr()?;
        Ok(Server {
            listener,
            local_addr,
            shared: Arc::new(Shared {
                auth,
                tls,
                limits: Arc::new(self.limits.clone()),
            }),
            connections: Arc::new(Semaphore::new(self.limits.max_connections)),
            shutdown: CancellationToken::new(),
        })
    }
}

/// Binds the first address of `addr` that works, with `backlog`.
async fn listen(addr: impl ToSocketAddrs, backlog: u32) -> std::io::Result<TcpListener> {
    let mut last_error = None;
    for candidate in tokio::net::lookup_host(addr).await? {
        let socket = if candidate.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        match socket.bind(candidate).and_then(|()| socket.listen(backlog)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address to bind")
    }))
}

struct Shared {
    auth: Arc<dyn Authenticator>,
    tls: Option<TlsAcceptor>,
    limits: Arc<Limits>,
}

/// A bound TPP server. Start it with [`serve`](Self::serve).
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    connections: Arc<Semaphore>,
    shutdown: CancellationToken,
}

/// Stops a running server gracefully: it stops accepting, lets in-flight
/// requests finish (up to [`Limits::shutdown_grace`]), then `serve` returns.
#[derive(Debug, Clone)]
pub struct ShutdownHandle(CancellationToken);

impl ShutdownHandle {
    /// Starts the shutdown.
    pub fn shutdown(&self) {
        self.0.cancel();
    }
}

impl Server {
    /// A builder with default [`Limits`], no TLS and no authenticator yet.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            auth: None,
            config_error: None,
            backlog: 4096,
            tls: Tls::None,
            limits: Limits::default(),
        }
    }

    /// The address the server listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle that stops the server from another task.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.shutdown.clone())
    }

    /// Serves until the shutdown handle is used.
    pub async fn serve(self, handler: impl Handler) -> Result<(), Error> {
        self.serve_with_shutdown(handler, std::future::pending())
            .await
    }

    /// Serves until `signal` resolves (e.g. `tokio::signal::ctrl_c()`) or the
    /// shutdown handle is used, then shuts down gracefully.
    pub async fn serve_with_shutdown(
        self,
        handler: impl Handler,
        signal: impl Future<Output = ()> + Send,
    ) -> Result<(), Error> {
        let handler = Arc::new(handler);
        let tracker = TaskTracker::new();
        let busy_answers = Arc::new(Semaphore::new(64));
        // Cancelled when the shutdown grace period is over: drops what is left.
        let force_close = CancellationToken::new();
        let scheme = if self.shared.tls.is_some() {
            "tls"
        } else {
            "tcp"
        };
        info!(addr = %self.local_addr, scheme, "tpp server listening");
        let mut signal = std::pin::pin!(signal);
        loop {
            let accepted = tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => break,
                _ = &mut signal => break,
                accepted = self.listener.accept() => accepted,
            };
            let (tcp, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let Ok(permit) = self.connections.clone().try_acquire_owned() else {
                warn!(%peer, "connection limit reached; answering busy");
                if let Ok(p) = busy_answers.clone().try_acquire_owned() {
                    let shared = self.shared.clone();
                    tracker.spawn(async move {
                        answer_busy(tcp, &shared).await;
                        drop(p);
                    });
                }
                continue;
            };
            let shared = self.shared.clone();
            let handler = handler.clone();
            let shutdown = self.shutdown.clone();
            let force = force_close.clone();
            tracker.spawn(async move {
                // Boxed: the task's own future stays a few words, so spawning
                // does not copy the whole connection state (Connection, the
                // handler's future) from the stack into the task.
                let connection = Box::pin(serve_connection(tcp, peer, shared, handler, shutdown));
                tokio::select! {
                    _ = connection => {}
                    _ = force.cancelled() => debug!(%peer, "connection dropped after the grace period"),
                }
                drop(permit);
            });
        }
        self.shutdown.cancel();
        drop(self.listener);
        tracker.close();
        info!(in_flight = tracker.len(), "tpp server shutting down");
        if tokio::time::timeout(self.shared.limits.shutdown_grace, tracker.wait())
            .await
            .is_err()
        {
            warn!(
                remaining = tracker.len(),
                "shutdown grace period over; dropping connections"
            );
            force_close.cancel();
            tracker.wait().await;
        }
        info!("tpp server stopped");
        Ok(())
    }
}

async fn answer_busy(tcp: TcpStream, shared: &Shared) {
    let limits = &shared.limits;
    let work = async {
        let stream = match &shared.tls {
            None => Stream::Tcp(tcp),
            Some(acceptor) => Stream::Tls(Box::new(acceptor.accept(tcp).await.ok()?.into())),
        };
        let mut io =
            FramedRead::with_capacity(stream, FrameCodec::new(limits.max_frame_size), READ_BUFFER);
        let mut out = Vec::new();
        write_response(
            &mut out,
            1,
            &ErrorBody {
                error: "Server busy",
            },
        )
        .ok()?;
        write_frame(&mut io, &out).await.ok()?;
        io.get_mut().shutdown().await.ok()
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), work).await;
}

/// Sends an error to a peer that broke the protocol, then lets the caller close.
async fn answer_and_close(
    io: &mut FramedRead<Stream, FrameCodec>,
    code: i64,
    body: &impl Serialize,
    limits: &Limits,
) {
    let mut out = Vec::new();
    if write_response(&mut out, code, body).is_ok() {
        let _ = tokio::time::timeout(limits.write_timeout, write_frame(io, &out)).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), io.get_mut().shutdown()).await;
}

enum Next {
    Frame(Bytes),
    Close,
}

/// How much earlier than asked a read or idle timeout may fire: see
/// [`next_frame`].
const TIMER_SLACK: Duration = Duration::from_millis(5);

/// At shutdown, how long a connection may still take to deliver the request
/// it is sending (or has sent but the server has not read yet).
const SHUTDOWN_READ_GRACE: Duration = Duration::from_secs(1);

async fn next_frame(
    io: &mut FramedRead<Stream, FrameCodec>,
    wait: Duration,
    between_requests: bool,
    timer: Pin<&mut tokio::time::Sleep>,
    cancelled: Pin<&mut WaitForCancellationFutureOwned>,
    peer: SocketAddr,
    limits: &Limits,
) -> Next {
    // A kept-alive connection with nothing buffered is idle: close it at once
    // on shutdown. Otherwise a request may be on its way: give it a moment.
    let idle = between_requests && io.read_buffer().is_empty() && io.decoder().is_idle();
    let deadline = tokio::time::Instant::now() + wait;
    // The connection's one timer, moved to the new deadline. Requests on a
    // busy connection come much faster than TIMER_SLACK, so most of them keep
    // the deadline set a moment ago (at most TIMER_SLACK early) instead of
    // touching the timer wheel every time.
    let mut timer = timer;
    let current = timer.deadline();
    if deadline < current || deadline > current + TIMER_SLACK {
        timer.as_mut().reset(deadline);
    }
    let mut cancelled = cancelled;
    let result = {
        let next = io.next();
        tokio::pin!(next);
        let mut draining = false;
        loop {
            tokio::select! {
                biased;
                frame = &mut next => break Ok(frame),
                _ = timer.as_mut() => break Err(()),
                _ = cancelled.as_mut(), if !draining => {
                    if idle {
                        return Next::Close;
                    }
                    draining = true;
                    let soon = tokio::time::Instant::now() + SHUTDOWN_READ_GRACE;
                    timer.as_mut().reset(soon.min(deadline));
                }
            }
        }
    };
    match result {
        Err(_) => {
            debug!(%peer, "read timeout; closing");
            Next::Close
        }
        Ok(None) => Next::Close,
        Ok(Some(Ok(frame))) => Next::Frame(frame),
        Ok(Some(Err(e))) => {
            if e.is_answerable() {
                warn!(%peer, error = %e, "framing error");
                let msg = format!("Something wrong with your data: {e}");
                answer_and_close(io, 1, &ErrorBody { error: &msg }, limits).await;
            } else if let FrameError::Truncated { .. } = e {
                debug!(%peer, error = %e, "peer closed mid-message");
            } else {
                debug!(%peer, error = %e, "read error");
            }
            Next::Close
        }
    }
}

/// The outcome of the checks before the handler runs.
enum Checked {
    Ok(Request),
    Refused,
}

async fn check_request(
    io: &mut FramedRead<Stream, FrameCodec>,
    frame: Bytes,
    shared: &Shared,
    peer: SocketAddr,
) -> Checked {
    let limits = &shared.limits;
    let request = match Request::parse(frame) {
        Ok(r) => r,
        Err(e) => {
            warn!(%peer, error = %e, "bad data");
            let msg = match &e {
                BadData::Empty => "Something wrong with your data: empty message".to_owned(),
                e => format!("Something wrong with your data: {e}"),
            };
            answer_and_close(io, 1, &ErrorBody { error: &msg }, limits).await;
            return Checked::Refused;
        }
    };
    let verdict = match request.token_field() {
        TokenField::Missing => {
            warn!(%peer, "no auth token");
            answer_and_close(
                io,
                2,
                &ErrorBody {
                    error: "No auth token",
                },
                limits,
            )
            .await;
            return Checked::Refused;
        }
        TokenField::NotAString => false,
        TokenField::Present(token) => shared.auth.check(token).verdict().await,
    };
    if !verdict {
        warn!(%peer, "bad auth token");
        answer_and_close(
            io,
            3,
            &ErrorBody {
                error: "Bad auth token",
            },
            limits,
        )
        .await;
        return Checked::Refused;
    }
    match request.action_field() {
        ActionField::Present(_) => Checked::Ok(request),
        ActionField::Missing => {
            warn!(%peer, "no action");
            answer_and_close(
                io,
                1,
                &ErrorBody {
                    error: "No action found!",
                },
                limits,
            )
            .await;
            Checked::Refused
        }
        ActionField::NotAString => {
            warn!(%peer, "action is not a string");
            let msg = "Something wrong with your data: action must be a string";
            answer_and_close(io, 1, &ErrorBody { error: msg }, limits).await;
            Checked::Refused
        }
    }
}

async fn serve_connection<H: Handler>(
    tcp: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    handler: Arc<H>,
    shutdown: CancellationToken,
) {
    let limits = shared.limits.clone();
    let started = Instant::now();
    let stream = match &shared.tls {
        None => Stream::Tcp(tcp),
        Some(acceptor) => {
            match tokio::time::timeout(limits.read_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => Stream::Tls(Box::new(s.into())),
                Ok(Err(e)) => {
                    debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    debug!(%peer, "TLS handshake timed out");
                    return;
                }
            }
        }
    };
    let mut conn = Connection {
        io: FramedRead::with_capacity(stream, FrameCodec::new(limits.max_frame_size), READ_BUFFER),
        ctx: Context {
            request: Request::empty(),
            peer_addr: peer,
            secure: false,
        },
        scratch: Vec::new(),
        sent: 0,
        first_code: None,
        keep_open: true,
        limits: limits.clone(),
        shutdown: shutdown.clone(),
    };
    conn.ctx.secure = conn.io.get_ref().is_tls();
    let mut first = true;
    // One timer and one shutdown waiter for the whole connection, not one per request.
    let timer = tokio::time::sleep(limits.read_timeout);
    let cancelled = shutdown.clone().cancelled_owned();
    tokio::pin!(timer, cancelled);
    loop {
        // The first request gets the read timeout, later ones the idle timeout.
        let wait = if first {
            limits.read_timeout
        } else {
            limits.idle_timeout
        };
        let frame = match next_frame(
            &mut conn.io,
            wait,
            !first,
            timer.as_mut(),
            cancelled.as_mut(),
            peer,
            &limits,
        )
        .await
        {
            Next::Frame(f) => f,
            Next::Close => break,
        };
        // Timed only for the debug log.
        let request_started = tracing::enabled!(tracing::Level::DEBUG).then(Instant::now);
        conn.ctx.request = match check_request(&mut conn.io, frame, &shared, peer).await {
            Checked::Ok(r) => r,
            Checked::Refused => break,
        };
        first = false;
        conn.sent = 0;
        conn.first_code = None;
        let outcome = run_handler(&*handler, &mut conn, &limits).await;
        let c = &mut conn;
        let action = c.action();
        let elapsed = request_started.map(|t| t.elapsed()).unwrap_or_default();
        match outcome {
            Ok(()) if c.sent == 0 => {
                warn!(%peer, ?action, "handler returned without a response; closing");
                c.keep_open = false;
            }
            Ok(()) => {
                debug!(%peer, ?action, code = c.first_code, ?elapsed, "request served");
            }
            Err(failure) => {
                warn!(%peer, ?action, error = %failure, "handler failed");
                if c.sent == 0 {
                    let msg = failure.to_string();
                    let _ = c.send_error(1, &msg).await;
                }
                c.keep_open = false;
            }
        }
        let reusable = limits.keep_alive && c.keep_open && c.sent == 1 && !shutdown.is_cancelled();
        if !reusable {
            let _ = tokio::time::timeout(Duration::from_secs(1), c.io.get_mut().shutdown()).await;
            break;
        }
    }
    debug!(%peer, duration = ?started.elapsed(), "connection closed");
}

/// Why a handler call failed, as the client is told.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("{0}")]
    Handler(Error),
    #[error("internal error: the handler panicked")]
    Panicked,
    #[error("the action took too long")]
    TimedOut,
}

async fn run_handler<H: Handler>(
    handler: &H,
    conn: &mut Connection,
    limits: &Limits,
) -> Result<(), Failure> {
    let call = AssertUnwindSafe(handler.handle(conn)).catch_unwind();
    let result = match limits.handler_timeout {
        Some(d) => match tokio::time::timeout(d, call).await {
            Ok(r) => r,
            Err(_) => return Err(Failure::TimedOut),
        },
        None => call.await,
    };
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Failure::Handler(e)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            warn!(panic = %what, "handler panicked");
            Err(Failure::Panicked)
        }
    }
}
