//! Pipelined connections: many concurrent callers share a few connections,
//! each written to without waiting for earlier answers, the answers matched
//! first in, first out (TPP answers in order), as redis-rs's multiplexed
//! connection does.
//!
//! Each connection has two tasks. The writer takes requests from a channel
//! (all that are waiting, in one write), queues each caller's reply sender,
//! then writes; the reader hands each response to the oldest sender. A
//! connection sends one request alone first: only once its response carries
//! the server's keep-alive promise are more sent, so a server that closes
//! after every answer (toxiccore) never has requests written that it would
//! not read.
//!
//! When the connection ends (the server closed it, a response without the
//! promise, an I/O error), every request written and not answered fails with
//! [`ClientError::Closed`] (it may have run); every request not written yet
//! fails with [`ClientError::NotSent`] (it did not run), which the client
//! retries on a new connection.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use super::{ready_or_timed, Client, ClientConnection, ClientError};
use crate::transport::{ReadHalf, WriteHalf};
use crate::wire::frame::FrameCodec;
use crate::wire::message::Response;

/// Requests a caller may queue on one connection before waiting.
const QUEUE: usize = 1024;

/// Most bytes of requests gathered into one write.
const BATCH_BYTES: usize = 64 * 1024;

/// How many times a request that was not sent is tried on a new connection.
const ATTEMPTS: usize = 3;

type Reply = oneshot::Sender<Result<Response, ClientError>>;

struct Job {
    frame: Bytes,
    reply: Reply,
}

/// The pipelined connections of one client (shared by its clones).
pub(super) struct Pipelines {
    slots: Vec<Slot>,
    next: AtomicUsize,
    /// The server answered without promising keep-alive: pipelining is
    /// pointless there, calls use the pool.
    refused: Arc<AtomicBool>,
    /// Longest wait for the server to take more request bytes.
    write_timeout: Duration,
}

impl Pipelines {
    pub(super) fn new(connections: usize, write_timeout: Duration) -> Pipelines {
        Pipelines {
            write_timeout,
            slots: (0..connections.max(1)).map(|_| Slot::default()).collect(),
            next: AtomicUsize::new(0),
            refused: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether the server refused keep-alive on a pipelined connection.
    pub(super) fn refused(&self) -> bool {
        self.refused.load(Ordering::Relaxed)
    }

    /// Sends one framed request and waits for its response. A request that
    /// was not sent is tried again on a new connection (it cannot have run);
    /// after the server refused keep-alive it is given back as
    /// [`ClientError::NotSent`] for the caller to send another way.
    pub(super) async fn call(
        &self,
        client: &Client,
        frame: Bytes,
    ) -> Result<Response, ClientError> {
        for _ in 0..ATTEMPTS {
            let tx = self.sender(client).await?;
            let (reply, answer) = oneshot::channel();
            let job = Job {
                frame: frame.clone(),
                reply,
            };
            if tx.send(job).await.is_err() {
                // The connection ended before taking it: try a new one.
                continue;
            }
            match answer.await {
                Ok(Err(ClientError::NotSent(_))) if !self.refused() => continue,
                Ok(result) => return result,
                Err(_) => return Err(ClientError::Closed),
            }
        }
        Err(ClientError::NotSent(
            "the pipelined connections kept ending before it was sent",
        ))
    }

    /// The sender of a live connection, opening one if its slot has none.
    async fn sender(&self, client: &Client) -> Result<mpsc::Sender<Job>, ClientError> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let slot = &self.slots[i];
        if let Some(tx) = slot.live() {
            return Ok(tx);
        }
        // One opener per slot; the others wait for its connection.
        let _opening = slot.opening.lock().await;
        if let Some(tx) = slot.live() {
            return Ok(tx);
        }
        let conn = Box::pin(client.open()).await?;
        let tx = start(conn, self.refused.clone(), self.write_timeout);
        if let Ok(mut live) = slot.live.lock() {
            *live = Some(tx.clone());
        }
        Ok(tx)
    }
}

/// One pipelined connection of a client, once opened.
#[derive(Default)]
struct Slot {
    /// Its sender: looked up by every call, so a lock held for a clone only
    /// (never across an await).
    live: Mutex<Option<mpsc::Sender<Job>>>,
    /// Held while a connection is opened for the slot.
    opening: tokio::sync::Mutex<()>,
}

impl Slot {
    fn live(&self) -> Option<mpsc::Sender<Job>> {
        let live = self.live.lock().ok()?;
        live.as_ref().filter(|tx| !tx.is_closed()).cloned()
    }
}

/// What the writer and the reader of one connection share.
struct Shared {
    state: Mutex<State>,
    /// The first response promised keep-alive: more than one request may
    /// be written at once. Read by the writer without the lock.
    confirmed: AtomicBool,
    /// Woken when the first response confirmed keep-alive, or at the end.
    changed: Notify,
    /// Cancelled when the connection is over.
    over: CancellationToken,
}

struct State {
    in_flight: VecDeque<Reply>,
}

impl Shared {
    /// Ends the connection: every written, unanswered request fails.
    fn end(&self) {
        let waiting = match self.state.lock() {
            Ok(mut state) => std::mem::take(&mut state.in_flight),
            Err(_) => VecDeque::new(),
        };
        for reply in waiting {
            let _ = reply.send(Err(ClientError::Closed));
        }
        self.over.cancel();
        self.changed.notify_waiters();
    }
}

fn start(
    conn: ClientConnection,
    refused: Arc<AtomicBool>,
    write_timeout: Duration,
) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel(QUEUE);
    let parts = conn.io.into_parts();
    let codec = parts.codec;
    let (read, write) = parts.io.split();
    let mut reader = FramedRead::new(read, codec);
    // Nothing was read on a new connection, but keep anything that was.
    reader.read_buffer_mut().extend_from_slice(&parts.read_buf);
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            in_flight: VecDeque::new(),
        }),
        confirmed: AtomicBool::new(false),
        changed: Notify::new(),
        over: CancellationToken::new(),
    });
    tokio::spawn(write_requests(write, rx, shared.clone(), write_timeout));
    tokio::spawn(read_responses(reader, shared, refused));
    tx
}

async fn write_requests(
    mut write: WriteHalf,
    mut rx: mpsc::Receiver<Job>,
    shared: Arc<Shared>,
    write_timeout: Duration,
) {
    let mut out = Vec::new();
    let mut ends = Vec::new();
    // Made once: a token's `cancelled()` takes its lock to register and to
    // drop the waiter, which once per request would cost the reader and the
    // writer a lock they contend for.
    let over = shared.over.cancelled();
    tokio::pin!(over);
    loop {
        let first = tokio::select! {
            biased;
            job = rx.recv() => job,
            _ = &mut over => break,
        };
        let Some(first) = first else {
            // Every handle is gone: finish what is in flight, then close.
            wait_until_answered(&shared).await;
            shared.over.cancel();
            break;
        };
        let confirmed = shared.confirmed.load(Ordering::Acquire);
        if confirmed {
            // Callers woken by the same read are about to queue their next
            // requests: one turn of the scheduler lets them, and one write
            // then carries them all instead of one write each.
            tokio::task::yield_now().await;
        }
        let mut batch = vec![first];
        // Before the server promised keep-alive, one request alone.
        while confirmed && out_len(&batch) < BATCH_BYTES {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        out.clear();
        {
            let Ok(mut state) = shared.state.lock() else {
                break;
            };
            if shared.over.is_cancelled() {
                drop(state);
                not_sent(batch);
                break;
            }
            // Queued before the bytes leave, so no response can come first.
            ends.clear();
            for job in batch {
                out.extend_from_slice(&job.frame);
                ends.push(out.len());
                state.in_flight.push_back(job.reply);
            }
        }
        let written = write_bounded(&mut write, &out, write_timeout).await;
        if written < out.len() {
            // A request not written whole cannot have run: sending it again
            // is safe. Those written whole may have run.
            let unsent = ends.iter().filter(|end| **end > written).count();
            let replies: Vec<Reply> = match shared.state.lock() {
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
            shared.end();
            break;
        }
        if !confirmed {
            wait_for_confirmation(&shared).await;
        }
    }
    rx.close();
    while let Ok(job) = rx.try_recv() {
        not_sent(vec![job]);
    }
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
    ready_or_timed(io, || tokio::time::sleep(stall)).await
}

fn out_len(batch: &[Job]) -> usize {
    batch.iter().map(|j| j.frame.len()).sum()
}

fn not_sent(batch: Vec<Job>) {
    for job in batch {
        let _ = job.reply.send(Err(ClientError::NotSent(
            "the connection ended before its turn",
        )));
    }
}

async fn wait_for_confirmation(shared: &Shared) {
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

async fn wait_until_answered(shared: &Shared) {
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
    shared: Arc<Shared>,
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
