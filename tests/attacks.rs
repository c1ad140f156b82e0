//! The three memory attacks at full size against a server with the default
//! limits, in its own process (the `tpp-replica` binary, jemalloc told to
//! return freed pages after a second, as deploy/tpp-service.service runs
//! it), with a good client calling throughout:
//!
//! 1. 32 connections × 32 MiB wrong-token requests with large extras;
//! 2. 4 000 connections that declare 60 MB and send 4 KiB;
//! 3. the same with a valid token, for an action whose body is a `Value`.
//!
//! For each it prints the server's peak resident memory, the good client's
//! latencies and the resident memory 5 s after the attack against the
//! baseline. Heavy (about 1 GiB over loopback and 4 000 sockets):
//!
//! ```text
//! nice cargo test --release -p tpp-tests --test attacks -- --ignored --nocapture
//! ```

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tpp_tests::{frame, within};

const MIB: usize = 1024 * 1024;

/// The replica's resident memory now, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Samples the replica's resident memory until `stop`; the peak, in KiB.
fn sample_peak(pid: u32, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut peak = 0;
        while !stop.load(Ordering::Relaxed) {
            peak = peak.max(rss_kib(pid));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        peak.max(rss_kib(pid))
    })
}

/// Calls `whoami` in a loop until `stop`, on a thread and runtime of its own
/// (so the attackers' tasks in this process do not delay it: the latencies
/// are the server's); the latencies, and the failures.
fn good_client(port: u16, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<(Vec<Duration>, u64)> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let client = tpp_rpc::Client::builder("127.0.0.1", port)
                .token("tok")
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let mut failed = 0;
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                match client
                    .request2server::<_, serde_json::Value>("whoami", &())
                    .await
                {
                    Ok(_) => latencies.push(started.elapsed()),
                    Err(e) => {
                        eprintln!("good client: {e}");
                        failed += 1;
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (latencies, failed)
        })
    })
}

fn percentile(latencies: &mut [Duration], p: f64) -> Duration {
    latencies.sort();
    let i = ((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
    latencies.get(i).copied().unwrap_or_default()
}

/// Runs `attack` against the replica and prints what it cost.
async fn measure<F: std::future::Future<Output = ()>>(
    name: &str,
    pid: u32,
    port: u16,
    baseline_kib: u64,
    attack: F,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let peak = sample_peak(pid, stop.clone());
    let good = good_client(port, stop.clone());
    let started = Instant::now();
    attack.await;
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let peak_kib = peak.await.unwrap();
    let (mut latencies, failed) = tokio::task::spawn_blocking(move || good.join().unwrap())
        .await
        .unwrap();
    let first = latencies.first().copied().unwrap_or_default();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after_kib = rss_kib(pid);
    let p50 = percentile(&mut latencies, 0.5);
    let p90 = percentile(&mut latencies, 0.9);
    let p99 = percentile(&mut latencies, 0.99);
    let max = latencies.last().copied().unwrap_or_default();
    println!(
        "{name}: {took:.1?}; peak RSS {} MiB (baseline {:.1} MiB); good client {} calls, {failed} \
         failed, first {first:.1?} (a new connection), p50 {p50:.1?}, p90 {p90:.1?}, \
         p99 {p99:.1?}, max {max:.1?}; RSS 5 s later {:.1} MiB ({:+.0} % of baseline)",
        peak_kib / 1024,
        baseline_kib as f64 / 1024.0,
        latencies.len(),
        after_kib as f64 / 1024.0,
        (after_kib as f64 / baseline_kib as f64 - 1.0) * 100.0,
    );
}

/// `n` connections that each declare `declared` bytes and send the first
/// 4 KiB of a request with `token` for `action`, held for `hold`.
async fn declare_and_stall(
    addr: SocketAddr,
    n: usize,
    declared: usize,
    token: &str,
    action: &str,
    hold: Duration,
) {
    let head = format!(r#"{{"token":"{token}","action":"{action}","body":{{"ms":0,"pad":""#);
    let mut bytes = format!("{declared}\n{head}").into_bytes();
    bytes.resize(bytes.len() + 4096 - head.len(), b'x');
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        if let Ok(Ok(mut s)) =
            tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr)).await
        {
            let _ = s.write_all(&bytes).await;
            held.push(s);
        }
    }
    println!(
        "  {} of {n} connections opened, each declaring {declared} bytes",
        held.len()
    );
    tokio::time::sleep(hold).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: 1 GiB over loopback and 4 000 sockets; run with --ignored --nocapture"]
async fn peak_memory_under_three_attacks_with_the_default_limits() {
    let (_, hard) = rlimit::Resource::NOFILE.get().unwrap_or((1024, 1024));
    let _ = rlimit::Resource::NOFILE.set(hard, hard);
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tpp-replica"))
        .args(["--name", "attacked", "--addr", "127.0.0.1:0"])
        .env(
            "_RJEM_MALLOC_CONF",
            "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0",
        )
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("tpp-replica");
    let pid = child.id().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = within(lines.next_line()).await.unwrap().unwrap();
    let addr: SocketAddr = line.strip_prefix("listening ").unwrap().parse().unwrap();
    // Warm up, then the baseline.
    let client = tpp_rpc::Client::builder("127.0.0.1", addr.port())
        .token("tok")
        .build()
        .unwrap();
    for _ in 0..100 {
        let _: serde_json::Value = within(client.request2server("whoami", &())).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let baseline = rss_kib(pid);
    println!(
        "budget for requests (default, a quarter of this machine's memory): {} MiB",
        default_budget_mib()
    );

    let junk = vec!["1"; 16 * MIB].join(",");
    let payload = format!(r#"{{"token":"wrong","action":"whoami","body":1,"junk":[{junk}]}}"#);
    // 32 MiB of valid JSON: cut the array, then close it.
    let big = {
        let mut p = payload;
        p.truncate(32 * MIB - 4);
        while !p.ends_with(',') {
            p.pop();
        }
        p.pop();
        p.push_str("]}");
        Arc::new(frame(&p))
    };
    measure(
        "32 × 32 MiB wrong-token requests with large extras",
        pid,
        addr.port(),
        baseline,
        async {
            let sends: Vec<_> = (0..32)
                .map(|_| {
                    let big = big.clone();
                    tokio::spawn(async move {
                        let mut s = TcpStream::connect(addr).await.ok()?;
                        let _ = s.write_all(&big).await;
                        let mut out = Vec::new();
                        let _ = s.read_to_end(&mut out).await;
                        Some(out)
                    })
                })
                .collect();
            let mut refused = 0;
            for s in sends {
                let answer = s.await.ok().flatten();
                let code = answer
                    .as_deref()
                    .and_then(tpp_tests::split_frame)
                    .and_then(|(p, _)| serde_json::from_slice::<serde_json::Value>(p).ok())
                    .and_then(|v| v["code"].as_i64());
                if code == Some(3) {
                    refused += 1;
                }
            }
            println!("  {refused} of 32 answered code 3");
        },
    )
    .await;
    measure(
        "4 000 connections declaring 60 MB, sending 4 KiB",
        pid,
        addr.port(),
        baseline,
        async {
            declare_and_stall(
                addr,
                4000,
                60_000_000,
                "wrong",
                "whoami",
                Duration::from_secs(3),
            )
            .await
        },
    )
    .await;
    measure(
        "4 000 connections declaring 60 MB with a valid token, body a Value",
        pid,
        addr.port(),
        baseline,
        async {
            declare_and_stall(
                addr,
                4000,
                60_000_000,
                "tok",
                "work",
                Duration::from_secs(3),
            )
            .await
        },
    )
    .await;
    let _ = child.kill().await;
}

fn default_budget_mib() -> usize {
    let limits = tpp_rpc::Limits::default();
    limits.request_memory() / MIB
}
