//! One request from frame to handler: the checks (envelope, health probe,
//! token, action), which answer nothing themselves but say how the
//! connection ends when the request does not pass, then the handler (with
//! panic catching and its time limit: the caller's budget, the action's
//! timeout, the server's ceiling) and what its outcome answers.

use std::future::{poll_fn, Future};
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_util::future::Either;
use futures_util::FutureExt;
use tracing::{debug, warn};

use super::closing::Ending;
use super::connection::Connection;
use super::layer::{Layer, Next};
use super::link::Link;
use super::refusal::Refusal;
use super::request_codec::RequestFrame;
use super::request_watch::RequestWatch;
use super::{auth_guard, Handler, Limits, Shared};
use crate::server::auth::{Authenticator, Identity};
use crate::server::Error;
use crate::wire::fields::DEADLINE_FIELD;
use crate::wire::message::{ActionField, DeadlineField, Request, TokenField};

/// A request that passed its checks, by this caller (`None`: anonymous).
pub(super) struct Accepted {
    pub(super) request: Request,
    pub(super) identity: Option<Identity>,
    /// When the request was taken up, for a request that carries a budget:
    /// the budget runs from here, so the token check is inside it.
    pub(super) budget_from: Option<tokio::time::Instant>,
}

/// What the checks decided without waiting, or the token verification
/// still to wait for.
pub(super) enum Checked {
    Decided(Result<Accepted, Ending>),
    /// The authenticator must wait (bcrypt, a lookup): see [`SlowCheck::verify`].
    Verify(SlowCheck),
}

/// A request whose token needs a slow verification.
pub(super) struct SlowCheck {
    request: Request,
    budget_from: Option<tokio::time::Instant>,
}

/// The checks before the handler runs, as far as they go without waiting
/// (all of them, for a token decided at once: the common case costs no
/// future). Nothing is written here.
pub(super) fn check_request(frame: RequestFrame, shared: &Shared) -> Checked {
    // The envelope only: the body is validated and located, not built. Typed
    // parameters are deserialized by the handler, which runs only once the
    // token and the action below have passed. (A large request was scanned
    // while it arrived.)
    let request = match frame.parse() {
        Ok(request) => request,
        Err(bad) => return Checked::Decided(Err(Refusal::BadData(bad).into())),
    };
    // One clock read, only for a request that carries a budget.
    let budget_from = match request.deadline_field() {
        DeadlineField::Absent => None,
        _ => Some(tokio::time::Instant::now()),
    };
    // The balancer's probe carries no token: answered (and closed) here.
    if let Some(health) = shared.health.as_ref().filter(|h| h.is_probe(&request)) {
        return Checked::Decided(Err(Ending::Probe(health.answer(&shared.draining))));
    }
    let verdict = match request.token_field() {
        TokenField::Missing => return Checked::Decided(Err(Refusal::NoToken.into())),
        TokenField::NotAString => return Checked::Decided(Err(Refusal::BadToken.into())),
        TokenField::Present(token) => auth_guard::verdict_now(shared.auth.check(token), shared),
    };
    Checked::Decided(match verdict {
        Some(Ok(identity)) => accept(request, identity, budget_from),
        Some(Err(_)) => Err(Refusal::BadToken.into()),
        None => {
            return Checked::Verify(SlowCheck {
                request,
                budget_from,
            })
        }
    })
}

impl SlowCheck {
    /// Waits for the token's verdict, then checks the action. Boxed: only
    /// slow checks pay for this future, and the connection's own stays
    /// small. `link` is only watched, for a client that leaves meanwhile.
    pub(super) fn verify<'a>(
        self,
        shared: &'a Shared,
        link: &'a mut Link,
    ) -> futures_util::future::BoxFuture<'a, Result<Accepted, Ending>> {
        Box::pin(async move {
            let TokenField::Present(token) = self.request.token_field() else {
                return Err(Refusal::NoToken.into());
            };
            let peer = link.peer();
            let check = || shared.auth.check(token);
            let client_left = move || {
                let link = link;
                link.client_left()
            };
            let identity = match auth_guard::verdict(check, client_left, shared, peer).await {
                Some(Ok(identity)) => identity,
                Some(Err(_)) => return Err(Refusal::BadToken.into()),
                None => return Err(Ending::Drop),
            };
            accept(self.request, identity, self.budget_from)
        })
    }
}

/// The last check, once the token is accepted: the action.
fn accept(
    request: Request,
    identity: Option<Identity>,
    budget_from: Option<tokio::time::Instant>,
) -> Result<Accepted, Ending> {
    match request.action_field() {
        ActionField::Present(_) => Ok(Accepted {
            request,
            identity,
            budget_from,
        }),
        ActionField::Missing => Err(Refusal::NoAction.into()),
        ActionField::NotAString => Err(Refusal::ActionNotAString.into()),
    }
}

/// Runs an accepted request's handler, watched (span, metrics, layers),
/// and answers its failure. `started`: when its frame arrived, for the
/// debug log.
pub(super) async fn serve_request<H: Handler>(
    conn: &mut Connection,
    accepted: Accepted,
    started: Option<Instant>,
    shared: &Shared,
    handler: &H,
) {
    conn.begin(accepted.request, accepted.identity);
    let watch = RequestWatch::start(conn, shared, handler);
    let budget_from = accepted.budget_from;
    // Pinned where it is made: the handler's future is large, and moving it
    // into `around` would copy it on every request.
    let outcome = {
        let work = pin!(run_handler(
            handler,
            conn,
            budget_from,
            &shared.limits,
            &shared.layers,
        ));
        watch.around(work).await
    };
    conclude(conn, outcome, started).await;
    watch.finish(conn, shared);
}

/// Logs how the handler ended; a failure before any response is answered
/// with code 1 and its message, and the connection closes after it.
async fn conclude(conn: &mut Connection, outcome: Result<(), Failure>, started: Option<Instant>) {
    let peer = conn.peer_addr();
    let action = conn.action();
    let elapsed = started.map(|t| t.elapsed()).unwrap_or_default();
    let sent = conn.responses_sent();
    match outcome {
        Ok(()) if sent == 0 && conn.ended_quietly() => {
            debug!(%peer, ?action, "request ended without a response (client left or shutdown)");
        }
        Ok(()) if sent == 0 => {
            warn!(%peer, ?action, "handler returned without a response; closing");
            conn.close();
        }
        Ok(()) => {
            let code = conn.first_code();
            debug!(%peer, ?action, code, ?elapsed, "request served");
        }
        Err(failure) => {
            warn!(%peer, ?action, error = %failure, "handler failed");
            if sent == 0 {
                let msg = failure.to_string();
                let _ = conn.send_error(1, &msg).await;
            }
            conn.close();
        }
    }
}

/// Why a handler call failed, as the client is told.
#[derive(Debug, thiserror::Error)]
pub(super) enum Failure {
    #[error("{0}")]
    Handler(Error),
    #[error("internal error: the handler panicked")]
    Panicked,
    #[error("the action took too long")]
    TimedOut,
    /// The caller's budget ran out (or was spent before the handler ran).
    #[error("deadline exceeded")]
    DeadlineExceeded,
    #[error("bad {DEADLINE_FIELD}: expected a number of milliseconds")]
    BadDeadline,
}

/// When the handler's time is up, and what to answer then.
struct Limit {
    at: tokio::time::Instant,
    /// The caller's budget is what ends it (else a server-side limit).
    callers: bool,
}

impl Limit {
    /// The soonest of the caller's budget (counted from `budget_from`, when
    /// the request was taken up), the action's own timeout and the server's
    /// ceiling (both counted from now, when the handler starts); `Err` for a
    /// budget already spent or malformed.
    fn of<H: Handler>(
        request: &Request,
        budget_from: Option<tokio::time::Instant>,
        handler: &H,
        limits: &Limits,
    ) -> Result<Option<Limit>, Failure> {
        let budget = match request.deadline_field() {
            DeadlineField::Absent => None,
            DeadlineField::Millis(ms) if ms <= 0 => return Err(Failure::DeadlineExceeded),
            DeadlineField::Millis(ms) => Some(Duration::from_millis(ms.unsigned_abs())),
            DeadlineField::Invalid => return Err(Failure::BadDeadline),
        };
        let own = match request.action() {
            Some(action) => handler.action_timeout(action),
            None => None,
        };
        let server = match (own, limits.handler_timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if budget.is_none() && server.is_none() {
            return Ok(None);
        }
        let now = tokio::time::Instant::now();
        // Beyond what a clock can hold: no limit from that side.
        let budget = budget.and_then(|b| budget_from.unwrap_or(now).checked_add(b));
        let server = server.and_then(|s| now.checked_add(s));
        let limit = match (budget, server) {
            (Some(b), Some(s)) if b < s => Limit {
                at: b,
                callers: true,
            },
            (_, Some(s)) => Limit {
                at: s,
                callers: false,
            },
            (Some(b), None) => Limit {
                at: b,
                callers: true,
            },
            (None, None) => return Ok(None),
        };
        // Spent while the token was checked: the handler never runs (a
        // timeout polls its future once before it looks at the clock).
        if limit.at <= now {
            return Err(limit.failure());
        }
        Ok(Some(limit))
    }

    fn failure(&self) -> Failure {
        match self.callers {
            true => Failure::DeadlineExceeded,
            false => Failure::TimedOut,
        }
    }
}

pub(super) async fn run_handler<H: Handler>(
    handler: &H,
    conn: &mut Connection,
    budget_from: Option<tokio::time::Instant>,
    limits: &Limits,
    layers: &[Arc<dyn Layer>],
) -> Result<(), Failure> {
    // Nothing to time (the common case): no clock read, no timer.
    let limit = Limit::of(conn.request(), budget_from, handler, limits)?;
    conn.watched().0.deadline = limit.as_ref().map(|l| l.at);
    // Without layers the handler's own future runs, unboxed.
    let call = match layers {
        [] => {
            conn.observe_reached_handler();
            Either::Left(handler.handle(conn))
        }
        layers => Either::Right(Next::new(layers, handler).run(conn)),
    };
    let call = AssertUnwindSafe(call).catch_unwind();
    // Past the limit the handler's future is dropped: its work is cancelled.
    // The clients it uses send what is left and wait no longer (`deadline`).
    let result = match limit {
        Some(limit) => {
            let mut call = pin!(crate::wire::deadline::scope(limit.at, call));
            // A handler done at its first poll (the common case) needs no
            // timer: the limit was checked above, before any of its work.
            match poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await {
                Poll::Ready(r) => r,
                Poll::Pending => match tokio::time::timeout_at(limit.at, call).await {
                    Ok(r) => r,
                    Err(_) => return Err(limit.failure()),
                },
            }
        }
        None => call.await,
    };
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Failure::Handler(e)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            warn!(panic = %what, "handler panicked");
            Err(Failure::Panicked)
        }
    }
}
