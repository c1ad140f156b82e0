//! Case 8, the dyn mode: the same `#[toxic_service]` echo generated natively and with
//! `#[toxic_service(dyn)]` (served from an `Arc<dyn BenchDyn>`: a vtable call and one boxed
//! future per request), kept-alive connections, 100 B bodies, rounds interleaved; then the
//! cost of one call in-process.

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;

use super::{load_row, sanity, Bench, SMALL, TOKEN};
use crate::docs::{body, request_frame, size_name};
use crate::load::{Mode, Target};
use crate::report::{self, Goal, Row};
use crate::service::{Bench as NativeBench, BenchDyn, EchoImpl};

impl Bench {
    pub(super) async fn dyn_mode(&mut self) -> Result<(), String> {
        // Fresh servers of their own, so that neither carries the other groups' history.
        let native = self.spawn_tpp("tpp native", &["--token", TOKEN])?;
        sanity(native.port, false, true).await?;
        let dynamic = self.spawn_tpp("tpp dyn", &["--token", TOKEN, "--dyn"])?;
        sanity(dynamic.port, false, true).await?;

        let case = format!("Dyn mode: keep-alive, {} body", size_name(SMALL));
        let echo: Arc<[u8]> = request_frame(TOKEN, "echo", &body(SMALL)).into();
        let ns = self.spec(Target::tcp(native.port), Mode::KeepAlive, &echo);
        let ds = self.spec(Target::tcp(dynamic.port), Mode::KeepAlive, &echo);
        let (o, ratios) = self
            .compare(&case, &[("native", &native, &ns), ("dyn", &dynamic, &ds)])
            .await;
        self.rows.push(load_row(
            &case,
            "tpp `#[toxic_service]` echo, native `async fn` (no box)",
            &o[0],
        ));
        let (shown, m) = report::ratio_summary(&ratios[1]);
        let cpu = o[1].server_us_per_request() / o[0].server_us_per_request();
        let shown = format!("{shown}; server CPU/req {}", report::times(cpu));
        let row = load_row(
            &case,
            "tpp `#[toxic_service(dyn)]` echo from `Arc<dyn BenchDyn>` (one boxed future per call), dyn/native",
            &o[1],
        );
        self.rows.push(row.judge(shown, m, Goal::None, "× native"));

        let budget = self.cfg.codec_budget * 4;
        let (native_ns, dyn_ns) = per_call_ns(budget)?;
        super::progress(format!(
            "dyn mode: one call in-process: native {native_ns:.1} ns, dyn {dyn_ns:.1} ns"
        ));
        let case = "Dyn mode: one `echo` call in-process (no I/O), 100 B body";
        let mut row = Row::new(case, "native: `EchoImpl::echo(body).await`");
        row.result = format!("{native_ns:.1} ns/call");
        self.rows.push(row);
        let mut row = Row::new(
            case,
            "dyn: `Arc<dyn BenchDyn>::echo(body).await` (vtable + boxed future), dyn − native",
        );
        row.result = format!("{dyn_ns:.1} ns/call");
        row.ratio = format!("+{:.1} ns/call", dyn_ns - native_ns);
        self.rows.push(row);
        Ok(())
    }
}

/// Polls a future that completes on its first poll (both echoes do) to its output.
fn ready<F: Future>(future: F) -> Result<F::Output, String> {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Ok(output),
        Poll::Pending => Err("an echo future did not complete on its first poll".to_owned()),
    }
}

/// Nanoseconds per `echo` call, native and through `Arc<dyn BenchDyn>`: median of batches of
/// at least 10 ms each, the two sides alternating batch by batch, until `budget` is spent.
/// The same body goes in and out of every call, so the only allocation is the dyn mode's
/// boxed future.
fn per_call_ns(budget: Duration) -> Result<(f64, f64), String> {
    const CALLS: u32 = 10_000;
    let native = EchoImpl;
    let dynamic: Arc<dyn BenchDyn> = Arc::new(EchoImpl);
    let mut payload = RawValue::from_string(body(SMALL)).map_err(|e| e.to_string())?;
    let (mut native_ns, mut dyn_ns) = (Vec::new(), Vec::new());
    let start = Instant::now();
    while start.elapsed() < budget || native_ns.len() < 3 {
        for side in [0, 1] {
            let (mut calls, mut time) = (0u32, Duration::ZERO);
            while time < Duration::from_millis(10) {
                let t = Instant::now();
                for _ in 0..CALLS {
                    payload = if side == 0 {
                        ready(NativeBench::echo(black_box(&native), payload))?
                    } else {
                        ready(black_box(&dynamic).echo(payload))?
                    }
                    .map_err(|e| e.message)?;
                }
                time += t.elapsed();
                calls += CALLS;
            }
            let ns = time.as_nanos() as f64 / f64::from(calls);
            if side == 0 {
                &mut native_ns
            } else {
                &mut dyn_ns
            }
            .push(ns);
        }
    }
    Ok((report::median(&native_ns), report::median(&dyn_ns)))
}
