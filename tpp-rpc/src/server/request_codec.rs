//! How a server reads requests: the TPP frame codec, plus a scan of a large
//! request's envelope while the request arrives. After each read the scan
//! goes on over the bytes read so far and stops where they run out, so the
//! validation of a 16 MiB body keeps pace with its transfer instead of
//! following it. What it finds comes out with the frame and goes to the
//! request's parse; what it cannot read (Python's literals, an error), the
//! parse reads whole, as for a small request.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;

use crate::transport::MAX_READ;
use crate::wire::frame::{FrameCodec, FrameError};
use crate::wire::message::{BadData, EnvelopeScan, Fields, Request};

/// Requests from this size on are scanned while they arrive: smaller ones
/// come in one or two reads, with nothing to overlap.
const SCAN_WHILE_ARRIVING: usize = 64 * 1024;

/// One request's frame, and its envelope when it was scanned while it
/// arrived and the fast scan could read it.
pub(super) struct RequestFrame {
    pub(super) bytes: Bytes,
    /// Boxed: only large requests have one, and every frame is moved
    /// through the codec's layers, so an inline envelope would be copied
    /// with each small one.
    pub(super) scan: Option<Box<Fields>>,
}

impl RequestFrame {
    /// The request, parsed once (from the scan, when there is one).
    pub(super) fn parse(self) -> Result<Request, BadData> {
        Request::parse_scanned(self.bytes, self.scan.map(|scan| *scan))
    }
}

/// A server's decoder: frames (charged to the request memory budget, if
/// any), each with its envelope scan.
#[derive(Debug)]
pub(super) struct RequestCodec {
    frames: FrameCodec,
    /// The scan of the large payload being read.
    scan: Option<Box<EnvelopeScan>>,
}

impl RequestCodec {
    pub(super) fn new(frames: FrameCodec) -> Self {
        Self { frames, scan: None }
    }

    /// Whether the decoder is between frames (no partial frame buffered).
    pub(super) fn is_idle(&self) -> bool {
        self.frames.is_idle()
    }

    /// Whether the read buffer holds a large frame's allocation, kept for
    /// the next requests.
    pub(super) fn holds_large_buffer(&self) -> bool {
        self.frames.holds_large_buffer()
    }

    /// Frees the large frame's allocation kept in `buf`, between frames.
    pub(super) fn release_buffer(&mut self, buf: &mut BytesMut) {
        self.frames.release_buffer(buf);
    }

    /// Whether `buf` starts with a whole frame the next decode is sure to
    /// return (see [`FrameCodec`]'s own).
    pub(super) fn holds_whole_frame(&self, buf: &[u8]) -> bool {
        self.frames.holds_whole_frame(buf)
    }

    /// Goes with what the frame codec decoded: a frame gets its scan; a
    /// large payload still arriving is scanned as far as it has come.
    fn with_scan(
        &mut self,
        decoded: Result<Option<Bytes>, FrameError>,
        src: &BytesMut,
    ) -> Result<Option<RequestFrame>, FrameError> {
        let decoded = decoded.inspect_err(|_| self.scan = None)?;
        if let Some(bytes) = decoded {
            let scan = self.scan.take().and_then(|mut scan| {
                scan.advance(&bytes, true);
                scan.finish().map(Box::new)
            });
            return Ok(Some(RequestFrame { bytes, scan }));
        }
        match self.frames.awaiting_payload() {
            Some(len) if len >= SCAN_WHILE_ARRIVING => self
                .scan
                .get_or_insert_with(|| Box::new(EnvelopeScan::new()))
                .advance(src, false),
            _ => self.scan = None,
        }
        Ok(None)
    }
}

impl Decoder for RequestCodec {
    type Item = RequestFrame;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<RequestFrame>, FrameError> {
        let decoded = self.frames.decode(src);
        let frame = self.with_scan(decoded, src);
        if let Ok(None) = frame {
            offer_one_read(src);
        }
        frame
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<RequestFrame>, FrameError> {
        let decoded = self.frames.decode_eof(src);
        self.with_scan(decoded, src)
    }
}

/// Before the next read: leaves `src` room for one read of [`MAX_READ`] at
/// most. The transport zeroes the room of a read into more (it cannot
/// offer uninitialized memory to a smaller read without `unsafe`); a large
/// request's buffer, or one kept from a large request, would otherwise cost
/// every read a 64 KiB `memset`. The room cut off stays in the buffer's
/// allocation: the next `reserve` takes it back without copying, once the
/// allocation is the buffer's alone (the previous frame was dropped).
fn offer_one_read(src: &mut BytesMut) {
    if src.capacity() - src.len() > MAX_READ {
        drop(src.split_off(src.len() + MAX_READ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::frame::{encode_frame, MAX_HEADER_LEN};

    /// Feeds `input` to a server's decoder `chunk` bytes at a time.
    fn decode_scanning(input: &[u8], chunk: usize) -> Vec<RequestFrame> {
        let mut codec = RequestCodec::new(FrameCodec::new(1 << 24));
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in input.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(frame) = codec.decode(&mut buf).unwrap() {
                out.push(frame);
            }
        }
        out
    }

    #[test]
    fn a_large_request_is_scanned_while_it_arrives() {
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
            // Scanned: the large request the fast scan reads, when it came
            // in more than one read; not: the small one, and the one with
            // Python's NaN (left to the full scan).
            let scanned: Vec<bool> = frames.iter().map(|f| f.scan.is_some()).collect();
            let whole_at_once = chunk == input.len();
            assert_eq!(
                scanned,
                [!whole_at_once, false, false, !whole_at_once],
                "chunks of {chunk}"
            );
            for frame in frames {
                let whole = Request::parse(frame.bytes.clone()).unwrap();
                let read = frame.parse().unwrap();
                assert_eq!(read.token(), whole.token());
                assert_eq!(read.action(), whole.action());
                assert_eq!(read.body_json(), whole.body_json());
            }
        }
    }

    #[test]
    fn a_truncated_request_leaves_no_scan_behind() {
        let big = format!(
            r#"{{"token":"t","action":"echo","body":"{}"}}"#,
            "a".repeat(70_000)
        );
        let framed = encode_frame(big.as_bytes());
        let mut codec = RequestCodec::new(FrameCodec::new(1 << 24));
        let mut buf = BytesMut::from(&framed[..40_000]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert!(codec.scan.is_some());
        assert!(codec.decode_eof(&mut buf).is_err());
        assert!(codec.scan.is_none() && codec.is_idle());
    }

    #[test]
    fn reads_are_offered_one_reads_room_in_a_buffer_that_is_kept() {
        let payload = format!(
            r#"{{"token":"t","action":"echo","body":"{}"}}"#,
            "a".repeat(1 << 20)
        );
        let framed = encode_frame(payload.as_bytes());
        let mut codec = RequestCodec::new(FrameCodec::new(1 << 24).keeping_buffer());
        let mut buf = BytesMut::new();
        let mut allocations = Vec::new();
        for _ in 0..3 {
            let mut frames = Vec::new();
            for chunk in framed.chunks(MAX_READ) {
                // As FramedRead does before each read.
                buf.reserve(1);
                assert!(buf.capacity() - buf.len() <= MAX_READ);
                buf.extend_from_slice(chunk);
                frames.extend(codec.decode(&mut buf).unwrap());
            }
            let frame = frames.pop().unwrap();
            assert!(frames.is_empty() && frame.scan.is_some());
            allocations.push(frame.bytes.as_ptr() as usize);
        }
        // The first request's buffer serves the next ones.
        assert!(allocations[1].abs_diff(allocations[0]) <= MAX_HEADER_LEN);
        assert_eq!(allocations[2], allocations[1]);
    }
}
