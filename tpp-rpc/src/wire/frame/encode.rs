//! Writing frames: the length header, and the codec's encoder.

use bytes::{BufMut, Bytes, BytesMut};
use tokio_util::codec::Encoder;

use super::{FrameCodec, FrameError, MAX_HEADER_LEN};

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
fn header_at_end(room: &mut [u8; HEADER_ROOM], len: usize) -> usize {
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

/// Empties `buf` and reserves the header room: the payload is serialized
/// after it, then [`finish_frame`] writes the header right before the
/// payload, so a frame is one contiguous buffer (one write, no copy). A new
/// buffer starts with room for a small payload, so the serializer does not
/// grow it from a few bytes by doubling.
pub(crate) fn start_frame(buf: &mut Vec<u8>) {
    buf.clear();
    buf.reserve(HEADER_ROOM + SMALL_PAYLOAD);
    buf.resize(HEADER_ROOM, 0);
}

/// See [`start_frame`].
const SMALL_PAYLOAD: usize = 256;

/// Writes the header of the payload that follows the header room of a buffer
/// begun with [`start_frame`]; returns where the frame starts in it.
pub(crate) fn finish_frame(buf: &mut [u8]) -> usize {
    let len = buf.len().saturating_sub(HEADER_ROOM);
    match buf.first_chunk_mut::<HEADER_ROOM>() {
        Some(room) => header_at_end(room, len),
        None => 0, // never: start_frame reserved the room
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
