//! Traces across two services: a client call, the `front` service handling
//! it and calling `back`, all joined by one request id in the logs.
//!
//! ```text
//! cargo run -p tpp-examples --example traces
//! ```
//!
//! Every server request runs in a `tpp.request` span (action, peer,
//! identity, request id, code, responses, duration) inside a
//! `tpp.connection` span; every client call in a `tpp.client` span. The
//! request id travels as the `tpp_request_id` field (toxiccore ignores it),
//! so `back`'s span carries the id the first client chose. The fmt
//! subscriber prints each span when it closes.

use tpp_rpc::trace::TraceContext;
use tpp_rpc::{Client, Connection, Error, Handler, Server};
use tracing_subscriber::fmt::format::FmtSpan;

struct Back;

impl Handler for Back {
    async fn handle(&self, conn: &mut Connection) -> Result<(), Error> {
        tracing::info!("back handling it");
        let id = conn.context().request_id().unwrap_or("none").to_owned();
        conn.send_result(&format!("back saw request id {id}")).await
    }
}

struct Front {
    back: Client,
}

impl Handler for Front {
    async fn handle(&self, conn: &mut Connection) -> Result<(), Error> {
        tracing::info!("front handling it; calling back");
        match self.back.request2server::<_, String>("report", &()).await {
            Ok(said) => conn.send_result(&said).await,
            Err(e) => conn.send_error(1, &e.to_string()).await,
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter("info")
        .with_span_events(FmtSpan::CLOSE)
        .init();
    let back = Server::builder()
        .token("secret")
        .bind("127.0.0.1:0")
        .await?;
    let back_port = back.local_addr().port();
    tokio::spawn(back.serve(Back));
    let front = Server::builder()
        .token("secret")
        .bind("127.0.0.1:0")
        .await?;
    let front_port = front.local_addr().port();
    let back_client = Client::builder("127.0.0.1", back_port)
        .token("secret")
        .build()?;
    tokio::spawn(front.serve(Front { back: back_client }));

    let client = Client::builder("127.0.0.1", front_port)
        .token("secret")
        .build()?;
    // The caller picks the id (e.g. from an incoming HTTP request); without
    // one, the client makes one since its span is recorded.
    let said: String = TraceContext::new("order-42")
        .scope(client.request2server("relay", &()))
        .await?;
    println!("{said}");
    // Let the servers' spans close before exiting.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    Ok(())
}
