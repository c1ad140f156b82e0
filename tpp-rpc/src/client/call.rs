//! One unary call: a connection from the pool (or a new one), the request,
//! the response, and the connection handed back when the server keeps it.

use std::future::Future;

use serde::Serialize;

use super::conn::SendFailure;
use super::{check_code, ready_or_timed, within_deadline, Client, ClientError, OutgoingRequest};
use crate::wire::deadline::Limit;
use crate::wire::message::Response;

impl Client {
    /// Sends the request and reads its response, following the retry rule
    /// of the [module documentation](super).
    pub(super) async fn exchange<B: Serialize + ?Sized>(
        &self,
        action: &str,
        body: &B,
        limit: Limit,
    ) -> Result<Response, ClientError> {
        let deadline = limit.map(|(at, _)| at);
        let pool = &self.inner.pool;
        let trace = crate::wire::trace::outgoing();
        let request = OutgoingRequest {
            action,
            body,
            token: self.token.as_deref(),
            extras: &self.extras,
            keep_alive: pool.enabled(),
            trace: trace.as_ref().map(|(id, tp)| (&**id, tp.as_deref())),
            deadline,
        };
        if let Some(pipelines) = self.inner.pipelines.as_ref().filter(|p| !p.refused()) {
            match within_deadline(limit, pipelines.call(self, &request)).await {
                // The server does not keep connections open: not sent, so
                // it goes through the pool instead.
                Err(ClientError::NotSent(_)) if pipelines.refused() => {}
                result => return check_code(result?),
            }
        }
        // Opening a connection is boxed: its future is large and rarely
        // polled, and every call's future would otherwise carry its size.
        if !pool.enabled() {
            return within_deadline(limit, async {
                let mut conn = Box::pin(self.open()).await?;
                conn.send_request(&request).await.map_err(|f| f.error)?;
                conn.get_response().await
            })
            .await;
        }
        // From here each wait is bounded by itself, and a step done at once
        // (the common case) makes no timer: the answer is awaited on the
        // connection's own timer, moved on at each call.
        let now = match limit {
            // The instant `call_deadline` read the clock at.
            Some((at, timeout)) => at.checked_sub(timeout).unwrap_or(at),
            None => tokio::time::Instant::now(),
        };
        let lease = lazily_within(limit, async { Ok(pool.lease().await) }, |e| e).await?;
        loop {
            let (mut conn, reused) = match pool.take_idle(&lease, now) {
                Some(conn) => (conn, true),
                None => (within_deadline(limit, Box::pin(self.open())).await?, false),
            };
            let sent = lazily_within(limit, conn.send_request(&request), |error| SendFailure {
                error,
                unsent: false,
            });
            match sent.await {
                Ok(()) => {}
                // The kept connection died between the check and the write,
                // and the server cannot have read a byte: use another one.
                Err(SendFailure { unsent: true, .. }) if reused => continue,
                Err(failure) => return Err(failure.error),
            }
            let response = conn.read_by(limit).await?.ok_or(ClientError::Closed)?;
            if response.keeps_alive() {
                pool.give_back(conn, lease, now);
            }
            return check_code(response);
        }
    }
}

/// `work` within `limit`, with a timer only when it does not finish at its
/// first poll; `timed_out` makes its error from the client's.
async fn lazily_within<T, E>(
    limit: Limit,
    work: impl Future<Output = Result<T, E>>,
    timed_out: impl FnOnce(ClientError) -> E,
) -> Result<T, E> {
    let Some((at, timeout)) = limit else {
        return work.await;
    };
    match ready_or_timed(work, || tokio::time::sleep_until(at)).await {
        Some(done) => done,
        None => Err(timed_out(ClientError::Timeout(timeout))),
    }
}
