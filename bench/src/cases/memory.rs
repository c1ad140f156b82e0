//! Case 5: memory per idle connection and the peak of a 16 MiB echo.

use super::*;

impl Bench {
    // ---------------------------------------------------------------------------------------
    // 5. Memory

    pub(super) async fn memory(&mut self) -> Result<(), String> {
        let n = self.cfg.idle_connections;
        let case = format!("Memory: {} idle connections", report::grouped(n as f64));
        for kind in ["tpp", "floor"] {
            let server = if kind == "tpp" {
                self.spawn_tpp("tpp (memory)", &["--token", TOKEN])?
            } else {
                self.spawn_floor(false)?
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
                self.spawn_floor(false)?
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
