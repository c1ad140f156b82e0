//! The client against servers that misbehave on purpose (raw sockets), and
//! its timeouts and errors.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tpp_rpc::ClientError;
use tpp_tests::*;

/// A one-shot raw server: accepts one connection, reads the request frame,
/// writes `reply` bytes, then closes (or waits, if `hold`).
async fn raw_server(reply: Vec<u8>, hold: bool) -> (u16, tokio::task::JoinHandle<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let request = read_one_frame(&mut s).await;
        s.write_all(&reply).await.unwrap();
        if hold {
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        request
    });
    (port, task)
}

async fn read_one_frame(s: &mut TcpStream) -> Value {
    let mut buf = Vec::new();
    loop {
        if let Some((payload, _)) = split_frame(&buf) {
            return serde_json::from_slice(payload).unwrap();
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "client closed before a whole request");
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn sends_what_the_reference_sends_and_unwraps_the_action() {
    let (port, task) = raw_server(frame(r#"{"code": 0, "body": {"act": [1, 2]}}"#), false).await;
    let c = client(port).with_field("user_id", "u1");
    let v: Vec<i32> = within(c.request2server("act", &json!({"k": "é"})))
        .await
        .unwrap();
    assert_eq!(v, vec![1, 2]);
    let mut request = within(task).await.unwrap();
    // The client sends what is left of its timeout (WAIT) as its budget.
    let budget = request["tpp_deadline_ms"].as_u64().expect("a budget");
    assert!(budget > 0 && budget <= WAIT.as_millis() as u64, "{budget}");
    request.as_object_mut().unwrap().remove("tpp_deadline_ms");
    // The pooling client also asks for keep-alive (a toxiccore server ignores it).
    assert_eq!(
        request,
        json!({"action": "act", "body": {"k": "é"}, "token": "tok", "user_id": "u1", "tpp_keep_alive": true})
    );
    // Without pooling and without a timeout, exactly what the reference sends.
    let (port, task) = raw_server(frame(r#"{"code": 0, "body": {"act": [1, 2]}}"#), false).await;
    let c = client_builder(port)
        .reuse_connections(false)
        .no_timeout()
        .field("user_id", "u1")
        .build()
        .unwrap();
    let v: Vec<i32> = within(c.request2server("act", &json!({"k": "é"})))
        .await
        .unwrap();
    assert_eq!(v, vec![1, 2]);
    assert_eq!(
        within(task).await.unwrap(),
        json!({"action": "act", "body": {"k": "é"}, "token": "tok", "user_id": "u1"})
    );
}

#[tokio::test]
async fn server_errors_in_every_shape_the_reference_sends() {
    for (reply, code, message) in [
        (
            r#"{"code": 3, "body": {"error": "Bad auth token"}}"#,
            3,
            "Bad auth token",
        ),
        (
            r#"{"code": "2", "body": {"error": "No auth token"}}"#,
            2,
            "No auth token",
        ),
        (
            r#"{"code": 1, "body": "No action found!"}"#,
            1,
            "No action found!",
        ),
        (
            r#"{"code": 5, "body": {"error": {"detail": 1}}}"#,
            5,
            r#"{"detail":1}"#,
        ),
    ] {
        let (port, _task) = raw_server(frame(reply), false).await;
        let err = within(client(port).request2server::<_, Value>("act", &()))
            .await
            .unwrap_err();
        match err {
            ClientError::Server {
                code: c,
                message: m,
                ..
            } => {
                assert_eq!((c, m.as_str()), (code, message));
            }
            other => panic!("{reply}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn local_failures_are_named_precisely() {
    // Missing action key.
    let (port, _t) = raw_server(frame(r#"{"code": 0, "body": {"other": 1}}"#), false).await;
    let err = within(client(port).request2server::<_, Value>("act", &()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::MissingActionKey { .. }),
        "{err:?}"
    );
    // A result of the wrong type.
    let (port, _t) = raw_server(frame(r#"{"code": 0, "body": {"act": "x"}}"#), false).await;
    let err = within(client(port).request2server::<_, u32>("act", &()))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Decode { .. }), "{err:?}");
    // Not JSON.
    let (port, _t) = raw_server(frame("nope"), false).await;
    let err = within(client(port).request2server::<_, Value>("act", &()))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::BadResponse(_)), "{err:?}");
    // A member twice: refused, as serde_json refuses it.
    let (port, _t) = raw_server(frame(r#"{"code": 0, "code": 1, "body": {}}"#), false).await;
    let err = within(client(port).request2server::<_, Value>("act", &()))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::BadResponse(_)), "{err:?}");
    // An escaped key still names its member.
    let (port, _t) = raw_server(
        frame(r#"{"c\u006fde": 2, "body": {"error": "escaped"}}"#),
        false,
    )
    .await;
    let err = within(client(port).request2server::<_, Value>("act", &()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Server { code: 2, message, .. } if message == "escaped"),
        "{err:?}"
    );
    // Closed before answering.
    let (port, _t) = raw_server(Vec::new(), false).await;
    let err = within(client(port).request2server::<_, Value>("act", &()))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Closed), "{err:?}");
    // Closed mid-message.
    let mut cut = b"100\n".to_vec();
    cut.extend_from_slice(&[b'x'; 48]);
    let (port, _t) = raw_server(cut, false).await;
    let err = within(client(port).request2server::<_, Value>("act", &()))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::ClosedMidMessage(_)), "{err:?}");
    assert!(err.to_string().contains("closed mid-message"), "{err}");
    // Nothing listening.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let err = within(client(port).request2server::<_, Value>("act", &()))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Connect { .. }), "{err:?}");
}

#[tokio::test]
async fn the_timeout_bounds_the_whole_call() {
    // The server reads the request and never answers.
    let (port, _t) = raw_server(Vec::new(), true).await;
    let c = client(port).with_timeout(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let err = within(c.request2server::<_, Value>("act", &()))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Timeout(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn streams_end_on_close_on_null_body_and_on_error() {
    let mut replies = Vec::new();
    for i in 0..3 {
        replies.extend(frame(&format!(r#"{{"code": 0, "body": {{"step": {i}}}}}"#)));
    }
    replies.extend(frame(r#"{"code": 0, "body": null}"#));
    replies.extend(frame(r#"{"code": 0, "body": {"step": 99}}"#));
    let (port, _t) = raw_server(replies, true).await;
    let stream = within(client(port).request_stream("build", &(), None))
        .await
        .unwrap();
    let items: Vec<Value> = within(stream.typed::<Value>().map(|r| r.unwrap()).collect()).await;
    assert_eq!(
        items,
        vec![json!({"step": 0}), json!({"step": 1}), json!({"step": 2})]
    );

    let mut replies = frame(r#"{"code": 0, "body": {"step": 0}}"#);
    replies.extend(frame(r#"{"code": 4, "body": {"error": "step failed"}}"#));
    let (port, _t) = raw_server(replies, true).await;
    let mut stream = within(client(port).request_stream("build", &(), None))
        .await
        .unwrap();
    assert!(within(stream.next_response()).await.unwrap().is_ok());
    let err = within(stream.next_response()).await.unwrap().unwrap_err();
    assert_eq!(err.server_code(), Some(4));
    assert!(within(stream.next_response()).await.is_none());
}

#[tokio::test]
async fn a_stream_item_timeout_ends_an_unresponsive_stream() {
    let (port, _t) = raw_server(frame(r#"{"code": 0, "body": 1}"#), true).await;
    let mut stream =
        within(client(port).request_stream("build", &(), Some(Duration::from_millis(200))))
            .await
            .unwrap();
    assert!(within(stream.next_response()).await.unwrap().is_ok());
    let err = within(stream.next_response()).await.unwrap().unwrap_err();
    assert!(matches!(err, ClientError::Timeout(_)), "{err:?}");
}

#[tokio::test]
async fn raw_write_and_read_on_a_connection() {
    let (port, task) = raw_server(frame(r#"{"code": 0, "body": {"x": 1}}"#), false).await;
    let mut conn = within(client(port).connect()).await.unwrap();
    within(conn.write(&json!({"anything": "goes"})))
        .await
        .unwrap();
    let response = within(conn.read()).await.unwrap().unwrap();
    assert_eq!(response.code(), 0);
    assert_eq!(response.body_json(), r#"{"x": 1}"#);
    assert!(within(conn.read()).await.unwrap().is_none(), "then closed");
    assert_eq!(within(task).await.unwrap(), json!({"anything": "goes"}));
}
