//! Streaming actions on the server: many responses to one request.
//!
//! An [`ItemStream`] is what a streaming action returns: any `Stream` of
//! `Result<T, ActionError>`, or the receiving half of a bounded channel
//! ([`ItemStream::channel`]) for producers that push. [`send_stream`] writes
//! each item as `{"code": 0, "body": item}` (toxicbuild's build stream), an
//! error as `{"code": N, "body": {"error": …}}` that ends the stream, and the
//! connection is then closed, as the reference does.
//!
//! Backpressure is end to end: the next item is pulled only once the previous
//! one is written to the socket, and a channel holds at most its capacity, so
//! memory does not grow with unread items. A client that goes away drops the
//! stream, which stops the producer (a channel's sender sees
//! [`Disconnected`]): at once when it resets the connection, about a second
//! after it closes it, within 25 s (TCP keepalive) when its host
//! vanished, see [`Connection::peer_gone`]. A client that only half-closes
//! (shuts its write side, as `nc -N` does) still reads: it gets the whole
//! stream.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::mpsc;
use tracing::debug;

use crate::server::Connection;
use crate::wire::{ActionError, ToxicError};
use crate::Error;

/// The items of a streaming action, in order.
///
/// ```
/// use tpp_rpc::{ActionError, ItemStream, StreamExt};
///
/// #[tpp_rpc::toxic_service]
/// pub trait Counter {
///     /// Counts from 1 to `to`, one item each.
///     #[action(stream)]
///     async fn count(&self, to: u32) -> Result<ItemStream<u32>, ActionError>;
/// }
///
/// struct Impl;
/// impl Counter for Impl {
///     async fn count(&self, to: u32) -> Result<ItemStream<u32>, ActionError> {
///         // A producer task behind a bounded channel: it waits while 4 items are unread,
///         // and stops when the client leaves (`send` fails).
///         let (tx, items) = ItemStream::channel(4);
///         tokio::spawn(async move {
///             for n in 1..=to {
///                 if tx.send(n).await.is_err() {
///                     return;
///                 }
///             }
///         });
///         Ok(items) // or ItemStream::iter(1..=to) for items already at hand
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = tpp_rpc::Server::builder().token("t").bind("127.0.0.1:0").await?;
/// let port = server.local_addr().port();
/// tokio::spawn(server.serve(CounterServer::new(Impl)));
///
/// let client = CounterClient::new(tpp_rpc::Client::builder("127.0.0.1", port).token("t").build()?);
/// let mut items = client.count(3).await?;
/// let mut seen = Vec::new();
/// while let Some(n) = items.next().await {
///     seen.push(n?);
/// }
/// assert_eq!(seen, [1, 2, 3]);
/// # Ok(()) }
/// ```
pub struct ItemStream<T> {
    inner: Pin<Box<dyn Stream<Item = Result<T, ActionError>> + Send + 'static>>,
}

impl<T> std::fmt::Debug for ItemStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ItemStream(..)")
    }
}

impl<T: Send + 'static> ItemStream<T> {
    /// Streams the items of `stream`.
    pub fn new<S>(stream: S) -> Self
    where
        S: Stream<Item = Result<T, ActionError>> + Send + 'static,
    {
        Self {
            inner: Box::pin(stream),
        }
    }

    /// Streams items that can never fail.
    pub fn from_items<S>(stream: S) -> Self
    where
        S: Stream<Item = T> + Send + 'static,
    {
        Self::new(stream.map(Ok))
    }

    /// Streams every item of an iterator.
    pub fn iter<I>(items: I) -> Self
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        Self::from_items(futures_util::stream::iter(items))
    }

    /// A bounded channel: push items with the [`ItemSender`] (from a spawned
    /// task, typically) while the server writes them out. `capacity` items at
    /// most wait in between (at least 1).
    pub fn channel(capacity: usize) -> (ItemSender<T>, Self) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (ItemSender { tx }, Self::new(ChannelStream { rx }))
    }
}

impl<T> Stream for ItemStream<T> {
    type Item = Result<T, ActionError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

struct ChannelStream<T> {
    rx: mpsc::Receiver<Result<T, ActionError>>,
}

impl<T> Stream for ChannelStream<T> {
    type Item = Result<T, ActionError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

/// The client went away (or the stream ended): stop producing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the stream's receiver is gone")]
pub struct Disconnected;

/// Pushes items into an [`ItemStream::channel`].
#[derive(Debug)]
pub struct ItemSender<T> {
    tx: mpsc::Sender<Result<T, ActionError>>,
}

impl<T> Clone for ItemSender<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
        }
    }
}

impl<T> ItemSender<T> {
    /// Sends an item, waiting while the channel is full (backpressure).
    pub async fn send(&self, item: T) -> Result<(), Disconnected> {
        self.tx.send(Ok(item)).await.map_err(|_| Disconnected)
    }

    /// Sends an error, which ends the stream for the client.
    pub async fn fail(&self, error: impl ToxicError) -> Result<(), Disconnected> {
        let error = ActionError::from_error(&error);
        self.tx.send(Err(error)).await.map_err(|_| Disconnected)
    }

    /// Resolves when the client is gone and the stream was dropped.
    pub async fn closed(&self) {
        self.tx.closed().await
    }

    /// Whether the client is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Writes a stream's items as responses, then closes the connection.
///
/// `ack`, when given, is sent first as `{"code": 0, "body": {"<action>": ack}}`
/// (the hole's `stream` action answers `{"stream": "ok"}` that way). The
/// stream stops early, dropping its producer, when the client is gone (see
/// [`Connection::peer_gone`]; a half-close does not count), or when the
/// server shuts down.
pub async fn send_stream<T, A>(
    conn: &mut Connection,
    ack: Option<&A>,
    mut items: ItemStream<T>,
) -> Result<(), Error>
where
    T: Serialize,
    A: Serialize + ?Sized,
{
    conn.close();
    if let Some(ack) = ack {
        conn.send_result(ack).await?;
    }
    conn.observe_stream();
    let shutdown = conn.shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let next = tokio::select! {
            biased;
            _ = &mut shutdown => {
                debug!(action = ?conn.action(), "stream ended by shutdown");
                conn.end_quietly();
                return Ok(());
            }
            gone = conn.peer_gone() => {
                debug!(action = ?conn.action(), reason = %gone, "client left mid-stream");
                conn.end_quietly();
                return Ok(());
            }
            next = items.next() => next,
        };
        match next {
            None => {
                // An empty stream is answered by the close alone.
                conn.end_quietly();
                return Ok(());
            }
            Some(Ok(item)) => conn.send_response(0, &item).await?,
            Some(Err(e)) => return super::error_answer::send_service_error(conn, &e).await,
        }
    }
}
