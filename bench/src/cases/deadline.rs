//! The cost of deadline tracking: one tpp server, 100 B echo requests on
//! kept-alive connections with and without a caller's budget
//! (`tpp_deadline_ms`, so the server arms one timer per request and scopes
//! the handler with its deadline), alternating rounds in the same run.

use std::sync::Arc;

use super::{load_row, sanity, Bench, SMALL, TOKEN};
use crate::docs::{body, request_frame};
use crate::load::{self, Mode, Target};
use crate::report::{self, Goal};

/// A budget no echo comes near: the request is timed, never cut short.
const BUDGET_MS: u64 = 30_000;

impl Bench {
    pub(super) async fn deadline(&mut self) -> Result<(), String> {
        let server = self.spawn_tpp("tpp", &["--token", TOKEN])?;
        sanity(server.port, false, true).await?;
        let plain: Arc<[u8]> = load::asking_keep_alive(&request_frame(TOKEN, "echo", &body(SMALL)));
        let timed = with_budget(&plain);
        let without = self.spec(Target::tcp(server.port), Mode::KeepAlive, &plain);
        let with = self.spec(Target::tcp(server.port), Mode::KeepAlive, &timed);
        let case = "Deadline tracking: keep-alive, 100 B body";
        let (o, ratios) = self
            .compare(
                case,
                &[("no budget", &server, &without), ("budget", &server, &with)],
            )
            .await;
        self.rows
            .push(load_row(case, "tpp echo, no tpp_deadline_ms", &o[0]));
        let (shown, m) = report::ratio_summary(&ratios[1]);
        self.rows.push(
            load_row(case, "tpp echo with tpp_deadline_ms, with/without", &o[1]).judge(
                shown,
                m,
                Goal::AtLeast(0.97),
                "",
            ),
        );
        Ok(())
    }
}

/// `request` (a framed JSON object) with `"tpp_deadline_ms"` added.
fn with_budget(request: &[u8]) -> Arc<[u8]> {
    let payload = request
        .iter()
        .position(|b| *b == b'\n')
        .map_or(request, |nl| &request[nl + 1..]);
    match payload.strip_suffix(b"}") {
        Some(open) => {
            let mut timed = open.to_vec();
            timed.extend_from_slice(format!(r#","tpp_deadline_ms":{BUDGET_MS}}}"#).as_bytes());
            tpp_rpc::unstable::encode_frame(&timed).into()
        }
        None => request.into(),
    }
}
