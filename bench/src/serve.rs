//! The server subcommands the bench runs as child processes:
//!
//! ```text
//! tpp-bench serve-tpp   --threads N (--token T | --hash BCRYPT) [--tls CERT KEY] [--dyn] [--observe]
//!                       [--unix PATH] [--request-memory BYTES|off]
//! tpp-bench serve-floor --threads N --token T [--copy]
//! ```
//!
//! Each binds 127.0.0.1:0, prints its port on the first line of stdout and
//! serves until its stdin closes (so a killed bench never leaves servers
//! behind). Both build the same tokio runtime: multi-threaded, `--threads`
//! workers.

use std::sync::Arc;
use std::time::Duration;

use crate::service::{BenchDyn, BenchDynServer, BenchServer, EchoImpl};

/// Options of a server subcommand.
struct Opts {
    threads: usize,
    token: Option<String>,
    hash: Option<String>,
    tls: Option<(String, String)>,
    /// `--dyn`: serve the `#[toxic_service(dyn)]` echo from an `Arc<dyn BenchDyn>`.
    dyn_mode: bool,
    observe: bool,
    /// `serve-floor --copy`: answer every frame with its own bytes, unparsed.
    copy: bool,
    /// `--unix PATH`: also serve the same service on this Unix domain socket.
    unix: Option<String>,
    /// `--request-memory BYTES|off`: the request memory budget (default: the
    /// library's; `off` turns it off).
    request_memory: Option<usize>,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        threads: crate::cores(),
        token: None,
        hash: None,
        tls: None,
        dyn_mode: false,
        observe: false,
        copy: false,
        unix: None,
        request_memory: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--threads" => o.threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--token" => o.token = Some(value()?),
            "--hash" => o.hash = Some(value()?),
            "--observe" => o.observe = true,
            "--tls" => {
                let cert = value()?;
                let key = value()?;
                o.tls = Some((cert, key));
            }
            "--dyn" => o.dyn_mode = true,
            "--copy" => o.copy = true,
            "--unix" => o.unix = Some(value()?),
            "--request-memory" => {
                o.request_memory = Some(match value()?.as_str() {
                    "off" => usize::MAX,
                    bytes => bytes
                        .parse()
                        .map_err(|e| format!("--request-memory: {e}"))?,
                })
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(o)
}

/// The runtime every server of the bench uses.
pub fn runtime(threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// `serve-tpp`: the `#[toxic_service]` echo on a tpp server (`--dyn`: its dyn-mode twin).
pub fn main_tpp(args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    crate::procs::raise_fd_limit();
    crate::procs::exit_with_parent();
    if o.observe {
        observe()?;
    }
    runtime(o.threads).block_on(async move {
        let mut builder = tpp_rpc::Server::builder()
            .metrics(o.observe)
            // The bench holds 10 000 idle connections (default limit 4096)
            // and must not see them closed while it measures.
            .max_connections(20_000)
            .read_timeout(Duration::from_secs(300))
            .idle_timeout(Duration::from_secs(300));
        builder = match (&o.token, &o.hash) {
            (Some(t), None) => builder.token(t),
            (None, Some(h)) => builder.token_hash(h),
            _ => return Err("give exactly one of --token and --hash".to_owned()),
        };
        if let Some((cert, key)) = &o.tls {
            builder = builder.tls_pem_files(cert, key);
        }
        if let Some(bytes) = o.request_memory {
            builder = builder.request_memory(bytes);
        }
        let server = builder
            .bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        crate::procs::announce_port(server.local_addr().port());
        if let Some(path) = &o.unix {
            // The same limits, on a Unix socket, served beside the TCP listener.
            let unix = tpp_rpc::Server::builder()
                .token(o.token.as_deref().unwrap_or_default())
                .max_connections(20_000)
                .read_timeout(Duration::from_secs(300))
                .idle_timeout(Duration::from_secs(300))
                .bind_unix(path)
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(unix.serve(BenchServer::new(EchoImpl)));
        }
        let served = if o.dyn_mode {
            let service: Arc<dyn BenchDyn> = Arc::new(EchoImpl);
            server.serve(BenchDynServer::from_arc(service)).await
        } else {
            server.serve(BenchServer::new(EchoImpl)).await
        };
        served.map_err(|e| e.to_string())
    })
}

/// `--observe`: metrics and tracing as a production server would have them:
/// the Prometheus recorder (never scraped here: recording is the cost) and a
/// fmt subscriber at INFO (to a sink), so every request span is recorded.
/// `TPP_BENCH_OBSERVE=metrics` or `=tracing` keeps only that one, to tell
/// their costs apart.
fn observe() -> Result<(), String> {
    let only = std::env::var("TPP_BENCH_OBSERVE").unwrap_or_default();
    if only != "tracing" {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .map_err(|e| format!("metrics recorder: {e}"))?;
    }
    if only == "metrics" {
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::sink)
        // As to a log file or journald.
        .with_ansi(false)
        .try_init()
        .map_err(|e| format!("tracing subscriber: {e}"))
}

/// `serve-floor`: the hand-written floor server.
pub fn main_floor(args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    let token = o.token.ok_or("--token is required")?;
    crate::procs::raise_fd_limit();
    crate::procs::exit_with_parent();
    runtime(o.threads).block_on(async move {
        // The same listen backlog as tpp's default.
        let listener = (|| {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(([127, 0, 0, 1], 0).into())?;
            socket.listen(4096)
        })()
        .map_err(|e| e.to_string())?;
        crate::procs::announce_port(listener.local_addr().map_err(|e| e.to_string())?.port());
        crate::floor::serve(listener, Arc::from(token), o.copy).await;
        Ok(())
    })
}
