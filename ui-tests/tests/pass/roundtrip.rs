//! Served futures are Send (tokio::spawn on a multi-threaded runtime), and a full exchange
//! works: typed results, typed errors, list-funcs.
#![deny(warnings)]

use std::time::Duration;

use tpp_rpc::ActionError;

#[derive(Debug, PartialEq, thiserror::Error, tpp_rpc::ToxicError)]
enum CounterError {
    #[error("{0}")]
    #[toxic(code = 4)]
    TooBig(String),
}

#[tpp_rpc::toxic_service(rename_all = "kebab-case")]
trait Counter {
    /// Adds to the counter.
    async fn add(&self, n: u64) -> Result<u64, CounterError>;
    async fn get(&self, ctx: &tpp_rpc::Context) -> Result<u64, ActionError>;
}

#[derive(Default)]
struct Impl(std::sync::atomic::AtomicU64);

impl Counter for Impl {
    async fn add(&self, n: u64) -> Result<u64, CounterError> {
        if n > 100 {
            return Err(CounterError::TooBig(format!("{n} is too big")));
        }
        tokio::task::yield_now().await;
        Ok(self.0.fetch_add(n, std::sync::atomic::Ordering::SeqCst) + n)
    }

    async fn get(&self, _ctx: &tpp_rpc::Context) -> Result<u64, ActionError> {
        tokio::task::yield_now().await;
        Ok(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

#[tokio::main]
async fn main() {
    let server = tpp_rpc::Server::builder()
        .token("t")
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let port = server.local_addr().port();
    let shutdown = server.shutdown_handle();
    let task = tokio::spawn(server.serve(CounterServer::new(Impl::default())));
    let client = CounterClient::new(
        tpp_rpc::Client::builder("127.0.0.1", port)
            .token("t")
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
    );
    // Client futures are Send too.
    let c = client.clone();
    let added = tokio::spawn(async move { c.add(2).await })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(added, 2);
    assert_eq!(client.get().await.unwrap(), 2);
    let error = client.add(1000).await.unwrap_err();
    assert_eq!(error.code(), Some(4));
    assert!(matches!(
        error,
        tpp_rpc::CallError::Service(CounterError::TooBig(ref m)) if m == "1000 is too big"
    ));
    let funcs = client.list_funcs().await.unwrap();
    assert_eq!(funcs.get("add").unwrap().doc, "Adds to the counter.");
    shutdown.shutdown();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
