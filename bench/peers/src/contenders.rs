//! The contenders: a server (run as a child process) and the client that
//! calls it, each framework with its own generated client.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::servers::{jsonrpsee_echo, tarpc_echo, TPP_TOKEN};

/// One call in flight: the length of the text echoed back, or what failed.
pub type CallFuture = Pin<Box<dyn Future<Output = Result<usize, String>> + Send>>;

/// Calls the echo with a text. Shared by every caller of a contender: one
/// client (and, for the multiplexing peers, one connection) for all of them.
pub type Caller = Arc<dyn Fn(String) -> CallFuture + Send + Sync>;

/// A tpp client configuration: what it changes on the builder.
pub type TppMode = fn(tpp_rpc::ClientBuilder) -> tpp_rpc::ClientBuilder;

/// tpp's client configurations, each against its own tpp server. Adding one
/// is one function and one line here.
pub const TPP_CLIENTS: &[(&str, TppMode)] = &[
    ("tpp, default client", tpp_default),
    ("tpp, reuse_connections(true)", tpp_reuse),
    ("tpp, pipelined(1)", tpp_pipelined_1),
    ("tpp, pipelined(2)", tpp_pipelined_2),
];

/// What `tpp_rpc::Client::builder` gives.
fn tpp_default(builder: tpp_rpc::ClientBuilder) -> tpp_rpc::ClientBuilder {
    builder
}

/// Connections kept after a unary answer and reused.
fn tpp_reuse(builder: tpp_rpc::ClientBuilder) -> tpp_rpc::ClientBuilder {
    builder.reuse_connections(true)
}

/// Every caller on one connection, answers matched first-in first-out.
fn tpp_pipelined_1(builder: tpp_rpc::ClientBuilder) -> tpp_rpc::ClientBuilder {
    builder.pipelined(1)
}

/// The callers spread over two pipelined connections.
fn tpp_pipelined_2(builder: tpp_rpc::ClientBuilder) -> tpp_rpc::ClientBuilder {
    builder.pipelined(2)
}

/// How a contender's client is made.
#[derive(Clone, Copy)]
enum Client {
    Tpp(TppMode),
    Tarpc { bincode: bool, nodelay: bool },
    Jsonrpsee,
    Tonic { tuned: bool },
    Floor(crate::floor::Work),
}

/// One contender.
#[derive(Clone)]
pub struct Contender {
    /// Its name in the table.
    pub name: String,
    /// The `serve` kind of its server.
    pub server: &'static str,
    /// A peer (not tpp): the baseline of the ratios.
    pub is_peer: bool,
    /// The framework and codec, shared by its default and tuned rows
    /// (`tarpc-bincode`): the targets compare with a family's best row.
    pub family: &'static str,
    client: Client,
}

/// Every contender: tpp's client configurations, then the peers.
pub fn all() -> Vec<Contender> {
    let mut all: Vec<Contender> = TPP_CLIENTS
        .iter()
        .map(|&(name, mode)| Contender {
            name: name.to_owned(),
            server: "tpp",
            is_peer: false,
            family: "tpp",
            client: Client::Tpp(mode),
        })
        .collect();
    // Each framework at its documented defaults, then tuned (what each
    // setting changes: BENCHMARKS.md, "Peers").
    let peers = [
        (
            "tarpc 0.38, bincode (defaults)",
            "tarpc-bincode",
            "tarpc-bincode",
            Client::Tarpc {
                bincode: true,
                nodelay: false,
            },
        ),
        (
            "tarpc 0.38, bincode, TCP_NODELAY",
            "tarpc-bincode-nodelay",
            "tarpc-bincode",
            Client::Tarpc {
                bincode: true,
                nodelay: true,
            },
        ),
        (
            "tarpc 0.38, JSON (defaults)",
            "tarpc-json",
            "tarpc-json",
            Client::Tarpc {
                bincode: false,
                nodelay: false,
            },
        ),
        (
            "tarpc 0.38, JSON, TCP_NODELAY",
            "tarpc-json-nodelay",
            "tarpc-json",
            Client::Tarpc {
                bincode: false,
                nodelay: true,
            },
        ),
        (
            "jsonrpsee 0.26, WebSocket (defaults)",
            "jsonrpsee",
            "jsonrpsee",
            Client::Jsonrpsee,
        ),
        (
            "tonic 0.14, gRPC (defaults)",
            "tonic",
            "tonic",
            Client::Tonic { tuned: false },
        ),
        (
            "tonic 0.14, 4 MiB HTTP/2 windows",
            "tonic-tuned",
            "tonic",
            Client::Tonic { tuned: true },
        ),
    ];
    // What one call per connection costs with no framework at all.
    all.push(Contender {
        name: "floor: hand-written pool, one call per connection".to_owned(),
        server: "floor",
        is_peer: false,
        family: "floor",
        client: Client::Floor(crate::floor::Work::Frames),
    });
    // The same with the least JSON work the protocol itself asks for.
    all.push(Contender {
        name: "floor + TPP's JSON: hand-written pool, serde_json envelopes".to_owned(),
        server: "floor-json",
        is_peer: false,
        family: "floor",
        client: Client::Floor(crate::floor::Work::Json),
    });
    all.extend(
        peers
            .into_iter()
            .map(|(name, server, family, client)| Contender {
                name: name.to_owned(),
                server,
                is_peer: true,
                family,
                client,
            }),
    );
    all
}

impl Contender {
    /// Builds the client of the server on `127.0.0.1:port`.
    pub async fn connect(&self, port: u16) -> Result<Caller, String> {
        match self.client {
            Client::Tpp(mode) => tpp_caller(mode, port),
            Client::Tarpc {
                bincode,
                nodelay: false,
            } => {
                // tarpc's README client: `serde_transport::tcp::connect`, defaults.
                use tarpc::tokio_serde::formats::{Bincode, Json};
                let addr = ("127.0.0.1", port);
                let e = |e: std::io::Error| format!("tarpc connect: {e}");
                Ok(if bincode {
                    tarpc_caller(
                        tarpc::serde_transport::tcp::connect(addr, Bincode::default)
                            .await
                            .map_err(e)?,
                    )
                } else {
                    tarpc_caller(
                        tarpc::serde_transport::tcp::connect(addr, Json::default)
                            .await
                            .map_err(e)?,
                    )
                })
            }
            Client::Tarpc {
                bincode,
                nodelay: true,
            } => {
                let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .map_err(|e| format!("tarpc connect: {e}"))?;
                tcp.set_nodelay(true).map_err(|e| e.to_string())?;
                Ok(if bincode {
                    tarpc_caller(crate::tarpc_transport!(tcp, Bincode))
                } else {
                    tarpc_caller(crate::tarpc_transport!(tcp, Json))
                })
            }
            Client::Tonic { tuned } => {
                let client =
                    crate::tonic_echo::client(([127, 0, 0, 1], port).into(), tuned).await?;
                Ok(caller(client, |mut client, text| async move {
                    let message = crate::tonic_echo::EchoMessage { text };
                    client.echo(message).await.map(|r| r.into_inner().text)
                }))
            }
            Client::Jsonrpsee => jsonrpsee_caller(port).await,
            Client::Floor(work) => Ok(crate::floor::caller(port, work)),
        }
    }
}

fn tpp_caller(mode: TppMode, port: u16) -> Result<Caller, String> {
    let builder = tpp_rpc::Client::builder("127.0.0.1", port).token(TPP_TOKEN);
    let client = mode(builder).build().map_err(|e| e.to_string())?;
    let client = crate::servers::EchoClient::new(client);
    Ok(caller(client, |client, text| async move {
        client.echo(text).await
    }))
}

/// A [`Caller`] that gives each call a clone of `client` (the frameworks'
/// clients are cheap handles on shared connections).
fn caller<C, F, Fut, E>(client: C, call: F) -> Caller
where
    C: Clone + Send + Sync + 'static,
    F: Fn(C, String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<String, E>> + Send + 'static,
    E: std::fmt::Display,
{
    Arc::new(move |text| {
        let answer = call(client.clone(), text);
        Box::pin(async move { answer.await.map(|t| t.len()).map_err(|e| e.to_string()) })
    })
}

/// tarpc's generated client on one multiplexed connection (default config:
/// up to 1000 requests in flight, 10 s deadline per call).
fn tarpc_caller<T>(transport: T) -> Caller
where
    T: tarpc::Transport<
            tarpc::ClientMessage<tarpc_echo::EchoRequest>,
            tarpc::Response<tarpc_echo::EchoResponse>,
        > + Send
        + 'static,
{
    let client = tarpc_echo::EchoClient::new(tarpc::client::Config::default(), transport).spawn();
    caller(client, |client, text| async move {
        client.echo(tarpc::context::current(), text).await
    })
}

/// jsonrpsee's WebSocket client (one connection, requests multiplexed).
async fn jsonrpsee_caller(port: u16) -> Result<Caller, String> {
    use jsonrpsee_echo::EchoRpcClient as _;
    let max = crate::servers::MAX_FRAME as u32;
    let client = jsonrpsee::ws_client::WsClientBuilder::default()
        .max_request_size(max)
        .max_response_size(max)
        .build(format!("ws://127.0.0.1:{port}"))
        .await
        .map_err(|e| format!("jsonrpsee connect: {e}"))?;
    Ok(caller(Arc::new(client), |client, text| async move {
        client.echo(text).await
    }))
}
