//! A custom middleware layer: per-action call counts by response code and
//! slow-call logging, plus a refusal before the handler runs (a simple
//! per-server rate limit).
//!
//! ```text
//! cargo run -p tpp-examples --example custom_layer
//! ```
//!
//! A [`Layer`] wraps every request: it runs the rest of the chain with
//! `next.run(conn)` (or answers instead), and `on_response` hears every
//! code sent, stream items included.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tpp_rpc::server::{Layer, Next};
use tpp_rpc::{BoxFuture, Client, Connection, Context, Error, Server};

/// Counts responses per (action, code), logs calls slower than `slow`, and
/// refuses beyond `per_second` calls in one second.
struct Watch {
    slow: Duration,
    per_second: u32,
    window: Mutex<(Instant, u32)>,
    codes: Mutex<BTreeMap<(String, i64), u64>>,
}

impl Watch {
    fn over_rate(&self) -> bool {
        let Ok(mut window) = self.window.lock() else {
            return false;
        };
        if window.0.elapsed() >= Duration::from_secs(1) {
            *window = (Instant::now(), 0);
        }
        window.1 += 1;
        window.1 > self.per_second
    }
}

impl Layer for Watch {
    fn call<'a>(
        &'a self,
        conn: &'a mut Connection,
        next: Next<'a>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if self.over_rate() {
                // Before the handler: it never runs for this call.
                return conn.refuse(1, "rate limit exceeded").await;
            }
            let started = Instant::now();
            let result = next.run(conn).await;
            if started.elapsed() > self.slow {
                tracing::warn!(action = ?conn.action(), elapsed = ?started.elapsed(), "slow call");
            }
            result
        })
    }

    fn on_response(&self, ctx: &Context, code: i64) {
        if let Ok(mut codes) = self.codes.lock() {
            *codes.entry((ctx.action().to_owned(), code)).or_default() += 1;
        }
    }
}

struct Service;

impl tpp_rpc::Handler for Service {
    async fn handle(&self, conn: &mut Connection) -> Result<(), Error> {
        match conn.action() {
            "fast" => conn.send_result(&"ok").await,
            "slow" => {
                tokio::time::sleep(Duration::from_millis(60)).await;
                conn.send_result(&"ok, eventually").await
            }
            "broken" => conn.send_error(4, "broken on purpose").await,
            "numbers" => {
                let items = tpp_rpc::ItemStream::iter(1..=3);
                tpp_rpc::stream::send_stream(conn, None::<&()>, items).await
            }
            _ => tpp_rpc::service::answer_unknown_action(conn).await,
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("warn").init();
    let watch = std::sync::Arc::new(Watch {
        slow: Duration::from_millis(50),
        per_second: 8,
        window: Mutex::new((Instant::now(), 0)),
        codes: Mutex::new(BTreeMap::new()),
    });
    let server = Server::builder()
        .token("secret")
        .layer(watch.clone())
        .bind("127.0.0.1:0")
        .await?;
    let port = server.local_addr().port();
    tokio::spawn(server.serve(Service));

    let client = Client::builder("127.0.0.1", port).token("secret").build()?;
    for action in [
        "fast", "slow", "broken", "fast", "fast", "fast", "fast", "fast", "fast",
    ] {
        let outcome = client.request2server::<_, String>(action, &()).await;
        println!("{action}: {outcome:?}");
    }
    let stream = client.request_stream("numbers", &(), None).await?;
    let items: Vec<_> = futures_util::StreamExt::collect(stream).await;
    println!("numbers: {} responses", items.len());
    println!("responses by (action, code):");
    for ((action, code), n) in watch.codes.lock().map_err(|_| "poisoned")?.iter() {
        println!("  {action} {code}: {n}");
    }
    Ok(())
}
