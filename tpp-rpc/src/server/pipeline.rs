//! One request from frame to handler: the checks (envelope, health probe,
//! token, action), which answer nothing themselves but say how the
//! connection ends when the request does not pass, then the handler (with
//! panic catching and its optional timeout) and what its outcome answers.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

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
use crate::wire::message::{ActionField, Request, TokenField};

/// A request that passed its checks, by this caller (`None`: anonymous).
pub(super) struct Accepted {
    pub(super) request: Request,
    pub(super) identity: Option<Identity>,
}

/// The checks before the handler runs. `link` is only watched, for a client
/// that leaves while its token is verified: nothing is written here.
pub(super) async fn check_request(
    frame: RequestFrame,
    shared: &Shared,
    link: &mut Link,
) -> Result<Accepted, Ending> {
    // The envelope only: the body is validated and located, not built. Typed
    // parameters are deserialized by the handler, which runs only once the
    // token and the action below have passed. (A large request was scanned
    // while it arrived.)
    let request = frame.parse().map_err(Refusal::BadData)?;
    // The balancer's probe carries no token: answered (and closed) here.
    if let Some(health) = shared.health.as_ref().filter(|h| h.is_probe(&request)) {
        return Err(Ending::Probe(health.answer(&shared.draining)));
    }
    let identity = match request.token_field() {
        TokenField::Missing => return Err(Refusal::NoToken.into()),
        TokenField::NotAString => return Err(Refusal::BadToken.into()),
        TokenField::Present(token) => {
            let peer = link.peer();
            let check = || shared.auth.check(token);
            // Made only for a slow check (its read buffer stays off this future).
            let client_left = move || {
                let link = link;
                link.client_left()
            };
            match auth_guard::verdict(check, client_left, shared, peer).await {
                Some(Ok(identity)) => identity,
                Some(Err(_)) => return Err(Refusal::BadToken.into()),
                None => return Err(Ending::Drop),
            }
        }
    };
    match request.action_field() {
        ActionField::Present(_) => Ok(Accepted { request, identity }),
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
    let outcome = watch
        .around(run_handler(handler, conn, &shared.limits, &shared.layers))
        .await;
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
}

pub(super) async fn run_handler<H: Handler>(
    handler: &H,
    conn: &mut Connection,
    limits: &Limits,
    layers: &[Arc<dyn Layer>],
) -> Result<(), Failure> {
    // Without layers the handler's own future runs, unboxed.
    let call = match layers {
        [] => {
            conn.observe_reached_handler();
            Either::Left(handler.handle(conn))
        }
        layers => Either::Right(Next::new(layers, handler).run(conn)),
    };
    let call = AssertUnwindSafe(call).catch_unwind();
    let result = match limits.handler_timeout {
        Some(d) => match tokio::time::timeout(d, call).await {
            Ok(r) => r,
            Err(_) => return Err(Failure::TimedOut),
        },
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
