//! [`Server`]: the accept loop, the connection limit, graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::closing::Ending;
use super::conn_loop::serve_connection;
use super::link::Link;
use super::listener::Listener;
use super::refusal::Refusal;
use super::{Handler, Shared};
use crate::server::ServerError;
use crate::transport::{Socket, Stream};

/// A bound TPP server. Start it with [`serve`](Self::serve).
pub struct Server {
    pub(super) listener: Listener,
    pub(super) local_addr: SocketAddr,
    pub(super) shared: Arc<Shared>,
    pub(super) connections: Arc<Semaphore>,
    pub(super) shutdown: CancellationToken,
}

/// Stops a running server gracefully, in the order
/// [`Server::serve_with_shutdown`] describes: health action failing, the
/// [`Limits::shutdown_delay`](crate::Limits::shutdown_delay), the accept queue emptied and the listener
/// closed, in-flight requests finished (up to [`Limits::shutdown_grace`](crate::Limits::shutdown_grace)),
/// then `serve` returns.
#[derive(Debug, Clone)]
pub struct ShutdownHandle(pub(super) CancellationToken);

impl ShutdownHandle {
    /// Starts the shutdown.
    pub fn shutdown(&self) {
        self.0.cancel();
    }
}

impl Server {
    /// The address the server listens on (with the real port when bound to
    /// port 0); `0.0.0.0:0` for a Unix domain socket (see
    /// [`unix_path`](Self::unix_path)).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The socket file, when the server listens on a Unix domain socket
    /// ([`ServerBuilder::bind_unix`](super::ServerBuilder::bind_unix)).
    #[cfg(unix)]
    pub fn unix_path(&self) -> Option<&std::path::Path> {
        match &self.listener {
            Listener::Unix(_, file) => Some(file.path()),
            Listener::Tcp(_) => None,
        }
    }

    /// A handle that stops the server from another task.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.shutdown.clone())
    }

    /// Serves until the shutdown handle is used.
    pub async fn serve(self, handler: impl Handler) -> Result<(), ServerError> {
        self.serve_with_shutdown(handler, std::future::pending())
            .await
    }

    /// Serves until `signal` resolves (e.g. `tokio::signal::ctrl_c()`) or the
    /// shutdown handle is used, then shuts down gracefully, in the order a
    /// load balancer needs, each step logged at `info`:
    ///
    /// 1. the health action (if enabled) starts failing;
    /// 2. for [`Limits::shutdown_delay`](crate::Limits::shutdown_delay) the server still accepts and serves;
    /// 3. it takes every connection already waiting in the kernel's accept
    ///    queue (so none is reset unanswered), then closes the listener;
    /// 4. requests already received are served and streams end, for up to
    ///    [`Limits::shutdown_grace`](crate::Limits::shutdown_grace); what is left is dropped;
    /// 5. `serve_with_shutdown` returns.
    pub async fn serve_with_shutdown(
        self,
        handler: impl Handler,
        signal: impl Future<Output = ()> + Send,
    ) -> Result<(), ServerError> {
        let admission = Admission::new(
            Arc::new(handler),
            self.shared.clone(),
            self.connections.clone(),
        );
        let limits = &self.shared.limits;
        let scheme = if self.shared.tls.is_some() {
            "tls"
        } else {
            "tcp"
        };
        match self.unix_path_display() {
            Some(path) => info!(path, scheme, "tpp server listening on a Unix socket"),
            None => info!(addr = %self.local_addr, scheme, "tpp server listening"),
        }
        let signal = async {
            tokio::select! {
                _ = self.shutdown.cancelled() => {}
                _ = signal => {}
            }
        };
        accept_until(&self.listener, &admission, signal).await;
        let grace = limits.shutdown_grace;
        self.stop_accepting(&admission).await;
        admission.finish(grace).await;
        Ok(())
    }

    /// Shutdown steps 1 to 3 of [`serve_with_shutdown`](Self::serve_with_shutdown):
    /// the health action fails, the delay passes (still accepting), the
    /// connections queued in the kernel are taken and the listener closed.
    async fn stop_accepting<H: Handler>(self, admission: &Admission<H>) {
        self.shutdown.cancel();
        self.shared.draining_now.store(true, Ordering::Release);
        self.shared.draining.cancel();
        let delay = self.shared.limits.shutdown_delay;
        info!(
            ?delay,
            health_check = self.shared.health.is_some(),
            "shutdown started: health check failing; still accepting for the delay"
        );
        if !delay.is_zero() {
            accept_until(&self.listener, admission, tokio::time::sleep(delay)).await;
        }
        let queued = self
            .listener
            .drain(|socket, peer| admission.admit(socket, peer));
        info!(
            queued,
            "listener closed after taking the connections queued in the kernel"
        );
    }
}

impl Server {
    fn unix_path_display(&self) -> Option<String> {
        #[cfg(unix)]
        return self.unix_path().map(|p| p.display().to_string());
        #[cfg(not(unix))]
        None
    }
}

/// What the accept loop needs to start serving one connection.
pub(super) struct Admission<H> {
    handler: Arc<H>,
    shared: Arc<Shared>,
    connections: Arc<Semaphore>,
    tracker: TaskTracker,
    busy_answers: Arc<Semaphore>,
    /// Cancelled once the listener is closed: idle connections close, streams end.
    closing: CancellationToken,
    /// Cancelled when the shutdown grace period is over: drops what is left.
    force_close: CancellationToken,
}

impl<H: Handler> Admission<H> {
    pub(super) fn new(handler: Arc<H>, shared: Arc<Shared>, connections: Arc<Semaphore>) -> Self {
        Admission {
            handler,
            shared,
            connections,
            tracker: TaskTracker::new(),
            busy_answers: Arc::new(Semaphore::new(64)),
            closing: CancellationToken::new(),
            force_close: CancellationToken::new(),
        }
    }

    /// Shutdown step 4: idle connections close and streams end; requests
    /// already received are served for up to `grace`, then what is left is
    /// dropped.
    async fn finish(&self, grace: Duration) {
        self.shared.closing_now.store(true, Ordering::Release);
        self.closing.cancel();
        let tracker = &self.tracker;
        tracker.close();
        info!(
            in_flight = tracker.len(),
            ?grace,
            "waiting for in-flight requests and streams"
        );
        let waited = Instant::now();
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            warn!(
                remaining = tracker.len(),
                "shutdown grace period over; dropping connections"
            );
            self.force_close.cancel();
            tracker.wait().await;
        }
        info!(took = ?waited.elapsed(), "tpp server stopped");
    }

    pub(super) fn admit(&self, socket: Socket, peer: SocketAddr) {
        let Ok(permit) = self.connections.clone().try_acquire_owned() else {
            warn!(%peer, "connection limit reached; answering busy");
            if let Some(m) = &self.shared.metrics {
                m.connection_refused();
            }
            if let Ok(p) = self.busy_answers.clone().try_acquire_owned() {
                let shared = self.shared.clone();
                self.tracker.spawn(async move {
                    answer_busy(socket, peer, &shared).await;
                    drop(p);
                });
            }
            return;
        };
        let shared = self.shared.clone();
        let handler = self.handler.clone();
        let closing = self.closing.clone();
        let force = self.force_close.clone();
        self.tracker.spawn(async move {
            // Boxed: the task's own future stays a few words, so spawning
            // does not copy the whole connection state (Connection, the
            // handler's future) from the stack into the task.
            if let Some(m) = &shared.metrics {
                m.connection_opened();
            }
            let metered = shared.clone();
            let connection = Box::pin(serve_connection(socket, peer, shared, handler, closing));
            tokio::select! {
                _ = connection => {}
                _ = force.cancelled() => debug!(%peer, "connection dropped after the grace period"),
            }
            if let Some(m) = &metered.metrics {
                m.connection_closed();
            }
            drop(permit);
        });
    }
}

/// Accepts and admits connections until `stop` resolves.
async fn accept_until<H: Handler>(
    listener: &Listener,
    admission: &Admission<H>,
    stop: impl Future<Output = ()>,
) {
    let mut stop = std::pin::pin!(stop);
    loop {
        let accepted = tokio::select! {
            biased;
            _ = &mut stop => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((socket, peer)) => admission.admit(socket, peer),
            Err(e) => {
                // Out of file descriptors and the like: back off, keep serving.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// Answers "Server busy" to a connection over the limit, and closes it.
async fn answer_busy(socket: Socket, peer: SocketAddr, shared: &Arc<Shared>) {
    let work = async {
        let stream = match &shared.tls {
            None => Stream::Plain(socket),
            Some(acceptor) => acceptor.accept(socket).await.ok()?,
        };
        let mut link = Link::new(stream, peer, shared, CancellationToken::new());
        link.end(Ending::Refused(Refusal::Busy)).await;
        Some(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), work).await;
}
