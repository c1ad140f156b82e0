//! `tpp-peers`: tpp against tarpc (JSON and bincode), jsonrpsee (WebSocket)
//! and tonic (gRPC) on the same echo, each peer at its defaults and tuned,
//! each framework with its own server and its own generated client, in one
//! run on one machine. See BENCHMARKS.md, "Peers".
//!
//! ```text
//! cargo run --release --manifest-path bench/peers/Cargo.toml              # full (~3 min)
//! cargo run --release --manifest-path bench/peers/Cargo.toml -- --quick   # ~20 s
//! ```
//!
//! Every server runs in its own child process (this binary re-executed as
//! `tpp-peers serve KIND`), so its CPU time is its own; this process is the
//! load generator. Contenders take turns in rounds (order rotated every
//! round, the two cases alternating), and each ratio is the median of the
//! per-round ratios, so that other work on a shared machine hits every side.

// Shared with tpp-bench (bench/src): child processes and /proc, number formats.
#[path = "../../src/procs.rs"]
#[allow(dead_code)]
mod procs;
#[path = "../../src/report.rs"]
// Shared with tpp-bench, whose rust-version predates `is_multiple_of`.
#[allow(dead_code, clippy::manual_is_multiple_of)]
mod report;

mod contenders;
mod floor;
mod load;
mod servers;
mod syscalls;
mod table;
mod tonic_echo;

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use contenders::Contender;
use load::{Load, Window};
use procs::ServerProc;
use table::{Case, Measured};

const USAGE: &str = "\
tpp-peers: tpp against tarpc (JSON, bincode), jsonrpsee (WebSocket) and tonic (gRPC),
each peer at its defaults and tuned.

USAGE:
    tpp-peers [--quick] [--rounds N] [--secs S] [--no-strace] [--only NAMES] [--case NAME]

OPTIONS:
    --quick         2 short rounds (~20 s) instead of the full run (9 rounds, ~3 min)
    --rounds N      rounds per contender and case
    --secs S        measured seconds per window (default 1.5, quick 0.3)
    --no-strace     skip the syscall rounds (strace -c)
    --only NAMES    comma-separated substrings of contender names (e.g. tpp,bincode)
    --case NAME     only the case whose name contains NAME (100 B or 1 MiB)
    -h, --help      this text

Prints markdown on stdout (progress on stderr). Internal subcommand:
    tpp-peers serve tpp|tarpc-json|tarpc-bincode|tarpc-json-nodelay|tarpc-bincode-nodelay|jsonrpsee|tonic|tonic-tuned|floor|floor-json
(prints its port, serves on 127.0.0.1 until its stdin closes).";

struct Config {
    quick: bool,
    rounds: usize,
    window: Duration,
    warmup: Duration,
    strace_window: Duration,
    strace: bool,
    only: Option<Vec<String>>,
    case: Option<String>,
    args: Vec<String>,
}

impl Config {
    fn parse(args: &[String]) -> Result<Config, String> {
        let quick = args.iter().any(|a| a == "--quick");
        let mut c = Config {
            quick,
            rounds: if quick { 2 } else { 9 },
            window: Duration::from_millis(if quick { 300 } else { 1500 }),
            warmup: Duration::from_millis(if quick { 100 } else { 250 }),
            strace_window: Duration::from_millis(if quick { 300 } else { 1000 }),
            strace: true,
            only: None,
            case: None,
            args: args.to_vec(),
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
            match a.as_str() {
                "--quick" => {}
                "--no-strace" => c.strace = false,
                "--rounds" => c.rounds = value()?.parse().map_err(|e| format!("--rounds: {e}"))?,
                "--secs" => {
                    let s: f64 = value()?.parse().map_err(|e| format!("--secs: {e}"))?;
                    c.window =
                        Duration::try_from_secs_f64(s).map_err(|e| format!("--secs: {e}"))?;
                }
                "--only" => c.only = Some(value()?.split(',').map(str::to_owned).collect()),
                "--case" => c.case = Some(value()?),
                other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
            }
        }
        if c.rounds == 0 || c.window.is_zero() {
            return Err("--rounds and --secs must be above 0".to_owned());
        }
        Ok(c)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => servers::main_serve(args.get(1).map_or("", String::as_str)),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Config::parse(&args).and_then(|config| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("tokio runtime: {e}"))?
                .block_on(run(config))
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tpp-peers: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The text of the echo: `size` printable ASCII bytes (no JSON escapes).
fn text(size: usize) -> String {
    (0..size)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect()
}

async fn run(config: Config) -> Result<(), String> {
    procs::raise_fd_limit();
    let started = Instant::now();
    let load_before = procs::load_average();
    let contenders: Vec<Contender> = contenders::all()
        .into_iter()
        .filter(|c| {
            config
                .only
                .as_ref()
                .is_none_or(|only| only.iter().any(|o| c.name.contains(o.as_str())))
        })
        .collect();
    if contenders.is_empty() {
        return Err("--only matched no contender".to_owned());
    }
    let cases: Vec<Case> = [
        Case {
            name: "100 B × 32".to_owned(),
            callers: 32,
            size: 100,
        },
        Case {
            name: "1 MiB × 4".to_owned(),
            callers: 4,
            size: 1 << 20,
        },
    ]
    .into_iter()
    .filter(|case| {
        config
            .case
            .as_ref()
            .is_none_or(|c| case.name.contains(c.as_str()))
    })
    .collect();
    if cases.is_empty() {
        return Err("--case matched no case".to_owned());
    }
    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let mut servers = Vec::new();
    let mut callers = Vec::new();
    for c in &contenders {
        let mut cmd = Command::new(&exe);
        cmd.args(["serve", c.server]);
        let server = ServerProc::spawn(&c.name, cmd)?;
        callers.push(c.connect(server.port).await?);
        servers.push(server);
    }
    let loads: Vec<Load> = cases
        .iter()
        .map(|case| Load {
            callers: case.callers,
            text: text(case.size),
            warmup: config.warmup,
            window: config.window,
        })
        .collect();

    // rounds[case][contender][round]
    let mut rounds: Vec<Vec<Vec<Window>>> = vec![vec![Vec::new(); contenders.len()]; cases.len()];
    let n = contenders.len();
    for round in 0..config.rounds {
        for (k, case) in cases.iter().enumerate() {
            for j in 0..n {
                let i = (j + round) % n;
                eprintln!(
                    "round {}/{} · {} · {}",
                    round + 1,
                    config.rounds,
                    case.name,
                    contenders[i].name
                );
                let w = load::run(&callers[i], &loads[k], servers[i].pid).await;
                rounds[k][i].push(w);
            }
        }
    }

    let strace = config.strace && syscalls::available();
    let mut measured = Vec::new();
    for (k, case) in cases.iter().enumerate() {
        let mut counts = Vec::new();
        for i in 0..n {
            counts.push(if !config.strace {
                Err("--no-strace".to_owned())
            } else if !strace {
                Err("strace not installed".to_owned())
            } else {
                eprintln!("strace · {} · {}", case.name, contenders[i].name);
                let load = Load {
                    window: config.strace_window,
                    ..loads[k].clone()
                };
                syscalls::count(&callers[i], &load, servers[i].pid).await
            });
        }
        measured.push(Measured {
            case,
            rounds: std::mem::take(&mut rounds[k]),
            syscalls: counts,
        });
    }
    drop(callers);
    drop(servers);

    println!("## tpp against its peers\n");
    println!(
        "{} · {} cores · load average {} before, {} after · {} rounds × {:.1} s per contender and case{} · {:.0} s in all · `{}`\n",
        procs::cpu_model(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_before,
        procs::load_average(),
        config.rounds,
        config.window.as_secs_f64(),
        if config.quick { " (quick)" } else { "" },
        started.elapsed().as_secs_f64(),
        std::iter::once("tpp-peers".to_owned()).chain(config.args.iter().cloned()).collect::<Vec<_>>().join(" "),
    );
    println!("{}", table::render(&contenders, &measured));
    println!("### Targets\n");
    println!("{}", table::targets(&contenders, &measured));
    if measured
        .iter()
        .any(|m| m.syscalls.iter().any(Result::is_ok))
    {
        println!("### Syscalls by kind (strace rounds)\n");
        println!("{}", table::syscall_kinds(&contenders, &measured));
    }
    Ok(())
}
