//! `tpp-bench`: tpp against a hand-written floor server, the Python
//! reference (toxiccore) and serde_json, over loopback. See BENCHMARKS.md.
//!
//! ```text
//! cargo run --release -p tpp-bench                 # full run (~3.5 minutes)
//! cargo run --release -p tpp-bench -- --quick      # short run (~1 minute)
//! cargo run --release -p tpp-bench -- --help
//! ```
//!
//! Every server runs in its own child process (this binary re-executed as
//! `serve-tpp` or `serve-floor`, or the Python reference), on the same tokio
//! runtime configuration; this process is the load generator. Two sides of a
//! comparison run alternately (A B, B A, …) and the ratio reported is the
//! median of the per-round ratios, so that a machine shared with other work
//! moves both sides together.

// `--features jemalloc` puts every process of the run (servers and load) on
// jemalloc, configured by `_RJEM_MALLOC_CONF`: with `--baseline` set to a
// script that runs this binary with other settings, two allocator settings
// compare in the same rounds.
#[cfg(all(feature = "jemalloc", not(feature = "mimalloc")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod cases;
mod codec;
mod docs;
mod floor;
mod load;
mod procs;
mod report;
mod serve;
mod service;

use std::process::ExitCode;
use std::time::Duration;

/// The machine's core count, as the runtime sees it.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

const USAGE: &str = "\
tpp-bench: tpp against a minimal floor server, the Python reference and serde_json.

USAGE:
    tpp-bench [--quick] [--clients N] [--threads N] [--only GROUPS] [--baseline EXE]

OPTIONS:
    --quick         short run (~1 minute) instead of the full one (~3.5 minutes)
    --clients N     concurrent load-generator clients (default 32)
    --threads N     tokio worker threads of every server (default: core count)
    --only GROUPS   comma-separated subset of: floor,bodies,reference,tls,client,memory,codec,dyn,observe,unix,
                    deadline
    --baseline EXE  another build of tpp-bench (e.g. of main, copied aside): its
                    `serve-tpp` runs beside this build's in the same rounds of the
                    floor and bodies groups, and the table gives this build / baseline
    -h, --help      this text

ENVIRONMENT:
    TPP_PYTHON      a Python with toxicbuild-core installed (default: .venv/bin/python
                    at the workspace root); without it the reference cases are skipped
    TPP_BENCH_OBSERVE   `metrics` or `tracing`: the observed server of the `observe`
                    group turns on only that one (default: both)

Prints one markdown table on stdout (progress goes to stderr).
Internal subcommands (also handy for profiling one side by hand):
    tpp-bench serve-tpp --token T | --hash H [--tls CERT KEY] [--dyn] [--threads N] [--observe] [--unix PATH]
                        [--request-memory BYTES|off]
    tpp-bench serve-floor --token T [--threads N]
    tpp-bench load --port P [--pid SERVER_PID] [--tls] [--one-shot] [--size BYTES]
                   [--action echo|echo_value|echo_text] [--text] [--clients N] [--secs S] [--token T]
Servers print their port, then serve until their stdin closes.";

/// What to run and for how long.
#[derive(Debug, Clone)]
pub struct Config {
    /// `--quick`.
    pub quick: bool,
    /// Concurrent clients of the load generator.
    pub clients: usize,
    /// Worker threads of every server.
    pub threads: usize,
    /// Alternating rounds per comparison.
    pub rounds: usize,
    /// Measured time of one side in one round.
    pub round: Duration,
    /// Load before each measured window.
    pub warmup: Duration,
    /// Measured window of the reference at bcrypt cost 12 (≈5 requests/s).
    pub cost12_window: Duration,
    /// Requests per side for the 16 MiB echo.
    pub big_iterations: usize,
    /// Idle connections for the memory case.
    pub idle_connections: usize,
    /// Time budget of each codec micro-benchmark.
    pub codec_budget: Duration,
    /// Groups to run.
    pub only: Option<Vec<String>>,
    /// `--baseline EXE`: another build whose tpp server is compared with this one's.
    pub baseline: Option<std::path::PathBuf>,
    /// The arguments given, for the report.
    pub args: Vec<String>,
}

impl Config {
    fn parse(args: &[String]) -> Result<Config, String> {
        let quick = args.iter().any(|a| a == "--quick");
        let mut c = Config {
            quick,
            clients: 32,
            threads: cores(),
            // Many short rounds rather than a few long ones: a shared machine's
            // bursts of other work then fall on both sides of a comparison.
            rounds: if quick { 6 } else { 30 },
            round: Duration::from_millis(300),
            warmup: Duration::from_millis(if quick { 50 } else { 60 }),
            cost12_window: Duration::from_secs(if quick { 3 } else { 6 }),
            big_iterations: if quick { 3 } else { 7 },
            idle_connections: 10_000,
            codec_budget: Duration::from_millis(if quick { 40 } else { 250 }),
            only: None,
            baseline: None,
            args: args.to_vec(),
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
            match a.as_str() {
                "--quick" => {}
                "--clients" => {
                    c.clients = value()?.parse().map_err(|e| format!("--clients: {e}"))?
                }
                "--threads" => {
                    c.threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?
                }
                "--baseline" => c.baseline = Some(value()?.into()),
                "--only" => {
                    c.only = Some(value()?.split(',').map(|s| s.trim().to_owned()).collect())
                }
                other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
            }
        }
        if c.clients == 0 || c.threads == 0 {
            return Err("--clients and --threads must be at least 1".to_owned());
        }
        Ok(c)
    }

    /// Whether the group `name` runs.
    pub fn runs(&self, name: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|o| o == name))
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve-tpp") => serve::main_tpp(&args[1..]),
        Some("serve-floor") => serve::main_floor(&args[1..]),
        Some("load") => load::main_load(&args[1..]),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Config::parse(&args).and_then(cases::run_all),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tpp-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
