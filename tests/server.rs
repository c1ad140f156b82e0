//! The server over real sockets: dispatch, keep-alive, handler failures,
//! limits, timeouts and graceful shutdown.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tpp_rpc::{ClientError, Connection, Handler, Server};
use tpp_tests::*;

/// A handler with one action per behaviour under test.
struct TestHandler {
    calls: AtomicUsize,
}

impl TestHandler {
    fn new() -> Self {
        Self {
            calls: AtomicUsize::new(0),
        }
    }
}

impl Handler for TestHandler {
    async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match conn.action() {
            "echo" => {
                let request = conn.request().clone();
                conn.send_result(request.body_raw()?).await
            }
            "whoami" => {
                let user = conn.context().extra("user_id").cloned();
                let peer = conn.peer_addr().ip().to_string();
                conn.send_result(&json!({"user_id": user, "peer": peer}))
                    .await
            }
            "extras" => {
                let extras = conn.context().extras().clone();
                conn.send_result(&extras).await
            }
            "fail" => Err(tpp_rpc::Error::handler("it broke")),
            "panic" => panic!("handler panicked on purpose"),
            "silent" => Ok(()),
            "sleep" => {
                let ms: u64 = conn.body()?;
                tokio::time::sleep(Duration::from_millis(ms)).await;
                conn.send_result(&ms).await
            }
            "conversation" => {
                // Answer, then read what the client sends next on the same connection.
                conn.send_response(0, &"go on").await?;
                let next = conn.read_message().await?.unwrap_or_default();
                let said: Value = serde_json::from_slice(&next)?;
                conn.send_response(0, &json!({"you said": said})).await
            }
            "steps" => {
                let n: u64 = conn.body()?;
                for i in 0..n {
                    conn.send_response(0, &json!({"step": i})).await?;
                }
                Ok(())
            }
            _ => tpp_rpc::service::answer_unknown_action(conn).await,
        }
    }
}

#[tokio::test]
async fn answers_a_request_and_passes_the_body_through_untouched() {
    let server = start(Server::builder().token("tok"), TestHandler::new()).await;
    let body =
        json!({"float": 5.0, "big": 123456789012345678901234567890u128 as f64, "s": "é中😀"});
    let raw = r#"{"float": 5.0, "exact": 123456789012345678901234567890, "s": "é中😀"}"#;
    let request = format!(r#"{{"token": "tok", "action": "echo", "body": {raw}}}"#);
    let answer = raw_exchange(server.addr, &frame(&request)).await;
    let (payload, rest) = split_frame(&answer).expect("one frame");
    assert!(rest.is_empty(), "nothing after the response");
    assert_eq!(
        std::str::from_utf8(payload).unwrap(),
        format!(r#"{{"code":0,"body":{{"echo":{raw}}}}}"#),
        "the body comes back byte for byte"
    );
    let echoed: Value = within(client(server.port()).request2server("echo", &body))
        .await
        .unwrap();
    assert_eq!(echoed, body);
    server.stop().await;
}

#[tokio::test]
async fn extra_fields_and_peer_reach_the_handler() {
    let server = start(Server::builder().token("tok"), TestHandler::new()).await;
    let c = client(server.port()).with_field("user_id", "u-42");
    let who: Value = within(c.request2server("whoami", &json!({})))
        .await
        .unwrap();
    assert_eq!(who, json!({"user_id": "u-42", "peer": "127.0.0.1"}));
    server.stop().await;
}

#[tokio::test]
async fn a_failing_or_panicking_handler_answers_code_1_and_the_server_goes_on() {
    let server = start(Server::builder().token("tok"), TestHandler::new()).await;
    let c = client(server.port());
    let err = within(c.request2server::<_, Value>("fail", &()))
        .await
        .unwrap_err();
    assert_eq!(err.server_code(), Some(1));
    assert_eq!(err.server_message(), Some("it broke"));
    let err = within(c.request2server::<_, Value>("panic", &()))
        .await
        .unwrap_err();
    assert_eq!(err.server_code(), Some(1));
    assert_eq!(
        err.server_message(),
        Some("internal error: the handler panicked")
    );
    let err = within(c.request2server::<_, Value>("nope", &()))
        .await
        .unwrap_err();
    assert_eq!(err.server_message(), Some("Action nope does not exist"));
    let ok: Value = within(c.request2server("echo", &json!([1]))).await.unwrap();
    assert_eq!(ok, json!([1]));
    server.stop().await;
}

#[tokio::test]
async fn a_handler_that_sends_nothing_gets_the_connection_closed() {
    let server = start(Server::builder().token("tok"), TestHandler::new()).await;
    let err = within(client(server.port()).request2server::<_, Value>("silent", &()))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Closed), "{err:?}");
    server.stop().await;
}

#[tokio::test]
async fn handler_timeout_answers_code_1() {
    let server = start(
        Server::builder()
            .token("tok")
            .handler_timeout(Duration::from_millis(100)),
        TestHandler::new(),
    )
    .await;
    let err = within(client(server.port()).request2server::<_, Value>("sleep", &5000))
        .await
        .unwrap_err();
    assert_eq!(err.server_message(), Some("the action took too long"));
    server.stop().await;
}

#[tokio::test]
async fn keep_alive_serves_several_requests_on_one_connection() {
    let handler = Arc::new(TestHandler::new());
    let server = start(Server::builder().token("tok"), handler.clone()).await;
    let mut s = within(TcpStream::connect(server.addr)).await.unwrap();
    for i in 0..3 {
        let req = format!(r#"{{"token":"tok","action":"echo","body":{i},"tpp_keep_alive":true}}"#);
        within(s.write_all(&frame(&req))).await.unwrap();
        let mut buf = vec![0u8; 64];
        let n = within(s.read(&mut buf)).await.unwrap();
        assert_eq!(
            &buf[..n],
            frame(&format!(
                r#"{{"code":0,"body":{{"echo":{i}}},"tpp_keep_alive":true}}"#
            ))
            .as_slice()
        );
    }
    assert_eq!(handler.calls.load(Ordering::SeqCst), 3);
    // The pooled client does the same through its pool: one connection.
    let c = client(server.port());
    for i in 0..5 {
        let v: i32 = within(c.request2server("echo", &i)).await.unwrap();
        assert_eq!(v, i);
    }
    assert_eq!(c.connections_opened(), 1);
    server.stop().await;
}

#[tokio::test]
async fn without_the_marker_the_server_closes_after_a_unary_response() {
    let server = start(Server::builder().token("tok"), TestHandler::new()).await;
    // Two requests in one write, neither asking for keep-alive: the first is
    // answered (byte for byte what the reference sends), then the close.
    let req = frame(r#"{"token":"tok","action":"echo","body":1}"#);
    let mut twice = req.clone();
    twice.extend_from_slice(&req);
    let answer = raw_exchange(server.addr, &twice).await;
    assert_eq!(answer, frame(r#"{"code":0,"body":{"echo":1}}"#));
    // Asked with anything but `true`, it is not kept either; and the marker
    // never reaches the handler's extras.
    let req = frame(
        r#"{"token":"tok","action":"extras","body":1,"tpp_keep_alive":"yes","tpp_x":1,"user_id":"u"}"#,
    );
    let mut twice = req.clone();
    twice.extend_from_slice(&req);
    let answer = raw_exchange(server.addr, &twice).await;
    let (first, rest) = split_frame(&answer).unwrap();
    assert!(rest.is_empty(), "only the first request is answered");
    assert_eq!(
        serde_json::from_slice::<Value>(first).unwrap(),
        json!({"code": 0, "body": {"extras": {"user_id": "u"}}})
    );
    server.stop().await;
}

#[tokio::test]
async fn a_raw_socket_sees_the_close_right_after_a_unary_response() {
    // An idle timeout far beyond the test's bound: only the close after the
    // response can end the read in time.
    let server = start(
        Server::builder()
            .token("tok")
            .idle_timeout(Duration::from_secs(600)),
        TestHandler::new(),
    )
    .await;
    let mut s = within(TcpStream::connect(server.addr)).await.unwrap();
    within(s.write_all(&frame(r#"{"token":"tok","action":"echo","body":"x"}"#)))
        .await
        .unwrap();
    let mut out = Vec::new();
    within(s.read_to_end(&mut out)).await.unwrap();
    assert_eq!(out, frame(r#"{"code":0,"body":{"echo":"x"}}"#));
    server.stop().await;
}

#[tokio::test]
async fn a_client_without_pooling_opens_one_connection_per_call() {
    let server = start(Server::builder().token("tok"), TestHandler::new()).await;
    let c = client_builder(server.port())
        .reuse_connections(false)
        .build()
        .unwrap();
    for i in 0..3 {
        let v: i32 = within(c.request2server("echo", &i)).await.unwrap();
        assert_eq!(v, i);
    }
    assert_eq!(c.connections_opened(), 3);
    assert_eq!(c.idle_connections(), 0);
    server.stop().await;
}

#[tokio::test]
async fn keep_alive_off_closes_after_the_response() {
    let server = start(
        Server::builder().token("tok").keep_alive(false),
        TestHandler::new(),
    )
    .await;
    let req = frame(r#"{"token":"tok","action":"echo","body":1}"#);
    let mut twice = req.clone();
    twice.extend_from_slice(&req);
    let answer = raw_exchange(server.addr, &twice).await;
    let (_, rest) = split_frame(&answer).unwrap();
    assert!(rest.is_empty(), "only the first request is answered");
    server.stop().await;
}

#[tokio::test]
async fn idle_keep_alive_connections_time_out() {
    let server = start(
        Server::builder()
            .token("tok")
            .idle_timeout(Duration::from_millis(200)),
        TestHandler::new(),
    )
    .await;
    let answer = raw_exchange(
        server.addr,
        &frame(r#"{"token":"tok","action":"echo","body":1,"tpp_keep_alive":true}"#),
    )
    .await;
    // raw_exchange reads to EOF: it returns because the idle timeout closed it.
    assert_eq!(
        response_json(&answer),
        json!({"code": 0, "body": {"echo": 1}, "tpp_keep_alive": true})
    );
    server.stop().await;
}

#[tokio::test]
async fn a_stream_of_responses_then_close() {
    let server = start(Server::builder().token("tok"), TestHandler::new()).await;
    let stream = within(client(server.port()).request_stream("steps", &4, None))
        .await
        .unwrap();
    use futures_util::StreamExt;
    let items: Vec<Value> = within(stream.typed::<Value>().map(|r| r.unwrap()).collect()).await;
    assert_eq!(
        items,
        (0..4).map(|i| json!({"step": i})).collect::<Vec<_>>()
    );
    server.stop().await;
}

#[tokio::test]
async fn beyond_max_connections_new_peers_hear_server_busy() {
    let server = start(
        Server::builder().token("tok").max_connections(2),
        TestHandler::new(),
    )
    .await;
    // Two idle connections hold both slots.
    let _a = within(TcpStream::connect(server.addr)).await.unwrap();
    let _b = within(TcpStream::connect(server.addr)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answer = raw_exchange(server.addr, b"").await;
    assert_eq!(
        response_json(&answer),
        json!({"code": 1, "body": {"error": "Server busy"}})
    );
    drop(_a);
    // A slot frees up once the server sees the close.
    let c = client(server.port());
    let mut served = false;
    for _ in 0..50 {
        if within(c.request2server::<_, Value>("echo", &1))
            .await
            .is_ok()
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served, "served again after a connection closed");
    server.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_answers_every_request_in_flight() {
    let server = start(Server::builder().token("tok"), TestHandler::new()).await;
    let c = client(server.port());
    let mut calls = Vec::new();
    for i in 0..100u64 {
        let c = c.clone();
        calls.push(tokio::spawn(async move {
            c.request2server::<_, u64>("sleep", &(200 + i)).await
        }));
    }
    // Let the requests reach their handlers, then stop the server.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    server.shutdown.shutdown();
    let mut answered = 0;
    for call in calls {
        let result = within(call).await.unwrap();
        assert!(result.is_ok(), "{result:?}");
        answered += 1;
    }
    assert_eq!(answered, 100);
    within(server.task).await.unwrap().unwrap();
    assert!(started.elapsed() < WAIT);
    // And nothing listens any more.
    assert!(TcpStream::connect(server.addr).await.is_err());
}

#[tokio::test]
async fn shutdown_closes_idle_kept_alive_connections() {
    let server = start(Server::builder().token("tok"), TestHandler::new()).await;
    let mut s = within(TcpStream::connect(server.addr)).await.unwrap();
    within(s.write_all(&frame(
        r#"{"token":"tok","action":"echo","body":1,"tpp_keep_alive":true}"#,
    )))
    .await
    .unwrap();
    let mut buf = [0u8; 64];
    let _ = within(s.read(&mut buf)).await.unwrap();
    server.shutdown.shutdown();
    within(server.task).await.unwrap().unwrap();
    let n = within(s.read(&mut buf)).await.unwrap_or(0);
    assert_eq!(n, 0, "the idle connection was closed");
}

#[tokio::test]
async fn bind_refuses_an_unusable_configuration() {
    let err = Server::builder().bind("127.0.0.1:0").await.err().unwrap();
    assert!(err.to_string().contains("no authenticator"), "{err}");
    let err = Server::builder()
        .token_hash("not-a-hash")
        .bind("127.0.0.1:0")
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("bcrypt"), "{err}");
    let err = Server::builder()
        .token("t")
        .tls_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem")
        .bind("127.0.0.1:0")
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("/nonexistent/cert.pem"), "{err}");
}

#[tokio::test]
async fn bcrypt_tokens_verify_once_then_come_from_the_cache() {
    let hash = tpp_rpc::BcryptToken::hash("tok", 10).unwrap();
    let server = start(Server::builder().token_hash(&hash), TestHandler::new()).await;
    let c = client(server.port());
    let first = std::time::Instant::now();
    let _: i32 = within(c.request2server("echo", &1)).await.unwrap();
    let first = first.elapsed();
    let again = std::time::Instant::now();
    for _ in 0..20 {
        let _: i32 = within(c.request2server("echo", &1)).await.unwrap();
    }
    let again = again.elapsed();
    eprintln!("first request (bcrypt cost 10): {first:?}; 20 cached requests: {again:?}");
    let err = within(c.with_token("wrong").request2server::<_, i32>("echo", &1))
        .await
        .unwrap_err();
    assert_eq!(err.server_code(), Some(3));
    server.stop().await;
}

#[tokio::test]
async fn a_handler_can_read_further_messages_on_its_connection() {
    let server = start(Server::builder().token("tok"), TestHandler::new()).await;
    let c = client(server.port());
    let mut conn = within(c.connect()).await.unwrap();
    within(conn.write_request("conversation", &(), Some("tok"), &Default::default()))
        .await
        .unwrap();
    let first = within(conn.get_response()).await.unwrap();
    assert_eq!(first.body::<String>().unwrap(), "go on");
    within(conn.write(&json!({"more": [1, 2]}))).await.unwrap();
    let second = within(conn.get_response()).await.unwrap();
    assert_eq!(
        second.body::<Value>().unwrap(),
        json!({"you said": {"more": [1, 2]}})
    );
    assert!(within(conn.read()).await.unwrap().is_none(), "then closed");
    server.stop().await;
}
