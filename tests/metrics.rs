//! Metrics over real sockets: a server with `metrics(true)` and the
//! Prometheus recorder, real calls (good, failing, streaming, unknown,
//! unauthenticated, malformed, over the connection limit), then a scrape of
//! the `metrics` example's HTTP endpoint, checking the counts. In its own
//! binary: the recorder is process-wide.

#[path = "../examples/support/prometheus_http.rs"]
mod prometheus_http;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tpp_rpc::server::ConcurrencyLimit;
use tpp_rpc::{BcryptToken, Server};
use tpp_tests::*;

/// A service for the labels of refused calls: `hang` holds its
/// concurrency permit until told to end.
#[tpp_rpc::toxic_service]
trait Held {
    async fn hang(&self) -> Result<(), tpp_rpc::ActionError>;
    async fn quick(&self) -> Result<(), tpp_rpc::ActionError>;
}

struct HeldImpl(std::sync::Arc<tokio::sync::Notify>);

impl Held for HeldImpl {
    async fn hang(&self) -> Result<(), tpp_rpc::ActionError> {
        self.0.notified().await;
        Ok(())
    }
    async fn quick(&self) -> Result<(), tpp_rpc::ActionError> {
        Ok(())
    }
}

/// GETs /metrics over HTTP/1.1 and returns the body.
async fn scrape(addr: SocketAddr) -> String {
    let mut s = within(TcpStream::connect(addr)).await.expect("connect");
    let request = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    within(s.write_all(request.as_bytes()))
        .await
        .expect("write");
    let mut out = String::new();
    within(s.read_to_string(&mut out)).await.expect("read");
    let (head, body) = out.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_owned()
}

/// The value of the sample `name{labels}` (exactly those labels).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<&str, &str> = labels.iter().copied().collect();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, got) = match series.split_once('{') {
                Some((m, rest)) => (m, parse_labels(rest.strip_suffix('}')?)),
                None => (series, BTreeMap::new()),
            };
            (metric == name && got == want).then(|| value.parse().ok())?
        })
}

fn parse_labels(s: &str) -> BTreeMap<&str, &str> {
    s.split("\",")
        .filter_map(|pair| {
            let (k, v) = pair.split_once("=\"")?;
            Some((k, v.trim_end_matches('"')))
        })
        .collect()
}

#[tokio::test]
async fn prometheus_endpoint_counts_real_calls() {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("the only recorder of this test binary");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_addr = listener.local_addr().unwrap();
    let endpoint = tokio::spawn(prometheus_http::serve(listener, handle));

    let hash = BcryptToken::hash(TOKEN, 4).unwrap();
    let server = start(
        Server::builder().token_hash(&hash).metrics(true),
        TestService,
    )
    .await;
    // One connection per call, so connection counts are exact.
    let c = client_builder(server.port())
        .reuse_connections(false)
        .build()
        .unwrap();
    for i in 0..3 {
        let _: Value = within(c.request2server("echo", &i)).await.unwrap();
    }
    for _ in 0..2 {
        let e = within(c.request2server::<_, Value>("fail", &1))
            .await
            .unwrap_err();
        assert_eq!(e.server_code(), Some(5));
    }
    let items = all_items(within(c.request_stream("stream", &4, None)).await.unwrap()).await;
    assert_eq!(items.len(), 4);
    let e = within(c.request2server::<_, Value>("made-up-123", &1))
        .await
        .unwrap_err();
    assert_eq!(e.server_code(), Some(1));
    for wrong in ["wrong-1", "wrong-2"] {
        let e = within(c.with_token(wrong).request2server::<_, Value>("echo", &1))
            .await
            .unwrap_err();
        assert_eq!(e.server_code(), Some(3));
    }
    let no_token = raw_exchange(server.addr, &frame(r#"{"action":"echo","body":1}"#)).await;
    assert_eq!(response_json(&no_token)["code"], 2);
    let bad_json = raw_exchange(server.addr, &frame(r#"{"action":"#)).await;
    assert_eq!(response_json(&bad_json)["code"], 1);
    let bad_frame = raw_exchange(server.addr, b"12x\n{}").await;
    assert_eq!(response_json(&bad_frame)["code"], 1);

    // A second server, full with one connection: the next one is refused.
    let full = start(
        Server::builder()
            .token(TOKEN)
            .max_connections(1)
            .metrics(true),
        TestService,
    )
    .await;
    let held = within(TcpStream::connect(full.addr)).await.unwrap();
    let mut refused = false;
    for _ in 0..50 {
        let answer = raw_exchange(
            full.addr,
            &frame(r#"{"token":"tok","action":"echo","body":1}"#),
        )
        .await;
        if split_frame(&answer)
            .is_some_and(|(p, _)| p.starts_with(br#"{"code":1,"body":{"error":"Server busy"#))
        {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(refused, "the second connection was answered busy");
    drop(held);

    // A third, whose request memory budget cannot take a 200 KB request:
    // refused busy, counted as such and not as a framing error.
    let tight = start(
        Server::builder()
            .token(TOKEN)
            .request_memory(64 * 1024)
            .metrics(true),
        TestService,
    )
    .await;
    let over = raw_exchange(tight.addr, b"200000\n{\"token\":").await;
    let over = response_json(&over);
    assert_eq!(over["code"], 1, "{over}");
    assert!(
        over["body"]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("Server busy")),
        "{over}"
    );

    // Served connections: 3 + 2 + 1 + 1 + 2 + 3 raw on the first server, 1 on
    // the second, 1 on the third.
    let served = 14.0;
    let mut text = String::new();
    for _ in 0..100 {
        text = scrape(metrics_addr).await;
        let settled = sample(&text, "tpp_connections_open", &[]) == Some(0.0)
            && sample(&text, "tpp_connections_accepted_total", &[]) == Some(served);
        if settled {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let get = |name: &str, labels: &[(&str, &str)]| {
        sample(&text, name, labels).unwrap_or_else(|| panic!("no {name}{labels:?} in:\n{text}"))
    };
    let requests = |action, code| get("tpp_requests_total", &[("action", action), ("code", code)]);
    assert_eq!(requests("echo", "0"), 3.0);
    assert_eq!(requests("fail", "5"), 2.0);
    assert_eq!(requests("stream", "0"), 1.0);
    assert_eq!(requests("<unknown>", "1"), 1.0);
    assert!(
        !text.contains("made-up-123"),
        "an unknown action's name became a label"
    );
    assert_eq!(
        get("tpp_stream_items_sent_total", &[("action", "stream")]),
        4.0
    );
    assert_eq!(
        get("tpp_request_duration_seconds_count", &[("action", "echo")]),
        3.0
    );
    assert_eq!(
        get("tpp_auth_failures_total", &[("reason", "refused")]),
        2.0
    );
    assert_eq!(
        get("tpp_auth_failures_total", &[("reason", "missing")]),
        1.0
    );
    // The first good token is a bcrypt verification, later ones cache hits;
    // each wrong token is verified.
    assert_eq!(get("tpp_auth_checks_total", &[("cache", "miss")]), 3.0);
    assert_eq!(get("tpp_auth_checks_total", &[("cache", "hit")]), 6.0);
    assert_eq!(get("tpp_frame_errors_total", &[("kind", "bad_data")]), 1.0);
    assert_eq!(get("tpp_frame_errors_total", &[("kind", "framing")]), 1.0);
    assert_eq!(
        get("tpp_frame_errors_total", &[("kind", "over_budget")]),
        1.0
    );
    assert_eq!(get("tpp_connections_refused_total", &[]), 1.0);
    assert_eq!(get("tpp_connections_accepted_total", &[]), served);
    assert_eq!(get("tpp_connections_open", &[]), 0.0);
    assert_eq!(get("tpp_requests_in_flight", &[]), 0.0);

    // A layer that refuses before dispatch: the names a peer makes up never
    // become labels, the service's own names stay.
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let limited = start(
        Server::builder()
            .token(TOKEN)
            .metrics(true)
            .layer(ConcurrencyLimit::new(1).refuse_when_full(7, "full")),
        HeldServer::new(HeldImpl(release.clone())),
    )
    .await;
    let c = client(limited.port());
    let holder = {
        let c = c.clone();
        tokio::spawn(async move { c.request2server::<_, Value>("hang", &Value::Null).await })
    };
    let mut refused_known = false;
    for _ in 0..200 {
        let e = within(c.request2server::<_, Value>("quick", &Value::Null)).await;
        if e.is_err_and(|e| e.server_code() == Some(7)) {
            refused_known = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(refused_known, "the layer refused a known action");
    for i in 0..3 {
        let e = within(c.request2server::<_, Value>(&format!("made-up-full-{i}"), &1))
            .await
            .unwrap_err();
        assert_eq!(
            e.server_code(),
            Some(7),
            "refused by the layer, not the service"
        );
    }
    // And behind a hand-written handler, which does not list its actions.
    let plain = start(
        Server::builder()
            .token(TOKEN)
            .metrics(true)
            .layer(ConcurrencyLimit::new(1).refuse_when_full(8, "full")),
        TestService,
    )
    .await;
    let pc = client(plain.port());
    let plain_holder = {
        let pc = pc.clone();
        tokio::spawn(async move { pc.request2server::<_, Value>("hang", &1).await })
    };
    let mut refused_plain = false;
    for _ in 0..200 {
        let e = within(pc.request2server::<_, Value>("made-up-plain", &1)).await;
        if e.is_err_and(|e| e.server_code() == Some(8)) {
            refused_plain = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(refused_plain);
    let text = scrape(metrics_addr).await;
    let get = |name: &str, labels: &[(&str, &str)]| {
        sample(&text, name, labels).unwrap_or_else(|| panic!("no {name}{labels:?} in:\n{text}"))
    };
    assert!(
        !text.contains("made-up-full") && !text.contains("made-up-plain"),
        "a made-up action refused by a layer became a label:\n{text}"
    );
    assert_eq!(
        get(
            "tpp_requests_total",
            &[("action", "<unknown>"), ("code", "7")]
        ),
        3.0
    );
    assert!(
        get(
            "tpp_requests_total",
            &[("action", "<unknown>"), ("code", "8")]
        ) >= 1.0
    );
    assert!(get("tpp_requests_total", &[("action", "quick"), ("code", "7")]) >= 1.0);
    release.notify_one();
    within(holder).await.unwrap().expect("hang answered");
    plain_holder.abort();
    limited.stop().await;
    drop(plain);

    // A unary call whose client resets while it runs: counted as cancelled.
    let never = std::sync::Arc::new(tokio::sync::Notify::new());
    let held = start(
        Server::builder().token(TOKEN).metrics(true),
        HeldServer::new(HeldImpl(never)),
    )
    .await;
    let mut s = within(TcpStream::connect(held.addr)).await.unwrap();
    let hang = frame(r#"{"token":"tok","action":"hang","body":{}}"#);
    within(s.write_all(&hang)).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    reset_on_drop(&s);
    drop(s);
    let cancelled = [("action", "hang"), ("code", "cancelled")];
    let mut counted = None;
    for _ in 0..200 {
        counted = sample(
            &scrape(metrics_addr).await,
            "tpp_requests_total",
            &cancelled,
        );
        if counted.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(counted, Some(1.0), "the cancelled call was counted as such");
    held.stop().await;

    server.stop().await;
    full.stop().await;
    tight.stop().await;
    endpoint.abort();
}
