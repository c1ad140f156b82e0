//! Opening a connection to the server: over TCP, the host name is resolved
//! once, and again only after a connection attempt failed (the server may
//! have moved); or to a Unix domain socket; or to a server in this process.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpStream;

use super::ClientError;
use crate::transport::{InProcess, Socket};

/// A server reached without TCP.
#[derive(Clone)]
pub(crate) enum Local {
    /// A Unix domain socket's path.
    #[cfg(unix)]
    Unix(std::path::PathBuf),
    /// A server in this process.
    InProcess(InProcess),
}

/// Where the server is, and its resolved addresses once known.
pub(super) struct Addresses {
    /// Set when the server is not reached over TCP (then `host` and `port`
    /// are unused).
    local: Option<Local>,
    host: String,
    port: u16,
    /// `host:port`, for messages.
    pub(super) display: String,
    resolved: Mutex<Option<Arc<[SocketAddr]>>>,
    /// Calls to the resolver so far (what the tests below count).
    lookups: AtomicUsize,
}

impl Addresses {
    pub(super) fn new(host: String, port: u16) -> Addresses {
        let display = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Addresses {
            local: None,
            host,
            port,
            display,
            resolved: Mutex::new(None),
            lookups: AtomicUsize::new(0),
        }
    }

    /// A server reached without TCP.
    pub(super) fn local(local: Local) -> Addresses {
        let display = match &local {
            #[cfg(unix)]
            Local::Unix(path) => format!("unix:{}", path.display()),
            Local::InProcess(_) => "in-process".to_owned(),
        };
        Addresses {
            local: Some(local),
            host: String::new(),
            port: 0,
            display,
            resolved: Mutex::new(None),
            lookups: AtomicUsize::new(0),
        }
    }

    /// Connects to the server (to the first address that accepts, in the
    /// resolver's order), giving each address at most `per_address`, so one
    /// that never answers does not use up the call's whole timeout.
    pub(super) async fn connect(&self, per_address: Duration) -> Result<Socket, ClientError> {
        match &self.local {
            None => self.connect_tcp(per_address).await.map(Socket::Tcp),
            #[cfg(unix)]
            Some(Local::Unix(path)) => {
                match tokio::time::timeout(per_address, tokio::net::UnixStream::connect(path)).await
                {
                    Ok(Ok(unix)) => Ok(Socket::Unix(unix)),
                    Ok(Err(e)) => Err(self.connect_error(e)),
                    Err(_) => Err(self.connect_error(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no answer within {per_address:?} (connect_timeout)"),
                    ))),
                }
            }
            Some(Local::InProcess(server)) => server.connect().map_err(|e| self.connect_error(e)),
        }
    }

    async fn connect_tcp(&self, per_address: Duration) -> Result<TcpStream, ClientError> {
        let addrs = self.resolve().await?;
        let mut last = None;
        for addr in addrs.iter() {
            match tokio::time::timeout(per_address, TcpStream::connect(addr)).await {
                Ok(Ok(tcp)) => {
                    let _ = tcp.set_nodelay(true);
                    return Ok(tcp);
                }
                Ok(Err(e)) => last = Some(e),
                Err(_) => {
                    last = Some(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("{addr} did not answer within {per_address:?} (connect_timeout)"),
                    ))
                }
            }
        }
        // Resolve again next time.
        if let Ok(mut resolved) = self.resolved.lock() {
            *resolved = None;
        }
        Err(self.connect_error(
            last.unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address")),
        ))
    }

    async fn resolve(&self) -> Result<Arc<[SocketAddr]>, ClientError> {
        if let Some(addrs) = self.resolved.lock().ok().and_then(|r| r.clone()) {
            return Ok(addrs);
        }
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let found: Arc<[SocketAddr]> = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|e| self.connect_error(e))?
            .collect();
        if found.is_empty() {
            return Err(self.connect_error(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the host name has no address",
            )));
        }
        if let Ok(mut resolved) = self.resolved.lock() {
            *resolved = Some(found.clone());
        }
        Ok(found)
    }

    fn connect_error(&self, source: std::io::Error) -> ClientError {
        ClientError::Connect {
            addr: self.display.clone(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn lookups(a: &Addresses) -> usize {
        a.lookups.load(Ordering::Relaxed)
    }

    async fn bounded<F: std::future::Future>(f: F) -> F::Output {
        tokio::time::timeout(Duration::from_secs(10), f)
            .await
            .expect("timed out")
    }

    #[tokio::test]
    async fn a_host_name_is_resolved_once_and_again_only_after_a_failed_connect() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let addresses = Addresses::new("localhost".to_owned(), port);
        for _ in 0..3 {
            // On hosts where localhost is also ::1, that attempt may be refused
            // first; the IPv4 one then accepts.
            bounded(addresses.connect_tcp(SECOND)).await.unwrap();
            let _ = bounded(listener.accept()).await.unwrap();
        }
        assert_eq!(
            lookups(&addresses),
            1,
            "resolved once for three connections"
        );
        drop(listener);
        // The failed attempt uses the known addresses, then forgets them...
        assert!(bounded(addresses.connect_tcp(SECOND)).await.is_err());
        assert_eq!(lookups(&addresses), 1);
        // ...so the next attempt asks the resolver again, and so on.
        assert!(bounded(addresses.connect_tcp(SECOND)).await.is_err());
        assert_eq!(lookups(&addresses), 2);
    }
}
