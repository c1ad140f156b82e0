//! Pipelined mode over real sockets: what one connection does with more
//! requests than one write carries or its queue holds, with callers that
//! stop waiting, and when its client is dropped.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tpp_rpc::{ClientError, Connection, Handler, Server};
use tpp_tests::*;

/// Echo, after `sleep_ms` of the body's, if any.
struct SlowEcho;

impl Handler for SlowEcho {
    async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
        let body: Value = conn.body()?;
        if let Some(ms) = body.get("sleep_ms").and_then(Value::as_u64) {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        conn.send_result(&body).await
    }
}

async fn echo(c: &tpp_rpc::Client, body: Value) -> Result<Value, ClientError> {
    c.request2server("echo", &body).await
}

/// Call `i` answered `expected(i)`, in the order the calls were made.
fn each_got_its_own(results: Vec<Result<Value, ClientError>>, expected: impl Fn(usize) -> Value) {
    for (i, r) in results.into_iter().enumerate() {
        assert_eq!(r.unwrap(), expected(i), "call {i} got its own answer");
    }
}

#[tokio::test]
async fn requests_beyond_one_write_are_split_over_several_and_answered_in_order() {
    let server = start(Server::builder().token(TOKEN), SlowEcho).await;
    let c = client_builder(server.port()).pipelined(1).build().unwrap();
    // 40 × 20 KB: what queues while the first request goes alone is more
    // than one write takes.
    let calls = (0..40).map(|i| echo(&c, json!({"i": i, "pad": "x".repeat(20_000 + i)})));
    let results = within(futures_util::future::join_all(calls)).await;
    each_got_its_own(results, |i| json!({"i": i, "pad": "x".repeat(20_000 + i)}));
    assert_eq!(c.connections_opened(), 1);
    server.stop().await;
}

#[tokio::test]
async fn callers_beyond_the_queue_wait_for_room_and_all_get_their_answers() {
    let server = start(Server::builder().token(TOKEN), SlowEcho).await;
    let c = client_builder(server.port()).pipelined(1).build().unwrap();
    // Once the connection is open, calls polled at once queue at once: the
    // queue (1024) fills and the rest wait for room.
    let v = within(echo(&c, json!("open"))).await.unwrap();
    assert_eq!(v, json!("open"));
    let calls = (0..3000).map(|i| echo(&c, json!({"i": i})));
    let results = within(futures_util::future::join_all(calls)).await;
    each_got_its_own(results, |i| json!({"i": i}));
    assert_eq!(c.connections_opened(), 1);
    server.stop().await;
}

#[tokio::test]
async fn callers_that_stop_waiting_leave_the_others_their_own_answers() {
    let server = start(Server::builder().token(TOKEN), SlowEcho).await;
    let c = client_builder(server.port()).pipelined(1).build().unwrap();
    // Every other caller gives up long before its answer can come; its
    // answer still arrives, in its turn, and goes to nobody.
    let calls = (0..40).map(|i| {
        let c = &c;
        async move {
            if i % 2 == 1 {
                let slow = echo(c, json!({"i": i, "sleep_ms": 30}));
                let gave_up = tokio::time::timeout(Duration::from_millis(5), slow).await;
                assert!(
                    gave_up.is_err(),
                    "call {i} answered before its server slept"
                );
                None
            } else {
                Some(echo(c, json!({"i": i})).await)
            }
        }
    });
    let results = within(futures_util::future::join_all(calls)).await;
    for (i, r) in results.into_iter().enumerate() {
        if let Some(r) = r {
            assert_eq!(r.unwrap(), json!({"i": i}), "call {i} got its own answer");
        }
    }
    for i in 0..5 {
        let v = within(echo(&c, json!({"after": i}))).await.unwrap();
        assert_eq!(v, json!({"after": i}));
    }
    assert_eq!(c.connections_opened(), 1, "the connection stayed in step");
    server.stop().await;
}

#[tokio::test]
async fn a_dropped_client_closes_its_pipelined_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        // Answers the one request, then reads until the client closes.
        while split_frame(&got).is_none() {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before its request");
            got.extend_from_slice(&buf[..n]);
        }
        let answer = frame(r#"{"code":0,"body":{"echo":1},"tpp_keep_alive":true}"#);
        s.write_all(&answer).await.unwrap();
        s.read(&mut buf).await.unwrap()
    });
    let c = client_builder(port).pipelined(1).build().unwrap();
    let v: Value = within(c.request2server("echo", &1)).await.unwrap();
    assert_eq!(v, json!(1));
    drop(c);
    let after = within(served).await.unwrap();
    assert_eq!(after, 0, "the client closed its side, sending nothing more");
}
