//! Syscalls per request: `strace -c -f -p <server pid>` attached for a round
//! of its own (tracing slows every syscall, so these rounds are never the
//! ones the throughput and CPU figures come from).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::contenders::Caller;
use crate::load::{self, Load};

/// Whether `strace` can be run.
pub fn available() -> bool {
    Command::new("strace")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// What `strace -c` counted while a round of calls ran.
#[derive(Debug, Clone)]
pub struct Counted {
    /// Syscalls of every server thread.
    pub syscalls: u64,
    /// Calls answered.
    pub calls: u64,
    /// The most frequent syscalls and their counts, most frequent first.
    pub top: Vec<(String, u64)>,
}

impl Counted {
    /// Syscalls per call.
    pub fn per_call(&self) -> f64 {
        self.syscalls as f64 / self.calls.max(1) as f64
    }

    /// `recvfrom 1.00 · sendto 1.00 · epoll_wait 0.21`: the first `n` kinds per call.
    pub fn breakdown(&self, n: usize) -> String {
        self.top
            .iter()
            .take(n)
            .map(|(name, count)| format!("{name} {:.2}", *count as f64 / self.calls.max(1) as f64))
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

/// The server's syscalls (all its threads) and the calls answered while
/// `strace` was attached: the load starts after every thread is traced and
/// ends, with every call answered, before `strace` detaches.
pub async fn count(caller: &Caller, load: &Load, pid: u32) -> Result<Counted, String> {
    let out =
        std::env::temp_dir().join(format!("tpp-peers-strace-{}-{pid}.txt", std::process::id()));
    let mut strace = Command::new("strace")
        .args(["-c", "-f", "-q", "-o"])
        .arg(&out)
        .args(["-p", &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start strace: {e}"))?;
    let result = async {
        wait_traced(pid, &mut strace).await?;
        let load = Load {
            warmup: Duration::ZERO,
            ..load.clone()
        };
        let window = load::run(caller, &load, pid).await;
        if window.errors > 0 {
            return Err(format!(
                "{} calls failed under strace (first: {})",
                window.errors,
                window.first_error.unwrap_or_default()
            ));
        }
        Ok(window.total)
    }
    .await;
    let stopped = stop(&mut strace).await;
    let summary = std::fs::read_to_string(&out);
    let _ = std::fs::remove_file(&out);
    let calls = result?;
    stopped?;
    let summary = summary.map_err(|e| format!("strace wrote no summary: {e}"))?;
    let (syscalls, top) = parse_summary(&summary)?;
    Ok(Counted {
        syscalls,
        calls,
        top,
    })
}

/// Waits (up to 10 s) until every thread of `pid` has a tracer.
async fn wait_traced(pid: u32, strace: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = strace.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = strace.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            return Err(format!("strace exited ({status}): {}", err.trim()));
        }
        if all_threads_traced(pid) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("strace did not attach within 10 s".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn all_threads_traced(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    let mut any = false;
    for task in tasks.flatten() {
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        let traced = status
            .lines()
            .find_map(|l| l.strip_prefix("TracerPid:"))
            .is_some_and(|v| v.trim() != "0");
        if !traced {
            return false;
        }
        any = true;
    }
    any
}

/// Sends SIGINT to strace (it then detaches and writes its summary) and
/// waits up to 10 s for it to exit, then kills it.
async fn stop(strace: &mut Child) -> Result<(), String> {
    let _ = Command::new("kill")
        .args(["-INT", &strace.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = strace.try_wait() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = strace.kill();
    let _ = strace.wait();
    Err("strace did not stop within 10 s".to_owned())
}

/// The total and the per-syscall `calls` column of `strace -c`'s summary:
/// `% time  seconds  usecs/call  calls  errors  syscall`, errors sometimes
/// blank, rows between dashed lines, then the `total` row.
fn parse_summary(summary: &str) -> Result<(u64, Vec<(String, u64)>), String> {
    let mut top = Vec::new();
    let mut total = None;
    for line in summary.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(calls), Some(name)) = (fields.get(3), fields.last()) else {
            continue;
        };
        let Ok(calls) = calls.parse::<u64>() else {
            continue;
        };
        if *name == "total" {
            total = Some(calls);
        } else {
            top.push(((*name).to_owned(), calls));
        }
    }
    top.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
    let total = total.ok_or_else(|| format!("no total line in strace's summary:\n{summary}"))?;
    Ok((total, top))
}
