//! One request from frame to handler: envelope, token, action, then the
//! handler (with panic catching and its time limit: the caller's budget,
//! the action's timeout, the server's ceiling).

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::Either;
use futures_util::FutureExt;
use tokio::time::Instant;
use tokio_util::codec::FramedRead;
use tracing::warn;

use super::layer::{Layer, Next};
use super::refusal::Refusal;
use super::{
    auth_guard, closing::answer_and_close, connection::flush_pending, Connection, Handler, Limits,
    Shared,
};
use crate::server::auth::{Authenticator, Identity};
use crate::server::Error;
use crate::transport::Stream;
use crate::wire::fields::DEADLINE_FIELD;
use crate::wire::frame::FrameCodec;
use crate::wire::message::{ActionField, DeadlineField, ErrorBody, Request, TokenField};

/// The outcome of the checks before the handler runs.
// A request (with the places of its extra fields inline) is moved once into
// the connection: boxing it would cost an allocation per request.
#[allow(clippy::large_enum_variant)]
pub(super) enum Checked {
    /// Passed, by this caller (`None`: anonymous).
    Ok(Request, Option<Identity>),
    /// Answered here (refused, or a health probe): the connection closes.
    Refused,
}

pub(super) async fn check_request(
    io: &mut FramedRead<Stream, FrameCodec>,
    pending: &mut Vec<u8>,
    frame: Bytes,
    shared: &Shared,
    peer: SocketAddr,
) -> Checked {
    let limits = &shared.limits;
    // The envelope only: the body is validated and located, not built. Typed
    // parameters are deserialized by the handler, which runs only once the
    // token and the action below have passed.
    // A large request was scanned while it arrived (`FrameCodec`).
    let scanned = io.decoder_mut().take_scan();
    let request = match Request::parse_scanned(frame, scanned) {
        Ok(r) => r,
        Err(e) => return refuse(io, pending, Refusal::BadData(e), shared, peer).await,
    };
    // The balancer's probe carries no token: answered (and closed) here.
    if let Some(health) = shared.health.as_ref().filter(|h| h.is_probe(&request)) {
        if flush_pending(io, pending, limits).await.is_ok() {
            health.answer(io, &shared.draining, limits).await;
        }
        return Checked::Refused;
    }
    let identity = match request.token_field() {
        TokenField::Missing => return refuse(io, pending, Refusal::NoToken, shared, peer).await,
        TokenField::NotAString => {
            return refuse(io, pending, Refusal::BadToken, shared, peer).await
        }
        TokenField::Present(token) => {
            match auth_guard::verdict(|| shared.auth.check(token), io, shared, peer).await {
                Some(Ok(identity)) => identity,
                Some(Err(_)) => return refuse(io, pending, Refusal::BadToken, shared, peer).await,
                None => return Checked::Refused,
            }
        }
    };
    match request.action_field() {
        ActionField::Present(_) => Checked::Ok(request, identity),
        ActionField::Missing => refuse(io, pending, Refusal::NoAction, shared, peer).await,
        ActionField::NotAString => {
            refuse(io, pending, Refusal::ActionNotAString, shared, peer).await
        }
    }
}

/// Answers a refused request (its code and message from [`Refusal::answer`])
/// and closes, after the answers still held back for earlier requests of the
/// batch (they were served).
async fn refuse(
    io: &mut FramedRead<Stream, FrameCodec>,
    pending: &mut Vec<u8>,
    refusal: Refusal,
    shared: &Shared,
    peer: SocketAddr,
) -> Checked {
    refusal.record(peer, shared);
    let (code, message) = refusal.answer();
    let limits = &shared.limits;
    if flush_pending(io, pending, limits).await.is_ok() {
        answer_and_close(io, code, &ErrorBody { error: &message }, limits).await;
    }
    Checked::Refused
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
    at: Instant,
    /// The caller's budget is what ends it (else a server-side limit).
    callers: bool,
}

impl Limit {
    /// The soonest of the caller's budget, the action's own timeout and the
    /// server's ceiling; `Err` for a budget already spent or malformed.
    fn of<H: Handler>(
        request: &Request,
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
        let (limit, callers) = match (budget, server) {
            (Some(b), Some(s)) if b < s => (b, true),
            (_, Some(s)) => (s, false),
            (Some(b), None) => (b, true),
            (None, None) => return Ok(None),
        };
        // Beyond what a clock can hold: no limit at all.
        Ok(Instant::now()
            .checked_add(limit)
            .map(|at| Limit { at, callers }))
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
    limits: &Limits,
    layers: &[Arc<dyn Layer>],
) -> Result<(), Failure> {
    // Nothing to time (the common case): no clock read, no timer.
    let limit = Limit::of(&conn.ctx.request, handler, limits)?;
    conn.ctx.deadline = limit.as_ref().map(|l| l.at);
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
            let call = crate::wire::deadline::scope(limit.at, call);
            match tokio::time::timeout_at(limit.at, call).await {
                Ok(r) => r,
                Err(_) => return Err(limit.failure()),
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
