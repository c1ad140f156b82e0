//! The in-process transport: a generated client and its service in one
//! process, through the real pipeline (token, layers, limits, keep-alive),
//! over in-memory duplexes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tpp_rpc::server::{Layer, Next};
use tpp_rpc::{ActionError, BoxFuture, Client, Connection, Error, Server, Transport};
use tpp_tests::{within, TOKEN};

#[tpp_rpc::toxic_service]
pub trait Counter {
    /// Adds `n`; answers the new total.
    async fn add(&self, n: u64) -> Result<u64, ActionError>;
    /// What the handler's context says about the connection.
    async fn transport(&self, ctx: &tpp_rpc::Context) -> Result<String, ActionError>;
    /// Never answers.
    async fn hang(&self) -> Result<(), ActionError>;
}

#[derive(Default)]
struct Impl(AtomicUsize);

impl Counter for Impl {
    async fn add(&self, n: u64) -> Result<u64, ActionError> {
        Ok(self.0.fetch_add(n as usize, Ordering::Relaxed) as u64 + n)
    }
    async fn transport(&self, ctx: &tpp_rpc::Context) -> Result<String, ActionError> {
        assert_eq!(ctx.transport(), Transport::InProcess);
        Ok(format!("{:?} {}", ctx.transport(), ctx.peer_addr()))
    }
    async fn hang(&self) -> Result<(), ActionError> {
        std::future::pending().await
    }
}

/// Counts the requests it sees.
struct Requests(Arc<AtomicUsize>);

impl Layer for Requests {
    fn call<'a>(
        &'a self,
        conn: &'a mut Connection,
        next: Next<'a>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        self.0.fetch_add(1, Ordering::Relaxed);
        next.run(conn)
    }
}

#[tokio::test]
async fn a_generated_client_calls_its_service_in_process_through_layers() {
    let seen = Arc::new(AtomicUsize::new(0));
    let builder = Server::builder().token(TOKEN).layer(Requests(seen.clone()));
    let client = CounterClient::new(
        Client::builder_in_process(
            &builder
                .in_process(CounterServer::new(Impl::default()))
                .unwrap(),
        )
        .token(TOKEN)
        .build()
        .unwrap(),
    );
    assert_eq!(within(client.add(2)).await.unwrap(), 2);
    assert_eq!(within(client.add(3)).await.unwrap(), 5);
    assert_eq!(
        within(client.transport()).await.unwrap(),
        "InProcess 0.0.0.0:0"
    );
    assert_eq!(seen.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn the_token_is_checked_in_process() {
    let server = Server::builder()
        .token(TOKEN)
        .in_process(CounterServer::new(Impl::default()))
        .unwrap();
    let wrong = CounterClient::new(
        Client::builder_in_process(&server)
            .token("nope")
            .build()
            .unwrap(),
    );
    let err = within(wrong.add(1)).await.unwrap_err();
    assert!(err.to_string().contains("Bad auth token"), "{err}");
}

#[tokio::test]
async fn limits_apply_in_process() {
    let server = Server::builder()
        .token(TOKEN)
        .handler_timeout(Duration::from_millis(100))
        .max_frame_size(1024)
        .in_process(CounterServer::new(Impl::default()))
        .unwrap();
    let client = Client::builder_in_process(&server)
        .token(TOKEN)
        .build()
        .unwrap();
    let typed = CounterClient::new(client.clone());
    let err = within(typed.hang()).await.unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("too long"),
        "handler timeout: {err}"
    );
    let big = "x".repeat(4096);
    let err = within(client.request2server::<_, serde_json::Value>("add", &big))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("exceeds the maximum of 1024 bytes"),
        "max_frame_size: {err}"
    );
    // The connection limit too: one connection, held by a hanging call.
    let one = Server::builder()
        .token(TOKEN)
        .max_connections(1)
        .in_process(CounterServer::new(Impl::default()))
        .unwrap();
    let a = CounterClient::new(
        Client::builder_in_process(&one)
            .token(TOKEN)
            .build()
            .unwrap(),
    );
    let hanging = tokio::spawn(async move { a.hang().await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let b = CounterClient::new(
        Client::builder_in_process(&one)
            .token(TOKEN)
            .build()
            .unwrap(),
    );
    let err = within(b.add(1)).await.unwrap_err();
    assert!(err.to_string().contains("Server busy"), "{err}");
    hanging.abort();
}

#[tokio::test]
async fn in_process_connections_are_kept_alive_and_reused() {
    let server = Server::builder()
        .token(TOKEN)
        .in_process(CounterServer::new(Impl::default()))
        .unwrap();
    let client = Client::builder_in_process(&server)
        .token(TOKEN)
        .build()
        .unwrap();
    let typed = CounterClient::new(client.clone());
    for n in 1..=5 {
        assert_eq!(within(typed.add(1)).await.unwrap(), n);
    }
    assert_eq!(client.connections_opened(), 1, "one pooled connection");
}
