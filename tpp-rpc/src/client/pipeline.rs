//! Pipelined connections: many concurrent callers share a few connections,
//! each written to without waiting for earlier answers, the answers matched
//! first in, first out (TPP answers in order), as redis-rs's multiplexed
//! connection does.
//!
//! A caller encodes its request straight into its connection's queue (the
//! bytes of every request not written yet, back to back, and the callers'
//! reply senders); the connection's writer takes all that queued, in one
//! write, moving the reply senders to the in-flight queue first, and the
//! reader hands each response to the oldest sender. The writer is woken
//! only when it went idle: while it writes, the next requests gather for
//! the write after. A connection sends one request alone first: only once
//! its response carries the server's keep-alive promise are more sent, so
//! a server that closes after every answer (toxiccore) never has requests
//! written that it would not read.
//!
//! When the connection ends (the server closed it, a response without the
//! promise, an I/O error), every request written and not answered fails with
//! [`ClientError::Closed`] (it may have run); every request not written yet
//! fails with [`ClientError::NotSent`] (it did not run), which the client
//! retries on a new connection.

mod connection;

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{oneshot, TryAcquireError};

use self::connection::{Connection, Queued};
use super::{Client, ClientError};
use crate::wire::frame::{finish_frame, start_frame};
use crate::wire::message::{OutgoingRequest, Response};

/// Requests a caller may queue on one connection before waiting.
const QUEUE: usize = 1024;

/// Most bytes of requests gathered into one write.
const BATCH_BYTES: usize = 64 * 1024;

/// How many times a request that was not sent is tried on a new connection.
const ATTEMPTS: usize = 3;

type Reply = oneshot::Sender<Result<Response, ClientError>>;

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

    /// Sends one request and waits for its response. A request that was not
    /// sent is tried again on a new connection (it cannot have run); after
    /// the server refused keep-alive it is given back as
    /// [`ClientError::NotSent`] for the caller to send another way.
    pub(super) async fn call<B: Serialize + ?Sized>(
        &self,
        client: &Client,
        request: &OutgoingRequest<'_, B>,
    ) -> Result<Response, ClientError> {
        for _ in 0..ATTEMPTS {
            let connection = self.connection(client, request).await?;
            let room = match connection.room.try_acquire() {
                Ok(room) => room,
                Err(TryAcquireError::NoPermits) => match connection.room.acquire().await {
                    Ok(room) => room,
                    Err(_) => continue,
                },
                // The connection ended: try a new one.
                Err(TryAcquireError::Closed) => continue,
            };
            let answer = match encoded(request, |frame| connection.queue(frame))? {
                Queued::Waiting(answer) => answer,
                Queued::Ended => continue,
            };
            // Given back by the writer when it takes the request.
            room.forget();
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

    /// A live connection, opening one if its slot has none.
    async fn connection<B: Serialize + ?Sized>(
        &self,
        client: &Client,
        request: &OutgoingRequest<'_, B>,
    ) -> Result<Arc<Connection>, ClientError> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let slot = &self.slots[i];
        if let Some(connection) = slot.live() {
            return Ok(connection);
        }
        // A request that cannot be encoded fails as such, not with whatever
        // opening a connection for it may give.
        encoded(request, |_| ())?;
        // One opener per slot; the others wait for its connection.
        let _opening = slot.opening.lock().await;
        if let Some(connection) = slot.live() {
            return Ok(connection);
        }
        let conn = Box::pin(client.open()).await?;
        let connection = connection::start(conn, self.refused.clone(), self.write_timeout);
        if let Ok(mut live) = slot.live.lock() {
            *live = Some(connection.clone());
        }
        Ok(connection)
    }
}

/// One pipelined connection of a client, once opened.
#[derive(Default)]
struct Slot {
    /// Its connection: looked up by every call, so a lock held for a clone
    /// only (never across an await).
    live: Mutex<Option<Arc<Connection>>>,
    /// Held while a connection is opened for the slot.
    opening: tokio::sync::Mutex<()>,
}

impl Slot {
    fn live(&self) -> Option<Arc<Connection>> {
        let live = self.live.lock().ok()?;
        live.as_ref().filter(|c| !c.ended()).cloned()
    }
}

impl Drop for Slot {
    /// The client is gone: its connections finish what is in flight, then
    /// close.
    fn drop(&mut self) {
        let live = match self.live.get_mut() {
            Ok(live) => live.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(connection) = live {
            connection.abandon();
        }
    }
}

thread_local! {
    /// Where requests are encoded before being copied into their queue: one
    /// buffer per thread, so no request allocates its own.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A scratch buffer that large is dropped after use rather than kept.
const SCRATCH_KEPT: usize = 64 * 1024;

/// Runs `then` on `request` framed, without an await in between (the
/// scratch buffer is the thread's).
fn encoded<B: Serialize + ?Sized, R>(
    request: &OutgoingRequest<'_, B>,
    then: impl FnOnce(&[u8]) -> R,
) -> Result<R, ClientError> {
    let frame_into = |buf: &mut Vec<u8>| {
        start_frame(buf);
        crate::wire::json::to_writer(&mut *buf, request).map_err(ClientError::Serialize)?;
        let start = finish_frame(buf);
        Ok(then(&buf[start..]))
    };
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut buf) => {
            let done = frame_into(&mut buf);
            if buf.capacity() > SCRATCH_KEPT {
                *buf = Vec::new();
            }
            done
        }
        // Only if encoding re-entered this (a body's `Serialize` calling a
        // client): a buffer of its own then.
        Err(_) => frame_into(&mut Vec::new()),
    })
}
