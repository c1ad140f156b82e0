//! A Unix domain socket against TCP loopback: one tpp server process serving
//! the same echo service on both, 100 B bodies, keep-alive, alternating
//! rounds in the same run.

use std::sync::Arc;

use super::{load_row, sanity, Bench, SMALL, TOKEN};
use crate::docs::{body, request_frame};
use crate::load::{Mode, Target};
use crate::report;

impl Bench {
    pub(super) async fn unix_socket(&mut self) -> Result<(), String> {
        let path = self.tmp.join("tpp.sock");
        let path_arg = path.display().to_string();
        let server = self.spawn_tpp("tpp tcp+unix", &["--token", TOKEN, "--unix", &path_arg])?;
        sanity(server.port, false, true).await?;
        // Mode::KeepAlive adds the keep-alive field.
        let echo: Arc<[u8]> = request_frame(TOKEN, "echo", &body(SMALL)).into();
        let tcp = self.spec(Target::tcp(server.port), Mode::KeepAlive, &echo);
        let unix = self.spec(Target::unix(path), Mode::KeepAlive, &echo);
        let case = "Unix socket: keep-alive, 100 B body";
        let (o, ratios) = self
            .compare(case, &[("tcp", &server, &tcp), ("unix", &server, &unix)])
            .await;
        self.rows
            .push(load_row(case, "tpp echo over TCP loopback", &o[0]));
        let (shown, _) = report::ratio_summary(&ratios[1]);
        let mut row = load_row(case, "tpp echo over a Unix domain socket, unix/tcp", &o[1]);
        row.ratio = shown;
        self.rows.push(row);
        Ok(())
    }
}
