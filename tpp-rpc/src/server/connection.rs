//! [`Connection`]: the request being handled and the means to answer it
//! (single-write responses, further reads, close, peer-gone detection).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;

use bytes::{Buf, Bytes};
use futures_util::StreamExt;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use super::large_answer::{serialize_into, write_in_turns, INLINE_LIMIT};
use super::peer_watch::{Input, PeerWatch};
use super::{observe::Observer, Context, Limits};
use crate::server::Error;
use crate::transport::Stream;
use crate::wire::frame::{header_at_end, put_header, FrameCodec, HEADER_ROOM};
use crate::wire::message::{append_response, append_result, ErrorBody, Request};

/// The authenticated request being handled, and the connection it came on.
pub struct Connection {
    pub(super) io: FramedRead<Stream, FrameCodec>,
    pub(super) ctx: Context,
    pub(super) scratch: Vec<u8>,
    pub(super) sent: usize,
    pub(super) first_code: Option<i64>,
    pub(super) last_code: Option<i64>,
    /// The request ended without a response on purpose (a stream whose client left, or
    /// that shutdown ended, before its first item): nothing to warn about.
    pub(super) ended_quietly: bool,
    pub(super) keep_open: bool,
    /// The request asked for keep-alive and the server allows it: the first
    /// response carries `"tpp_keep_alive": true`.
    pub(super) promise_keep_alive: bool,
    /// More requests are already buffered: the first response to this one
    /// waits in `pending` to leave with theirs, in one write.
    pub(super) batch: bool,
    /// Responses not written yet (see `batch`), in order.
    pub(super) pending: Vec<u8>,
    pub(super) observer: Option<Box<Observer>>,
    pub(super) limits: Arc<Limits>,
    pub(super) shutdown: CancellationToken,
    pub(super) watch: PeerWatch,
    /// The `tpp.connection` span: the parent of every request's span.
    pub(super) span: tracing::Span,
}

impl Connection {
    /// The request's context (action, extra fields, peer).
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The requested action.
    pub fn action(&self) -> &str {
        self.ctx.action()
    }

    /// The whole request.
    pub fn request(&self) -> &Request {
        &self.ctx.request
    }

    /// The raw JSON text of the request's `body` (`"null"` when absent).
    pub fn body_json(&self) -> &str {
        self.ctx.request.body_json()
    }

    /// Whether the body may hold an integer beyond 64 bits: the generated
    /// dispatch then reads it the exact way. Not a public API.
    #[doc(hidden)]
    pub fn body_may_be_wide(&self) -> bool {
        self.ctx.request.body_may_be_wide()
    }

    /// Deserializes the body into `T`.
    pub fn body<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        Ok(self.ctx.request.body()?)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.ctx.peer_addr
    }

    /// How many responses were sent for this request so far.
    pub fn responses_sent(&self) -> usize {
        self.sent
    }

    /// Resolves when the shutting-down server stops accepting (after its
    /// [`Limits::shutdown_delay`]): long streams should end.
    pub fn shutdown_signal(&self) -> impl Future<Output = ()> + Send + 'static {
        self.shutdown.clone().cancelled_owned()
    }

    /// Whether the server is shutting down and no longer accepting.
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// Sends `{"code": code, "body": body}`.
    pub async fn send_response<B: Serialize + ?Sized>(
        &mut self,
        code: i64,
        body: &B,
    ) -> Result<(), Error> {
        start_frame(&mut self.scratch);
        serialize_into(&mut self.scratch, |out| append_response(out, code, body)).await?;
        self.send_scratch(code).await
    }

    /// Sends `{"code": 0, "body": {"<action>": value}}`, the shape toxiccore's
    /// `request2server` unwraps.
    pub async fn send_result<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let action = self.ctx.request.action().unwrap_or_default();
        start_frame(&mut self.scratch);
        serialize_into(&mut self.scratch, |out| append_result(out, action, value)).await?;
        self.send_scratch(0).await
    }

    async fn send_scratch(&mut self, code: i64) -> Result<(), Error> {
        let size = self.scratch.len().saturating_sub(HEADER_ROOM);
        if size > self.limits.max_answer_size {
            return self.refuse_large_answer(size).await;
        }
        let sent = self.write_scratch(code).await;
        // A large answer's buffers are not kept for the connection's next ones.
        if self.scratch.capacity() > INLINE_LIMIT {
            self.scratch = Vec::new();
        }
        if self.pending.capacity() > INLINE_LIMIT {
            self.pending = Vec::new();
        }
        sent
    }

    async fn write_scratch(&mut self, code: i64) -> Result<(), Error> {
        if self.sent == 0 && self.promise_keep_alive && self.keep_open {
            promise_keep_alive(&mut self.scratch);
        }
        self.first_code.get_or_insert(code);
        self.watch.frame_written();
        self.last_code = Some(code);
        self.sent += 1;
        if let Some(observer) = self.observer.as_deref_mut() {
            observer.on_response(&self.ctx, code);
        }
        let frame = finish_frame(&mut self.scratch);
        let out = if self.pending.is_empty() && !self.batch {
            frame
        } else {
            self.pending.extend_from_slice(frame);
            // The first answer of a batched request waits for the next ones;
            // anything else leaves now, with the answers before it.
            if self.batch && self.keep_open && self.sent == 1 && self.pending.len() < BATCH_BYTES {
                return Ok(());
            }
            &self.pending[..]
        };
        let keep_open = &mut self.keep_open;
        let limits = &self.limits;
        let result = {
            let io = &mut self.io;
            let write = async {
                let stream = io.get_mut();
                write_in_turns(stream, out).await?;
                stream.flush().await?;
                Ok(())
            };
            let mut write = std::pin::pin!(write);
            // Most responses fit in the socket's send buffer and leave on the
            // first poll: only a write that has to wait pays for a timer.
            let first = std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await;
            match first {
                Poll::Ready(result) => result,
                Poll::Pending => match tokio::time::timeout(limits.write_timeout, write).await {
                    Ok(result) => result,
                    Err(_) => {
                        *keep_open = false;
                        Err(Error::Timeout)
                    }
                },
            }
        };
        self.pending.clear();
        result
    }

    /// An answer of `size` bytes over [`Limits::max_answer_size`]: nothing
    /// of it is written; the client gets code 1 and the handler an error.
    #[cold]
    async fn refuse_large_answer(&mut self, size: usize) -> Result<(), Error> {
        let max = self.limits.max_answer_size;
        let action = self.ctx.request.action().unwrap_or_default().to_owned();
        tracing::warn!(peer = %self.ctx.peer_addr, ?action, size, max, "answer too large; not sent");
        let message =
            format!("the answer is too large ({size} bytes; the server sends at most {max})");
        self.scratch = Vec::new();
        start_frame(&mut self.scratch);
        serialize_into(&mut self.scratch, |out| {
            append_response(out, 1, &ErrorBody { error: &message })
        })
        .await?;
        self.write_scratch(1).await?;
        Err(Error::Handler(message))
    }

    /// Sends `{"code": code, "body": {"error": message}}`.
    pub async fn send_error(&mut self, code: i64, message: &str) -> Result<(), Error> {
        self.send_response(code, &ErrorBody { error: message })
            .await
    }

    /// Reads the peer's next message on this connection, if it sends one
    /// (`None` when it closes). Bounded by [`Limits::read_timeout`].
    pub async fn read_message(&mut self) -> Result<Option<Bytes>, Error> {
        match tokio::time::timeout(self.limits.read_timeout, self.io.next()).await {
            Err(_) => Err(Error::Timeout),
            Ok(None) => Ok(None),
            Ok(Some(frame)) => Ok(Some(frame?)),
        }
    }

    /// Closes the connection after this request instead of keeping it alive
    /// (call it before the first response: a client that asked for
    /// keep-alive is told in that response that the connection stays open;
    /// it will find the connection closed and use another).
    pub fn close(&mut self) {
        self.keep_open = false;
    }

    /// Closes the connection after this request, which deliberately gets no
    /// response (the client left, or the server is shutting down): the server
    /// does not warn about it.
    pub(crate) fn end_quietly(&mut self) {
        self.ended_quietly = true;
        self.keep_open = false;
    }

    /// Resolves when the client is gone (used while streaming, when the
    /// client has nothing more to send); bytes it sends meanwhile are read
    /// and dropped. Cancel-safe: select it against the next item, write,
    /// call it again.
    ///
    /// A half-close is not gone: a client that shut its write side still
    /// reads, and the stream goes on. After its FIN and a second without
    /// writing, the server writes one space (which TPP readers skip before a
    /// header) and a client that has closed its socket answers it with a
    /// reset, so a client that closed is noticed about a second later, and
    /// one that reset at once. A client
    /// whose host vanished is found by TCP keepalive (armed by the first
    /// call) within 25 s of silence. A stream that keeps writing also learns
    /// from its writes' errors, or from [`Limits::write_timeout`].
    pub async fn peer_gone(&mut self) -> &'static str {
        self.watch.arm_keepalive(self.io.get_ref().socket().tcp());
        self.watch.gone(&mut self.io, Input::Drop).await
    }
}

/// Most bytes of responses held back for one write.
const BATCH_BYTES: usize = 64 * 1024;

/// Writes the responses held back for a batch (see [`Connection::batch`]),
/// bounded by the write timeout.
pub(super) async fn flush_pending(
    io: &mut FramedRead<Stream, FrameCodec>,
    pending: &mut Vec<u8>,
    limits: &Limits,
) -> Result<(), Error> {
    if pending.is_empty() {
        return Ok(());
    }
    let write = async {
        let stream = io.get_mut();
        stream.write_all(pending).await?;
        stream.flush().await
    };
    let result = tokio::time::timeout(limits.write_timeout, write).await;
    pending.clear();
    match result {
        Ok(r) => Ok(r?),
        Err(_) => Err(Error::Timeout),
    }
}

/// Adds `"tpp_keep_alive":true` to the response object serialized in `buf`
/// (which ends with the object's `}`), telling the client that the
/// connection stays open for its next request.
fn promise_keep_alive(buf: &mut Vec<u8>) {
    if buf.last() == Some(&b'}') {
        buf.pop();
        buf.extend_from_slice(KEEP_ALIVE_PROMISE);
    }
}

const KEEP_ALIVE_PROMISE: &[u8] = br#","tpp_keep_alive":true}"#;

/// Empties `buf` and reserves the header room. A new connection's buffer
/// starts with room for a small response, so the serializer does not grow it
/// from a few bytes by doubling.
pub(super) fn start_frame(buf: &mut Vec<u8>) {
    buf.clear();
    buf.reserve(HEADER_ROOM + SMALL_RESPONSE);
    buf.resize(HEADER_ROOM, 0);
}

/// See [`start_frame`].
const SMALL_RESPONSE: usize = 256;

/// Writes the header of the payload that follows the header room; returns
/// the whole frame. (A response buffer starts with [`HEADER_ROOM`] bytes:
/// the payload is serialized after them, then the header is written right
/// before the payload, so a response leaves in one contiguous write.)
pub(super) fn finish_frame(buf: &mut [u8]) -> &[u8] {
    let len = buf.len().saturating_sub(HEADER_ROOM);
    let start = match buf.first_chunk_mut::<HEADER_ROOM>() {
        Some(room) => header_at_end(room, len),
        None => 0, // never: start_frame reserved the room
    };
    &buf[start..]
}

/// Writes one frame straight from `payload`, without copying it into the
/// codec's buffer (vectored: header and payload in one system call).
pub(super) async fn write_frame(
    io: &mut FramedRead<Stream, FrameCodec>,
    payload: &[u8],
) -> Result<(), Error> {
    let mut header = bytes::BytesMut::with_capacity(24);
    put_header(&mut header, payload.len());
    let stream = io.get_mut();
    let mut chained = header.chain(payload);
    stream.write_all_buf(&mut chained).await?;
    stream.flush().await?;
    Ok(())
}

impl Connection {
    /// The request reached the handler: no layer refused it.
    pub(super) fn observe_reached_handler(&mut self) {
        if let Some(o) = self.observer.as_deref_mut() {
            o.reached_handler = true;
        }
    }

    /// What follows are stream items (after the acknowledgement, if any).
    pub(crate) fn observe_stream(&mut self) {
        if let Some(o) = self.observer.as_deref_mut() {
            o.streaming = true;
        }
    }

    /// The action was not found: metrics label it `<unknown>`, so a peer
    /// cannot make one time series per name it invents.
    pub(crate) fn observe_unknown_action(&mut self) {
        if let Some(o) = self.observer.as_deref_mut() {
            o.unknown_action = true;
        }
    }
}
