//! Keep-alive asked for, the client's connection pool and pipelined mode,
//! over real sockets: connections are counted on the server's side.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tpp_rpc::{ClientError, Connection, Handler, Server};
use tpp_tests::*;

/// Splits every whole frame off the front of `bytes`: the payloads, and how
/// many bytes they took.
fn read_frames(bytes: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut out = Vec::new();
    let mut used = 0;
    while let Some((payload, rest)) = split_frame(&bytes[used..]) {
        out.push(payload);
        used = bytes.len() - rest.len();
    }
    (out, used)
}

/// Echo (after `sleep_ms` of the body's, if any) that records every peer and
/// the most requests in the handler at once.
#[derive(Default)]
struct Counting {
    peers: Mutex<HashSet<SocketAddr>>,
    now: AtomicUsize,
    most: AtomicUsize,
    calls: AtomicUsize,
}

impl Handler for Counting {
    async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut peers) = self.peers.lock() {
            peers.insert(conn.peer_addr());
        }
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        let result = match conn.action() {
            "echo" => {
                let body: Value = conn.body()?;
                if let Some(ms) = body.get("sleep_ms").and_then(Value::as_u64) {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                conn.send_result(&body).await
            }
            // Runs, then closes without answering.
            "silent" => Ok(()),
            "steps" => {
                let n: u64 = conn.body()?;
                tpp_rpc::stream::send_stream(conn, None::<&()>, tpp_rpc::ItemStream::iter(0..n))
                    .await
            }
            _ => tpp_rpc::service::answer_unknown_action(conn).await,
        };
        self.now.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

impl Counting {
    fn peers(&self) -> usize {
        self.peers.lock().map(|p| p.len()).unwrap_or(0)
    }
}

async fn counting_server(builder: tpp_rpc::ServerBuilder) -> (Running, Arc<Counting>) {
    let counting = Arc::new(Counting::default());
    (start(builder, counting.clone()).await, counting)
}

/// Calls `echo` with `body` (owned, so many calls can be made at once).
async fn echo(c: &tpp_rpc::Client, body: Value) -> Result<Value, ClientError> {
    c.request2server("echo", &body).await
}

fn request(i: usize, keep_alive: bool) -> Vec<u8> {
    let mut r = json!({"token": TOKEN, "action": "echo", "body": {"i": i}});
    if keep_alive {
        r["tpp_keep_alive"] = json!(true);
    }
    frame(&r.to_string())
}

/// Reads until the server closes (bounded by [`WAIT`]).
async fn read_all(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = within(s.read_to_end(&mut out)).await;
    out
}

#[tokio::test]
async fn a_thousand_requests_in_one_write_get_a_thousand_answers_in_order() {
    let (server, counting) = counting_server(Server::builder().token(TOKEN)).await;
    // 999 ask for keep-alive, the last does not: after its answer the server closes.
    let mut input = Vec::new();
    for i in 0..1000 {
        input.extend(request(i, i < 999));
    }
    let mut s = within(TcpStream::connect(server.addr)).await.unwrap();
    within(s.write_all(&input)).await.unwrap();
    let out = read_all(&mut s).await;
    let (answers, used) = read_frames(&out);
    assert_eq!(used, out.len(), "nothing but whole frames");
    assert_eq!(answers.len(), 1000);
    for (i, answer) in answers.iter().enumerate() {
        let v: Value = serde_json::from_slice(answer).unwrap();
        let mut expected = json!({"code": 0, "body": {"echo": {"i": i}}});
        if i < 999 {
            expected["tpp_keep_alive"] = json!(true);
        }
        assert_eq!(v, expected, "answer {i}");
    }
    assert_eq!(counting.calls.load(Ordering::SeqCst), 1000);
    server.stop().await;
}

#[tokio::test]
async fn a_stream_in_the_middle_of_a_pipeline_ends_it() {
    let (server, counting) = counting_server(Server::builder().token(TOKEN)).await;
    let mut input = Vec::new();
    for i in 0..10 {
        input.extend(request(i, true));
    }
    let stream = json!({"token": TOKEN, "action": "steps", "body": 3, "tpp_keep_alive": true});
    input.extend(frame(&stream.to_string()));
    for i in 10..15 {
        input.extend(request(i, true));
    }
    let mut s = within(TcpStream::connect(server.addr)).await.unwrap();
    within(s.write_all(&input)).await.unwrap();
    let out = read_all(&mut s).await;
    let (answers, _) = read_frames(&out);
    let answers: Vec<Value> = answers
        .iter()
        .map(|a| serde_json::from_slice(a).unwrap())
        .collect();
    // Ten unary answers in order, then the stream, then the close: a stream
    // always ends its connection, and what was queued behind it is not run.
    for (i, answer) in answers[..10].iter().enumerate() {
        assert_eq!(answer["body"], json!({"echo": {"i": i}}));
    }
    let items: Vec<&Value> = answers[10..].iter().map(|a| &a["body"]).collect();
    assert_eq!(items, [&json!(0), &json!(1), &json!(2)]);
    assert_eq!(counting.calls.load(Ordering::SeqCst), 11);
    server.stop().await;
}

#[tokio::test]
async fn the_pool_reuses_one_connection_for_sequential_calls() {
    let (server, counting) = counting_server(Server::builder().token(TOKEN)).await;
    let c = client(server.port());
    for i in 0..200 {
        let v: Value = within(c.request2server("echo", &json!({"i": i})))
            .await
            .unwrap();
        assert_eq!(v, json!({"i": i}));
    }
    assert_eq!(c.connections_opened(), 1);
    assert_eq!(counting.peers(), 1);
    assert_eq!(c.idle_connections(), 1);
    server.stop().await;
}

#[tokio::test]
async fn a_reused_connection_times_each_call_by_its_own_timeout() {
    let (server, _) = counting_server(Server::builder().token(TOKEN)).await;
    let long = client_builder(server.port())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    // The connection's timer, moved on by many calls with a long timeout…
    for i in 0..50 {
        within(echo(&long, json!({"i": i}))).await.unwrap();
    }
    // …still ends a call with a shorter one on time, on the same connection.
    let short = long.with_timeout(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let err = within(echo(&short, json!({"sleep_ms": 2_000})))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Timeout(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_millis(1_500),
        "{:?}",
        started.elapsed()
    );
    // A slow call within its timeout is not cut short by an earlier deadline.
    within(echo(&long, json!({"sleep_ms": 300}))).await.unwrap();
    within(echo(&long, json!({"sleep_ms": 300}))).await.unwrap();
    assert_eq!(
        long.connections_opened(),
        2,
        "the timed-out call's connection is not reused"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_server_restarted_between_two_calls_costs_no_failed_call() {
    let (server, _) = counting_server(Server::builder().token(TOKEN)).await;
    let addr = server.addr;
    let c = client(server.port());
    let v: Value = within(c.request2server("echo", &1)).await.unwrap();
    assert_eq!(v, json!(1));
    server.stop().await;
    // The same port again: the kept connection is dead, the next call must
    // notice before writing and use a new one.
    let again = within(Server::builder().token(TOKEN).bind(addr))
        .await
        .expect("the same port again");
    let again = Running {
        addr,
        shutdown: again.shutdown_handle(),
        task: tokio::spawn(again.serve(Arc::new(Counting::default()))),
    };
    let v: Value = within(c.request2server("echo", &2)).await.unwrap();
    assert_eq!(v, json!(2));
    assert_eq!(c.connections_opened(), 2);
    again.stop().await;
}

#[tokio::test]
async fn connections_the_server_closed_while_idle_are_never_a_failed_call() {
    let (server, counting) = counting_server(
        Server::builder()
            .token(TOKEN)
            .idle_timeout(Duration::from_millis(50)),
    )
    .await;
    let c = client(server.port());
    for i in 0..5 {
        let v: Value = within(c.request2server("echo", &i)).await.unwrap();
        assert_eq!(v, json!(i));
        // Past the server's idle timeout: it closed the kept connection.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(c.connections_opened(), 5);
    assert_eq!(counting.calls.load(Ordering::SeqCst), 5);
    server.stop().await;
}

#[tokio::test]
async fn a_server_without_keep_alive_gets_one_connection_per_call_and_no_failure() {
    let (server, counting) =
        counting_server(Server::builder().token(TOKEN).keep_alive(false)).await;
    let c = client(server.port());
    for i in 0..100 {
        let v: Value = within(c.request2server("echo", &i)).await.unwrap();
        assert_eq!(v, json!(i));
    }
    assert_eq!(c.connections_opened(), 100);
    assert_eq!(c.idle_connections(), 0);
    assert_eq!(counting.calls.load(Ordering::SeqCst), 100);
    server.stop().await;
}

#[tokio::test]
async fn a_request_that_reached_the_server_is_never_sent_twice() {
    let (server, counting) = counting_server(Server::builder().token(TOKEN)).await;
    let c = client(server.port());
    let _: Value = within(c.request2server("echo", &1)).await.unwrap();
    // On the kept connection: the handler runs and closes without a word.
    let err = within(c.request2server::<_, Value>("silent", &()))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Closed), "{err:?}");
    assert!(err.to_string().contains("may have run"), "{err}");
    assert_eq!(counting.calls.load(Ordering::SeqCst), 2, "silent ran once");
    server.stop().await;
}

#[tokio::test]
async fn a_thousand_callers_with_a_pool_of_16_never_open_more_than_16() {
    let (server, counting) = counting_server(Server::builder().token(TOKEN)).await;
    let c = client_builder(server.port())
        .pool_max_open(16)
        .build()
        .unwrap();
    let calls = (0..1000).map(|i| {
        let c = c.clone();
        tokio::spawn(async move {
            c.request2server::<_, Value>("echo", &json!({"i": i, "sleep_ms": 1}))
                .await
        })
    });
    let results = within(futures_util::future::join_all(calls)).await;
    for (i, r) in results.into_iter().enumerate() {
        assert_eq!(r.unwrap().unwrap(), json!({"i": i, "sleep_ms": 1}));
    }
    // Every connection the server ever saw, so never more open at once.
    let peers = counting.peers();
    assert!(peers <= 16, "{peers} connections");
    assert!(counting.most.load(Ordering::SeqCst) <= 16);
    assert_eq!(c.connections_opened(), peers as u64);
    eprintln!("1000 callers, pool of 16: {peers} connections opened");
    server.stop().await;
}

#[tokio::test]
async fn idle_connections_beyond_the_limit_or_too_old_are_closed() {
    let (server, _) = counting_server(Server::builder().token(TOKEN)).await;
    let c = client_builder(server.port())
        .pool_max_idle(2)
        .pool_idle_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let calls = (0..8).map(|i| echo(&c, json!({"i": i, "sleep_ms": 100})));
    for r in within(futures_util::future::join_all(calls)).await {
        r.unwrap();
    }
    assert_eq!(c.connections_opened(), 8);
    assert_eq!(
        c.idle_connections(),
        2,
        "the rest were closed when handed back"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _: Value = within(c.request2server("echo", &0)).await.unwrap();
    assert_eq!(c.connections_opened(), 9, "the idle ones had expired");
    server.stop().await;
}

#[tokio::test]
async fn defaults_are_documented_values() {
    let c = tpp_rpc::Client::builder("127.0.0.1", 1).build().unwrap();
    assert_eq!(c.timeout(), Some(tpp_rpc::client::DEFAULT_TIMEOUT));
    assert_eq!(tpp_rpc::client::DEFAULT_TIMEOUT, Duration::from_secs(30));
    let c = tpp_rpc::Client::builder("127.0.0.1", 1)
        .no_timeout()
        .build()
        .unwrap();
    assert_eq!(c.timeout(), None);
}

#[tokio::test]
async fn pipelined_callers_share_one_connection() {
    let (server, counting) = counting_server(Server::builder().token(TOKEN)).await;
    let c = client_builder(server.port()).pipelined(1).build().unwrap();
    let calls = (0..500).map(|i| echo(&c, json!({"i": i})));
    let results = within(futures_util::future::join_all(calls)).await;
    for (i, r) in results.into_iter().enumerate() {
        assert_eq!(r.unwrap(), json!({"i": i}), "call {i} got its own answer");
    }
    assert_eq!(counting.peers(), 1);
    assert_eq!(c.connections_opened(), 1);
    // A stream uses a connection of its own, and ends.
    let stream = within(c.request_stream("steps", &3, None)).await.unwrap();
    let items: Vec<Value> = all_items(stream.typed::<Value>()).await;
    assert_eq!(items, [json!(0), json!(1), json!(2)]);
    assert_eq!(counting.peers(), 2);
    let v: Value = within(c.request2server("echo", &7)).await.unwrap();
    assert_eq!(v, json!(7));
    server.stop().await;
}

#[tokio::test]
async fn pipelined_mode_against_a_server_without_keep_alive_falls_back_to_one_call_per_connection()
{
    let (server, counting) =
        counting_server(Server::builder().token(TOKEN).keep_alive(false)).await;
    let c = client_builder(server.port()).pipelined(2).build().unwrap();
    let calls = (0..50).map(|i| echo(&c, json!({"i": i})));
    let results = within(futures_util::future::join_all(calls)).await;
    for (i, r) in results.into_iter().enumerate() {
        assert_eq!(r.unwrap(), json!({"i": i}));
    }
    assert_eq!(counting.calls.load(Ordering::SeqCst), 50, "each ran once");
    server.stop().await;
}

/// A server that answers (with the keep-alive promise) the first `n`
/// requests of its first connection, then closes it; later connections are
/// served in full. Returns the port and every body it answered.
async fn closes_after(n: usize) -> (u16, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let answered = Arc::new(Mutex::new(Vec::new()));
    let log = answered.clone();
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((s, _)) = listener.accept().await {
            let limit = if first { Some(n) } else { None };
            first = false;
            tokio::spawn(serve_raw(s, limit, log.clone()));
        }
    });
    (port, answered)
}

async fn serve_raw(mut s: TcpStream, limit: Option<usize>, log: Arc<Mutex<Vec<Value>>>) {
    let mut buf = Vec::new();
    let mut served = 0;
    loop {
        let (frames, used) = read_frames(&buf);
        let mut out = Vec::new();
        for payload in frames {
            if limit == Some(served) {
                break;
            }
            let request: Value = serde_json::from_slice(payload).unwrap();
            log.lock().unwrap().push(request["body"].clone());
            let answer =
                json!({"code": 0, "body": {"echo": request["body"]}, "tpp_keep_alive": true});
            out.extend(frame(&answer.to_string()));
            served += 1;
        }
        buf.drain(..used);
        if s.write_all(&out).await.is_err() {
            return;
        }
        if limit == Some(served) {
            // Closes with requests unanswered, as a careful server does: its
            // side first, then what the client still sends is dropped (so
            // no reset destroys the answers on their way).
            let _ = s.shutdown().await;
            let mut sink = [0u8; 65536];
            while let Ok(k) = s.read(&mut sink).await {
                if k == 0 {
                    break;
                }
            }
            return;
        }
        let mut chunk = [0u8; 65536];
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    }
}

#[tokio::test]
async fn a_server_closing_after_n_pipelined_answers() {
    let (port, answered) = closes_after(5).await;
    let c = client_builder(port).pipelined(1).build().unwrap();
    let calls = (0..50).map(|i| echo(&c, json!({"i": i})));
    let results = within(futures_util::future::join_all(calls)).await;
    let mut ok = Vec::new();
    let mut closed = 0;
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok(v) => {
                assert_eq!(v, json!({"i": i}), "call {i} got its own answer");
                ok.push(v);
            }
            Err(ClientError::Closed) => closed += 1,
            Err(e) => panic!("call {i}: undocumented error {e:?}"),
        }
    }
    let answered = answered.lock().unwrap().clone();
    // Every success is an answer the server sent, once; no answer twice.
    let unique: HashSet<String> = answered.iter().map(Value::to_string).collect();
    assert_eq!(unique.len(), answered.len(), "a request answered twice");
    assert_eq!(ok.len(), answered.len());
    assert!(ok.len() >= 5);
    assert_eq!(ok.len() + closed, 50);
    assert!(closed > 0, "the first connection had requests it dropped");
    eprintln!(
        "closes after 5: {} answered, {closed} failed as Closed",
        ok.len()
    );
}

/// A server that answers the first request of each connection (promising
/// keep-alive), then stops reading: the pipelined writer gives the
/// connection up after its write timeout instead of taking callers until TCP
/// gives up. Returns its port and the connections it accepted.
async fn stops_reading() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 64 * 1024];
            let mut got = Vec::new();
            // Reads one whole request, answers it, then never reads again.
            while tpp_tests::split_frame(&got).is_none() {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let answer = frame(r#"{"code":0,"body":{"echo":1},"tpp_keep_alive":true}"#);
            let _ = s.write_all(&answer).await;
            held.push(s);
        }
    });
    (port, accepted)
}

#[tokio::test]
async fn a_pipelined_server_that_stops_reading_fails_the_waiting_calls_after_the_write_timeout() {
    let (port, accepted) = stops_reading().await;
    let c = tpp_rpc::Client::builder("127.0.0.1", port)
        .token(TOKEN)
        // A request written whole waits for its answer until this; one stuck
        // behind a stalled write ends at the write timeout.
        .timeout(Duration::from_secs(2))
        .pipelined(1)
        .write_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let first: Value = within(c.request2server("echo", &1)).await.unwrap();
    assert_eq!(first, 1);
    let big = "x".repeat(4 << 20);
    let started = std::time::Instant::now();
    let calls = (0..8).map(|_| {
        let c = c.clone();
        let big = big.clone();
        tokio::spawn(async move { c.request2server::<_, Value>("echo", &big).await })
    });
    let (mut closed, mut not_sent, mut timed_out, mut answered) = (0, 0, 0, 0);
    for call in calls {
        match within(call).await.unwrap() {
            Err(ClientError::Closed) => closed += 1,
            Err(ClientError::NotSent(_)) => not_sent += 1,
            Err(ClientError::Timeout(_)) => timed_out += 1,
            // Not sent at the write timeout, sent again on a new connection
            // (whose first request this server answers).
            Ok(_) => answered += 1,
            other => panic!("{other:?}"),
        }
    }
    println!(
        "closed {closed}, not sent {not_sent}, timed out {timed_out}, answered {answered} \
         in {:?}",
        started.elapsed()
    );
    assert!(
        closed + not_sent + answered > 0,
        "every call waited for its whole timeout behind a stalled write"
    );
    assert!(
        accepted.load(Ordering::SeqCst) > 1,
        "requests not written were sent again on a new connection"
    );
}
