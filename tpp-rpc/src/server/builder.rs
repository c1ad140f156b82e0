//! [`ServerBuilder`]: authentication, TLS, limits and binding the listener.
#[cfg(feature = "proxy-protocol")]
use std::net::IpAddr;
#[cfg(unix)]
use std::path::Path;
#[cfg(feature = "tls")]
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, ToSocketAddrs};
use tokio::sync::Semaphore;
#[cfg(feature = "tls")]
use tokio_rustls::rustls::ServerConfig;
use tokio_util::sync::CancellationToken;

use super::accept::Admission;
use super::listener::{Listener, NO_ADDR};
use super::{
    auth_guard::FailureLimiter, health::HealthCheck, metrics::ServerMetrics, proxy::ProxyProtocol,
    Handler, Layer, Limits, Server, Shared,
};
#[cfg(feature = "bcrypt")]
use crate::server::auth::BcryptToken;
use crate::server::auth::{Authenticator, PlainToken};
use crate::server::ServerError;
#[cfg(feature = "tls")]
use crate::transport::tls::{server_config_from_pem_files_with_client_auth, ClientAuth};
#[cfg(feature = "tls")]
use crate::transport::Acceptor;
use crate::transport::InProcess;

pub(super) enum Tls {
    None,
    #[cfg(feature = "tls")]
    Config(Arc<ServerConfig>),
    #[cfg(feature = "tls")]
    PemFiles(PathBuf, PathBuf),
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
            health_action: None,
            #[cfg(feature = "proxy-protocol")]
            proxy_trusted: None,
            reuse_port: false,
            #[cfg(unix)]
            unix_mode: None,
            #[cfg(feature = "tls")]
            client_auth: None,
            layers: Vec::new(),
            #[cfg(feature = "metrics")]
            metrics: false,
        }
    }
}

/// Configures and binds a [`Server`]: authentication, TLS, limits.
///
/// ```
/// use std::time::Duration;
/// use tpp_rpc::{Connection, Handler, Server};
///
/// struct Echo;
/// impl Handler for Echo {
///     async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
///         let body: serde_json::Value = conn.body()?;
///         conn.send_result(&body).await // {"code": 0, "body": {"<action>": body}}
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = Server::builder()
///     .token("s3cret")                       // or .token_hash("$2b$12$…"), .auth(…)
///     .read_timeout(Duration::from_secs(10)) // a silent peer is closed after this
///     .max_connections(1000)
///     .bind("127.0.0.1:0")                   // port 0: any free port
///     .await?;
/// let port = server.local_addr().port();
/// let shutdown = server.shutdown_handle();
/// let serving = tokio::spawn(server.serve(Echo));
///
/// let client = tpp_rpc::Client::builder("127.0.0.1", port).token("s3cret").build()?;
/// let answer: serde_json::Value = client.request2server("echo", &[1, 2]).await?;
/// assert_eq!(answer, serde_json::json!([1, 2]));
///
/// shutdown.shutdown(); // graceful: answers what was received, then `serve` returns
/// serving.await??;
/// # Ok(()) }
/// ```
pub struct ServerBuilder {
    pub(super) auth: Option<Arc<dyn Authenticator>>,
    pub(super) config_error: Option<String>,
    pub(super) backlog: u32,
    pub(super) tls: Tls,
    pub(super) limits: Limits,
    pub(super) health_action: Option<String>,
    #[cfg(feature = "proxy-protocol")]
    pub(super) proxy_trusted: Option<Vec<IpAddr>>,
    pub(super) reuse_port: bool,
    #[cfg(unix)]
    pub(super) unix_mode: Option<u32>,
    #[cfg(feature = "tls")]
    pub(super) client_auth: Option<ClientAuth>,
    pub(super) layers: Vec<Arc<dyn Layer>>,
    #[cfg(feature = "metrics")]
    pub(super) metrics: bool,
}

impl ServerBuilder {
    /// Authenticates with a bcrypt hash, as toxiccore's `encrypted_token`.
    /// A malformed hash is reported by [`bind`](Self::bind).
    #[cfg(feature = "bcrypt")]
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
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: Arc<ServerConfig>) -> Self {
        self.tls = Tls::Config(config);
        self
    }

    /// Serves TLS with a PEM certificate chain and key, read by [`bind`](Self::bind).
    #[cfg(feature = "tls")]
    pub fn tls_pem_files(
        mut self,
        cert_file: impl Into<PathBuf>,
        key_file: impl Into<PathBuf>,
    ) -> Self {
        self.tls = Tls::PemFiles(cert_file.into(), key_file.into());
        self
    }

    /// Asks clients for a certificate (mutual TLS), verified against the
    /// client CA of `auth`: required or optional. Needs the certificate and
    /// key of [`tls_pem_files`](Self::tls_pem_files) (with [`tls`](Self::tls),
    /// build the config with
    /// [`server_config_with_client_auth`](crate::tls::server_config_with_client_auth)
    /// instead). A client refused in the handshake (no certificate, another
    /// CA, expired) gets the TLS alert naming why; the server logs it at
    /// `debug`.
    ///
    /// The verified certificate is in [`Context::peer_certificate`](super::Context::peer_certificate),
    /// and its [name](crate::tls::PeerCertificate::name) becomes the caller's
    /// [`Identity`](crate::Identity) when the authenticator names no one
    /// (a shared token): layers authorize by it as by any identity. The
    /// token is still checked: a server requires both a certificate and a
    /// token, or, with an authenticator that accepts any token (e.g.
    /// `FnAuth(|_: &str| true)`), the certificate alone.
    #[cfg(feature = "tls")]
    pub fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.client_auth = Some(auth);
        self
    }

    /// The permissions of the socket file [`bind_unix`](Self::bind_unix)
    /// creates (e.g. `0o660`: owner and group may connect); default: what
    /// the process's umask leaves.
    #[cfg(unix)]
    pub fn unix_socket_mode(mut self, mode: u32) -> Self {
        self.unix_mode = Some(mode);
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

    /// See [`Limits::request_memory`].
    pub fn request_memory(mut self, bytes: usize) -> Self {
        self.limits.request_memory = bytes;
        self
    }

    /// See [`Limits::max_answer_size`].
    pub fn max_answer_size(mut self, bytes: usize) -> Self {
        self.limits.max_answer_size = bytes;
        self
    }

    /// See [`Limits::max_connections`].
    pub fn max_connections(mut self, n: usize) -> Self {
        self.limits.max_connections = n;
        self
    }

    /// See [`Limits::first_request_timeout`].
    pub fn first_request_timeout(mut self, d: Duration) -> Self {
        self.limits.first_request_timeout = d;
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

    /// See [`Limits::auth_failures`] and [`Limits::auth_failure_interval`].
    pub fn auth_failure_limit(mut self, burst: u32, interval: Duration) -> Self {
        self.limits.auth_failures = burst;
        self.limits.auth_failure_interval = interval;
        self
    }

    /// See [`Limits::shutdown_delay`].
    pub fn shutdown_delay(mut self, d: Duration) -> Self {
        self.limits.shutdown_delay = d;
        self
    }

    /// Answers the health action [`DEFAULT_HEALTH_ACTION`](super::DEFAULT_HEALTH_ACTION)
    /// (`healthcheck`) without a token: see [`health_check_action`](Self::health_check_action).
    pub fn health_check(self) -> Self {
        self.health_check_action(super::DEFAULT_HEALTH_ACTION)
    }

    /// Answers `action` before the token check, for load balancers and
    /// orchestrators: `{"code": 0, "body": {"<action>": "ok"}}` while serving,
    /// `{"code": 1, "body": {"error": "shutting down"}}` from the moment
    /// shutdown starts (see [`Limits::shutdown_delay`]). The connection is
    /// closed after the answer. Off by default.
    pub fn health_check_action(mut self, action: impl Into<String>) -> Self {
        self.health_action = Some(action.into());
        self
    }

    /// Expects a PROXY protocol header (v1 or v2, as HAProxy's `send-proxy`
    /// / `send-proxy-v2` write it) from every connection coming from one of
    /// the `trusted` addresses, and serves it as the client the header names
    /// ([`Context::peer_addr`](super::Context::peer_addr), logs). A trusted
    /// peer without a header, and a header from any other address, are
    /// refused (logged at `warn`, connection closed); other peers without a
    /// header are served as usual. Headers longer than
    /// [`MAX_PROXY_HEADER`](super::MAX_PROXY_HEADER) bytes are refused before
    /// they are read.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tpp_rpc::ServerError> {
    /// let server = tpp_rpc::Server::builder()
    ///     .token("s3cret")
    ///     .proxy_protocol(["127.0.0.1".parse().unwrap()]) // where HAProxy connects from
    ///     .health_check()
    ///     .bind("127.0.0.1:7777")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "proxy-protocol")]
    pub fn proxy_protocol(mut self, trusted: impl IntoIterator<Item = IpAddr>) -> Self {
        self.proxy_trusted = Some(trusted.into_iter().collect());
        self
    }

    /// Sets `SO_REUSEPORT` on the listening socket (Unix; default off), so a
    /// new process can bind the same address beside the old one for a
    /// handoff on one host; the kernel spreads new connections over both
    /// until the old one stops accepting.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// Adds a [`Layer`] around every request. Layers run in the order they
    /// are added: the first one added is the outermost.
    pub fn layer(mut self, layer: impl Layer) -> Self {
        self.layers.push(Arc::new(layer));
        self
    }

    /// Records metrics through the `metrics` facade (default off: then
    /// nothing is recorded and nothing is paid). Install the recorder (e.g.
    /// `metrics-exporter-prometheus`) before [`bind`](Self::bind): the
    /// server registers its handles there.
    ///
    /// | metric | kind | labels |
    /// |---|---|---|
    /// | `tpp_requests_total` | counter | `action`, `code` (the last code sent; `none` if nothing was) |
    /// | `tpp_request_duration_seconds` | histogram | `action` |
    /// | `tpp_requests_in_flight` | gauge | |
    /// | `tpp_stream_items_sent_total` | counter | `action` |
    /// | `tpp_connections_open` | gauge | |
    /// | `tpp_connections_accepted_total` | counter | |
    /// | `tpp_connections_refused_total` | counter | (connection limit reached) |
    /// | `tpp_auth_failures_total` | counter | `reason`: `missing`, `refused` |
    /// | `tpp_auth_checks_total` | counter | `cache`: `hit` (decided at once: a bcrypt cache hit, a plain token), `miss` (waited: a bcrypt verification) |
    /// | `tpp_frame_errors_total` | counter | `kind`: `framing`, `bad_data`, `truncated`, `io`, `over_budget` (refused: the request memory budget was full) |
    ///
    /// Requests for actions the service does not have are labelled
    /// `action="<unknown>"`, so peers cannot create series at will.
    #[cfg(feature = "metrics")]
    pub fn metrics(mut self, on: bool) -> Self {
        self.metrics = on;
        self
    }

    /// Binds the listening socket (port 0 picks a free port; see
    /// [`Server::local_addr`]). Fails on an unusable configuration.
    pub async fn bind(self, addr: impl ToSocketAddrs) -> Result<Server, ServerError> {
        let (backlog, reuse_port) = (self.backlog, self.reuse_port);
        let shared = self.into_shared()?;
        let listener = listen(addr, backlog, reuse_port).await?;
        server(Listener::Tcp(listener), shared)
    }

    /// Binds a Unix domain socket at `path`, served with the same limits,
    /// layers and shutdown order as TCP (see
    /// [`unix_socket_mode`](Self::unix_socket_mode) for its permissions). A
    /// file already at `path` is replaced only if it is a socket nobody
    /// accepts on (left by a server that crashed); a live socket or another
    /// kind of file is an error. The file is removed when the server stops.
    /// Peers have no address: [`Context::peer_addr`](super::Context::peer_addr)
    /// is `0.0.0.0:0`, and PROXY protocol headers are not expected.
    #[cfg(unix)]
    pub async fn bind_unix(self, path: impl AsRef<Path>) -> Result<Server, ServerError> {
        let (backlog, mode) = (self.backlog, self.unix_mode);
        let shared = self.into_shared()?;
        let listener = super::listener::bind_unix(path.as_ref(), backlog, mode)?;
        server(listener, shared)
    }

    /// Serves `handler` inside this process, with no socket: clients made by
    /// [`Client::builder_in_process`](crate::Client::builder_in_process)
    /// reach it through the real pipeline (authenticator, layers, limits,
    /// keep-alive; TLS too, if configured) over in-memory duplexes. The way
    /// to test a service:
    ///
    /// ```
    /// #[tpp_rpc::toxic_service]
    /// pub trait Greeter {
    ///     async fn hello(&self, name: String) -> Result<String, tpp_rpc::ActionError>;
    /// }
    /// struct Impl;
    /// impl Greeter for Impl {
    ///     async fn hello(&self, name: String) -> Result<String, tpp_rpc::ActionError> {
    ///         Ok(format!("hello, {name}"))
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use tpp_rpc::{Client, Server};
    /// let client = GreeterClient::new(Client::builder_in_process(&Server::builder().token("t").in_process(GreeterServer::new(Impl))?).token("t").build()?);
    /// assert_eq!(client.hello("ana").await?, "hello, ana");
    /// # Ok(()) }
    /// ```
    pub fn in_process(self, handler: impl Handler) -> Result<InProcess, ServerError> {
        let shared = Arc::new(self.into_shared()?);
        let connections = Arc::new(Semaphore::new(shared.limits.max_connections));
        let admission = Admission::new(Arc::new(handler), shared, connections);
        Ok(InProcess::new(move |socket| {
            admission.admit(socket, NO_ADDR)
        }))
    }

    /// Serves on a listening socket made elsewhere: one inherited from a
    /// parent process or systemd socket activation (e.g. with the `listenfd`
    /// crate), or shared with another server for a handoff: a new server on
    /// a clone of the socket (`try_clone`) takes over while the old one shuts
    /// down, and since the socket itself is never closed, no connection is
    /// refused or reset. [`backlog`](Self::backlog) and
    /// [`reuse_port`](Self::reuse_port) do not apply. Call it inside a Tokio
    /// runtime.
    pub async fn bind_listener(
        self,
        listener: std::net::TcpListener,
    ) -> Result<Server, ServerError> {
        let shared = self.into_shared()?;
        listener.set_nonblocking(true)?;
        server(Listener::Tcp(TcpListener::from_std(listener)?), shared)
    }

    /// Checks the configuration and builds what connections share.
    fn into_shared(self) -> Result<Shared, ServerError> {
        if let Some(e) = self.config_error {
            return Err(ServerError::Config(e));
        }
        let auth = self.auth.ok_or_else(|| {
            ServerError::Config(
                "no authenticator: call token_hash(), token() or auth() on the builder".into(),
            )
        })?;
        let limits = self.limits.checked()?;
        #[cfg(feature = "tls")]
        if self.client_auth.is_some() && !matches!(self.tls, Tls::PemFiles(..)) {
            return Err(ServerError::Config(
                "client_auth needs tls_pem_files (with tls(config), build the config with \
                 tls::server_config_with_client_auth)"
                    .into(),
            ));
        }
        let tls = match self.tls {
            Tls::None => None,
            #[cfg(feature = "tls")]
            Tls::Config(c) => Some(Acceptor::new(c)),
            #[cfg(feature = "tls")]
            Tls::PemFiles(cert, key) => Some(Acceptor::new(
                server_config_from_pem_files_with_client_auth(cert, key, self.client_auth.as_ref())
                    .map_err(|e| ServerError::Config(e.0))?,
            )),
        };
        Ok(Shared {
            auth,
            tls,
            failures: FailureLimiter::new(&limits),
            budget: (limits.request_memory != usize::MAX)
                .then(|| crate::wire::budget::RequestBudget::new(limits.request_memory)),
            limits: Arc::new(limits),
            health: self.health_action.map(HealthCheck::new),
            draining: CancellationToken::new(),
            draining_now: std::sync::atomic::AtomicBool::new(false),
            closing_now: std::sync::atomic::AtomicBool::new(false),
            #[cfg(feature = "proxy-protocol")]
            proxy: self.proxy_trusted.map(ProxyProtocol::new),
            #[cfg(not(feature = "proxy-protocol"))]
            proxy: None::<ProxyProtocol>,
            layers: self.layers.into(),
            #[cfg(feature = "metrics")]
            metrics: self.metrics.then(ServerMetrics::register),
            #[cfg(not(feature = "metrics"))]
            metrics: None::<ServerMetrics>,
        })
    }
}

fn server(listener: Listener, shared: Shared) -> Result<Server, ServerError> {
    Ok(Server {
        local_addr: match &listener {
            Listener::Tcp(l) => l.local_addr()?,
            #[cfg(unix)]
            Listener::Unix(..) => NO_ADDR,
        },
        listener,
        connections: Arc::new(Semaphore::new(shared.limits.max_connections)),
        shared: Arc::new(shared),
        shutdown: CancellationToken::new(),
    })
}

/// Binds the first address of `addr` that works, with `backlog` (and
/// `SO_REUSEPORT` if asked).
async fn listen(
    addr: impl ToSocketAddrs,
    backlog: u32,
    reuse_port: bool,
) -> std::io::Result<TcpListener> {
    let mut last_error = None;
    for candidate in tokio::net::lookup_host(addr).await? {
        let socket = if candidate.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        #[cfg(unix)]
        if reuse_port {
            socket.set_reuseport(true)?;
        }
        #[cfg(not(unix))]
        let _ = reuse_port; // no SO_REUSEPORT: ignored
        match socket.bind(candidate).and_then(|()| socket.listen(backlog)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address to bind")
    }))
}
