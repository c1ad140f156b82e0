//! `tpp-call-loop`: one process, one thread, a tpp server and the default
//! generated client, N calls of the 100 B text echo one after another. Made
//! for counting instructions per call, which does not depend on what else
//! the machine is doing (BENCHMARKS.md, "Where a client call's CPU goes"):
//!
//! ```text
//! cargo build --release -p tpp-bench --bin tpp-call-loop
//! valgrind --tool=callgrind target/release/tpp-call-loop 5000
//! callgrind_annotate --inclusive=yes callgrind.out.PID | grep -E 'EchoTextCall|serve_connection'
//! ```
//!
//! The total divided by N is both sides' instructions per call; the
//! generated call's future (`…EchoTextCall…into_future`) is the client's
//! share, `serve_connection` the server's.

#![forbid(unsafe_code)]

#[path = "service.rs"]
mod service;

use service::{BenchClient, BenchServer, EchoImpl};

const TOKEN: &str = "benchT0ken";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let calls: usize = match std::env::args().nth(1) {
        Some(n) => n.parse().map_err(|e| format!("calls {n:?}: {e}"))?,
        None => 5000,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let server = tpp_rpc::Server::builder()
            .token(TOKEN)
            .bind("127.0.0.1:0")
            .await?;
        let port = server.local_addr().port();
        tokio::spawn(server.serve(BenchServer::new(EchoImpl)));
        let client = tpp_rpc::Client::builder("127.0.0.1", port)
            .token(TOKEN)
            .build()?;
        let bench = BenchClient::new(client);
        let text = "x".repeat(100);
        for _ in 0..calls {
            bench.echo_text(text.clone()).await?;
        }
        println!("{calls} calls");
        Ok(())
    })
}
