//! Feeds arbitrary bytes to the frame decoder, in arbitrary chunks, and
//! checks that every decoded frame re-encodes to the bytes it came from.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::{Decoder, Encoder};
use tpp_rpc::unstable::FrameCodec;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size, the rest is the stream.
    let Some((&chunk, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let mut codec = FrameCodec::new(4096);
    let mut buf = BytesMut::new();
    for piece in stream.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => {
                    assert!(frame.len() <= 4096);
                    let mut again = BytesMut::new();
                    FrameCodec::new(4096).encode(&frame[..], &mut again).unwrap();
                    let mut round = FrameCodec::new(4096);
                    assert_eq!(round.decode(&mut again).unwrap().as_deref(), Some(&frame[..]));
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    let _ = codec.decode_eof(&mut buf);
});
