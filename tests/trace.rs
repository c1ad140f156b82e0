//! Spans and request ids over real sockets, captured by a
//! tracing-subscriber layer: a connection span, a request span (action,
//! identity, request id, code, responses, duration; the peer on the
//! connection span), client spans, and
//! the request id / trace context travelling from a client through one
//! service to the next. In its own binary: the subscriber is process-wide.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Value};
use tpp_rpc::auth::UserTokens;
use tpp_rpc::trace::TraceContext;
use tpp_rpc::{Connection, Error, Handler, Server};
use tpp_tests::*;
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// One captured span: its name, fields (as text), parent's name, closed or not.
#[derive(Debug, Clone, Default)]
struct Captured {
    name: &'static str,
    fields: HashMap<&'static str, String>,
    parent: Option<&'static str>,
    closed: bool,
}

impl Captured {
    /// A field's value, without the quotes of a `Debug`-recorded string.
    fn get(&self, field: &str) -> Option<&str> {
        let v = self.fields.get(field)?;
        Some(
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v),
        )
    }
}

struct Fields<'a>(&'a mut HashMap<&'static str, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name(), value.to_owned());
    }
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<HashMap<u64, Captured>>>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let mut c = Captured {
            name: attrs.metadata().name(),
            ..Default::default()
        };
        attrs.record(&mut Fields(&mut c.fields));
        c.parent = ctx.span(id).and_then(|s| s.parent()).map(|p| p.name());
        self.0.lock().unwrap().insert(id.into_u64(), c);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: LayerContext<'_, S>) {
        if let Some(c) = self.0.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Fields(&mut c.fields));
        }
    }

    fn on_close(&self, id: Id, _: LayerContext<'_, S>) {
        if let Some(c) = self.0.lock().unwrap().get_mut(&id.into_u64()) {
            c.closed = true;
        }
    }
}

fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry().with(capture.clone());
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        capture
    })
}

/// Closed spans named `name` whose `field` is `value`.
fn spans(name: &str, field: &str, value: &str) -> Vec<Captured> {
    let all = capture().0.lock().unwrap();
    all.values()
        .filter(|c| c.closed && c.name == name && c.get(field) == Some(value))
        .cloned()
        .collect()
}

/// Waits (bounded) until `f` finds something: spans close when tasks end.
async fn eventually(f: impl Fn() -> Vec<Captured>) -> Vec<Captured> {
    for _ in 0..200 {
        let found = f();
        if !found.is_empty() {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    f()
}

/// `back`: reports what it was given (request id, extras, traceparent).
struct Back;

impl Handler for Back {
    async fn handle(&self, conn: &mut Connection) -> Result<(), Error> {
        let ctx = conn.context();
        let seen = json!({
            "request_id": ctx.request_id(),
            "traceparent": ctx.trace().and_then(|t| t.traceparent()),
            "extras": ctx.extras(),
        });
        conn.send_result(&seen).await
    }
}

/// `front`: calls `back` (with its own client) and returns what `back` saw.
struct Front {
    back: tpp_rpc::Client,
}

impl Handler for Front {
    async fn handle(&self, conn: &mut Connection) -> Result<(), Error> {
        match conn.action() {
            "relay" => match self.back.request2server::<_, Value>("report", &()).await {
                Ok(seen) => conn.send_result(&seen).await,
                Err(e) => conn.send_error(9, &e.to_string()).await,
            },
            "stream" => {
                let items = tpp_rpc::ItemStream::new(futures_util::stream::iter([
                    Ok(1),
                    Err(tpp_rpc::ActionError::new(6, "stopped")),
                ]));
                tpp_rpc::stream::send_stream(conn, None::<&()>, items).await
            }
            // Never done: a hand-written handler watching for its client.
            "wait" => {
                let (_, watch) = conn.watch_client();
                match watch.run(std::future::pending::<()>()).await {
                    Some(()) => conn.send_result(&()).await,
                    None => Ok(()),
                }
            }
            _ => tpp_rpc::service::answer_unknown_action(conn).await,
        }
    }
}

#[tokio::test]
async fn a_request_whose_client_left_is_recorded_as_cancelled() {
    use tokio::io::AsyncWriteExt;

    capture();
    let front = start(Server::builder().token(TOKEN), Front { back: client(1) }).await;
    let request = json!({"token": TOKEN, "action": "wait", "tpp_request_id": "gone-1"});
    let mut s = within(tokio::net::TcpStream::connect(front.addr))
        .await
        .unwrap();
    within(s.write_all(&frame(&request.to_string())))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    reset_on_drop(&s);
    drop(s);
    let served = eventually(|| spans("tpp.request", "request_id", "gone-1")).await;
    let span = served.first().expect("the request's span closed");
    assert_eq!(span.get("cancelled"), Some("true"), "{span:?}");
    assert_eq!(span.get("code"), None, "nothing was answered");
    front.stop().await;
}

#[tokio::test]
async fn spans_carry_the_request_id_from_client_through_two_services() {
    capture();
    let back = start(Server::builder().token(TOKEN), Back).await;
    let front = start(
        Server::builder().auth(UserTokens::new().user("ci", "tok-ci")),
        Front {
            back: client(back.port()),
        },
    )
    .await;
    let c = client(front.port()).with_token("tok-ci");
    let seen: Value = within(TraceContext::new("req-abc").scope(c.request2server("relay", &())))
        .await
        .unwrap();
    // `back` got the id through `front`'s client; no tpp_ field among extras.
    assert_eq!(seen["request_id"], "req-abc");
    assert_eq!(seen["extras"], json!({}));

    let client_spans = eventually(|| spans("tpp.client", "request_id", "req-abc")).await;
    let actions: Vec<_> = client_spans
        .iter()
        .filter_map(|s| s.get("action"))
        .collect();
    assert!(
        actions.contains(&"relay") && actions.contains(&"report"),
        "{client_spans:?}"
    );
    assert!(client_spans
        .iter()
        .all(|s| s.get("code") == Some("0") && s.get("duration_us").is_some()));

    let served = eventually(|| spans("tpp.request", "request_id", "req-abc")).await;
    let relay = served
        .iter()
        .find(|s| s.get("action") == Some("relay"))
        .expect("front's span");
    assert_eq!(relay.get("identity"), Some("ci"));
    assert_eq!(relay.get("code"), Some("0"));
    assert_eq!(relay.get("responses"), None, "recorded for streams only");
    assert!(relay.get("duration_us").is_some());
    assert_eq!(relay.parent, Some("tpp.connection"));
    let report = served
        .iter()
        .find(|s| s.get("action") == Some("report"))
        .expect("back's span");
    assert_eq!(report.get("identity"), None, "a shared token names nobody");
    // `back`'s request span is in its own server's connection span: the id,
    // not the span tree, joins the two services.
    assert_eq!(report.parent, Some("tpp.connection"));
    let connections = eventually(|| spans("tpp.connection", "tls", "false")).await;
    assert!(connections
        .iter()
        .any(|s| s.get("peer").is_some_and(|p| p.starts_with("127.0.0.1:"))));
    front.stop().await;
    back.stop().await;
}

#[tokio::test]
async fn a_traceparent_continues_and_ids_are_made_when_missing() {
    capture();
    let back = start(Server::builder().token(TOKEN), Back).await;
    let front = start(
        Server::builder().token(TOKEN),
        Front {
            back: client(back.port()),
        },
    )
    .await;
    // A raw request, as a peer in another language would send it.
    let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let raw = format!(
        r#"{{"token":"tok","action":"relay","body":null,"tpp_request_id":"from-peer","tpp_traceparent":"{tp}","user_id":7}}"#
    );
    let answer = response_json(&raw_exchange(front.addr, &frame(&raw)).await);
    let seen = &answer["body"]["relay"];
    assert_eq!(seen["request_id"], "from-peer", "{answer}");
    let next = seen["traceparent"].as_str().expect("a traceparent");
    assert_eq!(&next[..36], &tp[..36], "same trace");
    assert_ne!(next, tp, "a new parent id");

    // No id in scope: the client makes one (its span is recorded); the
    // server takes it and passes it on to the next service.
    let plain = client(front.port());
    let seen: Value = within(plain.request2server("relay", &())).await.unwrap();
    let made = seen["request_id"].as_str().expect("an id was made");
    assert_eq!(made.len(), 32, "{made}");
    let served = eventually(|| spans("tpp.request", "request_id", made)).await;
    let actions: Vec<_> = served.iter().filter_map(|s| s.get("action")).collect();
    assert!(
        actions.contains(&"relay") && actions.contains(&"report"),
        "{served:?}"
    );

    // A stream's span records the last code and every response.
    let stream = within(plain.request_stream("stream", &(), None))
        .await
        .unwrap();
    let _ = within(futures_util::StreamExt::collect::<Vec<_>>(stream)).await;
    let streams = eventually(|| spans("tpp.request", "code", "6")).await;
    assert!(
        streams
            .iter()
            .any(|s| s.get("action") == Some("stream") && s.get("responses") == Some("2")),
        "{streams:?}"
    );
    front.stop().await;
    back.stop().await;
}

/// Behind a balancer speaking the PROXY protocol, the connection span names
/// the client the header gives, not the balancer.
#[tokio::test]
async fn the_connection_span_names_the_client_behind_a_proxy_header() {
    capture();
    let trusted = ["127.0.0.1".parse().unwrap()];
    let server = start(Server::builder().token(TOKEN).proxy_protocol(trusted), Back).await;
    let mut bytes = b"PROXY TCP4 192.0.2.7 127.0.0.1 40123 7777\r\n".to_vec();
    bytes.extend(frame(
        &json!({"token": TOKEN, "action": "report", "body": null}).to_string(),
    ));
    let answer = within(raw_exchange(server.addr, &bytes)).await;
    assert_eq!(response_json(&answer)["code"], 0);
    let connections = eventually(|| spans("tpp.connection", "peer", "192.0.2.7:40123")).await;
    assert_eq!(connections.len(), 1, "the header's client address");
    server.stop().await;
}
