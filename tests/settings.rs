//! Every limit and duration of the server, the client and the layers at its
//! extremes (0, `usize::MAX`, `Duration::ZERO`, `Duration::MAX`): the server
//! binds and serves, or `bind()`/`build()` refuses naming the setting; nothing
//! panics. Then the one deadline from accept to the first request.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tpp_rpc::server::ConcurrencyLimit;
use tpp_rpc::{BcryptToken, Server, ServerBuilder};
use tpp_tests::{client, client_builder, start, within, TestCert, TestService, TOKEN, WAIT};

/// Binds `builder` and, if it binds, checks one echo call is served.
/// Returns the bind error's text, if any.
async fn bind_and_serve(builder: ServerBuilder) -> Option<String> {
    let server = match builder.bind("127.0.0.1:0").await {
        Ok(s) => s,
        Err(e) => return Some(e.to_string()),
    };
    let port = server.local_addr().port();
    let shutdown = server.shutdown_handle();
    let task = tokio::spawn(server.serve(TestService));
    let answer: serde_json::Value = within(client(port).request2server("echo", &[1, 2]))
        .await
        .expect("served");
    assert_eq!(answer, serde_json::json!([1, 2]));
    shutdown.shutdown();
    within(task).await.expect("no panic").expect("serve");
    None
}

fn server() -> ServerBuilder {
    Server::builder().token(TOKEN)
}

#[tokio::test]
async fn server_settings_at_their_extremes_serve_or_are_refused_by_name() {
    type Set = fn(ServerBuilder) -> ServerBuilder;
    // (setting, builder, whether bind refuses it)
    let cases: Vec<(&str, Set, bool)> = vec![
        ("max_frame_size", |b| b.max_frame_size(usize::MAX), false),
        ("max_frame_size", |b| b.max_frame_size(0), true),
        ("request_memory", |b| b.request_memory(usize::MAX), false),
        ("request_memory", |b| b.request_memory(1), false),
        ("request_memory", |b| b.request_memory(0), true),
        ("max_answer_size", |b| b.max_answer_size(usize::MAX), false),
        ("max_answer_size", |b| b.max_answer_size(0), true),
        ("max_connections", |b| b.max_connections(usize::MAX), false),
        ("max_connections", |b| b.max_connections(0), true),
        (
            "first_request_timeout",
            |b| b.first_request_timeout(Duration::MAX),
            false,
        ),
        (
            "first_request_timeout",
            |b| b.first_request_timeout(Duration::ZERO),
            true,
        ),
        ("read_timeout", |b| b.read_timeout(Duration::MAX), false),
        ("read_timeout", |b| b.read_timeout(Duration::ZERO), true),
        ("write_timeout", |b| b.write_timeout(Duration::MAX), false),
        ("write_timeout", |b| b.write_timeout(Duration::ZERO), true),
        ("idle_timeout", |b| b.idle_timeout(Duration::MAX), false),
        ("idle_timeout", |b| b.idle_timeout(Duration::ZERO), false),
        (
            "handler_timeout",
            |b| b.handler_timeout(Duration::MAX),
            false,
        ),
        (
            "handler_timeout",
            |b| b.handler_timeout(Duration::ZERO),
            true,
        ),
        ("shutdown_grace", |b| b.shutdown_grace(Duration::MAX), false),
        (
            "shutdown_grace",
            |b| b.shutdown_grace(Duration::ZERO),
            false,
        ),
        (
            "shutdown_delay",
            |b| b.shutdown_delay(Duration::ZERO),
            false,
        ),
        (
            "auth_failures",
            |b| b.auth_failure_limit(u32::MAX, Duration::MAX),
            false,
        ),
        (
            "auth_failures",
            |b| b.auth_failure_limit(0, Duration::ZERO),
            false,
        ),
        (
            "auth_failures",
            |b| b.auth_failure_limit(1, Duration::MAX),
            false,
        ),
        ("backlog", |b| b.backlog(u32::MAX), false),
        ("backlog", |b| b.backlog(0), false),
        (
            "concurrency",
            |b| b.layer(ConcurrencyLimit::new(usize::MAX)),
            false,
        ),
        ("concurrency", |b| b.layer(ConcurrencyLimit::new(0)), false),
        (
            "concurrency",
            |b| b.layer(ConcurrencyLimit::new(usize::MAX).refuse_when_full(1, "busy")),
            false,
        ),
    ];
    for (setting, set, refused) in cases {
        let outcome = bind_and_serve(set(server())).await;
        match (refused, outcome) {
            (false, None) => {}
            (true, Some(e)) => assert!(e.contains(setting), "{setting}: {e}"),
            (false, Some(e)) => panic!("{setting} refused: {e}"),
            (true, None) => panic!("{setting}: an unusable value was accepted"),
        }
    }
}

#[tokio::test]
async fn a_shutdown_delay_of_duration_max_is_a_year_not_a_panic() {
    // Shutdown would wait the (clamped) delay: only binding is checked here.
    let server = server()
        .shutdown_delay(Duration::MAX)
        .bind("127.0.0.1:0")
        .await
        .expect("bind");
    drop(server);
}

#[tokio::test]
async fn bcrypt_queue_and_caches_at_their_extremes() {
    let hash = BcryptToken::hash(TOKEN, 4).unwrap();
    for (max_concurrent, max_queued, cache) in [(usize::MAX, usize::MAX, usize::MAX), (0, 0, 0)] {
        let auth = BcryptToken::new(&hash)
            .unwrap()
            .max_concurrent(max_concurrent)
            .max_queued(max_queued)
            .cache_size(cache)
            .wrong_cache_size(cache);
        let running = start(
            Server::builder()
                .auth(auth)
                .auth_failure_limit(u32::MAX, Duration::MAX),
            TestService,
        )
        .await;
        let answer: i64 = within(client(running.port()).request2server("echo", &7))
            .await
            .expect("served");
        assert_eq!(answer, 7);
        for _ in 0..3 {
            let wrong = client(running.port()).with_token("wrong");
            let refused = within(wrong.request2server::<_, i64>("echo", &7)).await;
            assert_eq!(refused.unwrap_err().server_code(), Some(3));
        }
        running.stop().await;
    }
}

#[tokio::test]
async fn client_settings_at_their_extremes_call_or_are_refused_by_name() {
    let running = start(server(), TestService).await;
    let port = running.port();
    type Set = fn(tpp_rpc::ClientBuilder) -> tpp_rpc::ClientBuilder;
    let cases: Vec<(&str, Set, bool)> = vec![
        ("timeout", |b| b.timeout(Duration::MAX), false),
        ("timeout", |b| b.timeout(Duration::ZERO), true),
        ("item_timeout", |b| b.item_timeout(Duration::MAX), false),
        ("item_timeout", |b| b.item_timeout(Duration::ZERO), true),
        (
            "connect_timeout",
            |b| b.connect_timeout(Duration::MAX),
            false,
        ),
        (
            "connect_timeout",
            |b| b.connect_timeout(Duration::ZERO),
            true,
        ),
        ("max_frame_size", |b| b.max_frame_size(usize::MAX), false),
        ("max_frame_size", |b| b.max_frame_size(0), true),
        (
            "write_timeout",
            |b| b.pipelined(2).write_timeout(Duration::MAX),
            false,
        ),
        ("write_timeout", |b| b.write_timeout(Duration::ZERO), true),
        ("pool_max_idle", |b| b.pool_max_idle(usize::MAX), false),
        ("pool_max_idle", |b| b.pool_max_idle(0), false),
        ("pool_max_open", |b| b.pool_max_open(usize::MAX), false),
        ("pool_max_open", |b| b.pool_max_open(0), false),
        (
            "pool_idle_timeout",
            |b| b.pool_idle_timeout(Duration::MAX),
            false,
        ),
        (
            "pool_idle_timeout",
            |b| b.pool_idle_timeout(Duration::ZERO),
            false,
        ),
        ("pipelined", |b| b.pipelined(usize::MAX), false),
        ("pipelined", |b| b.pipelined(0), false),
        ("down_backoff", |b| b.down_backoff(Duration::MAX), false),
        ("down_backoff", |b| b.down_backoff(Duration::ZERO), false),
    ];
    for (setting, set, refused) in cases {
        // The test's own bound on the call, whatever the setting says.
        let built = set(tpp_rpc::Client::builder("127.0.0.1", port).token(TOKEN)).build();
        match (refused, built) {
            (true, Err(e)) => assert!(e.to_string().contains(setting), "{setting}: {e}"),
            (true, Ok(_)) => panic!("{setting}: an unusable value was accepted"),
            (false, Err(e)) => panic!("{setting} refused: {e}"),
            (false, Ok(c)) => {
                let answer: i64 = within(c.request2server("echo", &5)).await.expect(setting);
                assert_eq!(answer, 5, "{setting}");
            }
        }
    }
    // Several endpoints with the longest back-off: a refused one is skipped, not a panic.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let c = client_builder(closed_port)
        .endpoint("127.0.0.1", port)
        .down_backoff(Duration::MAX)
        .build()
        .unwrap();
    for _ in 0..3 {
        let answer: i64 = within(c.request2server("echo", &1))
            .await
            .expect("failover");
        assert_eq!(answer, 1);
    }
    running.stop().await;
}

/// Reads until the server closes; true if it did within [`WAIT`].
async fn closed_by_server(s: &mut (impl AsyncReadExt + Unpin)) -> bool {
    let mut sink = [0u8; 1024];
    loop {
        match tokio::time::timeout(WAIT, s.read(&mut sink)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// A peer that sends a PROXY header, completes the TLS handshake, then sends
/// half a request, each step a while after the last: every step is within
/// the read timeout, but all of them together are over the first-request
/// deadline, so the server closes.
#[tokio::test]
async fn one_deadline_covers_proxy_header_tls_handshake_and_first_request() {
    let cert = TestCert::new();
    let running = start(
        server()
            .tls_pem_files(&cert.cert, &cert.key)
            .proxy_protocol(["127.0.0.1".parse().unwrap()])
            .first_request_timeout(Duration::from_millis(900))
            .read_timeout(Duration::from_secs(600)),
        TestService,
    )
    .await;
    let step = Duration::from_millis(400);
    let mut tcp = within(TcpStream::connect(running.addr)).await.unwrap();
    tokio::time::sleep(step).await;
    tcp.write_all(b"PROXY TCP4 192.0.2.1 127.0.0.1 5555 7777\r\n")
        .await
        .unwrap();
    tokio::time::sleep(step).await;
    let connector = tokio_rustls::TlsConnector::from(tpp_rpc::tls::client_config_insecure());
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let handshake = within(connector.connect(name, tcp)).await;
    let Ok(mut tls) = handshake else {
        return running.stop().await; // the deadline already ended it: closed, as required
    };
    tokio::time::sleep(step).await;
    let _ = tls.write_all(b"100\n{\"token\": ").await;
    assert!(
        closed_by_server(&mut tls).await,
        "closed at the first-request deadline, not the 600 s read timeout"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_silent_connection_is_closed_at_the_first_request_deadline() {
    let running = start(
        server()
            .first_request_timeout(Duration::from_millis(300))
            .read_timeout(Duration::from_secs(600)),
        TestService,
    )
    .await;
    let mut silent = within(TcpStream::connect(running.addr)).await.unwrap();
    assert!(closed_by_server(&mut silent).await);
    // A prompt client is served as usual, on a kept-alive connection beyond
    // the first-request deadline too.
    let c = client(running.port());
    for _ in 0..2 {
        let answer: i64 = within(c.request2server("echo", &3)).await.unwrap();
        assert_eq!(answer, 3);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    assert_eq!(
        c.connections_opened(),
        1,
        "the kept connection outlived 300 ms"
    );
    running.stop().await;
}
