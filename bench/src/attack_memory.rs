//! `tpp-attack-memory`: resident memory of a tpp server before, during and
//! after rounds of hostile traffic, and its throughput before and after,
//! for comparing allocators (BENCHMARKS.md, Hostile peers, has the figures):
//!
//! ```text
//! cargo run --release -p tpp-bench --bin tpp-attack-memory                       # system allocator
//! cargo run --release -p tpp-bench --bin tpp-attack-memory --features mimalloc
//! cargo run --release -p tpp-bench --bin tpp-attack-memory --features jemalloc
//! MALLOC_ARENA_MAX=2 cargo run --release -p tpp-bench --bin tpp-attack-memory    # glibc, 2 arenas
//! ```
//!
//! One round: 2 000 connections at once each sending one request, 400
//! wrong tokens against a bcrypt hash, 200 malformed frames, 300 clients
//! that reset mid-request, and eight 20 MB answers. The server runs on a
//! 2-worker runtime of its own; the load on another.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(all(feature = "jemalloc", not(feature = "mimalloc")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tpp_rpc::{Connection, Handler, Server};

const ALLOCATOR: &str = if cfg!(feature = "mimalloc") {
    "mimalloc"
} else if cfg!(feature = "jemalloc") {
    "jemalloc"
} else {
    "system"
};

struct Svc {
    big: Arc<Vec<u32>>,
}

impl Handler for Svc {
    async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
        match conn.action() {
            "big" => conn.send_result(&*self.big).await,
            _ => {
                let request = conn.request().clone();
                conn.send_result(request.body_raw()?).await
            }
        }
    }
}

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn request(token: &str, action: &str) -> Vec<u8> {
    let payload = format!(r#"{{"token":"{token}","action":"{action}","body":[1,2,3]}}"#);
    tpp_rpc::unstable::encode_frame(payload.as_bytes())
}

/// Sends `bytes` and reads until the server closes or 5 s pass.
async fn exchange(addr: SocketAddr, bytes: Vec<u8>, half_close: bool) {
    let work = async {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(&bytes).await?;
        if half_close {
            s.shutdown().await?;
        }
        let mut sink = vec![0u8; 64 * 1024];
        while s.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), work).await;
}

async fn reset_mid_request(addr: SocketAddr) {
    if let Ok(s) = TcpStream::connect(addr).await {
        let mut s = s;
        let _ = s.write_all(b"500\n{\"token\": \"tok").await;
        #[allow(deprecated)]
        let _ = s.set_linger(Some(Duration::ZERO));
    }
}

async fn round(addr: SocketAddr, plain: SocketAddr) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..2000 {
        let action = if i % 2 == 0 { "echo" } else { "nope" };
        tasks.spawn(exchange(plain, request("tok", action), true));
    }
    for i in 0..400 {
        tasks.spawn(exchange(addr, request(&format!("wrong-{i}"), "echo"), true));
    }
    for i in 0..200 {
        let junk = format!("{}\n{}", 10 + i % 7, "}{\u{0}".repeat(i % 9 + 1)).into_bytes();
        tasks.spawn(exchange(plain, junk, true));
    }
    for _ in 0..300 {
        tasks.spawn(reset_mid_request(plain));
    }
    for _ in 0..8 {
        tasks.spawn(exchange(plain, request("tok", "big"), false));
    }
    while tasks.join_next().await.is_some() {}
}

/// Unary echo calls per second from 32 clients (one connection per call,
/// as toxiccore's client does) for `secs`.
async fn throughput(plain: SocketAddr, secs: u64) -> f64 {
    let client = tpp_rpc::Client::builder("127.0.0.1", plain.port())
        .token("tok")
        .build()
        .expect("client");
    let end = Instant::now() + Duration::from_secs(secs);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let client = client.clone();
        tasks.spawn(async move {
            let mut n = 0u64;
            while Instant::now() < end {
                if client.request2server::<_, i64>("echo", &1).await.is_ok() {
                    n += 1;
                }
            }
            n
        });
    }
    let mut total = 0;
    while let Some(n) = tasks.join_next().await {
        total += n.unwrap_or(0);
    }
    total as f64 / secs as f64
}

fn main() {
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let big = Arc::new((0..2_500_000u32).collect::<Vec<_>>()); // ~20 MB of JSON
    let hash = tpp_rpc::BcryptToken::hash("right", 4).expect("hash");
    let (plain, hashed) = server_rt.block_on(async {
        let plain = Server::builder()
            .token("tok")
            .bind("127.0.0.1:0")
            .await
            .expect("bind");
        let hashed = Server::builder()
            .token_hash(&hash)
            .bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addrs = (plain.local_addr(), hashed.local_addr());
        tokio::spawn(plain.serve(Svc { big: big.clone() }));
        tokio::spawn(hashed.serve(Svc { big }));
        addrs
    });
    let load = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let rounds: usize = std::env::var("TPP_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    load.block_on(async {
        let before_tput = throughput(plain, 3).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let baseline = resident_kib();
        let mut after = Vec::new();
        let started = Instant::now();
        for _ in 0..rounds {
            round(hashed, plain).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            after.push(resident_kib());
        }
        let attack = started.elapsed();
        let after_tput = throughput(plain, 3).await;
        let peak = std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:").map(|v| v.trim().to_owned()))
            .unwrap_or_default();
        let arenas = std::env::var("MALLOC_ARENA_MAX")
            .map_or(String::new(), |v| format!(" (MALLOC_ARENA_MAX={v})"));
        println!(
            "allocator {ALLOCATOR}{arenas}: baseline {baseline} KiB after warm-up, peak {peak}, \
             after each of {rounds} rounds {after:?} KiB ({:.1} s of attack); \
             echo throughput {before_tput:.0}/s before, {after_tput:.0}/s after",
            attack.as_secs_f64()
        );
    });
}
