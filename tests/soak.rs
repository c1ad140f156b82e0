//! A bounded soak: mixed unary, error, streaming, abandoned-stream and reset
//! traffic, with resident memory compared before and after. In its own test
//! binary so no other test's memory use pollutes the measurement.
//! `TPP_SOAK_SECS` sets the duration (default 30 s).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tpp_rpc::{Client, Server};
use tpp_tests::TestService as Svc;
use tpp_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_mixed_load_without_unexpected_errors_or_growth() {
    let secs: u64 = std::env::var("TPP_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let server = start(Server::builder().token("tok"), Svc).await;
    let c = client(server.port());
    let reuse = client_builder(server.port())
        .reuse_connections(true)
        .build()
        .unwrap();
    let round = |c: Client, reuse: Client, addr: std::net::SocketAddr, i: u64| async move {
        let v: u64 = c.request2server("echo", &i).await.unwrap();
        assert_eq!(v, i);
        let v: u64 = reuse.request2server("echo", &i).await.unwrap();
        assert_eq!(v, i);
        assert_eq!(
            c.request2server::<_, Value>("fail", &())
                .await
                .unwrap_err()
                .server_code(),
            Some(5)
        );
        let items: Vec<u64> = c
            .request_stream("stream", &20, None)
            .await
            .unwrap()
            .typed::<u64>()
            .map(|r| r.unwrap())
            .collect()
            .await;
        assert_eq!(items.len(), 20);
        // A client that disconnects mid-stream.
        let mut s = c.request_stream("stream", &1_000_000, None).await.unwrap();
        s.next_response().await.unwrap().unwrap();
        drop(s);
        // A client that resets mid-request.
        let mut raw = TcpStream::connect(addr).await.unwrap();
        raw.write_all(b"40\n{\"tok").await.unwrap();
        reset_on_drop(&raw);
    };
    // Batches of 8 concurrent rounds; warm up the same way (allocator arenas,
    // buffers, the runtime's pools), then take the baseline.
    let batch = |first: u64| {
        let tasks: Vec<_> = (0..8)
            .map(|k| tokio::spawn(round(c.clone(), reuse.clone(), server.addr, first + k)))
            .collect();
        async move {
            for t in tasks {
                within(t).await.unwrap();
            }
        }
    };
    let mut rounds = 0u64;
    let warm_until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < warm_until {
        batch(rounds * 8).await;
        rounds += 1;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let baseline = resident_kib();
    let warm_rounds = rounds;
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        batch(rounds * 8).await;
        rounds += 1;
    }
    let rounds = rounds - warm_rounds;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let end = resident_kib();
    eprintln!(
        "soak {secs}s: {} rounds (each: 2 unary, 1 error, 1 stream of 20, 1 abandoned stream, 1 reset), resident {baseline} KiB -> {end} KiB",
        rounds * 8
    );
    assert!(
        end < baseline + 16 * 1024,
        "resident memory grew from {baseline} KiB to {end} KiB"
    );
    server.stop().await;
}
