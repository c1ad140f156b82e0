//! Case 6: tpp's own client. The generated `BenchClient` over `tpp_rpc::Client`
//! in its default configuration (pooled) against the other configurations,
//! in alternating rounds on one tpp server: the default should be within
//! 0.9× of the best.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;

use super::{load_row, progress, round_line, Bench, SMALL, TOKEN};
use crate::docs::{body, size_name};
use crate::load::Outcome;
use crate::procs::{self_cpu_seconds, ServerProc};
use crate::report::{self, Goal};
use crate::service::BenchClient;

type Configure = fn(tpp_rpc::ClientBuilder) -> tpp_rpc::ClientBuilder;

/// The configurations compared; the first is the default.
const CONFIGS: [(&str, Configure); 5] = [
    ("default (pooled)", |b| b),
    ("`.pipelined(1)`", |b| b.pipelined(1)),
    ("`.pipelined(2)`", |b| b.pipelined(2)),
    ("`.pipelined(4)`", |b| b.pipelined(4)),
    (
        "`.reuse_connections(false)`: one connection per call",
        |b| b.reuse_connections(false),
    ),
];

impl Bench {
    pub(super) async fn client_configs(&mut self, tpp: &ServerProc) -> Result<(), String> {
        let case = format!(
            "tpp_rpc::Client (generated client), {} callers, {} body",
            self.cfg.clients,
            size_name(SMALL)
        );
        let raw = RawValue::from_string(body(SMALL)).map_err(|e| e.to_string())?;
        let mut clients = Vec::new();
        for (name, configure) in CONFIGS {
            let builder = tpp_rpc::Client::builder("127.0.0.1", tpp.port).token(TOKEN);
            let client = configure(builder).build().map_err(|e| e.to_string())?;
            BenchClient::new(client.clone())
                .echo(raw.clone())
                .await
                .map_err(|e| format!("{name}: {e}"))?;
            clients.push((name, client));
        }
        let n = clients.len();
        let mut totals = vec![Outcome::default(); n];
        let mut per_round: Vec<Vec<f64>> = vec![Vec::new(); n];
        let mut opened = vec![0u64; n];
        for round in 0..self.cfg.rounds {
            for j in 0..n {
                let i = (j + round) % n;
                let (name, client) = &clients[i];
                let before = client.connections_opened();
                let o = self.calls(client, &raw, tpp).await;
                opened[i] += client.connections_opened() - before;
                progress(round_line(&case, name, round, self.cfg.rounds, &o, false));
                per_round[i].push(o.rps());
                totals[i].merge(&o);
            }
        }
        // The best configuration: the highest median rate.
        let medians: Vec<f64> = per_round.iter().map(|r| report::median(r)).collect();
        let best = (1..n).fold(0, |b, i| if medians[i] > medians[b] { i } else { b });
        for i in 0..n {
            let name = clients[i].0;
            let calls = totals[i].total.max(1);
            let mut row = load_row(&case, name, &totals[i]);
            row.result = format!(
                "{}; {:.4} connections per call",
                row.result,
                opened[i] as f64 / calls as f64
            );
            if i == 0 {
                let ratios: Vec<f64> = per_round[0]
                    .iter()
                    .zip(&per_round[best])
                    .map(|(d, b)| d / b)
                    .collect();
                let (shown, m) = report::ratio_summary(&ratios);
                let shown = format!("{shown} of the best ({})", clients[best].0);
                row = row.judge(shown, m, Goal::AtLeast(0.9), "× best");
            } else {
                let ratios: Vec<f64> = per_round[i]
                    .iter()
                    .zip(&per_round[0])
                    .map(|(c, d)| c / d)
                    .collect();
                let (shown, m) = report::ratio_summary(&ratios);
                row = row.judge(format!("{shown} of the default"), m, Goal::None, "");
            }
            self.rows.push(row);
        }
        Ok(())
    }

    /// `cfg.clients` callers sharing `client`, each calling `echo` in a
    /// closed loop: warm-up, then the measured window.
    async fn calls(
        &self,
        client: &tpp_rpc::Client,
        raw: &RawValue,
        server: &ServerProc,
    ) -> Outcome {
        let phase = Arc::new(AtomicU8::new(WARMUP));
        let stats = Arc::new(Mutex::new(Outcome::default()));
        let raw: Box<RawValue> = raw.to_owned();
        let tasks: Vec<_> = (0..self.cfg.clients)
            .map(|_| {
                let client = BenchClient::new(client.clone());
                let (phase, stats, raw) = (phase.clone(), stats.clone(), raw.clone());
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let (mut errors, mut total, mut first_error) = (0u64, 0u64, None);
                    loop {
                        let now = phase.load(Ordering::Relaxed);
                        if now == STOP {
                            break;
                        }
                        let started = Instant::now();
                        let result = client.echo(raw.clone()).await;
                        total += u64::from(result.is_ok());
                        if phase.load(Ordering::Relaxed) != MEASURE {
                            continue;
                        }
                        match result {
                            Ok(_) => latencies.push(started.elapsed().as_nanos() as u64),
                            Err(e) => {
                                errors += 1;
                                first_error.get_or_insert_with(|| e.to_string());
                            }
                        }
                    }
                    let mut s = stats.lock().unwrap_or_else(|e| e.into_inner());
                    s.requests += latencies.len() as u64;
                    s.total += total;
                    s.errors += errors;
                    s.latencies.extend_from_slice(&latencies);
                    if s.first_error.is_none() {
                        s.first_error = first_error;
                    }
                })
            })
            .collect();
        tokio::time::sleep(self.cfg.warmup).await;
        let (gen0, srv0, t0) = (self_cpu_seconds(), server.cpu_seconds(), Instant::now());
        phase.store(MEASURE, Ordering::SeqCst);
        tokio::time::sleep(self.cfg.round).await;
        phase.store(DRAIN, Ordering::SeqCst);
        let secs = t0.elapsed().as_secs_f64();
        let (gen1, srv1) = (self_cpu_seconds(), server.cpu_seconds());
        phase.store(STOP, Ordering::SeqCst);
        for task in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        let mut out = std::mem::take(&mut *stats.lock().unwrap_or_else(|e| e.into_inner()));
        out.secs = secs;
        out.gen_cpu = (gen1 - gen0) / secs;
        out.server_cpu = (srv1 - srv0) / secs;
        out.latencies.sort_unstable();
        out
    }
}

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const DRAIN: u8 = 2;
const STOP: u8 = 3;
