//! The benchmark cases, in the order of the table (and, in observe.rs,
//! the cost of metrics and tracing).

mod deadline;
mod observe;
mod unix;

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

mod bodies;
mod clients;
mod dyn_mode;
mod memory;
mod reference;

/// The plain token of the floor and plain-token tpp servers (the bcrypt
/// servers store its hash).
const TOKEN: &str = "benchT0ken";

/// Clients driving the reference at bcrypt cost 12 (see `reference`).
const REFERENCE_COST12_CLIENTS: usize = 4;

const SMALL: usize = 100;
const MEDIUM: usize = 64 * 1024;
const ONE_MIB: usize = 1024 * 1024;
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
        if self.cfg.runs("unix") {
            let result = self.unix_socket().await;
            self.failed("Unix socket", result);
        }
        if self.cfg.runs("deadline") {
            let result = self.deadline().await;
            self.failed("Deadline tracking", result);
        }
        Ok(())
    }

    /// The groups that share one tpp server and one floor server.
    async fn main_groups(&mut self) -> Result<(), String> {
        let tpp = self.spawn_tpp("tpp", &["--token", TOKEN])?;
        sanity(tpp.port, false, true).await?;
        let floor = self.spawn_floor(false)?;
        sanity(floor.port, false, false).await?;
        let baseline = match &self.cfg.baseline {
            Some(exe) => {
                let server = self.spawn_tpp_of(exe, "tpp (baseline build)", &["--token", TOKEN])?;
                sanity(server.port, false, true).await?;
                Some(server)
            }
            None => None,
        };
        if self.cfg.runs("floor") {
            self.floor(&tpp, &floor, baseline.as_ref()).await;
        }
        if self.cfg.runs("bodies") {
            self.bodies(&tpp, &floor, baseline.as_ref()).await?;
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
        self.spawn_tpp_of(&self.exe, name, args)
    }

    /// `serve-tpp` of the binary `exe` (this one, or the `--baseline` build).
    fn spawn_tpp_of(&self, exe: &Path, name: &str, args: &[&str]) -> Result<ServerProc, String> {
        let mut cmd = Command::new(exe);
        cmd.arg("serve-tpp")
            .args(["--threads", &self.cfg.threads.to_string()])
            .args(args);
        ServerProc::spawn(name, cmd)
    }

    /// The floor server; with `copy`, the socket-copy floor (no parsing).
    fn spawn_floor(&self, copy: bool) -> Result<ServerProc, String> {
        let mut cmd = Command::new(&self.exe);
        cmd.arg("serve-floor")
            .args(["--threads", &self.cfg.threads.to_string()])
            .args(["--token", TOKEN]);
        if copy {
            cmd.arg("--copy");
        }
        ServerProc::spawn(if copy { "socket copy" } else { "floor" }, cmd)
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
                progress(round_line(what, name, round, self.cfg.rounds, &o, true));
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

    /// floor vs tpp `echo` vs tpp `echo_value` (and the baseline build's
    /// `echo`, when given), all on `size`-byte bodies; `goal` applies to tpp
    /// `echo` / floor.
    async fn against_floor(
        &mut self,
        case: &str,
        mode: Mode,
        size: usize,
        servers: (&ServerProc, &ServerProc, Option<&ServerProc>),
        goal: Goal,
    ) {
        let (tpp, floor, baseline) = servers;
        let doc = body(size);
        let echo: Arc<[u8]> = request_frame(TOKEN, "echo", &doc).into();
        let value: Arc<[u8]> = request_frame(TOKEN, "echo_value", &doc).into();
        let fs = self.spec(Target::tcp(floor.port), mode, &echo);
        let ts = self.spec(Target::tcp(tpp.port), mode, &echo);
        let vs = self.spec(Target::tcp(tpp.port), mode, &value);
        let bs = baseline.map(|b| (b, self.spec(Target::tcp(b.port), mode, &echo)));
        let mut sides = vec![
            ("floor", floor, &fs),
            ("tpp echo", tpp, &ts),
            ("tpp echo_value", tpp, &vs),
        ];
        if let Some((b, spec)) = &bs {
            sides.push(("tpp echo, baseline build", b, spec));
        }
        let (o, ratios) = self.compare(case, &sides).await;
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
        if let Some(b) = o.get(3) {
            // This build against the baseline, round by round (both were
            // measured against the same floor in the same round).
            let per_round: Vec<f64> = ratios[1]
                .iter()
                .zip(&ratios[3])
                .map(|(t, b)| t / b)
                .collect();
            let (shown, m) = report::ratio_summary(&per_round);
            let cpu = o[1].server_us_per_request() / b.server_us_per_request();
            let shown = format!(
                "this build / baseline {shown}; server CPU/req {}",
                report::times(cpu)
            );
            let row = with_mb(
                load_row(case, "tpp echo, baseline build (`--baseline`)", b),
                b,
            );
            let goal = if size == SMALL && mode == Mode::KeepAlive {
                Goal::AtLeast(1.0)
            } else {
                Goal::None
            };
            self.rows.push(row.judge(shown, m, goal, "× baseline"));
        }
    }

    // ---------------------------------------------------------------------------------------
    // 1. The floor

    async fn floor(&mut self, tpp: &ServerProc, floor: &ServerProc, baseline: Option<&ServerProc>) {
        for (mode, label) in [
            (Mode::OneShot, "one request per connection"),
            (Mode::KeepAlive, "keep-alive"),
        ] {
            let case = format!("Floor: {label}, {} body", size_name(SMALL));
            self.against_floor(
                &case,
                mode,
                SMALL,
                (tpp, floor, baseline),
                Goal::AtLeast(0.9),
            )
            .await;
        }
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

/// The progress line of one side's round: rate, latency, CPU and errors
/// (the load generator's CPU when it was measured apart).
fn round_line(
    what: &str,
    name: &str,
    round: usize,
    rounds: usize,
    o: &Outcome,
    gen_cpu: bool,
) -> String {
    let gen = if gen_cpu {
        format!(", load gen CPU {:.0}%", o.gen_cpu * 100.0)
    } else {
        String::new()
    };
    format!(
        "{what}: {name}, round {}/{rounds}: {} req/s, p50 {}, p99 {}, server CPU {:.0}%{gen}{}",
        round + 1,
        report::rate(o.rps()),
        report::duration_ns(o.quantile(0.5)),
        report::duration_ns(o.quantile(0.99)),
        o.server_cpu * 100.0,
        errors_note(o),
    )
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
    let mut builder = tpp_rpc::Client::builder("127.0.0.1", port)
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

fn os_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| format!("Linux {}", s.trim()))
        .unwrap_or_else(|_| "unknown OS".to_owned())
}
