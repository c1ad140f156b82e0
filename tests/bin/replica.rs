//! One replica of a small TPP service, as the guide's deployment chapter
//! configures it, for tests/haproxy.rs to start, SIGTERM and SIGKILL by PID.
//!
//! ```text
//! tpp-replica --name r1 --addr 127.0.0.1:0 [--proxy-from 127.0.0.3] [--shutdown-delay-ms 1000] [--reuse-port]
//! ```
//!
//! Prints `listening <addr>` on stdout once bound; logs (tracing, `info`) go
//! to stderr. Actions: `whoami` answers `{"replica": name, "peer": "<ip:port>"}`
//! (the address the handler sees), `work` sleeps `body.ms` milliseconds first,
//! `memory` answers what the allocator holds and the tasks alive (for
//! tests/attacks.rs: live bytes the program holds against resident pages).

// jemalloc, told (by `_RJEM_MALLOC_CONF`, as deploy/tpp-service.service sets
// it) to give freed pages back after a second: after hostile bursts the
// resident memory returns near its baseline, which the system allocator's
// arenas keep (BENCHMARKS.md, Hostile peers, has the figures). The features
// `system-allocator` and `mimalloc-allocator` put it on those, for
// comparison (mimalloc wins when both are on).
#[cfg(not(any(feature = "system-allocator", feature = "mimalloc-allocator")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
#[cfg(feature = "mimalloc-allocator")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::IpAddr;
use std::time::Duration;

use tpp_rpc::{Connection, Handler, Server};

struct Replica {
    name: String,
}

impl Handler for Replica {
    async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
        match conn.action() {
            "whoami" => {
                let peer = conn.peer_addr().to_string();
                let answer = serde_json::json!({"replica": self.name, "peer": peer});
                conn.send_result(&answer).await
            }
            "work" => {
                let ms = conn
                    .body::<serde_json::Value>()?
                    .get("ms")
                    .and_then(|v| v.as_u64())
                    .unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(ms.min(10_000))).await;
                conn.send_result(&self.name).await
            }
            "memory" => conn.send_result(&memory()).await,
            _ => tpp_rpc::service::answer_unknown_action(conn).await,
        }
    }
}

/// jemalloc's statistics, in bytes (see its manual, `stats.*`): `allocated`
/// is what the program holds, `active` the pages holding it, `resident` and
/// `metadata` include the allocator's own caches and bookkeeping.
/// On another allocator, only `tasks` and `"allocator"` (its name).
fn memory() -> serde_json::Value {
    use tikv_jemalloc_ctl::{epoch, stats};
    let other = if cfg!(feature = "mimalloc-allocator") {
        Some("mimalloc")
    } else if cfg!(feature = "system-allocator") {
        Some("system")
    } else {
        None
    };
    if let Some(allocator) = other {
        return serde_json::json!({
            "allocator": allocator,
            "tasks": tokio::runtime::Handle::current().metrics().num_alive_tasks(),
        });
    }
    let read = |r: tikv_jemalloc_ctl::Result<usize>| r.ok();
    let _ = epoch::advance();
    serde_json::json!({
        "allocated": read(stats::allocated::read()),
        "active": read(stats::active::read()),
        "metadata": read(stats::metadata::read()),
        "resident": read(stats::resident::read()),
        "mapped": read(stats::mapped::read()),
        "retained": read(stats::retained::read()),
        "allocator": "jemalloc",
        "tasks": tokio::runtime::Handle::current().metrics().num_alive_tasks(),
    })
}

/// Resolves on SIGTERM or ctrl-c.
async fn terminated() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let mut name = "replica".to_owned();
    let mut addr = "127.0.0.1:0".to_owned();
    let mut builder = Server::builder().token("tok").health_check();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        builder = match flag.as_str() {
            "--name" => {
                name = value()?;
                builder
            }
            "--addr" => {
                addr = value()?;
                builder
            }
            "--proxy-from" => builder.proxy_protocol([value()?.parse::<IpAddr>()?]),
            "--shutdown-delay-ms" => {
                builder.shutdown_delay(Duration::from_millis(value()?.parse()?))
            }
            "--reuse-port" => builder.reuse_port(true),
            other => return Err(format!("unknown flag {other}").into()),
        };
    }
    let server = builder.bind(&addr).await?;
    println!("listening {}", server.local_addr());
    server
        .serve_with_shutdown(Replica { name }, terminated())
        .await?;
    Ok(())
}
