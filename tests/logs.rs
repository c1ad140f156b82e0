//! What the server logs: never a token, and peer input escaped. In its own
//! test binary because tracing caches per-callsite interest process-wide, so
//! a capturing subscriber must not race other tests' callsites.

use serde_json::Value;
use tpp_rpc::Server;
use tpp_tests::TestService as Svc;
use tpp_tests::*;

#[tokio::test]
async fn tokens_never_reach_the_logs_and_peer_input_is_escaped() {
    let (sink, _guard) = LogSink::capture(tracing::Level::TRACE);
    let hash = tpp_rpc::BcryptToken::hash("SECRET-hash-token", 4).unwrap();
    let hashed = start(Server::builder().token_hash(&hash), Svc).await;
    let plain = start(Server::builder().token("SECRET-plain-token"), Svc).await;
    for (server, token) in [
        (&hashed, "SECRET-hash-token"),
        (&plain, "SECRET-plain-token"),
    ] {
        let c = client(server.port()).with_token(token);
        let _: i32 = within(c.request2server("echo", &1)).await.unwrap();
        let _ = within(c.request2server::<_, Value>("fail", &1)).await;
        let wrong = c.with_token("SECRET-wrong-token");
        let _ = within(wrong.request2server::<_, Value>("echo", &1)).await;
        let evil = "evil\n2026-01-01 INFO forged line \u{1b}[31m";
        let _ = within(c.request2server::<_, Value>(evil, &1)).await;
        let raw = frame(r#"{"token":"SECRET-raw-token","action":"echo","body":[}"#);
        let _ = raw_exchange(server.addr, &raw).await;
    }
    hashed.stop().await;
    plain.stop().await;
    let logs = sink.text();
    assert!(
        logs.contains("request served"),
        "logs were captured:\n{logs}"
    );
    assert!(
        !logs.contains("SECRET"),
        "a token leaked into the logs:\n{logs}"
    );
    assert!(
        !logs.contains("\n2026-01-01 INFO forged"),
        "a forged log line:\n{logs}"
    );
    assert!(
        !logs.contains('\u{1b}'),
        "a raw escape sequence in the logs"
    );
}
