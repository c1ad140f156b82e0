//! How a server connection ends: an answer to a peer that broke the
//! protocol, a prepared answer (the health probe's), or a close after the last
//! response that does not reset the peer's unread answers.

use std::time::Duration;

use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio_util::codec::FramedRead;

use super::connection::write_frame;
use super::Limits;
use crate::transport::Stream;
use crate::wire::frame::FrameCodec;
use crate::wire::message::write_response;

/// Sends an error to a peer that broke the protocol, then lets the caller close.
pub(super) async fn answer_and_close(
    io: &mut FramedRead<Stream, FrameCodec>,
    code: i64,
    body: &impl Serialize,
    limits: &Limits,
) {
    let mut out = Vec::new();
    if write_response(&mut out, code, body).is_ok() {
        let _ = tokio::time::timeout(limits.write_timeout, write_frame(io, &out)).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), io.get_mut().shutdown()).await;
}

/// Closes after the last response: our side first (so the server, not the
/// client, holds TIME_WAIT), then reads and drops whatever the client still
/// sends until it closes too, briefly. Closing with unread requests in the
/// socket would send a reset, and a reset can destroy responses the client
/// has not read yet (requests pipelined behind a stream or behind a request
/// that did not ask for keep-alive).
pub(super) async fn close_after_answering(io: &mut FramedRead<Stream, FrameCodec>) {
    let _ = tokio::time::timeout(Duration::from_secs(1), io.get_mut().shutdown()).await;
    let drain = async {
        let mut sink = [0u8; 4096];
        let stream = io.get_mut();
        while let Ok(n) = tokio::io::AsyncReadExt::read(stream, &mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// How long [`close_after_answering`] waits for the client's close.
const LINGER: Duration = Duration::from_secs(1);

/// Sends an already framed answer, then closes (the health probe's).
pub(super) async fn answer_frame_and_close(
    io: &mut FramedRead<Stream, FrameCodec>,
    frame: &[u8],
    limits: &Limits,
) {
    let write = async {
        let stream = io.get_mut();
        stream.write_all(frame).await?;
        stream.flush().await
    };
    let _ = tokio::time::timeout(limits.write_timeout, write).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), io.get_mut().shutdown()).await;
}
