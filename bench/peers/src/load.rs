//! The load generator: closed-loop callers sharing one contender's client,
//! in this process; the server's CPU time is read from `/proc` around the
//! measured window.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::contenders::Caller;
use crate::procs::{cpu_seconds_of, self_cpu_seconds};

/// One load: how many callers, what they send, for how long.
#[derive(Clone)]
pub struct Load {
    /// Concurrent callers.
    pub callers: usize,
    /// The text every call echoes.
    pub text: String,
    /// Calls before the measured window (connections warm).
    pub warmup: Duration,
    /// The measured window.
    pub window: Duration,
}

/// What one window measured.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// Calls completed inside the window.
    pub requests: u64,
    /// Calls completed from the first to the last (warm-up and the calls
    /// still in flight when the window closed included).
    pub total: u64,
    /// Failed calls (any time).
    pub errors: u64,
    /// The first failure.
    pub first_error: Option<String>,
    /// Length of the window, seconds.
    pub secs: f64,
    /// Latency of each call completed inside the window, nanoseconds.
    pub latencies: Vec<u64>,
    /// CPU time of the server over the window, seconds.
    pub server_cpu: f64,
    /// CPU time of this process (the load generator) over the window, seconds.
    pub client_cpu: f64,
}

impl Window {
    /// Calls per second.
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.secs
    }

    /// Server CPU time per call, µs.
    pub fn server_us(&self) -> f64 {
        self.server_cpu * 1e6 / self.requests.max(1) as f64
    }

    /// Client CPU time per call, µs.
    pub fn client_us(&self) -> f64 {
        self.client_cpu * 1e6 / self.requests.max(1) as f64
    }
}

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

#[derive(Default)]
struct CallerStats {
    total: u64,
    latencies: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
}

/// Runs `load` on `caller` against the server process `server_pid`. Every
/// call started is awaited (up to 30 s) before this returns, so nothing is
/// left in flight for the next window.
pub async fn run(caller: &Caller, load: &Load, server_pid: u32) -> Window {
    let phase = Arc::new(AtomicU8::new(if load.warmup.is_zero() {
        MEASURE
    } else {
        WARMUP
    }));
    let tasks: Vec<_> = (0..load.callers)
        .map(|_| tokio::spawn(call_loop(caller.clone(), load.text.clone(), phase.clone())))
        .collect();
    if !load.warmup.is_zero() {
        tokio::time::sleep(load.warmup).await;
    }
    let (server0, client0, t0) = (
        cpu_seconds_of(server_pid),
        self_cpu_seconds(),
        Instant::now(),
    );
    phase.store(MEASURE, Ordering::SeqCst);
    tokio::time::sleep(load.window).await;
    phase.store(STOP, Ordering::SeqCst);
    let secs = t0.elapsed().as_secs_f64();
    let (server1, client1) = (cpu_seconds_of(server_pid), self_cpu_seconds());
    let mut out = Window {
        secs,
        server_cpu: server1 - server0,
        client_cpu: client1 - client0,
        ..Window::default()
    };
    for task in tasks {
        let abort = task.abort_handle();
        match tokio::time::timeout(Duration::from_secs(30), task).await {
            Ok(Ok(s)) => {
                out.requests += s.latencies.len() as u64;
                out.total += s.total;
                out.errors += s.errors;
                out.latencies.extend_from_slice(&s.latencies);
                if out.first_error.is_none() {
                    out.first_error = s.first_error;
                }
            }
            Ok(Err(e)) => note_error(&mut out, format!("caller task failed: {e}")),
            Err(_) => {
                abort.abort();
                note_error(&mut out, "a call did not finish within 30 s".to_owned());
            }
        }
    }
    out.latencies.sort_unstable();
    out
}

fn note_error(out: &mut Window, error: String) {
    out.errors += 1;
    out.first_error.get_or_insert(error);
}

async fn call_loop(caller: Caller, text: String, phase: Arc<AtomicU8>) -> CallerStats {
    let mut stats = CallerStats::default();
    while phase.load(Ordering::Relaxed) != STOP {
        let started = Instant::now();
        let result = caller(text.clone()).await;
        let elapsed = started.elapsed().as_nanos() as u64;
        match result {
            Ok(len) if len == text.len() => {
                stats.total += 1;
                if phase.load(Ordering::Relaxed) == MEASURE {
                    stats.latencies.push(elapsed);
                }
            }
            Ok(len) => {
                stats.errors += 1;
                stats
                    .first_error
                    .get_or_insert(format!("echo of {} bytes came back with {len}", text.len()));
            }
            Err(e) => {
                stats.errors += 1;
                stats.first_error.get_or_insert(e);
            }
        }
    }
    stats
}

/// The `q` quantile (0..1) of sorted values, 0 when empty.
pub fn quantile(sorted: &[u64], q: f64) -> u64 {
    match sorted.len() {
        0 => 0,
        n => sorted[(((n - 1) as f64) * q).round() as usize],
    }
}
