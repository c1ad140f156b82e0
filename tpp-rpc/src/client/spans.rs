//! The span a client opens: `tpp.client` for each call (described in
//! [`crate::trace`]).

use std::future::Future;

use futures_util::future::Either;
use tracing::field::{Empty, Value};
use tracing::Instrument;

use super::ClientError;
use crate::wire::trace::record_all;

/// Runs one client call in its `tpp.client` span, recording how it ended
/// (code 0, the server's error code, or the client-side error).
///
/// Not an `async fn`: with no subscriber listening the call is returned as it
/// is, so the caller's future holds it once rather than twice (an `async fn`
/// keeps its argument and what it is moved into side by side), and every
/// call future built on top of it stays small to move. The span's own work
/// is boxed, and only paid when something listens.
pub(crate) fn client_call<T, F>(
    action: &str,
    addr: &str,
    call: F,
) -> impl Future<Output = Result<T, ClientError>>
where
    F: Future<Output = Result<T, ClientError>>,
{
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
        return Either::Left(call);
    }
    Either::Right(Box::pin(async move {
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
    }))
}
