//! [`ServerBuilder`]: authentication, TLS, limits and binding the listener.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, ToSocketAddrs};
use tokio::sync::Semaphore;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::{Limits, Server, Shared};
use crate::auth::{Authenticator, BcryptToken, PlainToken};
use crate::error::Error;
use crate::tls::server_config_from_pem_files;

pub(super) enum Tls {
    None,
    Config(Arc<ServerConfig>),
    PemFiles(PathBuf, PathBuf),
}

/// Configures and binds a [`Server`]: authentication, TLS, limits.
///
/// ```
/// use std::time::Duration;
/// use tpp::{Connection, Handler, Server};
///
/// struct Echo;
/// impl Handler for Echo {
///     async fn handle(&self, conn: &mut Connection) -> Result<(), tpp::Error> {
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
/// let client = tpp::Client::builder("127.0.0.1", port).token("s3cret").build()?;
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
