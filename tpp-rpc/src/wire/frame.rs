//! Framing: `<decimal byte length>\n<payload>`, as a `tokio_util` codec.
//!
//! The decoder accepts the header forms Python's `int()` accepts in practice
//! (leading zeros, an optional `+`, surrounding spaces or tabs, a trailing
//! `\r`), rejects anything else, and checks the declared length against a
//! maximum before reading the payload. Memory is never reserved for bytes
//! that have not arrived: a payload's buffer starts at [`FIRST_CHUNK`] and
//! grows with the data (doubling, never past the declared length), so a peer
//! that declares 60 MB and sends 4 KiB costs 64 KiB, not 60 MB. A server's
//! decoder also charges each frame to the server's request memory budget
//! ([`Limits::request_memory`](crate::Limits::request_memory)).
//!
//! A server's decoder also scans a large request's envelope while the
//! request arrives: after each read, the scan goes on over the bytes read so
//! far and stops where they run out, so the validation of a 16 MiB body
//! keeps pace with its transfer instead of following it. What it finds goes
//! with the frame to the request's parse; what it cannot read (Python's
//! literals, an error), the parse reads whole, as for a small request.

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::wire::budget::{Charge, RequestBudget};
use crate::wire::message::{EnvelopeScan, Fields};

/// Default maximum payload size: 64 MiB.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 64 * 1024 * 1024;

/// Initial read buffer of a connection: small, so idle connections cost
/// little; it grows to the declared size of a larger frame in one step.
pub(crate) const READ_BUFFER: usize = 1024;

/// Requests from this size on are scanned while they arrive, when the
/// decoder is a server's ([`FrameCodec::scanning_requests`]): smaller ones
/// come in one or two reads, with nothing to overlap.
pub(crate) const SCAN_WHILE_ARRIVING: usize = 64 * 1024;

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
    /// On a server: requests of at least [`SCAN_WHILE_ARRIVING`] bytes
    /// have their envelope scanned as their bytes come in.
    scan_requests: bool,
    /// The scan of the payload being read, or of the one just decoded.
    scan: Option<Box<EnvelopeScan>>,
    /// On a server: the budget frames are charged to, and the charge of
    /// the frame being read or just decoded.
    budget: Option<Arc<RequestBudget>>,
    charge: Option<Charge>,
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
            scan_requests: false,
            scan: None,
            budget: None,
            charge: None,
        }
    }

    /// Charges every frame to `budget` from its header until the next
    /// frame's header (or the decoder's end); a frame the budget cannot take
    /// is refused with [`FrameError::OverBudget`].
    pub(crate) fn charging(mut self, budget: Arc<RequestBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// A server's decoder: a large request's envelope (and body) is scanned
    /// while the request arrives, between reads, instead of all at once
    /// after its last byte; [`take_scan`](Self::take_scan) hands the result
    /// over with the frame.
    pub(crate) fn scanning_requests(mut self) -> Self {
        self.scan_requests = true;
        self
    }

    /// The envelope of the frame just decoded, when it was scanned while it
    /// arrived and the fast scan could read it; `None` otherwise (the
    /// request is then scanned as a whole).
    pub(crate) fn take_scan(&mut self) -> Option<Fields> {
        match self.state {
            State::Header => self.scan.take()?.finish(),
            State::Payload(_) => None,
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
            // The request before this one has been answered.
            self.charge = None;
            if let Some(budget) = &self.budget {
                self.charge = budget
                    .charge(len)
                    .map_err(|()| FrameError::OverBudget { declared: len })?;
            }
            src.advance(pos + 1);
            // Room for what may come at once; more as it arrives.
            src.reserve(len.saturating_sub(src.len()).min(FIRST_CHUNK));
            self.state = State::Payload(len);
            self.scan = (self.scan_requests && len >= SCAN_WHILE_ARRIVING)
                .then(|| Box::new(EnvelopeScan::new()));
        }
        let State::Payload(len) = self.state else {
            return Ok(None);
        };
        if src.len() < len {
            if let Some(scan) = &mut self.scan {
                scan.advance(src, false);
            }
            // Grow with the data: double what has arrived, never past the
            // declared length (a no-op while there is room).
            src.reserve((len - src.len()).min(src.len().max(FIRST_CHUNK)));
            return Ok(None);
        }
        if let Some(scan) = &mut self.scan {
            scan.advance(&src[..len], true);
        }
        self.state = State::Header;
        Ok(Some(src.split_to(len).freeze()))
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

/// Writes the header of a `len`-byte payload.
pub(crate) fn put_header(dst: &mut BytesMut, len: usize) {
    let mut room = [0u8; HEADER_ROOM];
    let start = header_at_end(&mut room, len);
    dst.put_slice(&room[start..]);
}

/// Room for the longest header: 20 digits and `\n`.
pub(crate) const HEADER_ROOM: usize = MAX_HEADER_LEN + 1;

/// Writes the header of a `len`-byte payload at the end of `room` (its
/// [`HEADER_ROOM`] bytes); returns where the header starts.
pub(crate) fn header_at_end(room: &mut [u8; HEADER_ROOM], len: usize) -> usize {
    let mut i = HEADER_ROOM - 1;
    room[i] = b'\n';
    let mut n = len;
    loop {
        i -= 1;
        room[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return i;
        }
    }
}

impl Encoder<&[u8]> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, payload: &[u8], dst: &mut BytesMut) -> Result<(), FrameError> {
        dst.reserve(payload.len() + MAX_HEADER_LEN + 1);
        put_header(dst, payload.len());
        dst.put_slice(payload);
        Ok(())
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, payload: Bytes, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.encode(&payload[..], dst)
    }
}

/// Frames one payload into a new buffer: `b"2\n{}"` for `b"{}"`.
pub fn encode_frame(payload: &[u8]) -> Vec<u8> {
    let mut dst = BytesMut::with_capacity(payload.len() + MAX_HEADER_LEN + 1);
    put_header(&mut dst, payload.len());
    dst.put_slice(payload);
    dst.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `input` to a server's decoder `chunk` bytes at a time: each
    /// frame, with the envelope scanned while it arrived (if it was).
    fn decode_scanning(input: &[u8], chunk: usize) -> Vec<(Bytes, Option<Fields>)> {
        let mut codec = FrameCodec::new(1 << 24).scanning_requests();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in input.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(frame) = codec.decode(&mut buf).unwrap() {
                out.push((frame, codec.take_scan()));
            }
        }
        out
    }

    #[test]
    fn a_large_request_is_scanned_while_it_arrives() {
        use crate::wire::message::Request;
        let body = format!(
            r#"{{"log":"{}","n":[1,2.5,true,null]}}"#,
            "é\\n".repeat(30_000)
        );
        let big = format!(r#"{{"token":"t","action":"echo","body":{body}}}"#);
        let nan = format!(r#"{{"token":"t","action":"echo","body":[NaN,{body}]}}"#);
        let small = r#"{"token":"t","action":"echo","body":1}"#;
        let mut input = Vec::new();
        for payload in [big.as_str(), small, nan.as_str(), big.as_str()] {
            input.extend(encode_frame(payload.as_bytes()));
        }
        for chunk in [1000, 65_536, 100_003, input.len()] {
            let frames = decode_scanning(&input, chunk);
            assert_eq!(frames.len(), 4);
            // Scanned: the large request the fast scan reads; not: the small
            // one, and the one with Python's NaN (left to the full scan).
            let scanned: Vec<bool> = frames.iter().map(|(_, f)| f.is_some()).collect();
            assert_eq!(scanned, [true, false, false, true], "chunks of {chunk}");
            for (frame, fields) in frames {
                let whole = Request::parse(frame.clone()).unwrap();
                let read = Request::parse_scanned(frame, fields).unwrap();
                assert_eq!(read.token(), whole.token());
                assert_eq!(read.action(), whole.action());
                assert_eq!(read.body_json(), whole.body_json());
            }
        }
        // A client's decoder scans nothing.
        let mut codec = FrameCodec::new(1 << 24);
        let mut buf = BytesMut::from(&encode_frame(big.as_bytes())[..]);
        assert!(codec.decode(&mut buf).unwrap().is_some());
        assert!(codec.take_scan().is_none());
    }

    fn decode_all(codec: &mut FrameCodec, input: &[u8]) -> Result<Vec<Bytes>, FrameError> {
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(frame) = codec.decode(&mut buf)? {
            out.push(frame);
        }
        if let Some(frame) = codec.decode_eof(&mut buf)? {
            out.push(frame);
        }
        Ok(out)
    }

    #[test]
    fn header_forms_the_reference_accepts() {
        for h in ["48", " 48 ", "48\r", "0048", "+48", "\t48\t", " +48 \r"] {
            assert_eq!(parse_header(h.as_bytes()).unwrap(), 48, "{h:?}");
        }
        assert_eq!(parse_header(b"").unwrap(), 0);
        assert_eq!(parse_header(b"0").unwrap(), 0);
    }

    #[test]
    fn header_forms_we_refuse() {
        for h in [
            " ", "\r", "4 8", "0x10", "abc", "+", "++4", "4_8", "1e3", "\r48", "48\r\r", "4\u{0}8",
        ] {
            assert!(
                matches!(parse_header(h.as_bytes()), Err(FrameError::BadHeader(_))),
                "{h:?}"
            );
        }
        assert!(matches!(
            parse_header(b"-5"),
            Err(FrameError::NegativeLength(_))
        ));
        assert!(matches!(
            parse_header(b"99999999999999999999"),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn tells_when_a_whole_frame_is_buffered() {
        let codec = FrameCodec::new(10);
        assert!(codec.holds_whole_frame(b"2\n{}"));
        assert!(codec.holds_whole_frame(b"0\n"));
        assert!(codec.holds_whole_frame(b"002\n{}rest"));
        assert!(!codec.holds_whole_frame(b"2\n{"));
        assert!(!codec.holds_whole_frame(b"2"));
        assert!(!codec.holds_whole_frame(b""));
        assert!(!codec.holds_whole_frame(b" 2\n{}"));
        assert!(!codec.holds_whole_frame(b"11\n{}{}{}{}{}{}"));
        assert!(!codec.holds_whole_frame(b"99999999999999999999999\n"));
        let mut mid = FrameCodec::new(10);
        let mut buf = BytesMut::from(&b"4\n{}"[..]);
        assert!(mid.decode(&mut buf).unwrap().is_none());
        assert!(!mid.holds_whole_frame(b"2\n{}"));
    }

    #[test]
    fn decodes_frames_and_leaves_the_rest() {
        let mut codec = FrameCodec::default();
        let frames = decode_all(&mut codec, b"2\n{}0\n\n3\nabc").unwrap();
        assert_eq!(frames, vec![&b"{}"[..], b"", b"", b"abc"]);
    }

    #[test]
    fn too_large_is_refused_before_reading_the_payload() {
        let mut codec = FrameCodec::new(10);
        let mut buf = BytesMut::from(&b"11\n"[..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(FrameError::TooLarge {
                declared: 11,
                max: 10
            })
        ));
        let mut buf = BytesMut::from(&b"18446744073709551616\n"[..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn header_longer_than_20_bytes_is_refused_without_a_newline() {
        let mut codec = FrameCodec::default();
        let mut buf = BytesMut::from(&b"000000000000000000001"[..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(FrameError::HeaderTooLong)
        ));
    }

    #[test]
    fn spaces_before_headers_and_at_the_end_are_no_message() {
        let mut codec = FrameCodec::default();
        let frames = decode_all(&mut codec, b" 2\nab  1\nc \t").unwrap();
        assert_eq!(frames, [&b"ab"[..], &b"c"[..]]);
    }

    #[test]
    fn eof_mid_header_or_payload_is_truncated() {
        let mut codec = FrameCodec::default();
        assert!(matches!(
            decode_all(&mut codec, b"12"),
            Err(FrameError::Truncated { .. })
        ));
        let mut codec = FrameCodec::default();
        let mut input = b"100\n".to_vec();
        input.extend_from_slice(&[b'x'; 48]);
        assert!(matches!(
            decode_all(&mut codec, &input),
            Err(FrameError::Truncated {
                expected: 100,
                received: 48
            })
        ));
    }

    #[test]
    fn encodes_the_byte_length() {
        assert_eq!(encode_frame("é".as_bytes()), b"2\n\xc3\xa9");
        assert_eq!(encode_frame(b""), b"0\n");
        let mut dst = BytesMut::new();
        put_header(&mut dst, 1234567890);
        assert_eq!(&dst[..], b"1234567890\n");
    }

    proptest! {
        #[test]
        fn never_panics_on_random_bytes(input in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut codec = FrameCodec::new(1000);
            let _ = decode_all(&mut codec, &input);
        }

        #[test]
        fn round_trips_in_any_chunking(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..6),
            cuts in proptest::collection::vec(1usize..50, 0..20),
        ) {
            let mut wire = BytesMut::new();
            let mut codec = FrameCodec::new(1000);
            for p in &payloads {
                codec.encode(&p[..], &mut wire).unwrap();
            }
            let mut out = Vec::new();
            let mut buf = BytesMut::new();
            let mut rest = &wire[..];
            for cut in cuts.iter().chain(std::iter::repeat(&7)) {
                if rest.is_empty() { break; }
                let n = (*cut).min(rest.len());
                buf.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                while let Some(f) = codec.decode(&mut buf).unwrap() {
                    out.push(f.to_vec());
                }
            }
            prop_assert!(codec.decode_eof(&mut buf).unwrap().is_none());
            prop_assert_eq!(out, payloads);
        }
    }
}
