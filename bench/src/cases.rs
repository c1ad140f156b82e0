//! The cases of issue #5, in the order of the table (and, in observe.rs,
//! the cost of metrics and tracing).

mod observe;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::docs::{body, request_frame, size_name};
use crate::load::{self, exchange, Mode, Outcome, Spec, Target};
use crate::procs::{self, ServerProc};
use crate::report::{self, Goal, Row};
use crate::service::BenchClient;
use crate::Config;

mod clients;
mod dyn_mode;

/// The plain token of the floor and plain-token tpp servers (the bcrypt
/// servers store its hash).
const TOKEN: &str = "benchT0ken";

/// Clients driving the reference at bcrypt cost 12 (see `reference`).
const REFERENCE_COST12_CLIENTS: usize = 4;

const SMALL: usize = 100;
const MEDIUM: usize = 64 * 1024;
const BIG: usize = 16 * 1024 * 1024;

/// Everything the cases share.
struct Bench {
    cfg: Config,
    exe: PathBuf,
    tmp: PathBuf,
    rows: Vec<Row>,
    notes: Vec<String>,
}

/// Runs every selected case and prints the report.
pub fn run_all(cfg: Config) -> Result<(), String> {
    procs::raise_fd_limit();
    let exe = std::env::current_exe().map_err(|e| format!("cannot find my own binary: {e}"))?;
    let tmp = std::env::temp_dir().join(format!("tpp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| format!("temp dir: {e}"))?;
    let rt = crate::serve::runtime(crate::cores());
    let load_before = procs::load_average();
    let started = Instant::now();
    let mut bench = Bench {
        cfg,
        exe,
        tmp: tmp.clone(),
        rows: Vec::new(),
        notes: Vec::new(),
    };
    let result = rt.block_on(bench.run());
    let _ = std::fs::remove_dir_all(&tmp);
    result?;
    print!(
        "{}",
        bench.report(&load_before, &procs::load_average(), started.elapsed())
    );
    Ok(())
}

fn progress(msg: impl AsRef<str>) {
    eprintln!("[tpp-bench] {}", msg.as_ref());
}

impl Bench {
    /// Runs the selected groups. A group that fails (a server that does not
    /// start or answers wrongly) becomes a FAILED row; the others still run.
    async fn run(&mut self) -> Result<(), String> {
        if self.cfg.runs("codec") {
            self.codec();
        }
        if ["floor", "bodies", "tls", "client"]
            .iter()
            .any(|g| self.cfg.runs(g))
        {
            let result = self.main_groups().await;
            self.failed("Floor, bodies, TLS", result);
        }
        if self.cfg.runs("reference") {
            let result = self.reference().await;
            self.failed("Reference (Python toxiccore)", result);
        }
        if self.cfg.runs("memory") {
            let result = self.memory().await;
            self.failed("Memory", result);
        }
        if self.cfg.runs("dyn") {
            let result = self.dyn_mode().await;
            self.failed("Dyn mode", result);
        }
        if self.cfg.runs("observe") {
            let result = self.observability().await;
            self.failed("Observability", result);
        }
        Ok(())
    }

    /// The groups that share one tpp server and one floor server.
    async fn main_groups(&mut self) -> Result<(), String> {
        let tpp = self.spawn_tpp("tpp", &["--token", TOKEN])?;
        sanity(tpp.port, false, true).await?;
        let floor = self.spawn_floor()?;
        sanity(floor.port, false, false).await?;
        if self.cfg.runs("floor") {
            self.floor(&tpp, &floor).await;
        }
        if self.cfg.runs("bodies") {
            self.bodies(&tpp, &floor).await?;
        }
        if self.cfg.runs("tls") {
            self.tls(&tpp).await?;
        }
        if self.cfg.runs("client") {
            self.client_configs(&tpp).await?;
        }
        Ok(())
    }

    fn failed(&mut self, group: &str, result: Result<(), String>) {
        if let Err(e) = result {
            progress(format!("{group}: FAILED: {e}"));
            let mut row = Row::new(group, "—");
            row.result = format!("FAILED: {e}");
            self.rows.push(row);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Servers

    fn spawn_tpp(&self, name: &str, args: &[&str]) -> Result<ServerProc, String> {
        let mut cmd = Command::new(&self.exe);
        cmd.arg("serve-tpp")
            .args(["--threads", &self.cfg.threads.to_string()])
            .args(args);
        ServerProc::spawn(name, cmd)
    }

    fn spawn_floor(&self) -> Result<ServerProc, String> {
        let mut cmd = Command::new(&self.exe);
        cmd.arg("serve-floor")
            .args(["--threads", &self.cfg.threads.to_string()])
            .args(["--token", TOKEN]);
        ServerProc::spawn("floor", cmd)
    }

    fn spawn_reference(&self, python: &Path, hash: &str) -> Result<ServerProc, String> {
        let script = self.tmp.join("reference_server.py");
        std::fs::write(&script, include_str!("../reference_server.py"))
            .map_err(|e| format!("cannot write the reference server script: {e}"))?;
        let log = std::fs::File::create(self.tmp.join("reference_server.log"))
            .map_err(|e| format!("reference log: {e}"))?;
        let mut cmd = Command::new(python);
        cmd.arg(&script).arg(hash).stderr(Stdio::from(log));
        ServerProc::spawn("Python reference", cmd)
    }

    fn spec(&self, target: Target, mode: Mode, request: &Arc<[u8]>) -> Spec {
        Spec {
            target,
            mode,
            clients: self.cfg.clients,
            warmup: self.cfg.warmup,
            duration: self.cfg.round,
            request: request.clone(),
        }
    }

    /// Runs the sides in turn, rotating the order every round (A B C, B C A,
    /// …); returns each side's totals and its per-round ratios of requests
    /// per second against side 0 (empty for side 0 itself).
    async fn compare(
        &self,
        what: &str,
        sides: &[(&str, &ServerProc, &Spec)],
    ) -> (Vec<Outcome>, Vec<Vec<f64>>) {
        let n = sides.len();
        let mut totals = vec![Outcome::default(); n];
        let mut ratios = vec![Vec::new(); n];
        for round in 0..self.cfg.rounds {
            let mut this_round = vec![Outcome::default(); n];
            for j in 0..n {
                let i = (j + round) % n;
                let (name, server, spec) = sides[i];
                let o = load::run(spec, server).await;
                progress(format!(
                    "{what}: {name}, round {}/{}: {} req/s, p50 {}, p99 {}, server CPU {:.0}%, load gen CPU {:.0}%{}",
                    round + 1,
                    self.cfg.rounds,
                    report::rate(o.rps()),
                    report::duration_ns(o.quantile(0.5)),
                    report::duration_ns(o.quantile(0.99)),
                    o.server_cpu * 100.0,
                    o.gen_cpu * 100.0,
                    errors_note(&o),
                ));
                this_round[i] = o;
            }
            for i in 0..n {
                if i > 0 {
                    ratios[i].push(this_round[i].rps() / this_round[0].rps());
                }
                totals[i].merge(&this_round[i]);
            }
        }
        (totals, ratios)
    }

    /// floor vs tpp `echo` vs tpp `echo_value`, all on `size`-byte bodies;
    /// `goal` applies to tpp `echo` / floor.
    async fn against_floor(
        &mut self,
        case: &str,
        mode: Mode,
        size: usize,
        servers: (&ServerProc, &ServerProc),
        goal: Goal,
    ) {
        let (tpp, floor) = servers;
        let doc = body(size);
        let echo: Arc<[u8]> = request_frame(TOKEN, "echo", &doc).into();
        let value: Arc<[u8]> = request_frame(TOKEN, "echo_value", &doc).into();
        let fs = self.spec(Target::tcp(floor.port), mode, &echo);
        let ts = self.spec(Target::tcp(tpp.port), mode, &echo);
        let vs = self.spec(Target::tcp(tpp.port), mode, &value);
        let (o, ratios) = self
            .compare(
                case,
                &[
                    ("floor", floor, &fs),
                    ("tpp echo", tpp, &ts),
                    ("tpp echo_value", tpp, &vs),
                ],
            )
            .await;
        let with_mb = |mut row: Row, o: &Outcome| {
            if size > SMALL {
                row.result = format!(
                    "{} ({:.0} MB/s of body each way)",
                    row.result,
                    o.rps() * size as f64 / 1e6
                );
            }
            row
        };
        self.rows.push(with_mb(
            load_row(case, "floor (hand-written tokio, raw body)", &o[0]),
            &o[0],
        ));
        let subjects = [
            "tpp `#[toxic_service]` echo (`Box<RawValue>` body), tpp/floor",
            "tpp `#[toxic_service]` echo_value (`Value` body), tpp/floor",
        ];
        for (k, subject) in subjects.iter().enumerate() {
            let i = k + 1;
            let (shown, m) = report::ratio_summary(&ratios[i]);
            let cpu = o[i].server_us_per_request() / o[0].server_us_per_request();
            let shown = format!("{shown}; server CPU/req {}", report::times(cpu));
            let goal = if i == 1 { goal } else { Goal::None };
            let row = with_mb(load_row(case, subject, &o[i]), &o[i]);
            self.rows.push(row.judge(shown, m, goal, "× floor"));
        }
    }

    // ---------------------------------------------------------------------------------------
    // 1. The floor

    async fn floor(&mut self, tpp: &ServerProc, floor: &ServerProc) {
        for (mode, label) in [
            (Mode::OneShot, "one request per connection"),
            (Mode::KeepAlive, "keep-alive"),
        ] {
            let case = format!("Floor: {label}, {} body", size_name(SMALL));
            self.against_floor(&case, mode, SMALL, (tpp, floor), Goal::AtLeast(0.9))
                .await;
        }
    }

    // ---------------------------------------------------------------------------------------
    // 3. Bodies

    async fn bodies(&mut self, tpp: &ServerProc, floor: &ServerProc) -> Result<(), String> {
        for size in [SMALL, MEDIUM] {
            if size == SMALL && self.cfg.runs("floor") {
                continue; // the keep-alive floor case above
            }
            let case = format!("Body {}, keep-alive", size_name(size));
            self.against_floor(&case, Mode::KeepAlive, size, (tpp, floor), Goal::None)
                .await;
        }
        self.big_echo(tpp, floor).await
    }

    /// 16 MiB: one client, keep-alive, requests one after the other, against
    /// serde_json's own parse + serialize of the same document, interleaved.
    async fn big_echo(&mut self, tpp: &ServerProc, floor: &ServerProc) -> Result<(), String> {
        let doc = body(BIG);
        let case = format!("Body {}, 1 client, keep-alive", size_name(BIG));
        let echo = load::asking_keep_alive(&request_frame(TOKEN, "echo", &doc));
        let value = load::asking_keep_alive(&request_frame(TOKEN, "echo_value", &doc));
        let mut conns = Vec::new();
        for port in [tpp.port, tpp.port, floor.port] {
            conns.push((
                Target::tcp(port).connect().await.map_err(io_err)?,
                BytesMut::new(),
            ));
        }
        let requests = [&echo, &value, &echo];
        let n = self.cfg.big_iterations;
        // [serde Value, serde RawValue, tpp echo, tpp echo_value, floor], in seconds.
        let mut times: [Vec<f64>; 5] = Default::default();
        for i in 0..=n {
            // Parse + serialize; the tree is dropped outside the timed part, as
            // a server drops it after the response is on its way.
            let t = Instant::now();
            let v: Value = serde_json::from_str(black_box(&doc)).map_err(|e| e.to_string())?;
            let out = serde_json::to_vec(&v).map_err(|e| e.to_string())?;
            black_box((&v, &out));
            let base = t.elapsed().as_secs_f64();
            drop((v, out));
            let t = Instant::now();
            let v: Box<RawValue> =
                serde_json::from_str(black_box(&doc)).map_err(|e| e.to_string())?;
            let out = serde_json::to_vec(&v).map_err(|e| e.to_string())?;
            black_box((&v, &out));
            let raw_base = t.elapsed().as_secs_f64();
            drop((v, out));
            let mut sides = [0.0; 3];
            for (k, (stream, buf)) in conns.iter_mut().enumerate() {
                let t = Instant::now();
                exchange(stream, requests[k], buf).await.map_err(io_err)?;
                sides[k] = t.elapsed().as_secs_f64();
            }
            progress(format!(
                "{case}: iteration {i}/{n}: serde_json Value {:.1} ms, RawValue {:.1} ms, tpp echo {:.1} ms, tpp echo_value {:.1} ms, floor {:.1} ms",
                base * 1e3,
                raw_base * 1e3,
                sides[0] * 1e3,
                sides[1] * 1e3,
                sides[2] * 1e3
            ));
            if i == 0 {
                continue; // warm-up: first allocations of the buffers
            }
            times[0].push(base);
            times[1].push(raw_base);
            for k in 0..3 {
                times[2 + k].push(sides[k]);
            }
        }
        let ms = |xs: &[f64]| {
            format!(
                "{:.1} ms (median of {})",
                report::median(xs) * 1e3,
                xs.len()
            )
        };
        let spread = |xs: &[f64]| {
            let hi = xs.iter().copied().fold(0.0, f64::max);
            (
                format!("{:.1} ms", report::median(xs) * 1e3),
                format!("{:.1} ms (max)", hi * 1e3),
            )
        };
        let per_pair = |k: usize, base: usize| -> Vec<f64> {
            times[k]
                .iter()
                .zip(&times[base])
                .map(|(x, b)| x / b)
                .collect()
        };
        let mb_s = |xs: &[f64]| BIG as f64 / report::median(xs) / 1e6;
        let subjects = [
            "serde_json alone: `from_str::<Value>` + `to_vec` (in-process, no I/O)",
            "serde_json alone, `Box<RawValue>`: validate + copy (in-process, no I/O)",
            "tpp echo (`Box<RawValue>` body): request + response over loopback",
            "tpp echo_value (`Value` body): request + response over loopback",
            "floor (raw body): request + response over loopback",
        ];
        for (k, subject) in subjects.iter().enumerate() {
            let mut row = Row::new(&case, *subject);
            row.result = format!("{}, {:.0} MB/s", ms(&times[k]), mb_s(&times[k]));
            (row.p50, row.p99) = spread(&times[k]);
            if k > 0 {
                let (shown, m) = report::ratio_summary(&per_pair(k, 0));
                let mut shown = format!("{} serde_json", shown.replace("rounds", "pairs"));
                if k == 2 || k == 3 {
                    let (vs_floor, _) = report::ratio_summary(&per_pair(k, 4));
                    shown = format!(
                        "{shown}; time/floor {}",
                        vs_floor.replace("rounds", "pairs")
                    );
                }
                let goal = if k == 2 || k == 3 {
                    Goal::AtMost(1.5)
                } else {
                    Goal::None
                };
                row = row.judge(shown, m, goal, "× serde_json");
            }
            self.rows.push(row);
        }
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // 2. The reference

    async fn reference(&mut self) -> Result<(), String> {
        let Some(python) = find_python() else {
            let msg = "SKIPPED: no Python with toxiccore (set TPP_PYTHON, or create .venv at the \
                       workspace root: python3 -m venv .venv && .venv/bin/pip install toxicbuild-core)";
            progress(format!("reference: {msg}"));
            let mut row = Row::new("Reference (Python toxiccore)", "—");
            row.result = msg.to_owned();
            self.rows.push(row);
            self.notes
                .push(format!("The reference cases were skipped: {msg}."));
            return Ok(());
        };
        self.notes.push(format!(
            "Reference: `{}` (toxicbuild-core {}).",
            python.display(),
            python_package_version(&python)
        ));
        let request: Arc<[u8]> = request_frame(TOKEN, "echo", &body(SMALL)).into();
        for (cost, goal) in [(4u32, 15.0), (12, 1000.0)] {
            progress(format!(
                "reference: hashing the token at bcrypt cost {cost}"
            ));
            let hash = bcrypt::hash(TOKEN, cost).map_err(|e| e.to_string())?;
            let tpp = self.spawn_tpp(&format!("tpp bcrypt {cost}"), &["--hash", &hash])?;
            sanity(tpp.port, false, true).await?;
            let case = format!(
                "Reference: bcrypt cost {cost}, one request per connection, {} body",
                size_name(SMALL)
            );
            let ts = self.spec(Target::tcp(tpp.port), Mode::OneShot, &request);
            let (ot, or, ratios) = if cost == 4 {
                let py = self.spawn_reference(&python, &hash)?;
                sanity(py.port, false, false).await?;
                let rs = self.spec(Target::tcp(py.port), Mode::OneShot, &request);
                let (mut o, mut ratios) = self
                    .compare(&case, &[("reference", &py, &rs), ("tpp", &tpp, &ts)])
                    .await;
                (o.remove(1), o.remove(0), ratios.remove(1))
            } else {
                // ≈5 requests/s: one fixed window for the reference, after tpp
                // (the reference keeps hashing for abandoned requests, so it is
                // stopped right after its window).
                let ot = load::run(&ts, &tpp).await;
                progress(format!("{case}: tpp {} req/s", report::rate(ot.rps())));
                let py = self.spawn_reference(&python, &hash)?;
                sanity(py.port, false, false).await?;
                let mut rs = self.spec(Target::tcp(py.port), Mode::OneShot, &request);
                rs.warmup = Duration::ZERO;
                rs.duration = self.cfg.cost12_window;
                // toxiccore verifies every request it has read before it
                // answers any (bcrypt blocks its event loop), so with 32
                // clients nothing completes for 32 × 0.2 s. Its throughput
                // is bounded by bcrypt whatever the concurrency.
                rs.clients = self.cfg.clients.min(REFERENCE_COST12_CLIENTS);
                let or = load::run(&rs, &py).await;
                drop(py);
                progress(format!(
                    "{case}: reference {} requests in {:.1} s, the last at {:.2} s: {} req/s",
                    or.requests,
                    or.secs,
                    or.span,
                    report::rate(or.rps_over_span()),
                ));
                let ratio = ot.rps() / or.rps_over_span();
                (ot, or, vec![ratio])
            };
            if cost == 12 {
                let mut row = load_row(
                    &case,
                    &format!(
                        "Python toxiccore (bcrypt inline, every request; {} clients, one {:.0} s window)",
                        REFERENCE_COST12_CLIENTS,
                        self.cfg.cost12_window.as_secs_f64()
                    ),
                    &or,
                );
                row.result = format!(
                    "{} req/s ({} requests by {:.2} s){}",
                    report::rate(or.rps_over_span()),
                    or.requests,
                    or.span,
                    errors_note(&or)
                );
                self.rows.push(row);
            } else {
                self.rows.push(load_row(
                    &case,
                    "Python toxiccore (bcrypt inline, every request)",
                    &or,
                ));
            }
            let (shown, m) = report::ratio_summary(&ratios);
            self.rows.push(
                load_row(&case, "tpp (verified-token cache), tpp/reference", &ot).judge(
                    shown,
                    m,
                    Goal::AtLeast(goal),
                    "× reference",
                ),
            );
        }
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // 4. TLS

    async fn tls(&mut self, tpp: &ServerProc) -> Result<(), String> {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .map_err(|e| format!("certificate: {e}"))?;
        let cert = self.tmp.join("cert.pem");
        let key = self.tmp.join("key.pem");
        std::fs::write(&cert, certified.cert.pem()).map_err(|e| e.to_string())?;
        std::fs::write(&key, certified.key_pair.serialize_pem()).map_err(|e| e.to_string())?;
        let (cert, key) = (cert.display().to_string(), key.display().to_string());
        let tls = self.spawn_tpp("tpp TLS", &["--token", TOKEN, "--tls", &cert, &key])?;
        sanity(tls.port, true, true).await?;
        let request: Arc<[u8]> = request_frame(TOKEN, "echo", &body(SMALL)).into();
        let tls_target = Target {
            tls: Some(load::insecure_tls()),
            ..Target::tcp(tls.port)
        };
        for (mode, label) in [
            (
                Mode::OneShot,
                "handshake + one request per connection (full handshakes, no resumption)",
            ),
            (Mode::KeepAlive, "keep-alive"),
        ] {
            let case = format!("TLS 1.3: {label}, {} body", size_name(SMALL));
            let ps = self.spec(Target::tcp(tpp.port), mode, &request);
            let ss = self.spec(tls_target.clone(), mode, &request);
            let (mut o, mut ratios) = self
                .compare(&case, &[("tcp", tpp, &ps), ("tls", &tls, &ss)])
                .await;
            let (os, op, ratios) = (o.remove(1), o.remove(0), ratios.remove(1));
            self.rows.push(load_row(&case, "tpp, plain TCP", &op));
            let (shown, m) = report::ratio_summary(&ratios);
            self.rows.push(
                load_row(&case, "tpp, TLS (rustls, ECDSA P-256), TLS/TCP", &os).judge(
                    shown,
                    m,
                    Goal::None,
                    "",
                ),
            );
        }
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // 5. Memory

    async fn memory(&mut self) -> Result<(), String> {
        let n = self.cfg.idle_connections;
        let case = format!("Memory: {} idle connections", report::grouped(n as f64));
        for kind in ["tpp", "floor"] {
            let server = if kind == "tpp" {
                self.spawn_tpp("tpp (memory)", &["--token", TOKEN])?
            } else {
                self.spawn_floor()?
            };
            let m = idle_memory(&server, n).await?;
            drop(server);
            progress(format!(
                "{case}: {kind}: RSS {} KiB → {} KiB connected → {} KiB after one request each",
                m.before, m.connected, m.after_request
            ));
            let per = |kib: u64| kib.saturating_sub(m.before) as f64 * 1024.0 / n as f64;
            let (connected, after) = (per(m.connected), per(m.after_request));
            let worst = connected.max(after);
            let mut row = Row::new(
                &case,
                if kind == "tpp" {
                    "tpp: server RSS per connection (clients in the bench process)"
                } else {
                    "floor: server RSS per connection"
                },
            );
            row.result = format!(
                "{:.1} KiB/conn waiting for a first request; {:.1} KiB/conn idle after one request (RSS {:.1} → {:.1} → {:.1} MiB)",
                connected / 1024.0,
                after / 1024.0,
                m.before as f64 / 1024.0,
                m.connected as f64 / 1024.0,
                m.after_request as f64 / 1024.0,
            );
            row = if kind == "tpp" {
                row.judge(
                    format!("{:.1} KiB (worst state)", worst / 1024.0),
                    worst / 1024.0,
                    Goal::AtMost(16.0),
                    " KiB/conn",
                )
            } else {
                row
            };
            self.rows.push(row);
        }

        let case = format!("Memory: peak while echoing {}", size_name(BIG));
        let doc = body(BIG);
        for (kind, action) in [("tpp", "echo"), ("tpp", "echo_value"), ("floor", "echo")] {
            let server = if kind == "tpp" {
                self.spawn_tpp("tpp (peak)", &["--token", TOKEN])?
            } else {
                self.spawn_floor()?
            };
            let request = request_frame(TOKEN, action, &doc);
            let (before, peak) = peak_memory(&server, &request).await?;
            drop(server);
            let extra = peak.saturating_sub(before) as f64 * 1024.0;
            let times = extra / BIG as f64;
            progress(format!(
                "{case}: {kind} {action}: RSS before {before} KiB, VmHWM {peak} KiB"
            ));
            let subject = match (kind, action) {
                ("tpp", "echo") => "tpp echo (`Box<RawValue>` body)",
                ("tpp", _) => "tpp echo_value (`Value` body)",
                _ => "floor",
            };
            let mut row = Row::new(&case, subject);
            row.result = format!(
                "VmHWM − RSS before = {:.1} MiB ({:.1} → {:.1} MiB)",
                extra / (1 << 20) as f64,
                before as f64 / 1024.0,
                peak as f64 / 1024.0
            );
            // The target is about what the runtime holds (frame, body,
            // response); a `Value` tree is the application's choice of type.
            let goal = if kind == "tpp" && action == "echo" {
                Goal::AtMost(4.0)
            } else {
                Goal::None
            };
            row = row.judge(report::times(times) + " body", times, goal, "× body");
            self.rows.push(row);
        }
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // 6. Codec

    fn codec(&mut self) {
        progress("codec micro-benchmarks");
        for r in crate::codec::run(&[SMALL, MEDIUM, BIG], self.cfg.codec_budget) {
            let mut row = Row::new(format!("Codec: {}", r.name), r.how);
            row.result = r
                .rates
                .iter()
                .map(|(size, mbs)| format!("{}: {} MB/s", size_name(*size), report::grouped(*mbs)))
                .collect::<Vec<_>>()
                .join(" · ");
            progress(format!("codec: {}: {}", r.name, row.result));
            self.rows.push(row);
        }
    }

    // ---------------------------------------------------------------------------------------
    // The report

    fn report(&self, load_before: &str, load_after: &str, took: Duration) -> String {
        let c = &self.cfg;
        let mut out = String::new();
        let mode = if c.quick { "quick (`--quick`)" } else { "full" };
        out.push_str(&format!(
            "Machine: {} cores ({}), {}; load average {} at the start, {} at the end.\n\n",
            crate::cores(),
            procs::cpu_model(),
            os_release(),
            load_before,
            load_after
        ));
        out.push_str(&format!(
            "Run: {mode}, {} clients, servers on tokio multi-thread runtimes with {} worker threads, \
             each in its own process; comparisons alternate {} rounds of {:.2} s per side \
             (after {:.2} s of warm-up load); took {:.0} s.\n\n",
            c.clients,
            c.threads,
            c.rounds,
            c.round.as_secs_f64(),
            c.warmup.as_secs_f64(),
            took.as_secs_f64()
        ));
        out.push_str("Commands:\n\n```sh\n");
        out.push_str("CARGO_TARGET_DIR=/work/target-bench cargo run --release -p tpp-bench            # full run\n");
        out.push_str("CARGO_TARGET_DIR=/work/target-bench cargo run --release -p tpp-bench -- --quick # short run\n");
        out.push_str("# this run: tpp-bench");
        for a in &c.args {
            out.push(' ');
            out.push_str(a);
        }
        out.push_str("\n```\n\n");
        out.push_str(&report::table(&self.rows));
        out.push('\n');
        out.push_str(
            "Ratios are medians of per-round (or per-pair) ratios, with their range. CPU: \
             percent of one core used over the measured window by the server process and by \
             the load generator process, then CPU time per request of each.\n",
        );
        for n in &self.notes {
            out.push('\n');
            out.push_str(n);
            out.push('\n');
        }
        out
    }
}

// -------------------------------------------------------------------------------------------
// Helpers

fn io_err(e: std::io::Error) -> String {
    e.to_string()
}

fn errors_note(o: &Outcome) -> String {
    match (&o.first_error, o.errors) {
        (_, 0) => String::new(),
        (Some(e), n) => format!(", {n} ERRORS (first: {e})"),
        (None, n) => format!(", {n} ERRORS"),
    }
}

/// A row for a load run: throughput, latency, CPU.
fn load_row(case: &str, subject: &str, o: &Outcome) -> Row {
    let mut row = Row::new(case, subject);
    row.result = format!("{} req/s{}", report::rate(o.rps()), errors_note(o));
    row.p50 = report::duration_ns(o.quantile(0.5));
    row.p99 = report::duration_ns(o.quantile(0.99));
    row.cpu = format!(
        "{:.0}% · {:.0}% · {:.1} µs · {:.1} µs",
        o.server_cpu * 100.0,
        o.gen_cpu * 100.0,
        o.server_us_per_request(),
        o.gen_us_per_request()
    );
    row
}

/// Checks a server answers the echo correctly, with tpp's typed client
/// (and `echo_value` too, on a tpp server).
async fn sanity(port: u16, tls: bool, is_tpp: bool) -> Result<(), String> {
    let mut builder = tpp::Client::builder("127.0.0.1", port)
        .token(TOKEN)
        .timeout(Duration::from_secs(30));
    if tls {
        builder = builder.tls_insecure().server_name("localhost");
    }
    let client = BenchClient::new(builder.build().map_err(|e| e.to_string())?);
    let text = body(SMALL);
    let sent: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let raw = RawValue::from_string(text).map_err(|e| e.to_string())?;
    let got = client
        .echo(raw)
        .await
        .map_err(|e| format!("echo on port {port}: {e}"))?;
    let got: Value = serde_json::from_str(got.get()).map_err(|e| e.to_string())?;
    if got != sent {
        return Err(format!("echo on port {port} answered {got}, not {sent}"));
    }
    if is_tpp {
        let got = client
            .echo_value(sent.clone())
            .await
            .map_err(|e| format!("echo_value on port {port}: {e}"))?;
        if got != sent {
            return Err(format!("echo_value on port {port} answered {got}"));
        }
    }
    Ok(())
}

/// The Python interpreter with toxiccore: `$TPP_PYTHON`, else `.venv/bin/python`
/// at the workspace root.
fn find_python() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("TPP_PYTHON").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| procs::python_has_toxiccore(p))
}

fn python_package_version(python: &Path) -> String {
    Command::new(python)
        .args([
            "-c",
            "from importlib.metadata import version as v; import sys; \
             print(v('toxicbuild-core'), 'bcrypt', v('bcrypt'), 'Python', sys.version.split()[0])",
        ])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn os_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| format!("Linux {}", s.trim()))
        .unwrap_or_else(|_| "unknown OS".to_owned())
}

struct IdleMemory {
    before: u64,
    connected: u64,
    after_request: u64,
}

/// Opens `n` connections to `server` from this process, then sends one
/// request on each; the server's RSS before, when all are accepted, and
/// after the requests (kept alive, idle).
async fn idle_memory(server: &ServerProc, n: usize) -> Result<IdleMemory, String> {
    let request = load::asking_keep_alive(&request_frame(TOKEN, "echo", &body(SMALL)));
    // Warm the runtime (threads, first allocations) before the baseline.
    {
        let target = Target::tcp(server.port);
        let mut s = target.connect().await.map_err(io_err)?;
        let mut buf = BytesMut::new();
        for _ in 0..100 {
            exchange(&mut s, &request, &mut buf).await.map_err(io_err)?;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = server.status_kib("VmRSS:");
    let fds_before = server.fd_count();
    let target = Target::tcp(server.port);
    let mut conns = Vec::with_capacity(n);
    const BATCH: usize = 250;
    while conns.len() < n {
        let batch = BATCH.min(n - conns.len());
        let tasks: Vec<_> = (0..batch)
            .map(|_| {
                let t = target.clone();
                tokio::spawn(async move { t.connect().await })
            })
            .collect();
        for t in tasks {
            conns.push(t.await.map_err(|e| e.to_string())?.map_err(io_err)?);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.fd_count() < fds_before + n {
        if Instant::now() > deadline {
            return Err(format!(
                "the server accepted {} of {n} connections",
                server.fd_count().saturating_sub(fds_before)
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let connected = server.status_kib("VmRSS:");
    let mut done = Vec::with_capacity(n);
    while !conns.is_empty() {
        let batch: Vec<_> = conns.drain(..BATCH.min(conns.len())).collect();
        let tasks: Vec<_> = batch
            .into_iter()
            .map(|mut s| {
                let request = request.clone();
                tokio::spawn(async move {
                    let mut buf = BytesMut::new();
                    exchange(&mut s, &request, &mut buf).await.map(|_| s)
                })
            })
            .collect();
        for t in tasks {
            done.push(t.await.map_err(|e| e.to_string())?.map_err(io_err)?);
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_request = server.status_kib("VmRSS:");
    drop(done);
    Ok(IdleMemory {
        before,
        connected,
        after_request,
    })
}

/// The server's RSS before one `request` (a 16 MiB echo) and its peak RSS
/// (VmHWM) after it, in KiB.
async fn peak_memory(server: &ServerProc, request: &[u8]) -> Result<(u64, u64), String> {
    let small = load::asking_keep_alive(&request_frame(TOKEN, "echo", &body(SMALL)));
    let request = load::asking_keep_alive(request);
    let mut s = Target::tcp(server.port).connect().await.map_err(io_err)?;
    let mut buf = BytesMut::new();
    for _ in 0..10 {
        exchange(&mut s, &small, &mut buf).await.map_err(io_err)?;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = server.status_kib("VmRSS:");
    exchange(&mut s, &request, &mut buf).await.map_err(io_err)?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok((before, server.status_kib("VmHWM:")))
}
