//! What a [`Server`](super::Server) accepts on: a TCP listener or a Unix
//! domain socket (its file created safely and removed when the server stops).

use std::io;
use std::net::SocketAddr;
#[cfg(unix)]
use std::path::{Path, PathBuf};

use tokio::net::TcpListener;
#[cfg(unix)]
use tokio::net::UnixListener;

use crate::transport::Socket;

/// The address given to peers that have none (Unix sockets, in-process).
pub(super) const NO_ADDR: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::UNSPECIFIED,
    0,
));

pub(super) enum Listener {
    Tcp(TcpListener),
    #[cfg(unix)]
    Unix(UnixListener, SocketFile),
}

impl Listener {
    pub(super) async fn accept(&self) -> io::Result<(Socket, SocketAddr)> {
        match self {
            Listener::Tcp(l) => {
                let (tcp, peer) = l.accept().await?;
                let _ = tcp.set_nodelay(true);
                Ok((Socket::Tcp(tcp), peer))
            }
            #[cfg(unix)]
            Listener::Unix(l, _) => {
                let (unix, _) = l.accept().await?;
                Ok((Socket::Unix(unix), NO_ADDR))
            }
        }
    }

    /// Takes every connection the kernel has already completed, without
    /// waiting for more, then closes the listener (which resets the ones
    /// still queued). Returns how many were taken.
    ///
    /// Real `accept` calls until `WouldBlock`: tokio's own accept only tries
    /// once the reactor has seen the listener readable, and the last
    /// connections may have arrived after that.
    pub(super) fn drain(self, mut admit: impl FnMut(Socket, SocketAddr)) -> usize {
        let mut accept: Box<dyn FnMut() -> io::Result<(Socket, SocketAddr)>> = match self {
            Listener::Tcp(l) => {
                let l = match l
                    .into_std()
                    .and_then(|l| l.set_nonblocking(true).map(|()| l))
                {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot empty the accept queue");
                        return 0;
                    }
                };
                Box::new(move || {
                    let (s, peer) = l.accept()?;
                    s.set_nonblocking(true)?;
                    let tcp = tokio::net::TcpStream::from_std(s)?;
                    let _ = tcp.set_nodelay(true);
                    Ok((Socket::Tcp(tcp), peer))
                })
            }
            #[cfg(unix)]
            Listener::Unix(l, file) => {
                let l = match l
                    .into_std()
                    .and_then(|l| l.set_nonblocking(true).map(|()| l))
                {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot empty the accept queue");
                        return 0;
                    }
                };
                Box::new(move || {
                    let _keep = &file; // removed once the listener is closed
                    let (s, _) = l.accept()?;
                    s.set_nonblocking(true)?;
                    Ok((Socket::Unix(tokio::net::UnixStream::from_std(s)?), NO_ADDR))
                })
            }
        };
        let mut taken = 0;
        let mut errors = 0;
        // Bounded: a persistent error (out of file descriptors) must not spin.
        while errors < 16 {
            match accept() {
                Ok((socket, peer)) => {
                    taken += 1;
                    admit(socket, peer);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    errors += 1;
                    tracing::warn!(error = %e, "accept failed while emptying the accept queue");
                }
            }
        }
        taken
    }
}

/// A Unix socket file this server created: removed when the server stops,
/// unless something else has replaced it meanwhile.
#[cfg(unix)]
pub(super) struct SocketFile {
    path: PathBuf,
    id: (u64, u64),
}

#[cfg(unix)]
impl SocketFile {
    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(unix)]
impl Drop for SocketFile {
    fn drop(&mut self) {
        if file_id(&self.path).ok() == Some(self.id) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(unix)]
fn file_id(path: &Path) -> io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path)?;
    Ok((meta.dev(), meta.ino()))
}

/// Binds a Unix domain socket at `path` with `backlog`. A file already
/// there is removed only if it is a socket nobody accepts on (left by a
/// server that crashed); a live socket or any other file is an error.
/// `mode` (e.g. `0o660`) is set on the file before the first accept.
#[cfg(unix)]
pub(super) fn bind_unix(path: &Path, backlog: u32, mode: Option<u32>) -> io::Result<Listener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ))
        }
        Ok(_) => match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("a server is already listening on {}", path.display()),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                tracing::info!(path = %path.display(), "removing a stale socket file");
                std::fs::remove_file(path)?;
            }
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot tell whether {} is in use: {e}", path.display()),
                ))
            }
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let socket = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)?;
    socket.bind(&socket2::SockAddr::unix(path)?)?;
    let file = SocketFile {
        path: path.to_owned(),
        id: file_id(path)?,
    };
    if let Some(mode) = mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    socket.set_nonblocking(true)?;
    let listener = UnixListener::from_std(std::os::unix::net::UnixListener::from(
        std::os::fd::OwnedFd::from(socket),
    ))?;
    Ok(Listener::Unix(listener, file))
}
