//! Telling a client that half-closed (it still reads) from one that left.
//!
//! A FIN only says the client has nothing more to send: `nc -N` and
//! HTTP-style clients send it right after their request and still read the
//! whole answer, so a FIN ends nothing by itself. To learn whether the client
//! closed its socket altogether, the server then writes one space once
//! nothing else was written for a second (see [`FIRST_PROBE_GAP`]): a TPP
//! header may be preceded by spaces (the reference parses it with Python's
//! `int()`, tpp's decoder accepts them too), so a reading client takes it as
//! part of the next header, while a closed socket answers with a reset, which
//! shows as an error on ours. A client that half-closed and closed later
//! is found by the next probe (at most [`MAX_PROBES`] between two frames). A client whose host vanished (no FIN,
//! no reset) is found by TCP keepalive and `TCP_USER_TIMEOUT`, armed on
//! connections that wait for a long time (streams): see [`GONE_HOST_BOUND`].

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::FramedRead;

use super::request_codec::RequestCodec;
use crate::transport::Stream;

/// Silence before the first keepalive probe.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
/// Between unanswered keepalive probes.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// Unanswered probes before the connection is declared dead.
const KEEPALIVE_RETRIES: u32 = 3;

/// How long a connection whose client's host vanished can stay unnoticed
/// once keepalive is armed: the keepalive probes (10 s of silence, then 3
/// probes 5 s apart), or unacknowledged data for as long (`TCP_USER_TIMEOUT`).
pub(crate) const GONE_HOST_BOUND: Duration = Duration::from_secs(25);

/// Input kept while watching a connection whose request is still being
/// checked (a pipelining client's next requests); beyond it, reading stops.
const KEEP_LIMIT: usize = 64 * 1024;

/// What to do with bytes the client sends while it is watched.
#[derive(Debug, Clone, Copy)]
pub(super) enum Input {
    /// Keep them for the next request (up to [`KEEP_LIMIT`]).
    Keep,
    /// Drop them (the connection closes after the stream anyway).
    Drop,
}

/// Most probes written in a row between two frames: with the digits of a
/// length they stay under the 20-byte header limit of TPP decoders.
const MAX_PROBES: u32 = 6;

/// Silence (no frame written) after the FIN before the first probe; the
/// next ones follow at doubling gaps (2 s, 4 s, 8 s, 16 s, 32 s). A stream
/// that keeps writing is never probed (its writes are the probes), and a
/// probe rarely ends up after a stream's last frame (TPP decoders, tpp's
/// included, take trailing spaces at the end of the connection as its end).
const FIRST_PROBE_GAP: Duration = Duration::from_secs(1);

/// What a connection learned about its client's side.
#[derive(Debug, Default)]
pub(super) struct PeerWatch {
    /// The client sent its FIN.
    half_closed: bool,
    /// Probes written since the last frame.
    probes: u32,
    keepalive: bool,
}

impl PeerWatch {
    /// Arms TCP keepalive and `TCP_USER_TIMEOUT` (once per connection), so
    /// that a vanished host is found within [`GONE_HOST_BOUND`].
    /// Other transports have no host to lose.
    pub(super) fn arm_keepalive(&mut self, tcp: Option<&TcpStream>) {
        if std::mem::replace(&mut self.keepalive, true) {
            return;
        }
        let Some(tcp) = tcp else { return };
        let socket = socket2::SockRef::from(tcp);
        let keepalive = socket2::TcpKeepalive::new()
            .with_time(KEEPALIVE_IDLE)
            .with_interval(KEEPALIVE_INTERVAL);
        #[cfg(not(windows))]
        let keepalive = keepalive.with_retries(KEEPALIVE_RETRIES);
        let _ = socket.set_tcp_keepalive(&keepalive);
        #[cfg(target_os = "linux")]
        let _ = socket.set_tcp_user_timeout(Some(GONE_HOST_BOUND));
    }

    /// Resolves when the client is gone: it reset the connection, or closed
    /// it (a FIN followed by a reset to the probe), or its host stopped
    /// answering. A half-close alone never resolves it. Cancel-safe: drop it
    /// to write, then call it again.
    pub(super) async fn gone(
        &mut self,
        io: &mut FramedRead<Stream, RequestCodec>,
        input: Input,
    ) -> &'static str {
        let mut reading = true;
        loop {
            if self.half_closed {
                return self.probe_until_gone(io).await;
            }
            if !reading {
                return socket_error(io.get_ref()).await;
            }
            let mut buf = [0u8; 2048];
            match io.get_mut().read(&mut buf).await {
                Ok(0) => self.half_closed = true,
                Ok(n) => {
                    if let Input::Keep = input {
                        let kept = io.read_buffer_mut();
                        kept.extend_from_slice(&buf[..n]);
                        reading = kept.len() < KEEP_LIMIT;
                    }
                }
                Err(_) => return "reset",
            }
        }
    }

    /// A frame went out: the probes before it are behind it.
    pub(super) fn frame_written(&mut self) {
        self.probes = 0;
    }

    /// After the FIN: probes now and then (see [`FIRST_PROBE_GAP`]) until
    /// the socket shows an error.
    async fn probe_until_gone(
        &mut self,
        io: &mut FramedRead<Stream, RequestCodec>,
    ) -> &'static str {
        loop {
            if self.probes >= MAX_PROBES {
                return socket_error(io.get_ref()).await;
            }
            let gap = FIRST_PROBE_GAP * (1 << self.probes);
            tokio::select! {
                gone = socket_error(io.get_ref()) => return gone,
                _ = tokio::time::sleep(gap) => {}
            }
            if probe(io.get_mut()).await.is_err() {
                return "reset";
            }
            self.probes += 1;
        }
    }
}

/// Writes one space (see the module's docs).
async fn probe(stream: &mut Stream) -> std::io::Result<()> {
    stream.write_all(b" ").await?;
    stream.flush().await
}

/// Waits for an error on the socket (a reset, a keepalive or user timeout).
async fn socket_error(stream: &Stream) -> &'static str {
    stream.socket().error().await;
    "closed"
}
