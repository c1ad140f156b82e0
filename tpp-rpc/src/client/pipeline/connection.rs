//! One pipelined connection: the queue its callers encode requests into,
//! the writer that empties it, and the reader that answers them in order.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::{oneshot, Notify, Semaphore};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use super::{Reply, BATCH_BYTES, QUEUE};
use crate::client::{ready_or_timed, ClientConnection, ClientError};
use crate::transport::{ReadHalf, WriteHalf};
use crate::wire::frame::FrameCodec;
use crate::wire::message::Response;

/// What the callers, the writer and the reader of one connection share.
pub(super) struct Connection {
    state: Mutex<State>,
    /// The first response promised keep-alive: more than one request may
    /// be written at once. Read by the writer without the lock.
    confirmed: AtomicBool,
    /// The connection is over: callers look for another one. Read without
    /// the lock by every call.
    ended: AtomicBool,
    /// Woken when the first response confirmed keep-alive, or at the end.
    changed: Notify,
    /// Wakes the writer after it found nothing to write.
    work: Notify,
    /// One permit per request the queue has room for: callers beyond it
    /// wait their turn, first come first served. Closed at the end.
    pub(super) room: Semaphore,
    /// Cancelled when the connection is over.
    over: CancellationToken,
}

#[derive(Default)]
struct State {
    /// The requests not taken by the writer yet, framed, back to back.
    queued: Vec<u8>,
    /// Where each of those ends in `queued`, with its caller's reply.
    waiting: VecDeque<(usize, Reply)>,
    /// The replies of the requests written (or being written), oldest first.
    in_flight: VecDeque<Reply>,
    /// The writer found nothing to write: the next request wakes it. While
    /// it writes, requests queue without waking anyone.
    writer_idle: bool,
    /// No more requests are taken: the connection is over.
    closed: bool,
    /// The client is gone: the writer finishes what is queued and in flight,
    /// then closes.
    abandoned: bool,
}

/// What became of a request given to [`Connection::queue`].
pub(super) enum Queued {
    /// Queued: its response (or why there is none) comes here.
    Waiting(oneshot::Receiver<Result<Response, ClientError>>),
    /// The connection is over: not queued.
    Ended,
}

/// What the writer found in the queue.
enum Take {
    /// Requests to write, now in flight.
    Batch,
    /// Nothing: the next request wakes the writer.
    Idle,
    Closed,
    /// Nothing, and nothing more will come.
    Abandoned,
}

impl Connection {
    pub(super) fn ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Queues one framed request, waking the writer if it is idle. The
    /// caller holds a permit of [`Connection::room`] for it.
    pub(super) fn queue(&self, frame: &[u8]) -> Queued {
        let (reply, answer) = oneshot::channel();
        let Ok(mut state) = self.state.lock() else {
            return Queued::Ended;
        };
        if state.closed {
            return Queued::Ended;
        }
        state.queued.extend_from_slice(frame);
        let end = state.queued.len();
        state.waiting.push_back((end, reply));
        let wake = std::mem::take(&mut state.writer_idle);
        drop(state);
        if wake {
            self.work.notify_one();
        }
        Queued::Waiting(answer)
    }

    /// The client dropped the connection: it finishes, then closes.
    pub(super) fn abandon(&self) {
        let wake = match self.state.lock() {
            Ok(mut state) => {
                state.abandoned = true;
                std::mem::take(&mut state.writer_idle)
            }
            Err(_) => false,
        };
        if wake {
            self.work.notify_one();
        }
    }

    /// Whether the writer has something to do; if not, it is marked idle.
    fn has_work(&self) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return true;
        };
        let work = state.closed || state.abandoned || !state.waiting.is_empty();
        if !work {
            state.writer_idle = true;
        }
        work
    }

    /// Moves queued requests into `out` (one alone when `alone`, else up to
    /// about [`BATCH_BYTES`]) and their replies in flight; `ends` gets where
    /// each request ends in `out`.
    fn take(&self, out: &mut Vec<u8>, ends: &mut Vec<usize>, alone: bool) -> Take {
        let Ok(mut guard) = self.state.lock() else {
            return Take::Closed;
        };
        let state = &mut *guard;
        if state.closed {
            return Take::Closed;
        }
        if state.waiting.is_empty() {
            if state.abandoned {
                return Take::Abandoned;
            }
            state.writer_idle = true;
            return Take::Idle;
        }
        let count = if alone {
            1
        } else if state.queued.len() <= BATCH_BYTES {
            state.waiting.len()
        } else {
            // Up to the request that reaches the limit, included.
            let reaching = state
                .waiting
                .iter()
                .position(|(end, _)| *end >= BATCH_BYTES);
            reaching.map_or(state.waiting.len(), |i| i + 1)
        };
        out.clear();
        ends.clear();
        if count == state.waiting.len() {
            // The whole queue: its buffer changes places with the writer's.
            std::mem::swap(out, &mut state.queued);
        } else {
            let cut = state.waiting.get(count - 1).map_or(0, |(end, _)| *end);
            out.extend_from_slice(&state.queued[..cut]);
            state.queued.drain(..cut);
            for (end, _) in state.waiting.iter_mut().skip(count) {
                *end -= cut;
            }
        }
        // In flight before the bytes leave, so no response can come first.
        for (end, reply) in state.waiting.drain(..count) {
            ends.push(end);
            state.in_flight.push_back(reply);
        }
        drop(guard);
        self.room.add_permits(count);
        Take::Batch
    }

    /// The last `unsent` requests in flight were not written whole: they
    /// fail as not sent (they cannot have run).
    fn fail_unsent(&self, unsent: usize) {
        let replies: Vec<Reply> = match self.state.lock() {
            Ok(mut state) => {
                let keep = state.in_flight.len().saturating_sub(unsent);
                state.in_flight.drain(keep..).collect()
            }
            Err(_) => Vec::new(),
        };
        for reply in replies {
            let _ = reply.send(Err(ClientError::NotSent(
                "the server stopped reading the connection (write timeout)",
            )));
        }
    }

    /// Ends the connection: every written, unanswered request fails as
    /// closed, every queued one as not sent.
    fn end(&self) {
        self.ended.store(true, Ordering::Release);
        let (written, queued) = match self.state.lock() {
            Ok(mut state) => {
                state.closed = true;
                state.queued = Vec::new();
                (
                    std::mem::take(&mut state.in_flight),
                    std::mem::take(&mut state.waiting),
                )
            }
            Err(_) => Default::default(),
        };
        for reply in written {
            let _ = reply.send(Err(ClientError::Closed));
        }
        for (_, reply) in queued {
            let _ = reply.send(Err(ClientError::NotSent(
                "the connection ended before its turn",
            )));
        }
        self.over.cancel();
        self.changed.notify_waiters();
        self.room.close();
    }
}

/// Starts the writer and the reader of a new connection.
pub(super) fn start(
    conn: ClientConnection,
    refused: Arc<AtomicBool>,
    write_timeout: Duration,
) -> Arc<Connection> {
    let parts = conn.io.into_parts();
    let codec = parts.codec;
    let (read, write) = parts.io.split();
    let mut reader = FramedRead::new(read, codec);
    // Nothing was read on a new connection, but keep anything that was.
    reader.read_buffer_mut().extend_from_slice(&parts.read_buf);
    let connection = Arc::new(Connection {
        state: Mutex::new(State::default()),
        confirmed: AtomicBool::new(false),
        ended: AtomicBool::new(false),
        changed: Notify::new(),
        work: Notify::new(),
        room: Semaphore::new(QUEUE),
        over: CancellationToken::new(),
    });
    tokio::spawn(write_requests(write, connection.clone(), write_timeout));
    tokio::spawn(read_responses(reader, connection.clone(), refused));
    connection
}

async fn write_requests(mut write: WriteHalf, shared: Arc<Connection>, write_timeout: Duration) {
    let mut out = Vec::new();
    let mut ends = Vec::new();
    // Made once: a token's `cancelled()` takes its lock to register and to
    // drop the waiter, which once per batch would cost the reader and the
    // writer a lock they contend for.
    let over = shared.over.cancelled();
    tokio::pin!(over);
    loop {
        if !shared.has_work() {
            tokio::select! {
                biased;
                () = shared.work.notified() => {}
                () = &mut over => break,
            }
        }
        let confirmed = shared.confirmed.load(Ordering::Acquire);
        if confirmed {
            // Callers woken by the same read are about to queue their next
            // requests: one turn of the scheduler lets them, and one write
            // then carries them all instead of one write each.
            tokio::task::yield_now().await;
        }
        // Before the server promised keep-alive, one request alone.
        match shared.take(&mut out, &mut ends, !confirmed) {
            Take::Batch => {}
            Take::Idle => continue,
            Take::Closed => break,
            Take::Abandoned => {
                wait_until_answered(&shared).await;
                break;
            }
        }
        let written = write_bounded(&mut write, &out, write_timeout).await;
        if written < out.len() {
            // A request not written whole cannot have run: sending it again
            // is safe. Those written whole may have run.
            let unsent = ends.iter().filter(|end| **end > written).count();
            shared.fail_unsent(unsent);
            break;
        }
        if !confirmed {
            wait_for_confirmation(&shared).await;
        }
    }
    shared.end();
    let _ = write.shutdown().await;
}

/// Writes `out` and flushes, each write allowed `stall` to make progress;
/// returns how many bytes were written (all of them when it succeeded).
async fn write_bounded(write: &mut WriteHalf, out: &[u8], stall: Duration) -> usize {
    let mut done = 0;
    while done < out.len() {
        match within(stall, write.write(&out[done..])).await {
            Some(Ok(n)) if n > 0 => done += n,
            _ => return done,
        }
    }
    match within(stall, write.flush()).await {
        Some(Ok(())) => done,
        // Not flushed: the last bytes may not have left.
        _ => done.saturating_sub(1),
    }
}

/// What `io` gives within `stall` (`None` after it). A timer is armed only
/// when the socket does not take the bytes at once.
async fn within<F: std::future::Future>(stall: Duration, io: F) -> Option<F::Output> {
    ready_or_timed(std::pin::pin!(io), || tokio::time::sleep(stall)).await
}

async fn wait_for_confirmation(shared: &Connection) {
    loop {
        let notified = shared.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let done = shared.over.is_cancelled() || shared.confirmed.load(Ordering::Acquire);
        if done {
            return;
        }
        notified.await;
    }
}

async fn wait_until_answered(shared: &Connection) {
    loop {
        let notified = shared.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let done = shared.over.is_cancelled()
            || shared
                .state
                .lock()
                .map(|s| s.in_flight.is_empty())
                .unwrap_or(true);
        if done {
            return;
        }
        notified.await;
    }
}

async fn read_responses(
    mut reader: FramedRead<ReadHalf, FrameCodec>,
    shared: Arc<Connection>,
    refused: Arc<AtomicBool>,
) {
    let over = shared.over.cancelled();
    tokio::pin!(over);
    loop {
        let frame = tokio::select! {
            biased;
            frame = reader.next() => frame,
            _ = &mut over => break,
        };
        let frame = match frame {
            Some(Ok(frame)) => frame,
            // Closed, reset or broken framing: the rest is unanswered.
            _ => break,
        };
        let response = Response::parse(frame);
        let keeps_alive = matches!(&response, Ok(r) if r.keeps_alive());
        // A well-formed answer without the promise: this server closes
        // after every answer, pipelining it is pointless.
        let refuses = matches!(&response, Ok(r) if !r.keeps_alive());
        // Waiters (the writer before the first promise, a closing writer
        // until every answer is in) are woken only when what they wait for
        // may have happened, not on every answer.
        let newly_confirmed = keeps_alive && !shared.confirmed.swap(true, Ordering::AcqRel);
        let (reply, drained) = match shared.state.lock() {
            Ok(mut state) => {
                let reply = state.in_flight.pop_front();
                (reply, state.in_flight.is_empty())
            }
            Err(_) => (None, true),
        };
        // An answer nobody asked for: the stream cannot be trusted.
        let Some(reply) = reply else {
            break;
        };
        let _ = reply.send(response.map_err(ClientError::from));
        if !keeps_alive {
            if refuses {
                refused.store(true, Ordering::Relaxed);
            }
            break;
        }
        if newly_confirmed || drained {
            shared.changed.notify_waiters();
        }
    }
    shared.end();
}
