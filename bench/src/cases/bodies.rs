//! Case 3: bodies of 64 KiB and 16 MiB (the 100 B one is the floor's keep-alive
//! case), against the floor, a socket-copy floor and serde_json alone.

use super::*;

impl Bench {
    // ---------------------------------------------------------------------------------------
    // 3. Bodies

    pub(super) async fn bodies(
        &mut self,
        tpp: &ServerProc,
        floor: &ServerProc,
        baseline: Option<&ServerProc>,
    ) -> Result<(), String> {
        for size in [SMALL, MEDIUM, ONE_MIB] {
            if size == SMALL && self.cfg.runs("floor") {
                continue; // the keep-alive floor case above
            }
            let case = format!("Body {}, keep-alive", size_name(size));
            self.against_floor(
                &case,
                Mode::KeepAlive,
                size,
                (tpp, floor, baseline),
                Goal::None,
            )
            .await;
        }
        // Not checked by `sanity`: it answers with the whole request.
        let copy = self.spawn_floor(true)?;
        // `echo_value` in a process of its own: its 100 MB trees would
        // otherwise be freed and regrown around the `echo` it is compared with.
        let tree = self.spawn_tpp("tpp (echo_value)", &["--token", TOKEN])?;
        sanity(tree.port, false, true).await?;
        self.big_echo([tpp, &tree, floor, &copy], baseline).await?;
        self.budget_cost(tpp).await
    }

    /// The request memory budget's cost on large bodies: the same echo on a
    /// server with the default budget and on one with it off
    /// (`--request-memory off`), alternating in the same rounds. Every
    /// request from 4 KiB on is charged (one semaphore operation when its
    /// header arrives, one when its bytes are dropped). Reads are fair
    /// (64 KiB at most per read) on both sides: that cost is in every tpp
    /// row, against the floor and the socket copy.
    async fn budget_cost(&mut self, tpp: &ServerProc) -> Result<(), String> {
        let off = self.spawn_tpp(
            "tpp (budget off)",
            &["--token", TOKEN, "--request-memory", "off"],
        )?;
        sanity(off.port, false, true).await?;
        for (size, clients) in [
            (MEDIUM, self.cfg.clients),
            (ONE_MIB, self.cfg.clients),
            (BIG, 1),
        ] {
            let case = format!(
                "Body {}, keep-alive, {clients} client{}: request memory budget",
                size_name(size),
                if clients == 1 { "" } else { "s" }
            );
            // Mode::KeepAlive adds the keep-alive field.
            let echo: Arc<[u8]> = request_frame(TOKEN, "echo", &body(size)).into();
            let mut on_spec = self.spec(Target::tcp(tpp.port), Mode::KeepAlive, &echo);
            on_spec.clients = clients;
            let mut off_spec = self.spec(Target::tcp(off.port), Mode::KeepAlive, &echo);
            off_spec.clients = clients;
            let (o, ratios) = self
                .compare(
                    &case,
                    &[
                        ("budget off", &off, &off_spec),
                        ("budget on", tpp, &on_spec),
                    ],
                )
                .await;
            let mb_s = |o: &Outcome| o.rps() * size as f64 / 1e6;
            let mut row = load_row(
                &case,
                "tpp echo, budget off (`request_memory(usize::MAX)`)",
                &o[0],
            );
            row.result = format!("{} ({:.0} MB/s of body each way)", row.result, mb_s(&o[0]));
            self.rows.push(row);
            let (shown, m) = report::ratio_summary(&ratios[1]);
            let cpu = o[1].server_us_per_request() / o[0].server_us_per_request();
            let shown = format!("on/off {shown}; server CPU/req {}", report::times(cpu));
            let mut row = load_row(&case, "tpp echo, default budget (on)", &o[1]);
            row.result = format!("{} ({:.0} MB/s of body each way)", row.result, mb_s(&o[1]));
            self.rows
                .push(row.judge(shown, m, Goal::None, "× budget off"));
        }
        Ok(())
    }

    /// 16 MiB: one client, keep-alive, requests one after the other, against
    /// serde_json's own parse + serialize of the same document and the
    /// socket-copy floor (a server that answers with the request's bytes,
    /// unparsed), interleaved.
    async fn big_echo(
        &mut self,
        [tpp, tree, floor, copy]: [&ServerProc; 4],
        baseline: Option<&ServerProc>,
    ) -> Result<(), String> {
        let doc = body(BIG);
        let case = format!("Body {}, 1 client, keep-alive", size_name(BIG));
        let echo = load::asking_keep_alive(&request_frame(TOKEN, "echo", &doc));
        let value = load::asking_keep_alive(&request_frame(TOKEN, "echo_value", &doc));
        // Sides over loopback: tpp echo, tpp echo_value, floor, socket copy, and
        // the baseline build's echo when there is one.
        let mut ports = vec![tpp.port, tree.port, floor.port, copy.port];
        ports.extend(baseline.map(|b| b.port));
        let requests = [&echo, &value, &echo, &echo, &echo];
        let mut conns = Vec::new();
        for port in &ports {
            conns.push((
                Target::tcp(*port).connect().await.map_err(io_err)?,
                BytesMut::new(),
            ));
        }
        // What any tpp server must do with the request before it answers:
        // the UTF-8 check and the one scan (envelope, body validated).
        let payload = bytes::Bytes::from(format!(
            r#"{{"action":"echo","body":{doc},"token":"{TOKEN}"}}"#
        ));
        let n = self.cfg.big_iterations;
        // [serde Value, serde RawValue, tpp echo, tpp echo_value, floor, copy,
        // baseline echo, tpp's scan alone, the copy's answer half], in seconds.
        let mut times: [Vec<f64>; 9] = Default::default();
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
            let t = Instant::now();
            let scanned = tpp_rpc::Request::parse(black_box(payload.clone()));
            let scan = t.elapsed().as_secs_f64();
            scanned.map_err(|e| e.to_string())?;
            let mut sides = [0.0; 5];
            let mut copy_answer_half = 0.0;
            // The order rotates, so no side always follows the same one.
            for j in 0..conns.len() {
                let k = (j + i) % conns.len();
                let (stream, buf) = &mut conns[k];
                let t = Instant::now();
                let first = load::exchange_first_byte(stream, requests[k], buf)
                    .await
                    .map_err(io_err)?;
                sides[k] = t.elapsed().as_secs_f64();
                if k == 3 {
                    copy_answer_half = sides[k] - first.as_secs_f64();
                }
            }
            progress(format!(
                "{case}: iteration {i}/{n}: serde_json Value {:.1} ms, RawValue {:.1} ms, tpp echo {:.1} ms, tpp echo_value {:.1} ms, floor {:.1} ms, socket copy {:.1} ms, baseline echo {:.1} ms",
                base * 1e3,
                raw_base * 1e3,
                sides[0] * 1e3,
                sides[1] * 1e3,
                sides[2] * 1e3,
                sides[3] * 1e3,
                sides[4] * 1e3,
            ));
            if i == 0 {
                continue; // warm-up: first allocations of the buffers
            }
            times[0].push(base);
            times[1].push(raw_base);
            for k in 0..conns.len() {
                times[2 + k].push(sides[k]);
            }
            times[7].push(scan);
            times[8].push(scan + copy_answer_half);
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
        let pairs = |k: usize, base: usize| {
            let (shown, m) = report::ratio_summary(&per_pair(k, base));
            (shown.replace("rounds", "pairs"), m)
        };
        let mb_s = |xs: &[f64]| BIG as f64 / report::median(xs) / 1e6;
        let subjects = [
            "serde_json alone: `from_str::<Value>` + `to_vec` (in-process, no I/O)",
            "serde_json alone, `Box<RawValue>`: validate + copy (in-process, no I/O)",
            "tpp echo (`Box<RawValue>` body): request + response over loopback",
            "tpp echo_value (`Value` body): request + response over loopback",
            "floor (raw body): request + response over loopback",
            "socket copy (the request's bytes answered unparsed): request + response over loopback",
            "tpp echo, baseline build (`--baseline`): request + response over loopback",
            "tpp's request scan alone: `Request::parse` (UTF-8 check, envelope, body validated), in-process",
            "lower bound for a server that checks the request before answering: the scan alone + the socket copy's answer half (its time after the answer's first byte)",
        ];
        for (k, subject) in subjects.iter().enumerate() {
            if times[k].is_empty() {
                continue; // no baseline build
            }
            let mut row = Row::new(&case, *subject);
            row.result = format!("{}, {:.0} MB/s", ms(&times[k]), mb_s(&times[k]));
            (row.p50, row.p99) = spread(&times[k]);
            row = match k {
                0 => row,
                // The target: within 1.2× the socket copy.
                2 => {
                    let (copy, m) = pairs(2, 5);
                    let shown = format!(
                        "time/socket copy {copy}; time/floor {}; {} serde_json",
                        pairs(2, 4).0,
                        pairs(2, 0).0
                    );
                    row.judge(shown, m, Goal::AtMost(1.2), "× socket copy")
                }
                3 => {
                    let (shown, m) = pairs(3, 0);
                    let shown = format!("{shown} serde_json; time/floor {}", pairs(3, 4).0);
                    row.judge(shown, m, Goal::AtMost(1.5), "× serde_json")
                }
                7 => {
                    let (shown, m) = pairs(7, 5);
                    row.judge(
                        format!("{shown} socket copy"),
                        m,
                        Goal::None,
                        "× socket copy",
                    )
                }
                8 => {
                    let (shown, m) = pairs(8, 5);
                    let shown = format!(
                        "{shown} socket copy; tpp echo / this bound {}",
                        pairs(2, 8).0
                    );
                    row.judge(shown, m, Goal::None, "× socket copy")
                }
                6 => {
                    let (shown, m) = pairs(2, 6);
                    let shown = format!("this build's echo time / baseline's {shown}");
                    row.judge(shown, m, Goal::None, "×")
                }
                _ => {
                    let (shown, m) = pairs(k, 0);
                    row.judge(format!("{shown} serde_json"), m, Goal::None, "× serde_json")
                }
            };
            self.rows.push(row);
        }
        Ok(())
    }
}
