//! Case 2: the Python reference (toxiccore) against tpp with the same bcrypt hash.

use super::*;

impl Bench {
    // ---------------------------------------------------------------------------------------
    // 2. The reference

    pub(super) async fn reference(&mut self) -> Result<(), String> {
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
