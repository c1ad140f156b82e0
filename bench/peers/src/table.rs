//! The report: one markdown table per run, ratios against the best peer of
//! the same run, and the performance targets checked.

use crate::contenders::Contender;
use crate::load::{quantile, Window};
use crate::report::{duration_ns, median, rate, ratio_summary};
use crate::syscalls::Counted;

/// One scenario.
pub struct Case {
    /// `100 B × 32`.
    pub name: String,
    /// Concurrent callers.
    pub callers: usize,
    /// Bytes of text each call echoes.
    pub size: usize,
}

/// Everything measured for one case: `rounds[contender][round]`, and the
/// strace round's `(syscalls, calls)` per contender.
pub struct Measured<'a> {
    /// The scenario.
    pub case: &'a Case,
    /// Windows per contender, one per round.
    pub rounds: Vec<Vec<Window>>,
    /// What the strace round counted, or why there is none.
    pub syscalls: Vec<Result<Counted, String>>,
}

struct Figures {
    rps: Vec<f64>,
    server_us: Vec<f64>,
    best_peer: Option<usize>,
    leanest_peer: Option<usize>,
    best_tpp: Option<usize>,
}

fn figures(contenders: &[Contender], m: &Measured) -> Figures {
    let rps: Vec<f64> = m
        .rounds
        .iter()
        .map(|w| median(&w.iter().map(Window::rps).collect::<Vec<_>>()))
        .collect();
    let server_us: Vec<f64> = m
        .rounds
        .iter()
        .map(|w| median(&w.iter().map(Window::server_us).collect::<Vec<_>>()))
        .collect();
    let pick = |peer: bool, key: &dyn Fn(usize) -> f64| {
        (0..contenders.len())
            .filter(|&i| contenders[i].is_peer == peer && key(i).is_finite())
            // The floor is neither a peer nor one of tpp's configurations.
            .filter(|&i| peer || contenders[i].family == "tpp")
            .max_by(|&a, &b| key(a).total_cmp(&key(b)))
    };
    let best_peer = pick(true, &|i| rps[i]);
    // tpp's best: the highest median of per-round ratios against the best
    // peer (rounds ran side by side), or of req/s when there is no peer.
    let best_tpp = match best_peer {
        Some(p) => pick(false, &|i| median(&ratios(m, i, p, Window::rps))),
        None => pick(false, &|i| rps[i]),
    };
    Figures {
        best_peer,
        leanest_peer: pick(true, &|i| -server_us[i]),
        best_tpp,
        rps,
        server_us,
    }
}

/// Per-round ratios `f(a) / f(b)` (rounds ran side by side).
fn ratios(m: &Measured, a: usize, b: usize, f: fn(&Window) -> f64) -> Vec<f64> {
    m.rounds[a]
        .iter()
        .zip(&m.rounds[b])
        .map(|(x, y)| f(x) / f(y))
        .collect()
}

/// The table of every case.
pub fn render(contenders: &[Contender], measured: &[Measured]) -> String {
    let mut out = String::from(
        "| Case | Contender | req/s | × best peer (req/s) | p50 | p99 | server CPU/req | × leanest peer (CPU/req) | client CPU/req | server syscalls/req | errors |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for m in measured {
        let f = figures(contenders, m);
        for (i, c) in contenders.iter().enumerate() {
            let windows = &m.rounds[i];
            let mut latencies: Vec<u64> = windows
                .iter()
                .flat_map(|w| w.latencies.iter().copied())
                .collect();
            latencies.sort_unstable();
            let vs_peer = f
                .best_peer
                .map(|p| ratio_summary(&ratios(m, i, p, Window::rps)).0)
                .unwrap_or_default();
            let vs_lean = f
                .leanest_peer
                .map(|p| ratio_summary(&ratios(m, i, p, Window::server_us)).0)
                .unwrap_or_default();
            let client_us = median(&windows.iter().map(Window::client_us).collect::<Vec<_>>());
            let syscalls = match &m.syscalls[i] {
                Ok(counted) => format!("{:.2}", counted.per_call()),
                Err(why) => format!("n/a ({why})"),
            };
            let errors: u64 = windows.iter().map(|w| w.errors).sum();
            let errors = match windows.iter().find_map(|w| w.first_error.as_deref()) {
                Some(first) => format!("{errors} (first: {first})"),
                None => errors.to_string(),
            };
            let mut name = c.name.clone();
            if Some(i) == f.best_peer {
                name.push_str(" *(best peer)*");
            }
            let cells = [
                m.case.name.clone(),
                name,
                rate(f.rps[i]),
                vs_peer,
                duration_ns(quantile(&latencies, 0.5)),
                duration_ns(quantile(&latencies, 0.99)),
                format!("{:.1} µs", f.server_us[i]),
                vs_lean,
                format!("{client_us:.1} µs"),
                syscalls,
                errors,
            ];
            out.push('|');
            for cell in cells {
                out.push(' ');
                out.push_str(&cell.replace('|', "\\|"));
                out.push_str(" |");
            }
            out.push('\n');
        }
    }
    out
}

/// Client and server CPU time per call, µs.
fn total_us(w: &Window) -> f64 {
    w.client_us() + w.server_us()
}

/// The performance targets, each with the measured ratio (median of per-round
/// ratios) and a verdict. The yardstick is tarpc-bincode's best row of the
/// case (its defaults or its tuned row, whichever served more req/s).
pub fn targets(contenders: &[Contender], measured: &[Measured]) -> String {
    let mut out = String::from("| Target | Case | Measured | Met |\n|---|---|---|---|\n");
    let mut line = |target: String, case: &str, ratios: Vec<f64>, ok: &dyn Fn(f64) -> bool| {
        let (shown, value) = ratio_summary(&ratios);
        let met = if !value.is_finite() {
            "n/a"
        } else if ok(value) {
            "yes"
        } else {
            "**NO**"
        };
        out.push_str(&format!("| {target} | {case} | {shown} | {met} |\n"));
    };
    let default = contenders.iter().position(|c| c.family == "tpp");
    for m in measured {
        let f = figures(contenders, m);
        let name = |i: usize| contenders[i].name.as_str();
        let case = m.case.name.as_str();
        let tarpc = (0..contenders.len())
            .filter(|&i| contenders[i].family == "tarpc-bincode" && f.rps[i].is_finite())
            .max_by(|&a, &b| f.rps[a].total_cmp(&f.rps[b]));
        let Some(t) = tarpc else { continue };
        let tpp = [("tpp's best", f.best_tpp), ("the default client", default)];
        // Small calls: throughput and CPU per call; large ones: the server's CPU.
        if m.case.size <= 4096 {
            for ((who, i), at_least) in tpp.into_iter().zip([1.2, 1.0]) {
                if let Some(i) = i {
                    line(
                        format!("{who} ({}) ≥ {at_least:.1}× {} (req/s)", name(i), name(t)),
                        case,
                        ratios(m, i, t, Window::rps),
                        &|r| r >= at_least,
                    );
                }
            }
            for (who, i) in tpp {
                if let Some(i) = i {
                    line(
                        format!(
                            "client + server CPU/call of {who} ({}) ≤ 1.0× {}",
                            name(i),
                            name(t)
                        ),
                        case,
                        ratios(m, i, t, total_us),
                        &|r| r <= 1.0,
                    );
                }
            }
        } else {
            for (who, i) in tpp {
                if let Some(i) = i {
                    line(
                        format!(
                            "server CPU/call with {who} ({}) ≤ 1.0× {}",
                            name(i),
                            name(t)
                        ),
                        case,
                        ratios(m, i, t, Window::server_us),
                        &|r| r <= 1.0,
                    );
                }
            }
        }
    }
    out
}

/// The most frequent syscalls per call of every contender, from the strace rounds.
pub fn syscall_kinds(contenders: &[Contender], measured: &[Measured]) -> String {
    let mut out =
        String::from("| Case | Contender | server syscalls per call, by kind |\n|---|---|---|\n");
    for m in measured {
        for (c, counted) in contenders.iter().zip(&m.syscalls) {
            if let Ok(counted) = counted {
                out.push_str(&format!(
                    "| {} | {} | {} |\n",
                    m.case.name,
                    c.name,
                    counted.breakdown(4)
                ));
            }
        }
    }
    out
}
