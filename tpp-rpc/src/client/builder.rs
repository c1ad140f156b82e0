//! [`ClientBuilder`]: token, TLS, timeouts, extra fields, the pool and
//! pipelining, several endpoints; [`ClientBuilder::build`] makes the
//! [`Client`].

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
#[cfg(feature = "tls")]
use tokio_rustls::rustls::ClientConfig;

use super::connect::Local;
use super::endpoints::{Endpoint, Endpoints};
use super::pipeline::Pipelines;
use super::pool::{Pool, PoolSettings};
use super::{
    Client, ClientError, EndpointSelection, Inner, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DOWN_BACKOFF,
    DEFAULT_TIMEOUT,
};
#[cfg(doc)]
use super::{DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_IDLE};
#[cfg(feature = "tls")]
use crate::transport::tls;
use crate::transport::{Connector, InProcess, TlsName};
use crate::wire::frame::DEFAULT_MAX_FRAME_SIZE;

/// How the client does TLS.
enum TlsMode {
    Off,
    #[cfg(feature = "tls")]
    SystemRoots,
    #[cfg(feature = "tls")]
    CaFile(std::path::PathBuf),
    #[cfg(feature = "tls")]
    Pinned(std::path::PathBuf),
    #[cfg(feature = "tls")]
    Insecure,
    #[cfg(feature = "tls")]
    Config(Arc<ClientConfig>),
}

impl TlsMode {
    /// The handshake to make on each connection, checking `name` by default.
    #[cfg(feature = "tls")]
    fn connector(
        self,
        name: &str,
        client_cert: Option<ClientCertFiles>,
    ) -> Result<Option<Connector>, ClientError> {
        let config = match self {
            TlsMode::Off => return Ok(None),
            TlsMode::SystemRoots => tls::client_config_system_roots()?,
            TlsMode::CaFile(path) => tls::client_config_with_ca_file(path)?,
            TlsMode::Pinned(path) => tls::client_config_pinned_file(path)?,
            TlsMode::Insecure => tls::client_config_insecure(),
            TlsMode::Config(c) => c,
        };
        let config = match client_cert {
            None => config,
            Some((cert, key)) => tls::with_client_cert_pem_files(&config, cert, key)?,
        };
        Ok(Some(Connector::new(config, tls::tls_name(name)?)))
    }

    #[cfg(not(feature = "tls"))]
    fn connector(
        self,
        _name: &str,
        _client_cert: Option<ClientCertFiles>,
    ) -> Result<Option<Connector>, ClientError> {
        Ok(None)
    }
}

/// A client certificate chain and its key, PEM files.
#[cfg(feature = "tls")]
type ClientCertFiles = (std::path::PathBuf, std::path::PathBuf);
#[cfg(not(feature = "tls"))]
type ClientCertFiles = std::convert::Infallible;

/// The name a further endpoint's certificate is checked against: its own host.
fn own_tls_name(host: &str) -> Option<TlsName> {
    #[cfg(feature = "tls")]
    return tls::tls_name(host).ok();
    #[cfg(not(feature = "tls"))]
    {
        let _ = host;
        None
    }
}

/// Configures a [`Client`]: token, TLS, timeouts, extra fields.
///
/// Over TLS, with a self-signed server certificate pinned (the CA-less way to
/// authenticate a server; see also [`tls_ca_file`](Self::tls_ca_file) and
/// [`tls`](Self::tls) for real CAs):
///
#[cfg_attr(feature = "tls", doc = "```")]
#[cfg_attr(not(feature = "tls"), doc = "```ignore")]
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
/// impl tpp_rpc::Handler for Hello {
///     async fn handle(&self, conn: &mut tpp_rpc::Connection) -> Result<(), tpp_rpc::Error> {
///         conn.send_result(&"hello").await
///     }
/// }
///
/// // `cert` and `key` are PEM files (here a fresh self-signed pair).
/// let server = tpp_rpc::Server::builder()
///     .token("s3cret")
///     .tls_pem_files(&cert, &key)
///     .bind("127.0.0.1:0")
///     .await?;
/// let port = server.local_addr().port();
/// tokio::spawn(server.serve(Hello));
///
/// let client = tpp_rpc::Client::builder("127.0.0.1", port)
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
    /// The server when it is not reached over TCP.
    local: Option<Local>,
    host: String,
    port: u16,
    tls: TlsMode,
    client_cert: Option<ClientCertFiles>,
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
    connect_timeout: Duration,
    write_timeout: Duration,
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
    /// # fn run() -> Result<(), tpp_rpc::ClientError> {
    /// let client = tpp_rpc::Client::builder("10.0.0.11", 7777)
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

    /// How long each resolved address of an endpoint may take to accept a
    /// TCP connection before the next address (or endpoint) is tried
    /// (default [`DEFAULT_CONNECT_TIMEOUT`], 5 s). The call's
    /// [`timeout`](Self::timeout) still bounds the whole call.
    pub fn connect_timeout(mut self, per_address: Duration) -> Self {
        self.connect_timeout = per_address;
        self
    }

    /// On [pipelined](Self::pipelined) connections, the longest the server
    /// may go without taking more of the requests written to it (default
    /// [`DEFAULT_WRITE_TIMEOUT`], 10 s). Past it the connection is given up:
    /// calls whose request was written whole fail with
    /// [`ClientError::Closed`] (they may have run), the others with
    /// [`ClientError::NotSent`], which are sent again on a new connection.
    /// Other calls are bounded by [`timeout`](Self::timeout).
    pub fn write_timeout(mut self, stall: Duration) -> Self {
        self.write_timeout = stall;
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
    #[cfg(feature = "tls")]
    pub fn tls(mut self) -> Self {
        self.tls = TlsMode::SystemRoots;
        self
    }

    /// Uses TLS and trusts only the CA certificates in this PEM file.
    #[cfg(feature = "tls")]
    pub fn tls_ca_file(mut self, pem_file: impl Into<std::path::PathBuf>) -> Self {
        self.tls = TlsMode::CaFile(pem_file.into());
        self
    }

    /// Uses TLS and accepts only a server whose certificate is one of those in
    /// this PEM file (certificate pinning): for self-signed servers, still
    /// authenticated. Name, validity period and issuer are not checked; see
    /// [`tls::client_config_pinned_file`].
    #[cfg(feature = "tls")]
    pub fn tls_pinned_cert_file(mut self, pem_file: impl Into<std::path::PathBuf>) -> Self {
        self.tls = TlsMode::Pinned(pem_file.into());
        self
    }

    /// Uses TLS without validating the certificate (self-signed servers;
    /// toxiccore's `validate_cert=False`). The traffic is encrypted but the
    /// server is not authenticated.
    #[cfg(feature = "tls")]
    pub fn tls_insecure(mut self) -> Self {
        self.tls = TlsMode::Insecure;
        self
    }

    /// Uses TLS with a rustls config of your own.
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: Arc<ClientConfig>) -> Self {
        self.tls = TlsMode::Config(config);
        self
    }

    /// Presents this client certificate chain (PEM, the client's own
    /// certificate first) and proves it holds the key (PEM) to servers that
    /// ask for one (mutual TLS). Read by [`build`](Self::build); combines
    /// with every TLS mode, including [`tls_config`](Self::tls_config).
    #[cfg(feature = "tls")]
    pub fn client_cert_pem_files(
        mut self,
        cert_file: impl Into<std::path::PathBuf>,
        key_file: impl Into<std::path::PathBuf>,
    ) -> Self {
        self.client_cert = Some((cert_file.into(), key_file.into()));
        self
    }

    /// The name to validate the certificate against (default: the host;
    /// `localhost` for a Unix socket or an in-process server).
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
    ///
    /// 0 counts as 1; `usize::MAX` means no bound.
    pub fn pool_max_open(mut self, connections: usize) -> Self {
        self.pool.max_open = Some(connections);
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
    /// Answers come in order (TPP has no request ids), so a slow call holds
    /// back the answers of every call behind it on its connection
    /// (head-of-line blocking). Pipeline many short calls of similar length;
    /// keep slow actions on a pooled client.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tpp_rpc::ClientError> {
    /// let client = tpp_rpc::Client::builder("127.0.0.1", 7777)
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
    ///
    /// 0 counts as 1, and values over [`MAX_PIPELINED`] (1024) as 1024.
    pub fn pipelined(mut self, connections: usize) -> Self {
        self.pipelined = Some(connections);
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
    ///
    /// Every setting is checked here, never later: durations longer than
    /// [`MAX_DURATION`](crate::settings::MAX_DURATION) (one year;
    /// `Duration::MAX` included) mean "no limit"; counts beyond
    /// [`MAX_COUNT`](crate::settings::MAX_COUNT) mean "unlimited"; a zero
    /// [`timeout`](Self::timeout), [`item_timeout`](Self::item_timeout),
    /// [`connect_timeout`](Self::connect_timeout),
    /// [`write_timeout`](Self::write_timeout) or
    /// [`max_frame_size`](Self::max_frame_size), which would fail every
    /// call, is refused with [`ClientError::Config`] naming it.
    pub fn build(mut self) -> Result<Client, ClientError> {
        self.check_settings().map_err(ClientError::Config)?;
        let default_name = match self.local {
            Some(_) => "localhost",
            None => &self.host,
        };
        let name = self.server_name.as_deref().unwrap_or(default_name);
        let tls = self.tls.connector(name, self.client_cert)?;
        let own_name = |host: &str| match (&tls, &self.server_name) {
            (Some(_), None) => own_tls_name(host),
            _ => None,
        };
        let mut list = vec![match self.local {
            Some(local) => Endpoint::local(local),
            None => Endpoint::new(self.host, self.port, None),
        }];
        for (host, port) in self.more_endpoints {
            let name = own_name(&host);
            list.push(Endpoint::new(host, port, name));
        }
        Ok(Client {
            inner: Arc::new(Inner {
                endpoints: Endpoints::new(
                    list,
                    self.selection,
                    self.down_backoff,
                    self.connect_timeout,
                ),
                tls,
                max_frame_size: self.max_frame_size,
                pool: Pool::new(self.pool),
                pipelines: self
                    .pipelined
                    .map(|n| Pipelines::new(n, self.write_timeout)),
            }),
            token: self.token.map(Arc::from),
            timeout: self.timeout,
            item_timeout: self.item_timeout,
            extras: Arc::new(self.extras),
        })
    }
}

impl ClientBuilder {
    /// Gives every setting its documented meaning at the extremes, or names
    /// the first unusable one.
    fn check_settings(&mut self) -> Result<(), String> {
        use crate::settings;
        let optional = |name: &str, t: Option<Duration>| match t {
            Some(t) => settings::timeout(name, t).map(Some),
            None => Ok(None),
        };
        self.timeout = optional("timeout", self.timeout)?;
        self.item_timeout = optional("item_timeout", self.item_timeout)?;
        self.connect_timeout = settings::timeout("connect_timeout", self.connect_timeout)?;
        self.write_timeout = settings::timeout("write_timeout", self.write_timeout)?;
        self.max_frame_size = settings::size("max_frame_size", self.max_frame_size)?;
        self.pool.idle_timeout = settings::duration(self.pool.idle_timeout);
        self.pool.max_open = self.pool.max_open.map(settings::count);
        self.pipelined = self.pipelined.map(|n| n.clamp(1, MAX_PIPELINED));
        self.down_backoff = settings::duration(self.down_backoff);
        Ok(())
    }
}

/// How long a pipelined connection's server may go without taking more
/// request bytes unless configured ([`ClientBuilder::write_timeout`]): a
/// server that reads at all takes a 64 KiB batch in far less, so 10 s
/// means it stopped reading.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// The most pipelined connections a client keeps
/// ([`ClientBuilder::pipelined`]); larger values are taken as this.
pub const MAX_PIPELINED: usize = 1024;

impl Client {
    /// A builder for a client of `host:port` (plain TCP, no token, pooled
    /// connections, [`DEFAULT_TIMEOUT`] per call).
    pub fn builder(host: impl Into<String>, port: u16) -> ClientBuilder {
        ClientBuilder {
            local: None,
            host: host.into(),
            port,
            tls: TlsMode::Off,
            client_cert: None,
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
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
        }
    }

    /// A builder for a client of the server listening on the Unix domain
    /// socket at `path` (see [`ServerBuilder::bind_unix`](crate::ServerBuilder::bind_unix));
    /// otherwise as [`builder`](Self::builder).
    #[cfg(unix)]
    pub fn builder_unix(path: impl Into<std::path::PathBuf>) -> ClientBuilder {
        let mut builder = Self::builder("", 0);
        builder.local = Some(Local::Unix(path.into()));
        builder
    }

    /// A builder for a client of a server served inside this process
    /// ([`ServerBuilder::in_process`](crate::ServerBuilder::in_process)),
    /// with no socket; otherwise as [`builder`](Self::builder).
    pub fn builder_in_process(server: &InProcess) -> ClientBuilder {
        let mut builder = Self::builder("", 0);
        builder.local = Some(Local::InProcess(server.clone()));
        builder
    }
}
