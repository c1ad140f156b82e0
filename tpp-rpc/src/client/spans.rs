//! The span a client opens: `tpp.client` for each call (described in
//! [`crate::trace`]).

use std::future::Future;

use tracing::field::{Empty, Value};
use tracing::Instrument;

use super::ClientError;
use crate::wire::trace::record_all;

/// Runs one client call in its `tpp.client` span, recording how it ended
/// (code 0, the server's error code, or the client-side error).
pub(crate) async fn client_call<T>(
    action: &str,
    addr: &str,
    call: impl Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    let span = tracing::info_span!(
        "tpp.client",
        action = ?action,
        addr,
        request_id = Empty,
        code = Empty,
        error = Empty,
        duration_us = Empty,
    );
    if span.is_disabled() {
        return call.await;
    }
    let started = std::time::Instant::now();
    let result = call.instrument(span.clone()).await;
    let code = match &result {
        Ok(_) => Some(0),
        Err(e) => {
            span.record("error", tracing::field::display(e));
            e.server_code()
        }
    };
    let duration_us = started.elapsed().as_micros() as u64;
    record_all(
        &span,
        ["code", "duration_us"],
        [
            code.as_ref().map(|c| c as &dyn Value),
            Some(&duration_us as &dyn Value),
        ],
    );
    result
}
