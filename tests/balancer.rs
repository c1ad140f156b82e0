//! What a load balancer relies on, in-process over real sockets: the health
//! action (no token, failing from the moment shutdown starts, served during
//! the shutdown delay), and the PROXY protocol rules (v1, v2, trusted and
//! untrusted peers, oversized headers, a header before TLS).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tpp_rpc::{Connection, Handler, Server};
use tpp_tests::*;

/// Answers `whoami` with the peer address the handler sees.
struct Whoami;

impl Handler for Whoami {
    async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
        let peer = conn.peer_addr().to_string();
        conn.send_result(&peer).await
    }
}

fn request(action: &str, token: Option<&str>) -> Vec<u8> {
    let mut r = json!({"action": action, "body": {}});
    if let Some(t) = token {
        r["token"] = json!(t);
    }
    frame(&r.to_string())
}

/// A request that asks the server to keep the connection open after it.
fn request_kept(action: &str) -> Vec<u8> {
    let r = json!({"action": action, "body": {}, "token": TOKEN, "tpp_keep_alive": true});
    frame(&r.to_string())
}

/// Connects from `from` (an address on loopback) to `to`.
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{from}:0").parse().unwrap())
        .expect("bind");
    within(socket.connect(to)).await.expect("connect")
}

/// Sends `bytes` and half-closes; returns everything received until the
/// server closes.
async fn exchange(mut s: TcpStream, bytes: &[u8]) -> Vec<u8> {
    within(s.write_all(bytes)).await.expect("write");
    within(s.shutdown()).await.expect("half-close");
    let mut out = Vec::new();
    let _ = within(s.read_to_end(&mut out)).await;
    out
}

fn v2_header(command: u8, client: SocketAddr, declared_extra: u16) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.push(0x20 | command);
    h.push(0x11); // IPv4, stream
    h.extend((12 + declared_extra).to_be_bytes());
    let SocketAddr::V4(c) = client else {
        panic!("IPv4 only")
    };
    h.extend(c.ip().octets());
    h.extend([127, 0, 0, 1]);
    h.extend(c.port().to_be_bytes());
    h.extend(7777u16.to_be_bytes());
    h
}

/// A server expecting PROXY headers from 127.0.0.3 (and only from it).
async fn start_trusting_127_0_0_3() -> Running {
    let trusted = ["127.0.0.3".parse().unwrap()];
    start(
        Server::builder().token(TOKEN).proxy_protocol(trusted),
        Whoami,
    )
    .await
}

#[tokio::test]
async fn health_action_needs_no_token_and_fails_once_shutdown_starts() {
    let builder = Server::builder()
        .token(TOKEN)
        .health_check()
        .shutdown_delay(Duration::from_millis(600));
    let server = start(builder, Whoami).await;
    let healthy = raw_exchange(server.addr, &request("healthcheck", None)).await;
    assert_eq!(
        response_json(&healthy),
        json!({"code": 0, "body": {"healthcheck": "ok"}})
    );
    // A token, even a wrong one, changes nothing; other actions still need it.
    let with_token = raw_exchange(server.addr, &request("healthcheck", Some("bad"))).await;
    assert_eq!(response_json(&with_token)["code"], 0);
    let other = raw_exchange(server.addr, &request("whoami", None)).await;
    assert_eq!(response_json(&other)["code"], 2);

    // A kept-alive connection, answered once before the shutdown...
    let mut kept = within(TcpStream::connect(server.addr))
        .await
        .expect("connect");
    let call = request_kept("whoami");
    within(kept.write_all(&call)).await.expect("write");
    let mut first = vec![0u8; 256];
    let n = within(kept.read(&mut first)).await.expect("read");
    assert!(split_frame(&first[..n]).is_some(), "first answer");

    let started = Instant::now();
    server.shutdown.shutdown();
    // During the delay: the probe fails, everything else is still served,
    // on new connections too.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let failing = raw_exchange(server.addr, &request("healthcheck", None)).await;
    assert_eq!(
        response_json(&failing),
        json!({"code": 1, "body": {"error": "shutting down"}})
    );
    let served: String = client(server.port())
        .request2server("whoami", &json!({}))
        .await
        .expect("served during the delay");
    assert!(served.starts_with("127.0.0.1:"));
    // ...is answered once more, then closed, so its client reconnects
    // (through a balancer, to another replica).
    within(kept.write_all(&call)).await.expect("write");
    let mut rest = Vec::new();
    let _ = within(kept.read_to_end(&mut rest)).await;
    assert_eq!(response_json(&rest)["code"], 0);
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "closed only at the end"
    );
    within(server.task).await.expect("join").expect("serve");
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "still listening"
    );
}

#[tokio::test]
async fn the_health_action_name_is_configurable_and_off_by_default() {
    let off = start(Server::builder().token(TOKEN), Whoami).await;
    let refused = raw_exchange(off.addr, &request("healthcheck", None)).await;
    assert_eq!(
        response_json(&refused)["code"],
        2,
        "no token, no health action"
    );
    off.stop().await;
    let named = start(
        Server::builder().token(TOKEN).health_check_action("ping"),
        Whoami,
    )
    .await;
    let ok = raw_exchange(named.addr, &request("ping", None)).await;
    assert_eq!(
        response_json(&ok),
        json!({"code": 0, "body": {"ping": "ok"}})
    );
    named.stop().await;
}

#[tokio::test]
async fn proxy_headers_from_trusted_peers_give_the_client_address() {
    let server = start_trusting_127_0_0_3().await;
    let call = request("whoami", Some(TOKEN));

    // v1, as HAProxy's send-proxy writes it, then two requests (keep-alive).
    let mut bytes = b"PROXY TCP4 192.0.2.7 127.0.0.1 40001 7777\r\n".to_vec();
    bytes.extend(&request_kept("whoami"));
    bytes.extend(&call);
    let mut s = connect_from("127.0.0.3", server.addr).await;
    within(s.write_all(&bytes)).await.expect("write");
    within(s.shutdown()).await.expect("half-close");
    let mut out = Vec::new();
    let _ = within(s.read_to_end(&mut out)).await;
    let (first, rest) = split_frame(&out).expect("first answer");
    let (second, _) = split_frame(rest).expect("second answer");
    for answer in [first, second] {
        let v: serde_json::Value = serde_json::from_slice(answer).unwrap();
        assert_eq!(v["body"]["whoami"], "192.0.2.7:40001");
    }

    // v2 PROXY, split across two writes.
    let header = v2_header(1, "198.51.100.9:50002".parse().unwrap(), 0);
    let mut s = connect_from("127.0.0.3", server.addr).await;
    within(s.write_all(&header[..10])).await.expect("write");
    tokio::time::sleep(Duration::from_millis(30)).await;
    let mut rest = header[10..].to_vec();
    rest.extend(&call);
    let out = exchange(s, &rest).await;
    assert_eq!(response_json(&out)["body"]["whoami"], "198.51.100.9:50002");

    // v2 LOCAL (a balancer's own health check): served as the balancer.
    let s = connect_from("127.0.0.3", server.addr).await;
    let ours = s.local_addr().unwrap();
    let mut bytes = v2_header(0, "198.51.100.9:50002".parse().unwrap(), 0);
    bytes.extend(&call);
    let out = exchange(s, &bytes).await;
    assert_eq!(response_json(&out)["body"]["whoami"], ours.to_string());

    // Untrusted peers without a header are served as themselves.
    let s = connect_from("127.0.0.1", server.addr).await;
    let ours = s.local_addr().unwrap();
    let out = exchange(s, &call).await;
    assert_eq!(response_json(&out)["body"]["whoami"], ours.to_string());
    server.stop().await;
}

#[tokio::test]
async fn proxy_headers_are_refused_from_anyone_else_and_required_from_trusted_peers() {
    let server = start_trusting_127_0_0_3().await;
    let call = request("whoami", Some(TOKEN));
    let forged = |header: &[u8]| {
        let mut b = header.to_vec();
        b.extend(&call);
        b
    };
    // A forged v1 or v2 header from an untrusted address: closed unanswered.
    for header in [
        b"PROXY TCP4 10.9.9.9 127.0.0.1 1 7777\r\n".to_vec(),
        v2_header(1, "10.9.9.9:1".parse().unwrap(), 0),
    ] {
        let s = connect_from("127.0.0.1", server.addr).await;
        assert_eq!(
            exchange(s, &forged(&header)).await,
            b"",
            "forged header served"
        );
    }
    // A trusted peer without a header, with a bad one, or with a v2 length
    // over the limit (refused from the first 16 bytes): closed unanswered.
    for bytes in [
        call.clone(),
        forged(b"PROXY TCP9 nonsense\r\n"),
        v2_header(1, "10.9.9.9:1".parse().unwrap(), 60_000)[..16].to_vec(),
    ] {
        let s = connect_from("127.0.0.3", server.addr).await;
        assert_eq!(exchange(s, &bytes).await, b"", "served {bytes:?}");
    }
    // The server goes on serving.
    let s = connect_from("127.0.0.3", server.addr).await;
    let out = exchange(s, &forged(b"PROXY TCP4 10.1.1.1 127.0.0.1 5 7777\r\n")).await;
    assert_eq!(response_json(&out)["body"]["whoami"], "10.1.1.1:5");
    server.stop().await;
}

#[tokio::test]
async fn a_proxy_header_comes_before_the_tls_handshake() {
    let cert = TestCert::new();
    let trusted = ["127.0.0.3".parse().unwrap()];
    let builder = Server::builder()
        .token(TOKEN)
        .tls_pem_files(&cert.cert, &cert.key)
        .proxy_protocol(trusted);
    let server = start(builder, Whoami).await;
    let mut tcp = connect_from("127.0.0.3", server.addr).await;
    let header = v2_header(1, "203.0.113.5:61000".parse().unwrap(), 0);
    within(tcp.write_all(&header)).await.expect("write header");
    let config = tpp_rpc::tls::client_config_insecure();
    let connector = tokio_rustls::TlsConnector::from(Arc::clone(&config));
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = within(connector.connect(name, tcp))
        .await
        .expect("handshake");
    within(tls.write_all(&request("whoami", Some(TOKEN))))
        .await
        .expect("write");
    let mut out = Vec::new();
    while split_frame(&out).is_none() {
        let mut chunk = [0u8; 1024];
        let n = within(tls.read(&mut chunk)).await.expect("read");
        assert!(n > 0, "closed unanswered");
        out.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(response_json(&out)["body"]["whoami"], "203.0.113.5:61000");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handoff_on_a_shared_listening_socket_loses_no_call() {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = socket.local_addr().unwrap().port();
    let builder = || {
        Server::builder()
            .token(TOKEN)
            .shutdown_delay(Duration::from_millis(200))
    };
    let serve = |server: Server| tokio::spawn(server.serve(Whoami));
    let old = builder()
        .bind_listener(socket.try_clone().unwrap())
        .await
        .expect("old");
    let mut old_stop = old.shutdown_handle();
    let mut old_task = serve(old);

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let stop = stop.clone();
            let client = client(port);
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0u64, Vec::new());
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match client.request("whoami", &json!({})).await {
                        Ok(_) => ok += 1,
                        Err(e) => failed.push(e.to_string()),
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The new server on the same socket, then the old one shuts down.
        let new = builder()
            .bind_listener(socket.try_clone().unwrap())
            .await
            .expect("new");
        let new_stop = new.shutdown_handle();
        let new_task = serve(new);
        old_stop.shutdown();
        within(old_task).await.unwrap().expect("old server");
        old_task = new_task;
        old_stop = new_stop;
    }
    drop(socket);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut ok, mut failed) = (0, Vec::new());
    for w in workers {
        let (o, f) = within(w).await.unwrap();
        ok += o;
        failed.extend(f);
    }
    old_stop.shutdown();
    within(old_task).await.unwrap().expect("last server");
    println!(
        "handoff on a shared socket, 3 handoffs: {ok} calls answered, {} failed",
        failed.len()
    );
    assert!(failed.is_empty(), "{:?}", &failed[..failed.len().min(10)]);
    assert!(ok > 0);
}
