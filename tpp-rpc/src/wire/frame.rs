//! Framing: `<decimal byte length>\n<payload>`, as a `tokio_util` codec.
//!
//! The decoder accepts the header forms Python's `int()` accepts in practice
//! (leading zeros, an optional `+`, surrounding spaces or tabs, a trailing
//! `\r`), rejects anything else, and checks the declared length against a
//! maximum before reading the payload. Memory is never reserved for bytes
//! that have not arrived: a payload's buffer starts at [`FIRST_CHUNK`] and
//! grows with the data (doubling, never past the declared length), so a peer
//! that declares 60 MB and sends 4 KiB costs 64 KiB, not 60 MB; once a large
//! frame has been taken out, its connection goes back to a small buffer
//! (4 KiB at most) instead of keeping the frame's. A server's
//! decoder also charges each frame to the server's request memory budget
//! ([`Limits::request_memory`](crate::Limits::request_memory)), and keeps a
//! large frame's buffer (from [`KEEP_FROM`], 128 KiB), still charged, for
//! the connection's next requests
//! until the server releases it ([`FrameCodec::release_buffer`]) once the
//! connection has been idle for a moment: a client sending large requests
//! one after another reuses one buffer instead of growing a new one for
//! each.
//!
//! (A server reads requests through a wrapper around this codec that also
//! scans a large request's envelope while it arrives.)

use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::Decoder;

use crate::wire::budget::{Charge, RequestBudget};

/// Default maximum payload size: 64 MiB.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 64 * 1024 * 1024;

/// Initial read buffer of a connection: small, so idle connections cost
/// little; it grows to the declared size of a larger frame in one step.
pub(crate) const READ_BUFFER: usize = 1024;

/// Largest read buffer a connection keeps once a frame has been taken out
/// of it. After a larger frame the rest of the buffer (the start of the
/// next frame, if any) moves to a fresh small one, at once or (on a server)
/// once the connection is idle.
pub(crate) const KEPT_BUFFER: usize = 4 * 1024;

/// Frames from this size on leave their buffer to the connection's next
/// frames when the codec is [keeping](FrameCodec::keeping_buffer) buffers.
/// Smaller ones' buffers come from the allocator's free lists at little
/// cost (shared by all connections, they stay in the CPU's caches, where
/// one kept per connection would not: measured slower at 64 KiB); glibc's
/// malloc maps larger ones afresh (from 128 KiB on, by default), and the
/// server paid for each in page faults.
pub(crate) const KEEP_FROM: usize = 128 * 1024;

/// What a payload's buffer reserves at first; beyond it, the buffer grows
/// as the bytes arrive.
pub const FIRST_CHUNK: usize = 64 * 1024;

/// Longest header accepted, not counting its `\n`. `u64::MAX` has 20 digits.
pub const MAX_HEADER_LEN: usize = 20;

/// Why a byte stream is not a valid sequence of TPP frames.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// More than [`MAX_HEADER_LEN`] bytes arrived without a `\n`.
    #[error("length header longer than {MAX_HEADER_LEN} bytes")]
    HeaderTooLong,
    /// The header is not a decimal length.
    #[error("length header is not a decimal number: {0:?}")]
    BadHeader(String),
    /// The header is a negative number (the reference reads until EOF; we refuse).
    #[error("negative length header: {0:?}")]
    NegativeLength(String),
    /// The declared length is larger than the configured maximum.
    #[error("frame of {declared} bytes exceeds the maximum of {max} bytes")]
    TooLarge {
        /// Length the peer declared.
        declared: u64,
        /// Configured maximum.
        max: usize,
    },
    /// The stream ended inside a header or a payload.
    #[error("connection closed mid-message ({received} of {expected} payload bytes received)")]
    Truncated {
        /// Payload bytes expected (0 when the header itself was cut).
        expected: usize,
        /// Payload bytes received.
        received: usize,
    },
    /// The server holds as many request bytes as its memory budget allows
    /// ([`Limits::request_memory`](crate::Limits::request_memory)); the
    /// frame was refused before its payload was read.
    #[error(
        "Server busy: a {declared}-byte request does not fit in the memory the server keeps \
         for requests now; try again later"
    )]
    OverBudget {
        /// Length the peer declared.
        declared: usize,
    },
    /// An I/O error from the underlying stream.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl FrameError {
    /// Whether the peer can still be sent an error response: true for
    /// protocol violations, false for I/O failures and truncated streams.
    pub fn is_answerable(&self) -> bool {
        !matches!(self, FrameError::Io(_) | FrameError::Truncated { .. })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Payload(usize),
}

/// The TPP frame codec. Decodes payloads as [`Bytes`]; encodes byte slices.
#[derive(Debug, Clone)]
pub struct FrameCodec {
    max_frame_size: usize,
    state: State,
    /// On a server: the budget frames are charged to, and the charge of
    /// the frame being read (it goes with the frame's bytes once decoded).
    budget: Option<Arc<RequestBudget>>,
    charge: Option<Charge>,
    /// Whether a large frame's buffer is kept for the next frames (see
    /// [`keeping_buffer`](Self::keeping_buffer)) rather than replaced at
    /// once by a small one.
    keep_buffer: bool,
    /// The buffer holds a large frame's allocation (kept: see `keep_buffer`).
    holds_large: bool,
    /// The charge of that frame, held while its allocation is.
    kept_charge: Option<Charge>,
}

impl Default for FrameCodec {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME_SIZE)
    }
}

impl FrameCodec {
    /// A codec that refuses payloads longer than `max_frame_size` bytes.
    pub fn new(max_frame_size: usize) -> Self {
        Self {
            max_frame_size,
            state: State::Header,
            budget: None,
            charge: None,
            keep_buffer: false,
            holds_large: false,
            kept_charge: None,
        }
    }

    /// Keeps a large frame's buffer (from [`KEEP_FROM`] bytes, and its
    /// charge) after the frame is taken out, for the next frames to reuse,
    /// until [`release_buffer`](Self::release_buffer) or a frame under
    /// [`KEEP_FROM`] bytes but over [`KEPT_BUFFER`].
    pub(crate) fn keeping_buffer(mut self) -> Self {
        self.keep_buffer = true;
        self
    }

    /// Whether the buffer holds a large frame's allocation, kept for the
    /// next frames: [`release_buffer`](Self::release_buffer) would free it.
    pub(crate) fn holds_large_buffer(&self) -> bool {
        self.holds_large
    }

    /// Between frames, moves what `src` holds (the start of the next frame,
    /// if any) to a small buffer of its own, so that a large frame's
    /// allocation kept for reuse is freed, and gives back its charge.
    /// Nothing changes while a frame is being read.
    pub(crate) fn release_buffer(&mut self, src: &mut BytesMut) {
        if self.state == State::Header && self.holds_large {
            move_to_small_buffer(src);
            self.holds_large = false;
            self.kept_charge = None;
        }
    }

    /// Charges every frame to `budget` from its header until the last
    /// handle to its decoded bytes is dropped; a frame the budget cannot
    /// take is refused with [`FrameError::OverBudget`].
    pub(crate) fn charging(mut self, budget: Arc<RequestBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The declared length of the payload being read, when its header has
    /// been decoded and the payload has not all arrived yet (what follows the
    /// header in the read buffer is the payload so far).
    pub(crate) fn awaiting_payload(&self) -> Option<usize> {
        match self.state {
            State::Header => None,
            State::Payload(len) => Some(len),
        }
    }

    /// The configured maximum payload size.
    pub fn max_frame_size(&self) -> usize {
        self.max_frame_size
    }

    /// Whether the decoder is between frames (no partial frame buffered).
    pub fn is_idle(&self) -> bool {
        self.state == State::Header
    }

    /// Whether `buf` (what follows the last decoded frame) starts with a
    /// whole frame that the next decode is sure to return: a plain decimal
    /// header within the limits, and the payload. Conservative: an unusual
    /// header (spaces, `+`, `\r`) answers false.
    pub(crate) fn holds_whole_frame(&self, buf: &[u8]) -> bool {
        if self.state != State::Header {
            return false;
        }
        let window = &buf[..buf.len().min(MAX_HEADER_LEN + 1)];
        let Some(nl) = window.iter().position(|b| *b == b'\n') else {
            return false;
        };
        let digits = &buf[..nl];
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return false;
        }
        let len = digits.iter().try_fold(0usize, |n, d| {
            n.checked_mul(10)?.checked_add(usize::from(d - b'0'))
        });
        matches!(len, Some(len) if len <= self.max_frame_size && buf.len() - nl > len)
    }
}

/// Parses a header (without its `\n`) the way the reference's `int()` does,
/// minus the forms we refuse.
pub(crate) fn parse_header(raw: &[u8]) -> Result<u64, FrameError> {
    let bad = || FrameError::BadHeader(String::from_utf8_lossy(raw).into_owned());
    let mut s = raw;
    if let [rest @ .., b'\r'] = s {
        s = rest;
    }
    let is_space = |b: &u8| *b == b' ' || *b == b'\t';
    while let [first, rest @ ..] = s {
        if !is_space(first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_space(last) {
            break;
        }
        s = rest;
    }
    if raw.is_empty() {
        return Ok(0); // a lone "\n": an empty message, like the reference
    }
    let digits = match s {
        [b'+', rest @ ..] => rest,
        [b'-', rest @ ..] if !rest.is_empty() && rest.iter().all(u8::is_ascii_digit) => {
            return Err(FrameError::NegativeLength(
                String::from_utf8_lossy(raw).into_owned(),
            ))
        }
        _ => s,
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let mut value: u64 = 0;
    for d in digits {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or(FrameError::TooLarge {
                declared: u64::MAX,
                max: 0,
            })?;
    }
    Ok(value)
}

impl Decoder for FrameCodec {
    type Item = Bytes;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        if let State::Header = self.state {
            let window = &src[..src.len().min(MAX_HEADER_LEN + 1)];
            let Some(pos) = window.iter().position(|b| *b == b'\n') else {
                if src.len() > MAX_HEADER_LEN {
                    return Err(FrameError::HeaderTooLong);
                }
                // Between frames: take back the room that the frames cut
                // from this buffer left (free once they are dropped), so the
                // next small frame comes in one read, not in two (the end of
                // the buffer, then the rest). Never allocates: while a frame
                // cut from it is held, the read takes what room is left.
                if src.is_empty() && src.capacity() < READ_BUFFER {
                    let _ = src.try_reclaim(READ_BUFFER);
                }
                return Ok(None);
            };
            let declared = parse_header(&src[..pos]).map_err(|e| match e {
                FrameError::TooLarge { declared, .. } => FrameError::TooLarge {
                    declared,
                    max: self.max_frame_size,
                },
                other => other,
            })?;
            let len = usize::try_from(declared)
                .ok()
                .filter(|len| *len <= self.max_frame_size)
                .ok_or(FrameError::TooLarge {
                    declared,
                    max: self.max_frame_size,
                })?;
            if let Some(budget) = &self.budget {
                // A kept buffer's charge makes way for the frame that will
                // use the buffer (once it is a frame that is charged).
                if len >= crate::wire::budget::CHARGED_FROM {
                    self.kept_charge = None;
                }
                self.charge = budget
                    .charge(len)
                    .map_err(|()| FrameError::OverBudget { declared: len })?;
            }
            src.advance(pos + 1);
            // Room for what may come at once; more as it arrives.
            src.reserve(len.saturating_sub(src.len()).min(FIRST_CHUNK));
            self.state = State::Payload(len);
        }
        let State::Payload(len) = self.state else {
            return Ok(None);
        };
        if src.len() < len {
            // Grow with the data: double what has arrived, never past the
            // declared length (a no-op while there is room).
            src.reserve((len - src.len()).min(src.len().max(FIRST_CHUNK)));
            return Ok(None);
        }
        self.state = State::Header;
        let frame = src.split_to(len).freeze();
        let charge = self.charge.take();
        if len > KEPT_BUFFER {
            if self.keep_buffer && len >= KEEP_FROM {
                // `src` goes on in the frame's allocation: once the frame is
                // dropped, the next one reclaims it whole.
                self.holds_large = true;
                if charge.is_some() {
                    self.kept_charge.clone_from(&charge);
                }
            } else {
                move_to_small_buffer(src);
                self.holds_large = false;
                self.kept_charge = None;
            }
        }
        // Charged for as long as its bytes are held, by whoever holds them.
        Ok(Some(match charge {
            Some(charge) => charge.attach(frame),
            None => frame,
        }))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() && self.state == State::Header => Ok(None),
            // Spaces a server wrote after its last frame (a probe of a
            // half-closed connection) are not a message.
            None if self.state == State::Header
                && src.iter().all(|b| matches!(b, b' ' | b'\t')) =>
            {
                src.clear();
                Ok(None)
            }
            None => {
                let (expected, received) = match self.state {
                    State::Payload(len) => (len, src.len()),
                    State::Header => (0, 0),
                };
                src.clear();
                self.state = State::Header;
                Err(FrameError::Truncated { expected, received })
            }
        }
    }
}

/// Moves what `src` holds to a small buffer of its own: left where it was,
/// it would keep a large frame's whole allocation alive, outside the request
/// memory budget, for as long as the connection stays open.
fn move_to_small_buffer(src: &mut BytesMut) {
    let mut rest = BytesMut::with_capacity(src.len().max(READ_BUFFER));
    rest.extend_from_slice(src);
    *src = rest;
}

mod encode;
#[cfg(test)]
mod tests;

pub use encode::encode_frame;
pub(crate) use encode::{finish_frame, put_header, start_frame, HEADER_ROOM};
