//! Half-closing clients (`shutdown(SHUT_WR)`, what `nc -N` does) get every
//! frame of a stream and their unary answers, over TCP and TLS; a client that
//! closed altogether is still noticed, so an idle producer stops.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tpp_rpc::{Connection, Handler, ItemStream, Server};
use tpp_tests::*;

/// `count` streams `n` numbered items, pausing `pause_ms` after `pause_after`
/// of them; `idle` sends two items, then waits until the client is gone and
/// says so on `left`.
struct Streams {
    left: Arc<Notify>,
}

#[derive(serde::Deserialize)]
struct Ask {
    n: u64,
    #[serde(default)]
    pause_after: Option<u64>,
    #[serde(default)]
    pause_ms: u64,
}

impl Handler for Streams {
    async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
        match conn.action() {
            "count" => {
                let ask: Ask = conn.body()?;
                let (tx, items) = ItemStream::channel(4);
                tokio::spawn(async move {
                    for i in 0..ask.n {
                        if Some(i) == ask.pause_after {
                            tokio::time::sleep(Duration::from_millis(ask.pause_ms)).await;
                        }
                        if tx.send(json!({"i": i})).await.is_err() {
                            break;
                        }
                    }
                });
                tpp_rpc::stream::send_stream(conn, None::<&str>, items).await
            }
            "idle" => {
                let (tx, items) = ItemStream::channel(4);
                let left = self.left.clone();
                tokio::spawn(async move {
                    for i in 0..2u64 {
                        let _ = tx.send(json!({"i": i})).await;
                    }
                    tx.closed().await;
                    left.notify_one();
                });
                tpp_rpc::stream::send_stream(conn, None::<&str>, items).await
            }
            _ => {
                conn.send_result(&conn.request().body_raw()?.to_owned())
                    .await
            }
        }
    }
}

fn handler() -> (Streams, Arc<Notify>) {
    let left = Arc::new(Notify::new());
    (Streams { left: left.clone() }, left)
}

fn request(token: &str, action: &str, body: Value) -> Vec<u8> {
    frame(&json!({"token": token, "action": action, "body": body}).to_string())
}

/// Writes `bytes`, shuts the write side, reads until the server closes.
async fn half_closed_exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    bytes: &[u8],
) -> Vec<u8> {
    within(s.write_all(bytes)).await.expect("write");
    within(s.shutdown()).await.expect("half-close");
    let mut out = Vec::new();
    within(s.read_to_end(&mut out))
        .await
        .expect("read to the end");
    out
}

/// Every frame of `bytes`, as JSON; fails on trailing bytes that are not a
/// whole frame (spaces excepted, as TPP decoders skip them).
fn frames(mut bytes: &[u8]) -> Vec<Value> {
    let mut out = Vec::new();
    while bytes.iter().any(|b| *b != b' ') {
        let (payload, rest) = split_frame(bytes).unwrap_or_else(|| {
            panic!(
                "cut frame after {} frames: {:?}",
                out.len(),
                String::from_utf8_lossy(&bytes[..bytes.len().min(80)])
            )
        });
        out.push(serde_json::from_slice(payload).expect("JSON frame"));
        bytes = rest;
    }
    out
}

fn assert_stream(got: &[Value], n: u64) {
    assert_eq!(got.len() as u64, n, "frames received");
    for (i, frame) in got.iter().enumerate() {
        assert_eq!(frame, &json!({"code": 0, "body": {"i": i}}));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_closed_client_gets_every_frame_of_its_stream() {
    let (h, _) = handler();
    let server = start(Server::builder().token(TOKEN), h).await;
    for n in 2..=500u64 {
        let tcp = within(TcpStream::connect(server.addr)).await.unwrap();
        let got = half_closed_exchange(tcp, &request(TOKEN, "count", json!({"n": n}))).await;
        assert_stream(&frames(&got), n);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_a_half_closed_client_gets_every_frame() {
    let cert = TestCert::new();
    let (h, _) = handler();
    let builder = Server::builder()
        .token(TOKEN)
        .tls_pem_files(&cert.cert, &cert.key);
    let server = start(builder, h).await;
    let connector = tokio_rustls::TlsConnector::from(tpp_rpc::tls::client_config_insecure());
    for n in [2u64, 3, 17, 100, 499, 500] {
        let tcp = within(TcpStream::connect(server.addr)).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let tls = within(connector.connect(name, tcp)).await.unwrap();
        let got = half_closed_exchange(tls, &request(TOKEN, "count", json!({"n": n}))).await;
        assert_stream(&frames(&got), n);
    }
    server.stop().await;
}

/// The stream's producer goes quiet for a while after the client's FIN: the
/// server's probe must not end a stream whose client still reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_producer_after_the_fin_still_delivers() {
    let (h, _) = handler();
    let server = start(Server::builder().token(TOKEN), h).await;
    let body = json!({"n": 20, "pause_after": 5, "pause_ms": 400});
    let tcp = within(TcpStream::connect(server.addr)).await.unwrap();
    let got = half_closed_exchange(tcp, &request(TOKEN, "count", body)).await;
    assert_stream(&frames(&got), 20);
    server.stop().await;
}

/// A client that closes its socket (FIN, nothing unread) while the producer
/// waits for events: the server notices and the producer is stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_client_stops_an_idle_producer() {
    let (h, left) = handler();
    let server = start(Server::builder().token(TOKEN), h).await;
    for half_close_first in [false, false, false, true] {
        let mut tcp = within(TcpStream::connect(server.addr)).await.unwrap();
        within(tcp.write_all(&request(TOKEN, "idle", json!(null))))
            .await
            .unwrap();
        if half_close_first {
            within(tcp.shutdown()).await.unwrap();
        }
        // Read the two items, so that closing sends a FIN, not a reset.
        let mut got = Vec::new();
        while frames_in(&got) < 2 {
            let mut buf = [0u8; 256];
            let n = within(tcp.read(&mut buf)).await.unwrap();
            assert!(n > 0, "closed early");
            got.extend_from_slice(&buf[..n]);
        }
        if half_close_first {
            // Past the first probe: the client still reads.
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        drop(tcp);
        within(left.notified()).await;
    }
    server.stop().await;
}

fn frames_in(mut bytes: &[u8]) -> usize {
    let mut n = 0;
    while let Some((_, rest)) = split_frame(bytes) {
        n += 1;
        bytes = rest;
    }
    n
}

/// `printf REQUEST | nc -N` against a bcrypt server: the FIN arrives while
/// the token is being verified, and the answer still comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_close_during_token_verification_still_gets_the_answer() {
    let hash = tpp_rpc::BcryptToken::hash("right", 8).unwrap();
    let (h, _) = handler();
    let server = start(
        Server::builder().auth(tpp_rpc::BcryptToken::new(hash).unwrap().cache_size(0)),
        h,
    )
    .await;
    for _ in 0..5 {
        let tcp = within(TcpStream::connect(server.addr)).await.unwrap();
        let got = half_closed_exchange(tcp, &request("right", "echo", json!(7))).await;
        assert_eq!(frames(&got), [json!({"code": 0, "body": {"echo": 7}})]);
        let tcp = within(TcpStream::connect(server.addr)).await.unwrap();
        let got = half_closed_exchange(tcp, &request("wrong", "echo", json!(7))).await;
        assert_eq!(
            frames(&got),
            [json!({"code": 3, "body": {"error": "Bad auth token"}})]
        );
        let tcp = within(TcpStream::connect(server.addr)).await.unwrap();
        let got = half_closed_exchange(tcp, &request("right", "count", json!({"n": 3}))).await;
        assert_stream(&frames(&got), 3);
    }
    server.stop().await;
}
