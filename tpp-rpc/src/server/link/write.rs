//! The one write path of a server connection: a response is serialized into
//! the link's buffer behind room for its header, then leaves in one write,
//! after the answers held back for a batch (or joins them), bounded by the
//! write timeout.

use std::future::Future;
use std::task::Poll;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::Link;
use crate::server::large_answer::write_in_turns;
use crate::server::Error;
use crate::transport::Stream;
use crate::wire::frame::{finish_frame, start_frame, HEADER_ROOM};

/// Most bytes of responses held back for one write.
const BATCH_BYTES: usize = 64 * 1024;

/// What [`Link::write`] sends after the answers held back.
pub(super) enum Out<'a> {
    /// The response serialized in the link's buffer.
    Scratch,
    /// An already framed answer.
    Frame(&'a [u8]),
    /// Nothing more: the held-back answers only.
    Nothing,
}

impl Link {
    /// The buffer to serialize a response into (after [`HEADER_ROOM`]).
    pub(in crate::server) fn answer_buffer(&mut self) -> &mut Vec<u8> {
        start_frame(&mut self.scratch);
        &mut self.scratch
    }

    /// The same, in a new buffer (the old one may hold a large answer's room).
    pub(in crate::server) fn fresh_answer_buffer(&mut self) -> &mut Vec<u8> {
        self.scratch = Vec::new();
        self.answer_buffer()
    }

    /// The size of the response in the buffer, when it is over
    /// [`Limits::max_answer_size`](crate::Limits::max_answer_size).
    pub(in crate::server) fn oversized_answer(&self) -> Option<usize> {
        let size = self.scratch.len().saturating_sub(HEADER_ROOM);
        (size > self.shared.limits.max_answer_size).then_some(size)
    }

    /// Sends the response in the buffer, with code `code`: the first one
    /// of a request that was promised keep-alive says so; the first one of
    /// a batched request waits for the answers to the requests behind it.
    pub(in crate::server) async fn send_answer(&mut self, code: i64) -> Result<(), Error> {
        if self.sent == 0 && self.promise_keep_alive && self.keep_open {
            promise_keep_alive(&mut self.scratch);
        }
        self.first_code.get_or_insert(code);
        self.watch.frame_written();
        self.last_code = Some(code);
        self.sent += 1;
        let hold = self.batch && self.keep_open && self.sent == 1;
        let sent = self.write(Out::Scratch, hold).await;
        if let Err(Error::Timeout) = sent {
            self.keep_open = false;
        }
        // A large answer's buffers are kept for the connection's next
        // answers until it goes idle (`Link::release_buffers`).
        sent
    }

    /// Writes the answers held back for a batch.
    pub(super) async fn flush(&mut self) -> Result<(), Error> {
        self.write(Out::Nothing, false).await
    }

    /// Every byte a server connection sends goes through here (but for the
    /// single-space probes of peer_watch.rs). `out` leaves with the answers
    /// held back before it, in one write; with `hold`, it joins them instead
    /// while they stay under [`BATCH_BYTES`].
    pub(super) async fn write(&mut self, out: Out<'_>, hold: bool) -> Result<(), Error> {
        let frame = match out {
            Out::Scratch => {
                let start = finish_frame(&mut self.scratch);
                &self.scratch[start..]
            }
            Out::Frame(frame) => frame,
            Out::Nothing => &[],
        };
        let bytes = if self.pending.is_empty() && !hold {
            frame
        } else {
            self.pending.extend_from_slice(frame);
            if hold && self.pending.len() < BATCH_BYTES {
                return Ok(());
            }
            &self.pending[..]
        };
        if bytes.is_empty() {
            return Ok(());
        }
        let timeout = self.shared.limits.write_timeout;
        let written = write_bounded(self.io.get_mut(), bytes, timeout).await;
        self.pending.clear();
        written
    }
}

/// Writes and flushes `bytes` within `timeout`. Most responses fit in the
/// socket's send buffer and leave on the first poll: only a write that has
/// to wait pays for a timer.
async fn write_bounded(stream: &mut Stream, bytes: &[u8], timeout: Duration) -> Result<(), Error> {
    let write = async {
        write_in_turns(stream, bytes).await?;
        stream.flush().await?;
        Ok(())
    };
    let mut write = std::pin::pin!(write);
    let first = std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(result) => result,
        Poll::Pending => match tokio::time::timeout(timeout, write).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout),
        },
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
