//! [`Socket`]: the byte pipe under a connection, TCP, a Unix domain socket
//! or an in-memory duplex (in-process clients), with the few socket-level
//! operations the server and client need.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, Interest, ReadBuf};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;

/// What a connection runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// TCP.
    Tcp,
    /// A Unix domain socket.
    Unix,
    /// An in-memory duplex inside one process (no socket).
    InProcess,
}

/// The byte pipe under a connection.
#[derive(Debug)]
pub enum Socket {
    /// TCP.
    Tcp(TcpStream),
    /// A Unix domain socket.
    #[cfg(unix)]
    Unix(UnixStream),
    /// An in-memory duplex (in-process client and server).
    Memory(DuplexStream),
}

macro_rules! each {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            Socket::Tcp($s) => $e,
            #[cfg(unix)]
            Socket::Unix($s) => $e,
            Socket::Memory($s) => $e,
        }
    };
}

impl Socket {
    /// The TCP stream, if this is TCP.
    pub fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Socket::Tcp(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn tcp_mut(&mut self) -> Option<&mut TcpStream> {
        match self {
            Socket::Tcp(s) => Some(s),
            _ => None,
        }
    }

    /// What this socket is.
    pub fn transport(&self) -> Transport {
        match self {
            Socket::Tcp(_) => Transport::Tcp,
            #[cfg(unix)]
            Socket::Unix(_) => Transport::Unix,
            Socket::Memory(_) => Transport::InProcess,
        }
    }

    /// Resolves when the socket shows an error (a reset, a keepalive or user
    /// timeout). An in-memory duplex has no error state: its closing shows
    /// as the end of reads and failed writes instead, so this never resolves.
    pub(crate) async fn error(&self) {
        match self {
            Socket::Tcp(s) => {
                let _ = s.ready(Interest::ERROR).await;
            }
            #[cfg(unix)]
            Socket::Unix(s) => {
                let _ = s.ready(Interest::ERROR).await;
            }
            Socket::Memory(_) => std::future::pending().await,
        }
    }

    /// Whether the peer closed or sent something, without waiting. A byte
    /// may be consumed on the transports that cannot peek (in-memory): a
    /// connection found so is discarded anyway.
    pub(crate) fn closed_or_readable(&mut self) -> bool {
        let mut probe = [0u8; 1];
        let mut buf = ReadBuf::new(&mut probe);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        // Ready(Ok(0)): the server closed; Ready(Ok(n)): unasked bytes;
        // Ready(Err): reset. Pending: open and quiet, as it should be.
        match self {
            Socket::Tcp(s) => s.poll_peek(&mut cx, &mut buf).is_ready(),
            // No poll_peek on tokio's Unix stream: a non-blocking MSG_PEEK
            // (through try_io, so a stale readiness is cleared).
            #[cfg(unix)]
            Socket::Unix(s) => {
                let mut byte = [std::mem::MaybeUninit::<u8>::uninit()];
                let s = &*s;
                let peeked = s.try_io(Interest::READABLE, || {
                    socket2::SockRef::from(s).peek(&mut byte)
                });
                !matches!(peeked, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
            Socket::Memory(s) => Pin::new(s).poll_read(&mut cx, &mut buf).is_ready(),
        }
    }
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each!(self.get_mut(), s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Socket {
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
