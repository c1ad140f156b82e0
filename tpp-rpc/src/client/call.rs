//! One unary call: a connection from the pool (or a new one), the request,
//! the response, and the connection handed back when the server keeps it.

use std::future::Future;
use std::pin::{pin, Pin};

use serde::Serialize;

use super::conn::SendFailure;
use super::pool::Lease;
use super::{
    check_code, ready_or_timed, within_deadline, Client, ClientConnection, ClientError,
    OutgoingRequest,
};
use crate::wire::deadline::Limit;
use crate::wire::message::Response;

impl Client {
    /// Sends the request and reads its response, following the retry rule
    /// of the [module documentation](super).
    ///
    /// The pipelined and the pooled calls are two futures, not two branches
    /// of one: a call's future is as large as its largest state, and each
    /// path's states then share no space with the other's.
    pub(super) fn exchange<'a, B: Serialize + ?Sized>(
        &'a self,
        action: &'a str,
        body: &'a B,
        limit: Limit,
    ) -> impl Future<Output = Result<Response, ClientError>> + 'a {
        use futures_util::future::Either;
        match self.inner.pipelines.as_ref().filter(|p| !p.refused()) {
            Some(pipelines) => Either::Left(async move {
                let trace = crate::wire::trace::outgoing();
                let request = self.outgoing(action, body, limit, &trace);
                match within_deadline(limit, pipelines.call(self, &request)).await {
                    // The server does not keep connections open: not sent,
                    // so it goes through the pool instead (boxed: this
                    // happens once per client).
                    Err(ClientError::NotSent(_)) if pipelines.refused() => {
                        Box::pin(self.pooled(&request, limit)).await
                    }
                    result => check_code(result?),
                }
            }),
            None => Either::Right(async move {
                let trace = crate::wire::trace::outgoing();
                let request = self.outgoing(action, body, limit, &trace);
                self.pooled(&request, limit).await
            }),
        }
    }

    /// The request of a call; `trace`: the trace context it carries.
    fn outgoing<'a, B: Serialize + ?Sized>(
        &'a self,
        action: &'a str,
        body: &'a B,
        limit: Limit,
        trace: &'a Option<(std::sync::Arc<str>, Option<String>)>,
    ) -> OutgoingRequest<'a, B> {
        OutgoingRequest {
            action,
            body,
            token: self.token.as_deref(),
            extras: &self.extras,
            keep_alive: self.inner.pool.enabled(),
            trace: trace.as_ref().map(|(id, tp)| (&**id, tp.as_deref())),
            deadline: limit.map(|(at, _)| at),
        }
    }

    /// One call on a connection of the pool (or a new one, when the pool is
    /// off or has none idle).
    async fn pooled<B: Serialize + ?Sized>(
        &self,
        request: &OutgoingRequest<'_, B>,
        limit: Limit,
    ) -> Result<Response, ClientError> {
        let pool = &self.inner.pool;
        if !pool.enabled() {
            // A connection per call: boxed whole (it opens one anyway), so
            // the pooled call's future does not carry its size.
            return Box::pin(within_deadline(limit, async {
                let mut conn = self.open().await?;
                conn.send_request(request).await.map_err(|f| f.error)?;
                conn.get_response().await
            }))
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
        // A free connection (always, unless the pool is bounded) is taken
        // at once; waiting for one is boxed, so the call's future does not
        // carry the wait's size.
        let lease = match pool.lease_now() {
            Some(lease) => lease,
            None => {
                let mut waiting = Box::pin(async { Ok(pool.lease().await) });
                lazily_within(limit, waiting.as_mut(), |e| e).await?
            }
        };
        loop {
            let (mut conn, reused) = self.idle_or_new(&lease, now, limit).await?;
            let sent = {
                let send = pin!(conn.send_request(request));
                lazily_within(limit, send, |error| SendFailure {
                    error,
                    unsent: false,
                })
                .await
            };
            match sent {
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

    /// An idle connection of the pool (`true`: reused), or a new one.
    ///
    /// Not an `async fn`: the caller's future then holds either the idle
    /// connection or the boxed connect, never both side by side.
    fn idle_or_new<'a>(
        &'a self,
        lease: &Lease,
        now: tokio::time::Instant,
        limit: Limit,
    ) -> impl Future<Output = Result<(Box<ClientConnection>, bool), ClientError>> + 'a {
        use futures_util::future::{ready, Either, FutureExt};
        match self.inner.pool.take_idle(lease, now) {
            Some(conn) => Either::Left(ready(Ok((conn, true)))),
            // Opening a connection is boxed: its future is large and rarely
            // polled, and every call's future would otherwise carry its size.
            None => Either::Right(
                Box::pin(within_deadline(limit, self.open()))
                    .map(|opened| Ok((Box::new(opened?), false))),
            ),
        }
    }
}

/// `work` within `limit`, with a timer only when it does not finish at its
/// first poll; `timed_out` makes its error from the client's.
async fn lazily_within<T, E, F>(
    limit: Limit,
    work: Pin<&mut F>,
    timed_out: impl FnOnce(ClientError) -> E,
) -> Result<T, E>
where
    F: Future<Output = Result<T, E>> + ?Sized,
{
    let Some((at, timeout)) = limit else {
        return work.await;
    };
    match ready_or_timed(work, || tokio::time::sleep_until(at)).await {
        Some(done) => done,
        None => Err(timed_out(ClientError::Timeout(timeout))),
    }
}
