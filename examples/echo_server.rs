//! A low-level echo server that runs until ctrl-c or SIGTERM.
//!
//! ```text
//! cargo run --example echo_server -- [ADDR] [TOKEN]     # default 127.0.0.1:7777 s3cret
//! TPP_CERT=cert.pem TPP_KEY=key.pem cargo run --example echo_server   # TLS
//! ```
//!
//! Call it with `cargo run --example echo_client`, or from Python:
//! `BaseToxicClient('127.0.0.1', 7777).request2server('echo', {...}, 's3cret')`.

use tpp_rpc::{Connection, Handler, Server};

struct Echo;

impl Handler for Echo {
    async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
        match conn.action() {
            "echo" => {
                // A cheap clone (the frame is shared), so the body can stay
                // borrowed while the connection sends.
                let request = conn.request().clone();
                conn.send_result(request.body_raw()?).await
            }
            _ => tpp_rpc::service::answer_unknown_action(conn).await,
        }
    }
}

/// Resolves on ctrl-c or, on Unix, SIGTERM (what toxiccore's server handles).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tpp=debug".into()),
        )
        .init();
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:7777".into());
    let token = args.next().unwrap_or_else(|| "s3cret".into());

    let mut builder = Server::builder().token(&token);
    if let (Ok(cert), Ok(key)) = (std::env::var("TPP_CERT"), std::env::var("TPP_KEY")) {
        builder = builder.tls_pem_files(cert, key);
    }
    let server = builder.bind(&addr).await?;
    println!("echo server on {} (ctrl-c to stop)", server.local_addr());
    server.serve_with_shutdown(Echo, shutdown_signal()).await?;
    Ok(())
}
