//! What the server builds for a request before its token is accepted:
//! nothing beyond the frame itself. Requests carry large, deeply nested
//! extra fields; with a wrong token (and with a right one whose handler does
//! not read them) the process's allocations are counted while the server
//! answers them. Building the extras would cost one allocation per object
//! and array in them (tens of thousands per request here).
//!
//! In its own binary: the counting allocator is process-wide.

use std::time::Duration;

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tpp_rpc::{Connection, Handler, Server};
use tpp_tests::{frame, response_json, start, within, TOKEN};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// Objects and arrays in each request's extras.
const CONTAINERS: usize = 2 * 20_000 + 100;
const REQUESTS: usize = 8;

/// Answers without looking at the extras.
struct Plain;

impl Handler for Plain {
    async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
        conn.send_result(&1).await
    }
}

fn request(token: &str) -> Vec<u8> {
    let wide = vec![r#"{"a":[1,2,3]}"#; 20_000].join(",");
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    frame(&format!(
        r#"{{"token":"{token}","action":"echo","body":1,"junk":[{wide}],"deep":{deep},"tpp_x":[{wide}]}}"#
    ))
}

/// Sends `bytes` on a new connection and reads the answer to the end.
async fn exchange(addr: std::net::SocketAddr, bytes: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut s = within(TcpStream::connect(addr)).await.unwrap();
    within(s.write_all(bytes)).await.unwrap();
    let _ = within(s.read_to_end(out)).await;
}

/// Allocations made while the server answers [`REQUESTS`] copies of `bytes`,
/// each answered with `code`.
async fn allocations_answering(addr: std::net::SocketAddr, bytes: &[u8], code: i64) -> usize {
    let mut out = Vec::with_capacity(4096);
    exchange(addr, bytes, &mut out).await; // warm: lazy statics, buffers
    assert_eq!(response_json(&out)["code"], code);
    let region = Region::new(GLOBAL);
    for _ in 0..REQUESTS {
        exchange(addr, bytes, &mut out).await;
    }
    let made = region.change().allocations;
    assert_eq!(response_json(&out)["code"], code);
    made
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_built_for_extras_before_the_token_is_accepted() {
    let running = start(
        Server::builder()
            .token(TOKEN)
            .read_timeout(Duration::from_secs(20)),
        Plain,
    )
    .await;
    let wrong = allocations_answering(running.addr, &request("wrong"), 3).await;
    let right = allocations_answering(running.addr, &request(TOKEN), 0).await;
    println!(
        "allocations per request: wrong token {}, right token (extras unread) {}; \
         building the extras would take about {CONTAINERS}",
        wrong / REQUESTS,
        right / REQUESTS
    );
    // A connection, its buffers and its answer: a few dozen allocations.
    let bound = REQUESTS * 200;
    assert!(
        wrong < bound,
        "{wrong} allocations for {REQUESTS} wrong-token requests"
    );
    assert!(
        right < bound,
        "{right} allocations for {REQUESTS} requests whose extras were not read"
    );
    running.shutdown.shutdown();
}
