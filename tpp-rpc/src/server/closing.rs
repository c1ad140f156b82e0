//! How a server connection ends: [`Ending`] says what is left to write
//! (the link writes it), and the closes that follow, one of which does not
//! reset the peer's unread answers.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;

use super::refusal::Refusal;
use crate::transport::Stream;

/// How a connection ends, decided by the reads, the checks or the last
/// request; [`Link::end`](super::link::Link::end) carries it out.
pub(super) enum Ending {
    /// Nothing to write: the client closed, left or went silent, or the
    /// read failed.
    Drop,
    /// The last request was answered: the answers held back leave, then a
    /// close that lets the client read them all ([`close_after_answering`]).
    Answered,
    /// A request refused before its handler: its answer from the table in
    /// refusal.rs, then the close.
    Refused(Refusal),
    /// A health probe: its prepared answer, then the close.
    Probe(Bytes),
}

impl From<Refusal> for Ending {
    fn from(refusal: Refusal) -> Self {
        Ending::Refused(refusal)
    }
}

/// Shuts our side down after a last answer, briefly.
pub(super) async fn shut_down(stream: &mut Stream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
}

/// Closes after the last response: our side first (so the server, not the
/// client, holds TIME_WAIT), then reads and drops whatever the client still
/// sends until it closes too, briefly. Closing with unread requests in the
/// socket would send a reset, and a reset can destroy responses the client
/// has not read yet (requests pipelined behind a stream or behind a request
/// that did not ask for keep-alive).
pub(super) async fn close_after_answering(stream: &mut Stream) {
    shut_down(stream).await;
    let drain = async {
        let mut sink = [0u8; 4096];
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
