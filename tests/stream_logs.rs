//! A stream that ends before its first item because the client left or the
//! server shut down is not a handler bug: the server must not warn about it
//! (it still warns about a handler that returns without answering). In its
//! own test binary, as `logs.rs`, because tracing caches callsite interest
//! process-wide.

use std::time::Duration;

use tpp_rpc::{Connection, Handler, ItemStream, Server};
use tpp_tests::*;

/// `idle`: a stream whose producer never sends; `silent`: returns without
/// answering (the bug the warning is for).
struct Idle;

impl Handler for Idle {
    async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
        match conn.action() {
            "idle" => {
                let (producer, items) = ItemStream::<u32>::channel(1);
                let sent = tpp_rpc::stream::send_stream(conn, None::<&()>, items).await;
                drop(producer);
                sent
            }
            _ => Ok(()),
        }
    }
}

const WARNING: &str = "handler returned without a response";

#[tokio::test]
async fn idle_streams_ending_early_are_not_warned_about() {
    let (sink, _guard) = LogSink::capture(tracing::Level::DEBUG);
    let server = start(Server::builder().token(TOKEN), Idle).await;
    let client = client(server.port());

    // The client leaves an idle stream.
    let stream = within(client.request_stream("idle", &(), None))
        .await
        .expect("stream");
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(stream);
    let left = async {
        while !sink.text().contains("client left mid-stream") {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    within(left).await;

    // Shutdown ends an idle stream.
    let mut stream = within(client.request_stream("idle", &(), None))
        .await
        .expect("stream");
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.shutdown.shutdown();
    use futures_util::StreamExt;
    assert!(within(stream.next()).await.is_none(), "the stream ends");
    within(server.task).await.unwrap().unwrap();
    let logs = sink.text();
    assert!(logs.contains("stream ended by shutdown"), "{logs}");
    assert!(!logs.contains(WARNING), "spurious warning:\n{logs}");

    // The warning still catches a handler that forgets to answer.
    let server = start(Server::builder().token(TOKEN), Idle).await;
    let silent = tpp_tests::client(server.port())
        .request("silent", &())
        .await;
    assert!(
        matches!(silent, Err(tpp_rpc::ClientError::Closed)),
        "{silent:?}"
    );
    server.stop().await;
    assert!(sink.text().contains(WARNING), "{}", sink.text());
}
