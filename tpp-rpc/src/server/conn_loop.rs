//! One connection from accept to close: TLS handshake, reading frames under
//! the read/idle timeout and the shutdown signal, keep-alive between requests.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use tokio_util::codec::FramedRead;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tracing::{debug, warn};

use super::{
    closing::{answer_and_close, close_after_answering},
    connection::flush_pending,
    metrics::FrameErrorKind,
    observe::Observer,
    pipeline::{check_request, run_handler, Checked},
    request_watch::RequestWatch,
    Connection, Context, Handler, Shared,
};
use crate::transport::{Socket, Stream};
use crate::wire::frame::{FrameCodec, FrameError, READ_BUFFER};
use crate::wire::message::{ErrorBody, Request};

pub(super) async fn serve_connection<H: Handler>(
    mut socket: Socket,
    peer: SocketAddr,
    shared: Arc<Shared>,
    handler: Arc<H>,
    shutdown: CancellationToken,
) {
    let limits = shared.limits.clone();
    let started = Instant::now();
    // One deadline from accept to the first whole request: the PROXY header,
    // the TLS handshake and the first frame share it.
    let first_deadline = tokio::time::Instant::now() + limits.first_request_timeout;
    let until_first = || first_deadline.saturating_duration_since(tokio::time::Instant::now());
    // PROXY headers come over TCP only: a Unix socket or in-process peer is local.
    let peer = match (&shared.proxy, socket.tcp_mut()) {
        (None, _) | (_, None) => peer,
        (Some(proxy), Some(tcp)) => {
            // At shutdown, a header still missing gets the same moment as a request.
            let stopping = async {
                shutdown.cancelled().await;
                tokio::time::sleep(SHUTDOWN_READ_GRACE).await;
            };
            let client = tokio::select! {
                client = proxy.client_addr(tcp, peer, until_first()) => client,
                _ = stopping => None,
            };
            match client {
                Some(client) => client,
                None => return,
            }
        }
    };
    // After the PROXY header: the client's address, not the balancer's. Not
    // entered (`.instrument`) for the connection's life: that would cost the
    // subscriber a clone and a close on every poll; request spans name it as
    // their parent instead, and events outside a request carry `peer`.
    let span = super::spans::connection_span(peer, shared.tls.is_some());
    let stream = match &shared.tls {
        None => Stream::Plain(socket),
        Some(acceptor) => {
            match tokio::time::timeout_at(first_deadline, acceptor.accept(socket)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    debug!(%peer, "TLS handshake timed out");
                    return;
                }
            }
        }
    };
    let mut codec = FrameCodec::new(limits.max_frame_size).scanning_requests();
    if let Some(budget) = &shared.budget {
        codec = codec.charging(budget.clone());
    }
    let transport = stream.socket().transport();
    #[cfg(feature = "tls")]
    let peer_certificate = stream.peer_certificate();
    #[cfg(feature = "tls")]
    let cert_identity = super::auth::Identity::from_certificate(peer_certificate.as_ref());
    #[cfg(not(feature = "tls"))]
    let cert_identity: Option<super::auth::Identity> = None;
    let mut conn = Connection {
        io: FramedRead::with_capacity(stream, codec, READ_BUFFER),
        ctx: Context {
            request: Request::empty(),
            peer_addr: peer,
            secure: false,
            transport,
            #[cfg(feature = "tls")]
            peer_certificate,
            identity: None,
            trace: None,
        },
        scratch: Vec::new(),
        sent: 0,
        first_code: None,
        last_code: None,
        ended_quietly: false,
        keep_open: true,
        promise_keep_alive: false,
        batch: false,
        pending: Vec::new(),
        observer: Observer::for_connection(&shared),
        limits: limits.clone(),
        shutdown: shutdown.clone(),
        watch: Default::default(),
        span,
    };
    conn.ctx.secure = conn.io.get_ref().is_tls();
    let mut first = true;
    // One timer and one shutdown waiter for the whole connection, not one per request.
    let timer = tokio::time::sleep_until(first_deadline);
    let cancelled = shutdown.clone().cancelled_owned();
    tokio::pin!(timer, cancelled);
    loop {
        // The first request gets what is left of the first-request deadline
        // (at most the read timeout), later ones the idle timeout.
        let wait = if first {
            until_first().min(limits.read_timeout)
        } else {
            limits.idle_timeout
        };
        let frame = match next_frame(
            &mut conn.io,
            wait,
            !first,
            timer.as_mut(),
            cancelled.as_mut(),
            peer,
            &shared,
        )
        .await
        {
            Next::Frame(f) => f,
            Next::Close => break,
        };
        // Timed only for the debug log.
        let request_started = tracing::enabled!(tracing::Level::DEBUG).then(Instant::now);
        (conn.ctx.request, conn.ctx.identity) =
            match check_request(&mut conn.io, &mut conn.pending, frame, &shared, peer).await {
                // The authenticator's name for the caller, else the certificate's.
                Checked::Ok(r, identity) => (r, identity.or_else(|| cert_identity.clone())),
                Checked::Refused => break,
            };
        first = false;
        conn.sent = 0;
        conn.first_code = None;
        // Closing after a unary response is the reference's behaviour; only a
        // client that asks (`"tpp_keep_alive": true`) gets the connection kept.
        // Once shutdown starts, nothing more is promised, so clients move
        // (through a balancer, to another replica) after their next answer.
        conn.promise_keep_alive = limits.keep_alive
            && conn.ctx.request.wants_keep_alive()
            && !shared.draining.is_cancelled();
        // Requests already waiting behind this one: its answer leaves with
        // theirs, in one write (as Redis does), instead of one write each.
        conn.batch =
            conn.promise_keep_alive && conn.io.decoder().holds_whole_frame(conn.io.read_buffer());
        conn.last_code = None;
        conn.ended_quietly = false;
        let watch = RequestWatch::start(&mut conn, &shared, &*handler);
        let outcome = watch
            .around(run_handler(&*handler, &mut conn, &limits, &shared.layers))
            .await;
        let c = &mut conn;
        let action = c.action();
        let elapsed = request_started.map(|t| t.elapsed()).unwrap_or_default();
        match outcome {
            Ok(()) if c.sent == 0 && c.ended_quietly => {
                debug!(%peer, ?action, "request ended without a response (client left or shutdown)");
            }
            Ok(()) if c.sent == 0 => {
                warn!(%peer, ?action, "handler returned without a response; closing");
                c.keep_open = false;
            }
            Ok(()) => {
                debug!(%peer, ?action, code = c.first_code, ?elapsed, "request served");
            }
            Err(failure) => {
                warn!(%peer, ?action, error = %failure, "handler failed");
                if c.sent == 0 {
                    let msg = failure.to_string();
                    let _ = c.send_error(1, &msg).await;
                }
                c.keep_open = false;
            }
        }
        watch.finish(c, &shared);
        let reusable =
            c.promise_keep_alive && c.keep_open && c.sent == 1 && !shutdown.is_cancelled();
        if !reusable {
            let _ = flush_pending(&mut c.io, &mut c.pending, &limits).await;
            close_after_answering(&mut c.io).await;
            break;
        }
        // Kept alive, the connection holds nothing of the request it has
        // answered: a large one would otherwise stay (and stay charged to
        // the request memory budget) for as long as the client is idle.
        c.ctx.request = Request::empty();
        let more = c.io.decoder().holds_whole_frame(c.io.read_buffer());
        if !more
            && flush_pending(&mut c.io, &mut c.pending, &limits)
                .await
                .is_err()
        {
            break;
        }
    }
    debug!(%peer, duration = ?started.elapsed(), "connection closed");
}

pub(super) enum Next {
    Frame(Bytes),
    Close,
}

/// How much earlier than asked a read or idle timeout may fire: see
/// [`next_frame`].
const TIMER_SLACK: Duration = Duration::from_millis(5);

/// At shutdown, how long a connection may still take to deliver the request
/// it is sending (or has sent but the server has not read yet).
const SHUTDOWN_READ_GRACE: Duration = Duration::from_secs(1);

pub(super) async fn next_frame(
    io: &mut FramedRead<Stream, FrameCodec>,
    wait: Duration,
    between_requests: bool,
    timer: Pin<&mut tokio::time::Sleep>,
    cancelled: Pin<&mut WaitForCancellationFutureOwned>,
    peer: SocketAddr,
    shared: &Shared,
) -> Next {
    // A kept-alive connection with nothing buffered is idle: close it at once
    // on shutdown. Otherwise a request may be on its way: give it a moment.
    let idle = between_requests && io.read_buffer().is_empty() && io.decoder().is_idle();
    let deadline = tokio::time::Instant::now() + wait;
    // The connection's one timer, moved to the new deadline. Requests on a
    // busy connection come much faster than TIMER_SLACK, so most of them keep
    // the deadline set a moment ago (at most TIMER_SLACK early) instead of
    // touching the timer wheel every time.
    let mut timer = timer;
    let current = timer.deadline();
    if deadline < current || deadline > current + TIMER_SLACK {
        timer.as_mut().reset(deadline);
    }
    let mut cancelled = cancelled;
    let result = {
        let next = io.next();
        tokio::pin!(next);
        let mut draining = false;
        loop {
            tokio::select! {
                biased;
                frame = &mut next => break Ok(frame),
                _ = timer.as_mut() => break Err(()),
                _ = cancelled.as_mut(), if !draining => {
                    if idle {
                        return Next::Close;
                    }
                    draining = true;
                    let soon = tokio::time::Instant::now() + SHUTDOWN_READ_GRACE;
                    timer.as_mut().reset(soon.min(deadline));
                }
            }
        }
    };
    match result {
        Err(_) => {
            debug!(%peer, "read timeout; closing");
            Next::Close
        }
        Ok(None) => Next::Close,
        Ok(Some(Ok(frame))) => Next::Frame(frame),
        Ok(Some(Err(e))) => {
            if let Some(m) = &shared.metrics {
                m.frame_error(match e {
                    FrameError::OverBudget { .. } => FrameErrorKind::OverBudget,
                    _ if e.is_answerable() => FrameErrorKind::Framing,
                    FrameError::Truncated { .. } => FrameErrorKind::Truncated,
                    _ => FrameErrorKind::Io,
                });
            }
            if let FrameError::OverBudget { declared } = e {
                warn!(%peer, declared, "request memory budget full; refused a request");
                let msg = e.to_string();
                answer_and_close(io, 1, &ErrorBody { error: &msg }, &shared.limits).await;
            } else if e.is_answerable() {
                warn!(%peer, error = %e, "framing error");
                let msg = format!("Something wrong with your data: {e}");
                answer_and_close(io, 1, &ErrorBody { error: &msg }, &shared.limits).await;
            } else if let FrameError::Truncated { .. } = e {
                debug!(%peer, error = %e, "peer closed mid-message");
            } else {
                debug!(%peer, error = %e, "read error");
            }
            Next::Close
        }
    }
}
