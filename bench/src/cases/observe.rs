//! What metrics and tracing cost: the same echo server with both off and
//! with both on (the Prometheus recorder, and a fmt subscriber at INFO, so
//! every request's `tpp.request` span is created, formatted and closed),
//! keep-alive, alternating rounds.

use std::sync::Arc;

use super::{load_row, sanity, Bench, SMALL, TOKEN};
use crate::docs::{body, request_frame};
use crate::load::{self, Mode, Target};
use crate::report::{self, Goal};

impl Bench {
    pub(super) async fn observability(&mut self) -> Result<(), String> {
        let off = self.spawn_tpp("tpp", &["--token", TOKEN])?;
        sanity(off.port, false, true).await?;
        let on = self.spawn_tpp("tpp observed", &["--token", TOKEN, "--observe"])?;
        sanity(on.port, false, true).await?;
        // A tpp server keeps the connection only when asked (issue 11).
        let echo: Arc<[u8]> = load::asking_keep_alive(&request_frame(TOKEN, "echo", &body(SMALL)));
        let off_spec = self.spec(Target::tcp(off.port), Mode::KeepAlive, &echo);
        let on_spec = self.spec(Target::tcp(on.port), Mode::KeepAlive, &echo);
        let case = "Observability: keep-alive, 100 B body";
        let (o, ratios) = self
            .compare(
                case,
                &[("off", &off, &off_spec), ("metrics+tracing", &on, &on_spec)],
            )
            .await;
        self.rows
            .push(load_row(case, "tpp echo, metrics and tracing off", &o[0]));
        let (shown, m) = report::ratio_summary(&ratios[1]);
        let cpu = o[1].server_us_per_request() / o[0].server_us_per_request();
        let shown = format!("{shown}; server CPU/req {}", report::times(cpu));
        let row = load_row(
            case,
            "tpp echo, metrics (Prometheus recorder) and tracing (fmt subscriber, INFO) on, on/off",
            &o[1],
        );
        self.rows
            .push(row.judge(shown, m, Goal::AtLeast(0.9), "× off"));
        Ok(())
    }
}
