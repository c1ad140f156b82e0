//! A [`Stream`] split into a reading and a writing half that two tasks use at
//! once. A plain TCP or Unix socket splits into the socket's own halves, which
//! share nothing; `tokio::io::split` (for TLS and in-memory streams) puts the
//! whole stream behind a lock that the reader and the writer then take on
//! every poll, and contend for when they run on different threads.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::tcp;
#[cfg(unix)]
use tokio::net::unix;

use super::{Socket, Stream};

/// The reading half of a split [`Stream`].
pub(crate) enum ReadHalf {
    Tcp(tcp::OwnedReadHalf),
    #[cfg(unix)]
    Unix(unix::OwnedReadHalf),
    Shared(tokio::io::ReadHalf<Stream>),
}

/// The writing half of a split [`Stream`].
pub(crate) enum WriteHalf {
    Tcp(tcp::OwnedWriteHalf),
    #[cfg(unix)]
    Unix(unix::OwnedWriteHalf),
    Shared(tokio::io::WriteHalf<Stream>),
}

impl Stream {
    /// The stream's two halves, lock-free where the socket allows it.
    pub(crate) fn split(self) -> (ReadHalf, WriteHalf) {
        match self {
            Stream::Plain(Socket::Tcp(s)) => {
                let (r, w) = s.into_split();
                (ReadHalf::Tcp(r), WriteHalf::Tcp(w))
            }
            #[cfg(unix)]
            Stream::Plain(Socket::Unix(s)) => {
                let (r, w) = s.into_split();
                (ReadHalf::Unix(r), WriteHalf::Unix(w))
            }
            other => {
                let (r, w) = tokio::io::split(other);
                (ReadHalf::Shared(r), WriteHalf::Shared(w))
            }
        }
    }
}

macro_rules! each_half {
    ($self:expr, $Half:ident, $s:ident => $e:expr) => {
        match $self {
            $Half::Tcp($s) => $e,
            #[cfg(unix)]
            $Half::Unix($s) => $e,
            $Half::Shared($s) => $e,
        }
    };
}

impl AsyncRead for ReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each_half!(self.get_mut(), ReadHalf, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for WriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each_half!(self.get_mut(), WriteHalf, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each_half!(self.get_mut(), WriteHalf, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        each_half!(self, WriteHalf, s => s.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_half!(self.get_mut(), WriteHalf, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_half!(self.get_mut(), WriteHalf, s => Pin::new(s).poll_shutdown(cx))
    }
}
