//! [`Link`]: the one owner of a server connection's socket. It reads the
//! frames (read.rs), writes every byte the server sends on the connection
//! through one path (write.rs), and applies the keep-alive, batching and
//! close rules between requests (here). Checks and handlers never touch the
//! socket: checks return what to answer, handlers answer through
//! [`Connection`](super::Connection), which holds the link.

mod read;
mod write;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use super::closing::{close_after_answering, shut_down, Ending};
use super::peer_watch::PeerWatch;
use super::request_codec::RequestCodec;
use super::Shared;
use crate::transport::Stream;
use crate::wire::frame::{FrameCodec, READ_BUFFER};
use crate::wire::message::{append_response, ErrorBody};

pub(super) use read::{ReadClock, SHUTDOWN_READ_GRACE};

/// Answer buffers larger than this are freed once the connection is idle
/// (smaller ones stay for the connection's life).
const LARGE_ANSWER_BUFFER: usize = crate::server::large_answer::INLINE_LIMIT;

/// The socket of one server connection and everything that decides what is
/// written on it.
pub(super) struct Link {
    io: FramedRead<Stream, RequestCodec>,
    /// The client (the one a PROXY header names, behind a balancer).
    peer: SocketAddr,
    shared: Arc<Shared>,
    /// Cancelled once the server stops accepting: nothing more is kept alive.
    shutdown: CancellationToken,
    /// The response being serialized, behind room for its header.
    scratch: Vec<u8>,
    /// Responses not written yet (see `batch`), in order.
    pending: Vec<u8>,
    /// The current request's responses so far.
    sent: usize,
    first_code: Option<i64>,
    last_code: Option<i64>,
    /// The request ended without a response on purpose (a stream whose client left, or
    /// that shutdown ended, before its first item): nothing to warn about.
    ended_quietly: bool,
    keep_open: bool,
    /// The request asked for keep-alive and the server allows it: the first
    /// response carries `"tpp_keep_alive": true`.
    promise_keep_alive: bool,
    /// More requests are already buffered: the first response to this one
    /// waits in `pending` to leave with theirs, in one write.
    batch: bool,
    watch: PeerWatch,
}

impl Link {
    pub(super) fn new(
        stream: Stream,
        peer: SocketAddr,
        shared: &Arc<Shared>,
        shutdown: CancellationToken,
    ) -> Link {
        let mut frames = FrameCodec::new(shared.limits.max_frame_size).keeping_buffer();
        if let Some(budget) = &shared.budget {
            frames = frames.charging(budget.clone());
        }
        let codec = RequestCodec::new(frames);
        Link {
            io: FramedRead::with_capacity(stream, codec, READ_BUFFER),
            peer,
            shared: shared.clone(),
            shutdown,
            scratch: Vec::new(),
            pending: Vec::new(),
            sent: 0,
            first_code: None,
            last_code: None,
            ended_quietly: false,
            keep_open: true,
            promise_keep_alive: false,
            batch: false,
            watch: PeerWatch::default(),
        }
    }

    pub(super) fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub(super) fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Whether the server is closing its connections (the `shutdown`
    /// token's state, read without its lock).
    pub(super) fn closing_now(&self) -> bool {
        self.shared.closing_now.load(Ordering::Acquire)
    }

    pub(super) fn max_answer_size(&self) -> usize {
        self.shared.limits.max_answer_size
    }

    /// A request passed its checks: its answers start from nothing.
    /// Closing after a unary response is the reference's behaviour; only a
    /// client that asks (`"tpp_keep_alive": true`) gets the connection kept.
    /// Once shutdown starts, nothing more is promised, so clients move
    /// (through a balancer, to another replica) after their next answer.
    pub(super) fn begin_request(&mut self, wants_keep_alive: bool) {
        self.sent = 0;
        self.first_code = None;
        self.promise_keep_alive = self.shared.limits.keep_alive
            && wants_keep_alive
            && !self.shared.draining_now.load(Ordering::Acquire);
        // Requests already waiting behind this one: its answer leaves with
        // theirs, in one write (as Redis does), instead of one write each.
        self.batch = self.promise_keep_alive && self.holds_whole_frame();
        self.last_code = None;
        self.ended_quietly = false;
    }

    /// How many responses were sent for this request so far.
    pub(super) fn sent(&self) -> usize {
        self.sent
    }

    pub(super) fn first_code(&self) -> Option<i64> {
        self.first_code
    }

    pub(super) fn last_code(&self) -> Option<i64> {
        self.last_code
    }

    pub(super) fn ended_quietly(&self) -> bool {
        self.ended_quietly
    }

    /// Closes the connection after this request.
    pub(super) fn close(&mut self) {
        self.keep_open = false;
    }

    /// Closes after this request, which deliberately gets no response.
    pub(super) fn end_quietly(&mut self) {
        self.ended_quietly = true;
        self.keep_open = false;
    }

    /// The request's work was dropped because its client left: nothing is
    /// answered and the connection closes (client_watch.rs).
    pub(super) fn cancel_request(&mut self) {
        self.watch.cancelled = true;
        self.end_quietly();
    }

    /// Whether [`cancel_request`](Self::cancel_request) was called.
    pub(super) fn cancelled(&self) -> bool {
        self.watch.cancelled
    }

    /// After a request: `None` to read the next one on this connection, or
    /// how the connection ends. A connection is kept for one unary answer
    /// that promised it; the answers held back for a batch leave once no
    /// further request is waiting.
    pub(super) async fn after_request(&mut self) -> Option<Ending> {
        let reusable =
            self.promise_keep_alive && self.keep_open && self.sent == 1 && !self.closing_now();
        if !reusable {
            return Some(Ending::Answered);
        }
        if !self.holds_whole_frame() && self.flush().await.is_err() {
            return Some(Ending::Drop);
        }
        None
    }

    /// Whether the connection keeps a large request's or answer's buffer
    /// for its next requests (freed by [`release_buffers`](Self::release_buffers)).
    fn holds_large_buffers(&self) -> bool {
        self.io.decoder().holds_large_buffer()
            || self.scratch.capacity() > LARGE_ANSWER_BUFFER
            || self.pending.capacity() > LARGE_ANSWER_BUFFER
    }

    /// Frees the large buffers kept since the last large request or answer:
    /// the connection went idle.
    fn release_buffers(&mut self) {
        let mut buf = std::mem::take(self.io.read_buffer_mut());
        self.io.decoder_mut().release_buffer(&mut buf);
        *self.io.read_buffer_mut() = buf;
        if self.scratch.capacity() > LARGE_ANSWER_BUFFER {
            self.scratch = Vec::new();
        }
        if self.pending.capacity() > LARGE_ANSWER_BUFFER {
            self.pending = Vec::new();
        }
    }

    fn holds_whole_frame(&self) -> bool {
        self.io.decoder().holds_whole_frame(self.io.read_buffer())
    }

    /// Ends the connection: the answers held back leave first, then the
    /// last answer (if any), then the close.
    pub(super) async fn end(&mut self, ending: Ending) {
        match ending {
            Ending::Drop => {}
            Ending::Answered => {
                let _ = self.flush().await;
                close_after_answering(self.io.get_mut()).await;
            }
            Ending::Refused(refusal) => {
                refusal.record(self.peer, &self.shared);
                let (code, message) = refusal.answer();
                crate::wire::frame::start_frame(&mut self.scratch);
                let body = ErrorBody { error: &message };
                if append_response(&mut self.scratch, code, &body).is_ok() {
                    let _ = self.write(write::Out::Scratch, false).await;
                }
                shut_down(self.io.get_mut()).await;
            }
            Ending::Probe(answer) => {
                self.answer_probe(answer).await;
            }
        }
    }

    async fn answer_probe(&mut self, answer: Bytes) {
        let _ = self.write(write::Out::Frame(&answer), false).await;
        shut_down(self.io.get_mut()).await;
    }
}
