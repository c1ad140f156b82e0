//! Reading from the client: the next request under the read/idle timeout
//! and the shutdown signal, a handler's further messages, and noticing a
//! client that left.

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio_util::sync::WaitForCancellationFutureOwned;
use tracing::debug;

use super::Link;
use crate::server::closing::Ending;
use crate::server::peer_watch::{Input, PeerWatch};
use crate::server::refusal::{frame_error_kind, Refusal};
use crate::server::request_codec::RequestFrame;
use crate::server::Error;
use crate::wire::frame::FrameError;

/// How much earlier than asked a read or idle timeout may fire: see
/// [`Link::next_frame`].
const TIMER_SLACK: Duration = Duration::from_millis(5);

/// How long a connection keeps a large request's or answer's buffers once
/// it is idle: a client sending large requests one after another reuses
/// them (no allocation, page faults or copies as a new buffer grows), while
/// an idle connection gives them (and their charge to the request memory
/// budget) back after this long.
const KEEP_LARGE_BUFFERS: Duration = Duration::from_millis(250);

/// At shutdown, how long a connection may still take to deliver the request
/// it is sending (or has sent but the server has not read yet).
pub(in crate::server) const SHUTDOWN_READ_GRACE: Duration = Duration::from_secs(1);

/// The connection's one timer and one shutdown waiter (not one per
/// request), and the deadline of its first request.
pub(in crate::server) struct ReadClock<'a> {
    /// From accept to the first whole request: the PROXY header, the TLS
    /// handshake and the first frame share it.
    first_deadline: tokio::time::Instant,
    timer: Pin<&'a mut tokio::time::Sleep>,
    cancelled: Pin<&'a mut WaitForCancellationFutureOwned>,
    /// No request read yet.
    first: bool,
}

impl<'a> ReadClock<'a> {
    pub(in crate::server) fn new(
        first_deadline: tokio::time::Instant,
        timer: Pin<&'a mut tokio::time::Sleep>,
        cancelled: Pin<&'a mut WaitForCancellationFutureOwned>,
    ) -> Self {
        Self {
            first_deadline,
            timer,
            cancelled,
            first: true,
        }
    }
}

impl Link {
    /// The next request's frame, or how the connection ends: the client
    /// closed, went silent past its timeout, broke the framing (answered), or
    /// the server is shutting down.
    pub(in crate::server) async fn next_frame(
        &mut self,
        clock: &mut ReadClock<'_>,
    ) -> Result<RequestFrame, Ending> {
        // The first request gets what is left of the first-request deadline
        // (at most the read timeout), later ones the idle timeout.
        let limits = &self.shared.limits;
        let wait = if clock.first {
            let left = clock
                .first_deadline
                .saturating_duration_since(tokio::time::Instant::now());
            left.min(limits.read_timeout)
        } else {
            limits.idle_timeout
        };
        match self.read_within(wait, clock).await {
            Some(Some(Ok(frame))) => {
                clock.first = false;
                Ok(frame)
            }
            Some(Some(Err(e))) => Err(self.frame_failed(e)),
            Some(None) => Err(Ending::Drop),
            None => {
                debug!(peer = %self.peer, "read timeout; closing");
                Err(Ending::Drop)
            }
        }
    }

    /// The next decoded item within `wait` (`None` when it passed), or
    /// `Some(None)` at the end of the stream, or when shutdown finds the
    /// connection idle.
    async fn read_within(
        &mut self,
        wait: Duration,
        clock: &mut ReadClock<'_>,
    ) -> Option<Option<Result<RequestFrame, FrameError>>> {
        // A kept-alive connection with nothing buffered is idle: close it at once
        // on shutdown. Otherwise a request may be on its way: give it a moment.
        let idle = !clock.first && self.io.read_buffer().is_empty() && self.io.decoder().is_idle();
        let deadline = tokio::time::Instant::now() + wait;
        // The connection's one timer, moved to the new deadline. Requests on a
        // busy connection come much faster than TIMER_SLACK, so most of them keep
        // the deadline set a moment ago (at most TIMER_SLACK early) instead of
        // touching the timer wheel every time.
        let timer = &mut clock.timer;
        let current = timer.deadline();
        if deadline < current || deadline > current + TIMER_SLACK {
            timer.as_mut().reset(deadline);
        }
        // Only a connection holding large buffers pays for this timer.
        let mut release = self
            .holds_large_buffers()
            .then(|| Box::pin(tokio::time::sleep(KEEP_LARGE_BUFFERS)));
        let mut draining = false;
        loop {
            {
                let next = self.io.next();
                tokio::pin!(next);
                loop {
                    tokio::select! {
                        biased;
                        frame = &mut next => return Some(frame),
                        _ = timer.as_mut() => return None,
                        _ = clock.cancelled.as_mut(), if !draining => {
                            if idle {
                                return Some(None);
                            }
                            draining = true;
                            let soon = tokio::time::Instant::now() + SHUTDOWN_READ_GRACE;
                            timer.as_mut().reset(soon.min(deadline));
                        }
                        _ = async {
                            if let Some(sleep) = release.as_mut() {
                                sleep.as_mut().await;
                            }
                        }, if release.is_some() => break,
                    }
                }
            }
            // Idle for a moment: the large buffers go.
            self.release_buffers();
            release = None;
        }
    }

    /// Counts a framing failure; one the client can still read is answered.
    fn frame_failed(&self, e: FrameError) -> Ending {
        if e.is_answerable() {
            return Ending::Refused(Refusal::Frame(e));
        }
        if let Some(m) = &self.shared.metrics {
            m.frame_error(frame_error_kind(&e));
        }
        if let FrameError::Truncated { .. } = e {
            debug!(peer = %self.peer, error = %e, "peer closed mid-message");
        } else {
            debug!(peer = %self.peer, error = %e, "read error");
        }
        Ending::Drop
    }

    /// A handler's read of the client's next message (`None` when it
    /// closes), bounded by the read timeout.
    pub(in crate::server) async fn read_message(&mut self) -> Result<Option<Bytes>, Error> {
        let read_timeout = self.shared.limits.read_timeout;
        match tokio::time::timeout(read_timeout, self.io.next()).await {
            Err(_) => Err(Error::Timeout),
            Ok(None) => Ok(None),
            Ok(Some(frame)) => Ok(Some(frame?.bytes)),
        }
    }

    /// Resolves when the client leaves while its request is being checked;
    /// what it sends meanwhile is kept for its next requests.
    pub(in crate::server) async fn client_left(&mut self) -> &'static str {
        PeerWatch::default().gone(&mut self.io, Input::Keep).await
    }

    /// Resolves when the client is gone while a unary request's work runs
    /// (client_watch.rs); what it sends meanwhile is kept for its next
    /// requests.
    pub(in crate::server) async fn client_gone(&mut self) -> &'static str {
        self.watch.arm_keepalive(self.io.get_ref().socket().tcp());
        self.watch.gone(&mut self.io, Input::Keep).await
    }

    /// Resolves when the client is gone (see
    /// [`Connection::peer_gone`](crate::server::Connection::peer_gone)).
    pub(in crate::server) async fn peer_gone(&mut self) -> &'static str {
        self.watch.arm_keepalive(self.io.get_ref().socket().tcp());
        self.watch.gone(&mut self.io, Input::Drop).await
    }
}
