//! Streaming responses at the runtime level (tpp_rpc::ItemStream and
//! tpp_rpc::stream::send_stream), over TCP and TLS.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tpp_rpc::{ActionError, Client, Connection, Handler, ItemStream, Server};
use tpp_tests::*;

/// Streams `n` items of `size` bytes through a channel of capacity 4,
/// counting what the producer managed to push.
struct Streamer {
    produced: Arc<AtomicU64>,
    producer_done: Arc<tokio::sync::Notify>,
}

#[derive(serde::Deserialize)]
struct Ask {
    n: u64,
    #[serde(default)]
    size: usize,
    #[serde(default)]
    fail_at: Option<u64>,
    #[serde(default)]
    ack: bool,
}

impl Handler for Streamer {
    async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
        let ask: Ask = conn.body()?;
        let (tx, items) = ItemStream::channel(4);
        let produced = self.produced.clone();
        let done = self.producer_done.clone();
        tokio::spawn(async move {
            let pad = "x".repeat(ask.size);
            for i in 0..ask.n {
                if Some(i) == ask.fail_at {
                    let _ = tx.fail(ActionError::new(4, "step failed")).await;
                    break;
                }
                if tx.send(json!({"i": i, "pad": pad})).await.is_err() {
                    break;
                }
                produced.fetch_add(1, Ordering::SeqCst);
            }
            done.notify_one();
        });
        let ack = ask.ack.then_some("ok");
        tpp_rpc::stream::send_stream(conn, ack.as_ref(), items).await
    }
}

fn streamer() -> (Streamer, Arc<AtomicU64>, Arc<tokio::sync::Notify>) {
    let produced = Arc::new(AtomicU64::new(0));
    let done = Arc::new(tokio::sync::Notify::new());
    (
        Streamer {
            produced: produced.clone(),
            producer_done: done.clone(),
        },
        produced,
        done,
    )
}

/// Serves `handler` (with `builder`'s settings, [`TOKEN`], and TLS with
/// `tls`) and returns the server and a client of it. The client has no
/// per-call timeout: each wait of the tests is bounded by `within`.
async fn serve(
    builder: tpp_rpc::ServerBuilder,
    handler: Streamer,
    tls: Option<&TestCert>,
) -> (Running, Client) {
    let mut builder = builder.token(TOKEN);
    if let Some(cert) = tls {
        builder = builder.tls_pem_files(&cert.cert, &cert.key);
    }
    let server = start(builder, handler).await;
    let mut client = Client::builder("127.0.0.1", server.port()).token(TOKEN);
    if let Some(cert) = tls {
        client = client.tls_ca_file(&cert.cert);
    }
    (server, client.build().unwrap())
}

/// Calls the `stream` action with `body`.
async fn open(client: &Client, body: Value) -> tpp_rpc::ResponseStream {
    within(client.request_stream("stream", &body, None))
        .await
        .unwrap()
}

/// Every item the `stream` action sends for `body`.
async fn collect(client: &Client, body: Value) -> Vec<Value> {
    all_items(open(client, body).await.typed::<Value>()).await
}

#[tokio::test]
async fn typed_stream_over_tcp_and_tls() {
    let cert = TestCert::new();
    for tls in [false, true] {
        let (handler, _, _) = streamer();
        let (server, client) = serve(Server::builder(), handler, tls.then_some(&cert)).await;
        let items = collect(&client, json!({"n": 50})).await;
        assert_eq!(items.len(), 50);
        assert_eq!(items[49]["i"], 49);
        // With an acknowledgement first, as the hole's `stream` action.
        let items = collect(&client, json!({"n": 2, "ack": true})).await;
        assert_eq!(items[0], json!({"stream": "ok"}));
        assert_eq!(items.len(), 3);
        server.stop().await;
    }
}

#[tokio::test]
async fn an_error_item_ends_the_stream_with_its_code() {
    let (handler, _, _) = streamer();
    let (server, client) = serve(Server::builder(), handler, None).await;
    let mut stream = open(&client, json!({"n": 10, "fail_at": 3})).await;
    for _ in 0..3 {
        assert!(within(stream.next_response()).await.unwrap().is_ok());
    }
    let err = within(stream.next_response()).await.unwrap().unwrap_err();
    assert_eq!(err.server_code(), Some(4));
    assert_eq!(err.server_message(), Some("step failed"));
    assert!(within(stream.next_response()).await.is_none());
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_leaves_stops_the_producer() {
    let (handler, produced, done) = streamer();
    let (server, client) = serve(Server::builder(), handler, None).await;
    let mut stream = open(&client, json!({"n": 1_000_000_000u64})).await;
    for _ in 0..10 {
        within(stream.next_response()).await.unwrap().unwrap();
    }
    drop(stream);
    // The producer notices (its channel closes) and stops.
    within(done.notified()).await;
    let at_stop = produced.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(produced.load(Ordering::SeqCst), at_stop, "counter stopped");
    assert!(at_stop < 1_000_000, "stopped early: {at_stop}");
    // The server is healthy.
    assert_eq!(collect(&client, json!({"n": 3})).await.len(), 3);
    server.stop().await;
}

#[tokio::test]
async fn a_slow_reader_holds_the_producer_back() {
    let (handler, produced, _) = streamer();
    let (server, client) = serve(Server::builder(), handler, None).await;
    // 10 000 items of 64 KiB (625 MiB) requested; the client reads none for a while.
    let mut stream = open(&client, json!({"n": 10_000, "size": 65_536})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ahead = produced.load(Ordering::SeqCst);
    eprintln!("items produced while the reader slept: {ahead}");
    // Channel capacity plus what socket buffers hold, nowhere near 10 000.
    assert!(ahead < 300, "producer ran ahead: {ahead}");
    for _ in 0..20 {
        within(stream.next_response()).await.unwrap().unwrap();
    }
    drop(stream);
    server.stop().await;
}

#[tokio::test]
async fn shutdown_ends_a_stream_cleanly() {
    let (handler, _, done) = streamer();
    let builder = Server::builder().shutdown_grace(Duration::from_secs(5));
    let (server, client) = serve(builder, handler, None).await;
    let mut stream = open(&client, json!({"n": 1_000_000_000u64})).await;
    within(stream.next_response()).await.unwrap().unwrap();
    server.shutdown.shutdown();
    // The stream drains what was sent and ends without an error.
    let mut ended = false;
    for _ in 0..100_000 {
        match within(stream.next_response()).await {
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("stream ended with an error: {e}"),
            None => {
                ended = true;
                break;
            }
        }
    }
    assert!(ended);
    within(done.notified()).await;
    within(server.task).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_long_stream_passes_through() {
    let (handler, _, _) = streamer();
    let (server, client) = serve(Server::builder(), handler, None).await;
    let started = std::time::Instant::now();
    let stream = open(&client, json!({"n": 100_000})).await;
    let count = within(stream.typed::<Value>().map(|r| r.unwrap()).count()).await;
    assert_eq!(count, 100_000);
    eprintln!("100 000 items in {:?}", started.elapsed());
    server.stop().await;
}
