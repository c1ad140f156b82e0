//! A service with Prometheus metrics: the TPP server on 127.0.0.1:7777 and
//! the scrape endpoint on http://127.0.0.1:9898/metrics.
//!
//! ```text
//! cargo run -p tpp-examples --example metrics
//! TPP_TOKEN=secret tpp call localhost:7777 stock item=apples   # or any TPP client
//! curl -s http://127.0.0.1:9898/metrics | grep tpp_
//! ```
//!
//! The recorder is installed before the server binds (the server registers
//! its metrics at bind time), and `metrics(true)` turns recording on.

#[path = "support/prometheus_http.rs"]
mod prometheus_http;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use tpp_rpc::{ActionError, Server};

#[tpp_rpc::toxic_service]
trait Inventory {
    /// How many of `item` are in stock (code 4 for an item never heard of).
    async fn stock(&self, item: String) -> Result<u32, ActionError>;
}

struct Shop;

impl Inventory for Shop {
    async fn stock(&self, item: String) -> Result<u32, ActionError> {
        match item.as_str() {
            "apples" => Ok(12),
            "pears" => Ok(0),
            _ => Err(ActionError::new(4, format!("no such item: {item}"))),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    // Latency as a real Prometheus histogram (the default is a summary).
    let buckets = [
        0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("tpp_request_duration_seconds".into()),
            &buckets,
        )?
        .install_recorder()?;
    let scrape = tokio::net::TcpListener::bind("127.0.0.1:9898").await?;
    tokio::spawn(prometheus_http::serve(scrape, handle));
    let server = Server::builder()
        .token("secret")
        .metrics(true)
        .bind("127.0.0.1:7777")
        .await?;
    println!(
        "tpp on {}, metrics on http://127.0.0.1:9898/metrics",
        server.local_addr()
    );
    server
        .serve_with_shutdown(InventoryServer::new(Shop), async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
