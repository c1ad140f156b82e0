//! What metrics and tracing cost: the same echo server with both off and
//! with both on (the Prometheus recorder, and a fmt subscriber at INFO, so
//! every request's `tpp.request` span is created, formatted and closed),
//! keep-alive, alternating rounds.

use std::sync::Arc;

use super::{load_row, sanity, Bench, SMALL, TOKEN};
use crate::docs::{body, request_frame};
use crate::load::{self, Mode, Target};
use crate::report::{self, Goal, Row};

impl Bench {
    pub(super) async fn observability(&mut self) -> Result<(), String> {
        let off = self.spawn_tpp("tpp", &["--token", TOKEN])?;
        sanity(off.port, false, true).await?;
        let on = self.spawn_tpp("tpp observed", &["--token", TOKEN, "--observe"])?;
        sanity(on.port, false, true).await?;
        // A tpp server keeps the connection only when asked.
        let echo: Arc<[u8]> = load::asking_keep_alive(&request_frame(TOKEN, "echo", &body(SMALL)));
        let off_spec = self.spec(Target::tcp(off.port), Mode::KeepAlive, &echo);
        let on_spec = self.spec(Target::tcp(on.port), Mode::KeepAlive, &echo);
        let case = "Observability: keep-alive, 100 B body";
        let (o, ratios) = self
            .compare(
                case,
                &[("off", &off, &off_spec), ("metrics+tracing", &on, &on_spec)],
            )
            .await;
        self.rows
            .push(load_row(case, "tpp echo, metrics and tracing off", &o[0]));
        let (shown, m) = report::ratio_summary(&ratios[1]);
        let cpu = o[1].server_us_per_request() / o[0].server_us_per_request();
        let shown = format!("{shown}; server CPU/req {}", report::times(cpu));
        let row = load_row(
            case,
            "tpp echo, metrics (Prometheus recorder) and tracing (fmt subscriber, INFO) on, on/off",
            &o[1],
        );
        self.rows
            .push(row.judge(shown, m, Goal::AtLeast(0.9), "× off"));
        let (per_span, spans) = subscriber_cost_per_span();
        let mut row = Row::new(
            case,
            "the fmt subscriber alone (INFO, to a sink): one request's spans as the server makes them, in-process, no I/O",
        );
        row.result = format!("{per_span:.2} µs a request ({spans} requests)");
        // If the server's CPU is what limits throughput, nothing tpp does can
        // bring on/off above off / (off + what the subscriber alone spends).
        let off = o[0].server_us_per_request();
        row.ratio = format!(
            "{:.0}% of the observed server's extra CPU/req; ceiling on on/off with this subscriber: {} (off {off:.2} µs/req)",
            100.0 * per_span / (o[1].server_us_per_request() - off),
            report::times(off / (off + per_span)),
        );
        self.rows.push(row);
        Ok(())
    }
}

/// What the subscriber itself spends on what tpp asks of it per request: a
/// `tpp.request` span created under a connection span with the same fields,
/// entered and left twice (two polls), the end fields recorded (in two calls
/// here, one in tpp: a slight overestimate),
/// closed. Timed on one thread, without any request handling around it.
fn subscriber_cost_per_span() -> (f64, u64) {
    use tracing::field::Empty;
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::sink)
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let connection =
            tracing::info_span!("tpp.connection", peer = %"127.0.0.1:40000", tls = false);
        let one = || {
            let span = tracing::info_span!(
                parent: &connection,
                "tpp.request",
                action = ?"echo",
                identity = None::<tracing::field::DebugValue<&str>>,
                request_id = None::<tracing::field::DebugValue<&str>>,
                traceparent = None::<&str>,
                code = Empty,
                responses = Empty,
                duration_us = Empty,
            );
            for _ in 0..2 {
                let _entered = span.enter();
            }
            span.record("code", 0i64);
            span.record("duration_us", 12u64);
        };
        for _ in 0..10_000 {
            one();
        }
        let n = 300_000u64;
        let started = std::time::Instant::now();
        for _ in 0..n {
            one();
        }
        (started.elapsed().as_secs_f64() * 1e6 / n as f64, n)
    })
}
