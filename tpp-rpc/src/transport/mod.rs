//! One byte stream type for every transport (TCP, Unix domain sockets, an
//! in-memory duplex), plain or TLS, client or server side, and the TLS
//! handshakes that make one (the `tls` feature; without it no TLS stream can
//! exist and the handshake types are empty).

mod memory;
#[cfg(not(feature = "tls"))]
mod no_tls;
#[cfg(feature = "tls")]
mod peer_cert;
mod socket;
mod split;
#[cfg(feature = "tls")]
pub mod tls;

pub use memory::InProcess;
#[cfg(not(feature = "tls"))]
pub(crate) use no_tls::{Acceptor, Connector, TlsName};
#[cfg(feature = "tls")]
pub use peer_cert::PeerCertificate;
pub use socket::{Socket, Transport};
pub(crate) use split::{ReadHalf, WriteHalf};
#[cfg(feature = "tls")]
pub(crate) use tls::{Acceptor, Connector, TlsName};

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection on any [`Socket`], plain or wrapped in TLS.
#[derive(Debug)]
pub enum Stream {
    /// No TLS.
    Plain(Socket),
    /// TLS over the socket (boxed: a TLS session is large and most servers
    /// hold many connections of one kind).
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::TlsStream<Socket>>),
}

impl From<Socket> for Stream {
    fn from(socket: Socket) -> Self {
        Stream::Plain(socket)
    }
}

impl Stream {
    /// The socket under the (TLS) stream.
    pub fn socket(&self) -> &Socket {
        match self {
            Stream::Plain(s) => s,
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.get_ref().0,
        }
    }

    /// Whether the stream is TLS.
    pub fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return matches!(self, Stream::Tls(_));
        #[cfg(not(feature = "tls"))]
        false
    }
}

macro_rules! each {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            Stream::Plain($s) => $e,
            #[cfg(feature = "tls")]
            Stream::Tls($s) => $e,
        }
    };
}

/// Most bytes one read takes, however much room its buffer has. (A read
/// into more room zeroes this much of it first: the server's request
/// decoder offers no more than this, so that its reads need not.)
pub(crate) const MAX_READ: usize = 64 * 1024;

/// Bytes read that cost the task one unit of tokio's cooperative budget
/// (128 units a turn): a task that reads more than 128 KiB in one turn
/// yields to the others.
const BYTES_PER_BUDGET_UNIT: usize = 1024;

impl Stream {
    fn poll_read_inner(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

/// Reads are fair between connections: a read takes at most 64 KiB
/// and costs its task budget in proportion to what it read, so a
/// connection whose peer sends megabytes at once (and whose bytes the
/// server scans as they arrive) hands the worker thread to the others every
/// 128 KiB or so, instead of reading and scanning all of them first.
impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let (result, read) = if buf.remaining() <= MAX_READ {
            let before = buf.filled().len();
            let result = this.poll_read_inner(cx, buf);
            (result, buf.filled().len() - before)
        } else {
            // Only large buffers (a large request growing): zeroing 64 KiB
            // costs far less than the bytes' scan.
            let mut limited = ReadBuf::new(buf.initialize_unfilled_to(MAX_READ));
            let result = this.poll_read_inner(cx, &mut limited);
            let read = limited.filled().len();
            buf.advance(read);
            (result, read)
        };
        for _ in 0..read / BYTES_PER_BUDGET_UNIT {
            match tokio::task::coop::poll_proceed(cx) {
                Poll::Ready(progress) => progress.made_progress(),
                // Spent: the next read yields (the task is already woken).
                Poll::Pending => break,
            }
        }
        result
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each!(self.get_mut(), s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each!(self.get_mut(), s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        each!(self, s => s.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self.get_mut(), s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self.get_mut(), s => Pin::new(s).poll_shutdown(cx))
    }
}

/// A TLS configuration problem: unreadable PEM, no certificate, bad key…
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(pub(crate) String);
