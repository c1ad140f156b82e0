//! Streaming actions end to end: `#[action(stream)]` and `#[action(stream, ack)]`
//! services and their generated clients over TCP and TLS, against each other and against the
//! Python reference (toxiccore) in both directions.
//!
//! - generated server + generated client: items, an error mid-stream, an error before the
//!   stream, acknowledged streams, per-item timeouts, a client that leaves (the producer
//!   stops);
//! - a generated client whose trait mirrors `tests/python/ref_server.py` reading a toxiccore
//!   `ToxicServer`'s streams (items, error, null end) and acknowledgements;
//! - toxiccore's `BaseToxicClient` reading our acknowledged stream (`request2server`, then
//!   `get_response()` in toxicbuild's loop) and our build stream with an error;
//! - an ignored measurement (items/s, peak memory) for BENCHMARKS.md:
//!   `cargo test --release -p tpp-tests --test streaming -- --ignored --nocapture`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::Notify;
use tpp_rpc::{ActionError, CallError, Client, ClientError, Context, ItemStream, Server};
use tpp_tests::{
    all_items, ref_client, reference_python, start, status_kib, within, RefServer, Running,
    TestCert,
};

const TOKEN: &str = "stream-tok";

// ---------------------------------------------------------------------------------------------
// The service

/// One build step, as the build server streams it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Step {
    step: u32,
    output: String,
}

/// One event of the hole-like `stream` action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Event {
    seq: u64,
    event_type: String,
    /// The request's top-level `user_id`.
    user: Option<String>,
}

/// A chunk of the measurement stream.
#[derive(Debug, Serialize, Deserialize)]
struct Chunk {
    seq: u64,
    data: String,
}

#[tpp_rpc::toxic_service(rename_all = "kebab-case")]
trait Builds {
    /// Streams `steps` steps, `delay_ms` apart; step `fail_at` is an error (code 5) that ends
    /// the stream. Refuses 0 steps before streaming anything (code 4).
    #[action(stream)]
    async fn build(
        &self,
        steps: u32,
        fail_at: Option<u32>,
        delay_ms: Option<u64>,
    ) -> Result<ItemStream<Step>, ActionError>;

    /// Counts 0, 1, 2… through a channel of capacity 4 until the client leaves.
    #[action(stream)]
    async fn count(&self) -> Result<ItemStream<u64>, ActionError>;

    /// Sends `before` items, then stalls until the client leaves.
    #[action(stream)]
    async fn stall(&self, before: u32) -> Result<ItemStream<u32>, ActionError>;

    /// The hole's `stream` action: acknowledges `"ok"`, then pushes `count` events (forever
    /// when absent) cycling through `event_types`. Refuses an empty list (code 4).
    #[action(stream, ack)]
    async fn stream(
        &self,
        ctx: &Context,
        event_types: Vec<String>,
        count: Option<u64>,
    ) -> Result<(String, ItemStream<Event>), ActionError>;

    /// `items` chunks of `size` bytes each (the measurement).
    #[action(stream)]
    async fn payload(&self, items: u64, size: usize) -> Result<ItemStream<Chunk>, ActionError>;
}

/// Counters shared with the tests: how far each producer got, and when it stopped.
#[derive(Default)]
struct Probes {
    counted: AtomicU64,
    count_done: Notify,
    pushed: AtomicU64,
    push_done: Notify,
    stall_done: Notify,
}

#[derive(Clone, Default)]
struct MyBuilds {
    probes: Arc<Probes>,
}

fn step(i: u32) -> Step {
    Step {
        step: i,
        output: format!("passo {i} ✔ 构建 🚀"),
    }
}

impl Builds for MyBuilds {
    async fn build(
        &self,
        steps: u32,
        fail_at: Option<u32>,
        delay_ms: Option<u64>,
    ) -> Result<ItemStream<Step>, ActionError> {
        if steps == 0 {
            return Err(ActionError::new(4, "nothing to build"));
        }
        let (tx, items) = ItemStream::channel(4);
        tokio::spawn(async move {
            for i in 1..=steps {
                if let Some(ms) = delay_ms {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                let sent = if Some(i) == fail_at {
                    let _ = tx
                        .fail(ActionError::new(5, format!("step {i} failed")))
                        .await;
                    break;
                } else {
                    tx.send(step(i)).await
                };
                if sent.is_err() {
                    break;
                }
            }
        });
        Ok(items)
    }

    async fn count(&self) -> Result<ItemStream<u64>, ActionError> {
        let (tx, items) = ItemStream::channel(4);
        let probes = self.probes.clone();
        tokio::spawn(async move {
            for i in 0u64.. {
                if tx.send(i).await.is_err() {
                    break;
                }
                probes.counted.fetch_add(1, Ordering::SeqCst);
            }
            probes.count_done.notify_one();
        });
        Ok(items)
    }

    async fn stall(&self, before: u32) -> Result<ItemStream<u32>, ActionError> {
        let (tx, items) = ItemStream::channel(4);
        let probes = self.probes.clone();
        tokio::spawn(async move {
            for i in 0..before {
                let _ = tx.send(i).await;
            }
            tx.closed().await;
            probes.stall_done.notify_one();
        });
        Ok(items)
    }

    async fn stream(
        &self,
        ctx: &Context,
        event_types: Vec<String>,
        count: Option<u64>,
    ) -> Result<(String, ItemStream<Event>), ActionError> {
        if event_types.is_empty() {
            return Err(ActionError::new(4, "no event types"));
        }
        let user = ctx
            .extra("user_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let (tx, events) = ItemStream::channel(4);
        let probes = self.probes.clone();
        tokio::spawn(async move {
            for seq in 0..count.unwrap_or(u64::MAX) {
                let event = Event {
                    seq,
                    event_type: event_types[(seq % event_types.len() as u64) as usize].clone(),
                    user: user.clone(),
                };
                if tx.send(event).await.is_err() {
                    break;
                }
                probes.pushed.fetch_add(1, Ordering::SeqCst);
            }
            probes.push_done.notify_one();
        });
        Ok(("ok".to_owned(), events))
    }

    async fn payload(&self, items: u64, size: usize) -> Result<ItemStream<Chunk>, ActionError> {
        let (tx, chunks) = ItemStream::channel(16);
        tokio::spawn(async move {
            let data = "x".repeat(size);
            for seq in 0..items {
                let chunk = Chunk {
                    seq,
                    data: data.clone(),
                };
                if tx.send(chunk).await.is_err() {
                    break;
                }
            }
        });
        Ok(chunks)
    }
}

async fn start_builds(tls: Option<&TestCert>) -> (Running, Arc<Probes>) {
    let service = MyBuilds::default();
    let probes = service.probes.clone();
    let mut builder = Server::builder().token(TOKEN);
    if let Some(cert) = tls {
        builder = builder.tls_pem_files(&cert.cert, &cert.key);
    }
    (start(builder, BuildsServer::new(service)).await, probes)
}

fn client_of(server: &Running, tls: Option<&TestCert>) -> BuildsClient {
    let mut builder = Client::builder("127.0.0.1", server.port()).token(TOKEN);
    if let Some(cert) = tls {
        builder = builder.tls_ca_file(&cert.cert);
    }
    BuildsClient::new(builder.build().expect("client"))
}

// ---------------------------------------------------------------------------------------------
// Generated server and generated client

/// A build stream and an acknowledged stream, with a generated client, over TCP and over TLS
/// (a self-signed certificate trusted as the CA).
#[tokio::test]
async fn generated_streams_over_tcp_and_tls() {
    let cert = TestCert::new();
    for tls in [None, Some(&cert)] {
        let (server, _) = start_builds(tls).await;
        let client = client_of(&server, tls);

        let steps = within(client.build(6)).await.expect("build");
        assert_eq!(
            all_items(steps).await,
            (1..=6).map(step).collect::<Vec<_>>()
        );

        let (ack, events) = within(
            client
                .with_field("user_id", "u-7")
                .stream(vec!["build-started".into(), "step-finished".into()])
                .count(3),
        )
        .await
        .expect("stream");
        assert_eq!(ack, "ok");
        let events = all_items(events).await;
        let kinds: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(kinds, ["build-started", "step-finished", "build-started"]);
        assert!(events.iter().all(|e| e.user.as_deref() == Some("u-7")));
        assert_eq!(events[2].seq, 2);

        // An acknowledged stream with no item: the ack, then the end.
        let (ack, events) = within(client.stream(vec!["x".into()]).count(0))
            .await
            .expect("stream");
        assert_eq!(ack, "ok");
        assert!(all_items(events).await.is_empty());
        server.stop().await;
    }
}

/// What the generated actions put on the wire, read with the runtime client: bare items for
/// `stream`, `{"<action>": ack}` then bare items for `stream, ack`.
#[tokio::test]
async fn generated_streams_on_the_wire() {
    let (server, _) = start_builds(None).await;
    let client = client_of(&server, None).into_inner();
    let mut raw = within(client.request_stream("build", &json!({"steps": 2}), None))
        .await
        .expect("stream");
    let first = within(raw.next_response())
        .await
        .expect("item")
        .expect("ok");
    assert_eq!(first.code(), 0);
    assert_eq!(
        first.body::<Value>().expect("json"),
        json!({"step": 1, "output": "passo 1 ✔ 构建 🚀"})
    );
    assert!(within(raw.next_response()).await.expect("item").is_ok());
    assert!(within(raw.next_response()).await.is_none());

    // The acknowledgement is a normal response to the raw reader, wrapped in the action.
    let raw =
        within(client.request_stream("stream", &json!({"event_types": ["e"], "count": 1}), None))
            .await
            .expect("stream");
    let bodies: Vec<Value> = all_items(raw.typed::<Value>()).await;
    assert_eq!(
        bodies,
        [
            json!({"stream": "ok"}),
            json!({"seq": 0, "event_type": "e", "user": null})
        ]
    );

    // Client::request_stream_ack unwraps it.
    let (ack, rest) = within(client.request_stream_ack::<_, String>(
        "stream",
        &json!({"event_types": ["e"], "count": 2}),
        None,
    ))
    .await
    .expect("stream");
    assert_eq!(ack, "ok");
    assert_eq!(all_items(rest.typed::<Event>()).await.len(), 2);
    server.stop().await;
}

/// An error item ends the stream with its code after the items before it; an error before
/// the stream is its only response (for an acknowledged stream, the call itself fails).
#[tokio::test]
async fn errors_before_and_during_a_stream() {
    let (server, _) = start_builds(None).await;
    let client = client_of(&server, None);

    let mut steps = within(client.build(6).fail_at(3)).await.expect("build");
    for want in [step(1), step(2)] {
        assert_eq!(within(steps.next()).await.expect("item").expect("ok"), want);
    }
    // The service's error type comes back as itself.
    match within(steps.next()).await.expect("the error") {
        Err(CallError::Service(ActionError {
            code: 5, message, ..
        })) => {
            assert_eq!(message, "step 3 failed")
        }
        other => panic!("expected code 5, got {other:?}"),
    }
    assert!(within(steps.next()).await.is_none(), "the error ends it");

    // Refused before streaming: the stream's only item is the error.
    let mut steps = within(client.build(0)).await.expect("build");
    let error = within(steps.next()).await.expect("the error").unwrap_err();
    assert_eq!(error.code(), Some(4));
    assert_eq!(
        error.service_error(),
        Some(&ActionError::new(4, "nothing to build"))
    );
    assert!(within(steps.next()).await.is_none());

    // An acknowledged stream refused: no acknowledgement, the call fails.
    let refused = within(client.stream(vec![])).await;
    match refused {
        Err(CallError::Service(ActionError {
            code: 4, message, ..
        })) => {
            assert_eq!(message, "no event types")
        }
        Err(other) => panic!("expected code 4, got {other:?}"),
        Ok(_) => panic!("expected code 4, got an acknowledgement"),
    }
    // The server is fine afterwards.
    assert_eq!(
        all_items(within(client.build(1)).await.expect("build"))
            .await
            .len(),
        1
    );
    server.stop().await;
}

/// Waits until `counter` stops (its producer signalled `done`), then checks it stays put.
async fn assert_stopped(counter: &AtomicU64, done: &Notify, what: &str) -> u64 {
    within(done.notified()).await;
    let at_stop = counter.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        counter.load(Ordering::SeqCst),
        at_stop,
        "{what}: the counter still advances"
    );
    at_stop
}

/// A client that drops its stream mid-way: the server notices, drops the stream, and the
/// producer's next send fails, so it stops (its counter stops advancing), with at most the
/// channel's capacity and the socket buffers produced ahead.
#[tokio::test]
async fn leaving_a_stream_stops_its_producer() {
    let (server, probes) = start_builds(None).await;
    let client = client_of(&server, None);

    let mut counting = within(client.count()).await.expect("count");
    for want in 0..10u64 {
        assert_eq!(
            within(counting.next()).await.expect("item").expect("ok"),
            want
        );
    }
    drop(counting);
    let stopped = assert_stopped(&probes.counted, &probes.count_done, "count").await;
    assert!(stopped < 1_000_000, "stopped early: {stopped}");
    eprintln!("count: stopped after {stopped} items (10 read)");

    // The same for an acknowledged stream that would push forever.
    let (ack, mut events) = within(client.stream(vec!["tick".into()]))
        .await
        .expect("stream");
    assert_eq!(ack, "ok");
    for want in 0..5u64 {
        let event = within(events.next()).await.expect("event").expect("ok");
        assert_eq!(event.seq, want);
    }
    drop(events);
    let stopped = assert_stopped(&probes.pushed, &probes.push_done, "stream").await;
    assert!(stopped < 1_000_000, "stopped early: {stopped}");

    // The server keeps serving.
    assert_eq!(
        all_items(within(client.build(2)).await.expect("build"))
            .await
            .len(),
        2
    );
    server.stop().await;
}

/// The call timeout never bounds a stream's items: an idle stream (a watch) outlives it. The
/// item timeout (none by default) bounds the wait for each item, not the whole stream: items
/// 100 ms apart outlive a 300 ms item timeout, while a stream that stalls ends with
/// `ClientError::Timeout` after its items. Both are set on the client or per call.
#[tokio::test]
async fn call_timeout_and_item_timeout_are_separate() {
    let (server, probes) = start_builds(None).await;
    let short = Duration::from_millis(300);

    // A 300 ms call timeout and no item timeout: an idle stream stays open.
    let client = client_of(&server, None).with_timeout(short);
    assert_eq!(client.inner().item_timeout(), None);
    let mut idle = within(client.stall(1)).await.expect("stall");
    assert_eq!(within(idle.next()).await.expect("item").expect("ok"), 0);
    let waited = tokio::time::timeout(Duration::from_secs(1), idle.next()).await;
    assert!(waited.is_err(), "still open after 1 s: {waited:?}");
    drop(idle);
    within(probes.stall_done.notified()).await;

    // An item timeout on the client.
    let client = client_of(&server, None).with_item_timeout(Some(short));
    let started = Instant::now();
    let steps = within(client.build(5).delay_ms(100)).await.expect("build");
    assert_eq!(all_items(steps).await.len(), 5);
    assert!(
        started.elapsed() >= Duration::from_millis(450),
        "{:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let mut stalled = within(client.stall(2)).await.expect("stall");
    assert_eq!(within(stalled.next()).await.expect("item").expect("ok"), 0);
    assert_eq!(within(stalled.next()).await.expect("item").expect("ok"), 1);
    match within(stalled.next()).await {
        Some(Err(CallError::Client(ClientError::Timeout(d)))) => assert_eq!(d, short),
        other => panic!("expected a timeout, got {other:?}"),
    }
    let waited = started.elapsed();
    assert!(
        waited >= short && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    assert!(
        within(stalled.next()).await.is_none(),
        "a timeout ends the stream"
    );
    drop(stalled);
    // The stalled producer learns that the client left.
    within(probes.stall_done.notified()).await;

    // Per call, on a client without item timeout; and on the builder of `tpp_rpc::Client`.
    let plain = client_of(&server, None);
    let per_call = Duration::from_millis(200);
    let mut stalled = within(plain.stall(0).item_timeout(per_call))
        .await
        .expect("stall");
    match within(stalled.next()).await {
        Some(Err(CallError::Client(ClientError::Timeout(d)))) => assert_eq!(d, per_call),
        other => panic!("expected the per-call timeout, got {other:?}"),
    }
    drop(stalled);
    within(probes.stall_done.notified()).await;
    let built = BuildsClient::new(
        Client::builder("127.0.0.1", server.port())
            .token(TOKEN)
            .item_timeout(per_call)
            .build()
            .expect("client"),
    );
    assert_eq!(built.inner().item_timeout(), Some(per_call));
    assert_eq!(
        built.inner().timeout(),
        Some(tpp_rpc::client::DEFAULT_TIMEOUT)
    );
    let mut stalled = within(built.stall(0)).await.expect("stall");
    assert!(matches!(
        within(stalled.next()).await,
        Some(Err(CallError::Client(ClientError::Timeout(_))))
    ));
    drop(stalled);
    within(probes.stall_done.notified()).await;

    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// A generated client against the reference server (toxiccore's ToxicServer)

/// A build step of `ref_server.py`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefStep {
    step: u32,
    output: String,
}

/// `tests/python/ref_server.py`'s streaming actions as a trait: only its generated client is
/// used here, against toxiccore.
#[allow(dead_code)]
mod reference {
    use super::*;

    #[tpp_rpc::toxic_service(rename_all = "kebab-case")]
    pub trait RefBuilds {
        /// `steps` items, then the server closes.
        #[action(stream)]
        async fn build(&self, steps: u32) -> Result<ItemStream<RefStep>, ActionError>;

        /// `steps` items, then `{"code": 5, "body": {"error": "step failed"}}`.
        #[action(stream)]
        async fn build_error(&self, steps: u32) -> Result<ItemStream<RefStep>, ActionError>;

        /// `steps` items, then a `null` body; the server then holds the connection 30 s.
        #[action(stream)]
        async fn build_null(&self, steps: u32) -> Result<ItemStream<RefStep>, ActionError>;

        /// `echo` read as an acknowledged stream: `{"echo": body}`, then the server closes
        /// (an acknowledgement and no item).
        #[action(stream, ack)]
        async fn echo(
            &self,
            #[body] body: Value,
        ) -> Result<(Value, ItemStream<Value>), ActionError>;

        /// `error` read as an acknowledged stream: the error comes instead of the ack.
        #[action(stream, ack)]
        async fn error(
            &self,
            code: i64,
            message: String,
        ) -> Result<(Value, ItemStream<Value>), ActionError>;
    }
}

use reference::RefBuildsClient;

fn ref_step(i: u32) -> RefStep {
    RefStep {
        step: i,
        output: format!("passo {i} ✔ 构建 🚀"),
    }
}

async fn generated_client_reads_toxiccore(test: &str, tls: bool) {
    let python = reference_python(test);
    let cert = tls.then(TestCert::new);
    let server = RefServer::start(&python, cert.as_ref()).await;
    let mut builder = server.client();
    if tls {
        builder = builder.tls_insecure();
    }
    let client = RefBuildsClient::new(builder.build().expect("client"));

    let steps = within(client.build(4)).await.expect("build");
    assert_eq!(
        all_items(steps).await,
        (0..4).map(ref_step).collect::<Vec<_>>()
    );

    let mut steps = within(client.build_error(3)).await.expect("build-error");
    for i in 0..3 {
        let got = within(steps.next()).await.expect("item").expect("ok");
        assert_eq!(got, ref_step(i));
    }
    match within(steps.next()).await {
        Some(Err(CallError::Service(ActionError {
            code: 5, message, ..
        }))) => {
            assert_eq!(message, "step failed")
        }
        other => panic!("expected the server's error, got {other:?}"),
    }
    assert!(within(steps.next()).await.is_none());

    // The null body ends the stream although the server keeps the connection open.
    let started = Instant::now();
    let steps = within(client.build_null(2)).await.expect("build-null");
    assert_eq!(all_items(steps).await, [ref_step(0), ref_step(1)]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // Acknowledgements written by Python (", " separators, \u escapes), then the close.
    let body = json!({"stream": "ok ✓", "n": [1, 2.5]});
    let (ack, rest) = within(client.echo(body.clone())).await.expect("echo");
    assert_eq!(ack, body);
    assert!(all_items(rest).await.is_empty());
    match within(client.error(6, "não")).await {
        Err(CallError::Service(ActionError {
            code: 6, message, ..
        })) => assert_eq!(message, "não"),
        Err(other) => panic!("expected code 6, got {other:?}"),
        Ok(_) => panic!("expected code 6, got an acknowledgement"),
    }

    // The runtime client directly: an answer without the action's key, a close without one.
    let raw = client.inner();
    let r = within(raw.request_stream_ack::<_, Value>("no-key", &json!(null), None)).await;
    assert!(
        matches!(&r, Err(ClientError::MissingActionKey { action, .. }) if action == "no-key"),
        "{:?}",
        r.map(|(ack, _)| ack)
    );
    let r = within(raw.request_stream_ack::<_, Value>("close", &json!(null), None)).await;
    assert!(
        matches!(r, Err(ClientError::Closed)),
        "{:?}",
        r.map(|(ack, _)| ack)
    );
}

/// A generated client (trait mirroring ref_server.py) reads toxiccore's streams over TCP:
/// typed items, the error that ends `build-error`, the null body of `build-null`, and
/// acknowledgements (`echo`, `error`, `no-key`, `close` read as acknowledged streams).
#[tokio::test]
#[cfg_attr(
    not(tpp_python),
    ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"
)]
async fn generated_client_reads_toxiccore_streams_tcp() {
    generated_client_reads_toxiccore("generated_client_reads_toxiccore_streams_tcp", false).await;
}

/// The same over TLS (toxiccore's self-signed certificate, `tls_insecure`).
#[tokio::test]
#[cfg_attr(
    not(tpp_python),
    ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"
)]
async fn generated_client_reads_toxiccore_streams_tls() {
    generated_client_reads_toxiccore("generated_client_reads_toxiccore_streams_tls", true).await;
}

// ---------------------------------------------------------------------------------------------
// toxiccore's client against the generated server

async fn python_reads_our_streams(test: &str, tls: bool) {
    let python = reference_python(test);
    let cert = tls.then(TestCert::new);
    let (server, _) = start_builds(cert.as_ref()).await;
    let ack_op = |body: Value| json!({"op": "request2server_stream", "action": "stream", "body": body, "token": TOKEN});
    let spec = json!({
        "host": "127.0.0.1",
        "port": server.port(),
        "use_ssl": tls,
        "validate_cert": false,
        "timeout": 15,
        "ops": [
            ack_op(json!({"event_types": ["build-started", "build-finished"], "count": 3})),
            ack_op(json!({"event_types": []})),
            // With "count", the Python client stops reading and closes mid-stream.
            {
                "op": "request2server_stream", "action": "stream", "count": 2,
                "body": {"event_types": ["tick"]}, "token": TOKEN,
            },
            {
                "op": "exchange",
                "message": {"action": "build", "body": {"steps": 5, "fail_at": 3}, "token": TOKEN},
            },
        ],
    });
    let results = within(ref_client(&python, spec)).await;

    // request2server unwrapped the ack; the build loop read the events until the close.
    let r = &results[0];
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["result"], "ok");
    let event = |seq: u64, kind: &str| json!({"code": 0, "body": {"seq": seq, "event_type": kind, "user": null}});
    assert_eq!(
        r["responses"],
        json!([
            event(0, "build-started"),
            event(1, "build-finished"),
            event(2, "build-started")
        ])
    );
    assert_eq!(r["last"], json!({}), "a closed stream reads as {{}}");

    let r = &results[1];
    assert_eq!(
        (&r["ok"], &r["exc"], &r["message"]),
        (
            &json!(false),
            &json!("ToxicClientException"),
            &json!("no event types")
        ),
        "{r}"
    );

    let r = &results[2];
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["responses"], json!([event(0, "tick"), event(1, "tick")]));

    let r = &results[3];
    assert_eq!(
        (&r["ok"], &r["exc"], &r["message"]),
        (
            &json!(false),
            &json!("ToxicClientException"),
            &json!("step 3 failed")
        ),
        "{r}"
    );
    assert_eq!(
        r["responses"],
        json!([
            {"code": 0, "body": {"step": 1, "output": "passo 1 ✔ 构建 🚀"}},
            {"code": 0, "body": {"step": 2, "output": "passo 2 ✔ 构建 🚀"}},
        ])
    );
    server.stop().await;
}

/// toxiccore's `BaseToxicClient` against the generated server over TCP: `request2server`
/// on the acknowledged `stream` action returns the ack, then `get_response()` in toxicbuild's
/// loop reads the events until the server closes; a refusal raises instead of the ack; a
/// client that stops reading early is fine; a build stream's error raises after its items.
#[tokio::test]
#[cfg_attr(
    not(tpp_python),
    ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"
)]
async fn python_client_reads_our_streams_tcp() {
    python_reads_our_streams("python_client_reads_our_streams_tcp", false).await;
}

/// The same over TLS (`validate_cert=False`).
#[tokio::test]
#[cfg_attr(
    not(tpp_python),
    ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"
)]
async fn python_client_reads_our_streams_tls() {
    python_reads_our_streams("python_client_reads_our_streams_tls", true).await;
}

// ---------------------------------------------------------------------------------------------
// Measurement (for BENCHMARKS.md)

/// Streams `items` chunks of `size` bytes through the generated server and client (both in
/// this process, over loopback TCP) and prints items/s, MiB/s and peak memory.
async fn measure(client: &BuildsClient, items: u64, size: usize) {
    let started = Instant::now();
    let mut chunks = within(client.payload(items, size)).await.expect("payload");
    let (mut count, mut bytes) = (0u64, 0u64);
    while let Some(chunk) = within(chunks.next()).await {
        let chunk = chunk.expect("chunk");
        assert_eq!(chunk.seq, count);
        count += 1;
        bytes += chunk.data.len() as u64;
    }
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(count, items);
    println!(
        "{items} items of {size} B ({:.1} MiB): {:.2} s, {:.0} items/s, {:.1} MiB/s; \
         VmRSS {} KiB, VmHWM (peak) {} KiB",
        bytes as f64 / 1048576.0,
        elapsed,
        count as f64 / elapsed,
        bytes as f64 / 1048576.0 / elapsed,
        status_kib("VmRSS:"),
        status_kib("VmHWM:"),
    );
}

/// items/s and peak resident memory for long streams: 100 000 small items, 100 000 items of
/// 1 049 B (100 MiB in all), then 1 600 items of 64 KiB (100 MiB). Server and client share
/// the process, so the memory figures cover both ends. Run with
/// `cargo test --release -p tpp-tests --test streaming -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run it in release mode"]
async fn measure_long_streams() {
    let (server, _) = start_builds(None).await;
    let client = client_of(&server, None);
    // Warm up (connections, allocator), then take the baseline.
    measure(&client, 1_000, 16).await;
    println!(
        "baseline: VmRSS {} KiB, VmHWM {} KiB",
        status_kib("VmRSS:"),
        status_kib("VmHWM:")
    );
    measure(&client, 100_000, 16).await;
    measure(&client, 100_000, 1_049).await;
    measure(&client, 1_600, 65_536).await;
    server.stop().await;
}
