//! [`ServerBuilder`]: authentication, TLS, limits and binding the listener.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, ToSocketAddrs};
use tokio::sync::Semaphore;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::{metrics::ServerMetrics, Layer, Limits, Server, Shared};
use crate::auth::{Authenticator, BcryptToken, PlainToken};
use crate::error::Error;
use crate::tls::server_config_from_pem_files;

pub(super) enum Tls {
    None,
    Config(Arc<ServerConfig>),
    PemFiles(PathBuf, PathBuf),
}

/// Configures and binds a [`Server`].
pub struct ServerBuilder {
    pub(super) auth: Option<Arc<dyn Authenticator>>,
    pub(super) config_error: Option<String>,
    pub(super) backlog: u32,
    pub(super) tls: Tls,
    pub(super) limits: Limits,
    pub(super) layers: Vec<Arc<dyn Layer>>,
    pub(super) metrics: bool,
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
    /// | `tpp_frame_errors_total` | counter | `kind`: `framing`, `bad_data`, `truncated`, `io` |
    ///
    /// Requests for actions the service does not have are labelled
    /// `action="<unknown>"`, so peers cannot create series at will.
    pub fn metrics(mut self, on: bool) -> Self {
        self.metrics = on;
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
                layers: self.layers.into(),
                metrics: self.metrics.then(ServerMetrics::register),
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
