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

/// The server's syscalls (all its threads) and the calls answered while
/// `strace` was attached: the load starts after every thread is traced and
/// ends, with every call answered, before `strace` detaches.
pub async fn count(caller: &Caller, load: &Load, pid: u32) -> Result<(u64, u64), String> {
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
    Ok((total_calls(&summary)?, calls))
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

/// The `calls` column of the `total` line of `strace -c`:
/// `100.00    0.123456     1     12345     123 total` (errors may be blank).
fn total_calls(summary: &str) -> Result<u64, String> {
    summary
        .lines()
        .find(|l| l.trim_end().ends_with("total"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no total line in strace's summary:\n{summary}"))
}
