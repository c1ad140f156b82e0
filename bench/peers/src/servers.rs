//! The echo servers, one per framework, each run as a child process:
//! `tpp-peers serve KIND` binds 127.0.0.1:0, prints its port on the first
//! line of stdout and serves until its stdin closes (so a killed bench never
//! leaves servers behind). All build the same tokio runtime: multi-threaded,
//! one worker per core.

use futures::StreamExt;

/// The server kinds `serve` accepts.
pub const KINDS: &[&str] = &[
    "tpp",
    "tarpc-json",
    "tarpc-bincode",
    "tarpc-json-nodelay",
    "tarpc-bincode-nodelay",
    "jsonrpsee",
    "tonic",
    "tonic-tuned",
    "floor",
    "floor-json",
];

/// The token of the tpp server (TPP requests always carry one).
pub const TPP_TOKEN: &str = "bench-token";

/// Largest frame every side accepts: above the 1 MiB echo, with room.
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

/// The tpp service: one action that returns its `text`.
#[tpp_rpc::toxic_service]
pub trait Echo {
    /// Returns `text`.
    async fn echo(&self, text: String) -> Result<String, tpp_rpc::ActionError>;
}

struct TppEcho;

impl Echo for TppEcho {
    async fn echo(&self, text: String) -> Result<String, tpp_rpc::ActionError> {
        Ok(text)
    }
}

/// The tarpc service: the same echo.
pub mod tarpc_echo {
    /// Returns `text`.
    #[tarpc::service]
    pub trait Echo {
        /// Returns `text`.
        async fn echo(text: String) -> String;
    }
}

#[derive(Clone)]
struct TarpcEcho;

impl tarpc_echo::Echo for TarpcEcho {
    async fn echo(self, _: tarpc::context::Context, text: String) -> String {
        text
    }
}

/// The jsonrpsee service: the same echo (a synchronous method, jsonrpsee's
/// cheapest kind: answered inline, no task, no boxed future).
pub mod jsonrpsee_echo {
    use jsonrpsee::proc_macros::rpc;
    use jsonrpsee::types::ErrorObjectOwned;

    /// Returns `text`.
    #[rpc(server, client)]
    pub trait EchoRpc {
        /// Returns `text`.
        #[method(name = "echo")]
        fn echo(&self, text: String) -> Result<String, ErrorObjectOwned>;
    }
}

struct JsonrpseeEcho;

impl jsonrpsee_echo::EchoRpcServer for JsonrpseeEcho {
    fn echo(&self, text: String) -> Result<String, jsonrpsee::types::ErrorObjectOwned> {
        Ok(text)
    }
}

/// `serve KIND`.
pub fn main_serve(kind: &str) -> Result<(), String> {
    crate::procs::raise_fd_limit();
    crate::procs::exit_with_parent();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    runtime.block_on(async move {
        match kind {
            "tpp" => serve_tpp().await,
            "tarpc-json" => serve_tarpc_defaults(false).await,
            "tarpc-bincode" => serve_tarpc_defaults(true).await,
            "tarpc-json-nodelay" => serve_tarpc_nodelay(false).await,
            "tarpc-bincode-nodelay" => serve_tarpc_nodelay(true).await,
            "jsonrpsee" => serve_jsonrpsee().await,
            "tonic" => crate::tonic_echo::serve(false).await,
            "tonic-tuned" => crate::tonic_echo::serve(true).await,
            "floor" => crate::floor::serve(crate::floor::Work::Frames).await,
            "floor-json" => crate::floor::serve(crate::floor::Work::Json).await,
            other => Err(format!("unknown server {other:?}; one of {KINDS:?}")),
        }
    })
}

async fn serve_tpp() -> Result<(), String> {
    // Default limits and timeouts: what a user gets.
    let server = tpp_rpc::Server::builder()
        .token(TPP_TOKEN)
        .bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    crate::procs::announce_port(server.local_addr().port());
    server
        .serve(EchoServer::new(TppEcho))
        .await
        .map_err(|e| e.to_string())
}

/// A tarpc transport over `tcp`: tarpc's length-delimited framing, `$codec`
/// (`Json` or `Bincode`), frames up to [`MAX_FRAME`].
#[macro_export]
macro_rules! tarpc_transport {
    ($tcp:expr, $codec:ident) => {
        tarpc::serde_transport::new(
            tarpc::tokio_util::codec::LengthDelimitedCodec::builder()
                .max_frame_length($crate::servers::MAX_FRAME)
                .new_framed($tcp),
            tarpc::tokio_serde::formats::$codec::default(),
        )
    };
}

/// tarpc as its README sets it up: `serde_transport::tcp::listen` with its
/// defaults (length-delimited frames up to 8 MiB; Nagle's algorithm left on,
/// as tarpc leaves it).
async fn serve_tarpc_defaults(bincode: bool) -> Result<(), String> {
    use tarpc::tokio_serde::formats::{Bincode, Json};
    if bincode {
        let incoming = tarpc::serde_transport::tcp::listen("127.0.0.1:0", Bincode::default)
            .await
            .map_err(|e| e.to_string())?;
        crate::procs::announce_port(incoming.local_addr().port());
        incoming
            .for_each(|transport| async move {
                if let Ok(transport) = transport {
                    spawn_tarpc_channel(transport);
                }
            })
            .await;
    } else {
        let incoming = tarpc::serde_transport::tcp::listen("127.0.0.1:0", Json::default)
            .await
            .map_err(|e| e.to_string())?;
        crate::procs::announce_port(incoming.local_addr().port());
        incoming
            .for_each(|transport| async move {
                if let Ok(transport) = transport {
                    spawn_tarpc_channel(transport);
                }
            })
            .await;
    }
    Ok(())
}

/// tarpc tuned: the same, with TCP_NODELAY on every accepted socket (tpp,
/// jsonrpsee and tonic set it by default), so Nagle's algorithm never holds a
/// small answer back; frames up to [`MAX_FRAME`].
async fn serve_tarpc_nodelay(bincode: bool) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    crate::procs::announce_port(listener.local_addr().map_err(|e| e.to_string())?.port());
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        if bincode {
            spawn_tarpc_channel(tarpc_transport!(tcp, Bincode));
        } else {
            spawn_tarpc_channel(tarpc_transport!(tcp, Json));
        }
    }
}

/// Serves one connection the way tarpc's examples do: a task per request.
fn spawn_tarpc_channel<T>(transport: T)
where
    T: tarpc::Transport<
            tarpc::Response<tarpc_echo::EchoResponse>,
            tarpc::ClientMessage<tarpc_echo::EchoRequest>,
        > + Send
        + 'static,
{
    use tarpc::server::Channel;
    use tarpc_echo::Echo as _;
    let channel = tarpc::server::BaseChannel::with_defaults(transport);
    tokio::spawn(
        channel
            .execute(TarpcEcho.serve())
            .for_each(|response| async move {
                tokio::spawn(response);
            }),
    );
}

async fn serve_jsonrpsee() -> Result<(), String> {
    use jsonrpsee_echo::EchoRpcServer as _;
    let config = jsonrpsee::server::ServerConfig::builder()
        .max_request_body_size(MAX_FRAME as u32)
        .max_response_body_size(MAX_FRAME as u32)
        .ws_only()
        .build();
    let server = jsonrpsee::server::Server::builder()
        .set_config(config)
        .build("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    crate::procs::announce_port(server.local_addr().map_err(|e| e.to_string())?.port());
    let handle = server.start(JsonrpseeEcho.into_rpc());
    handle.stopped().await;
    Ok(())
}
