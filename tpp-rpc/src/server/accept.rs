//! [`Server`]: the accept loop, the connection limit, graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::{conn_loop::serve_connection, connection::write_frame, Handler, Shared};
use crate::server::Error;
use crate::transport::Stream;
use crate::wire::frame::{FrameCodec, READ_BUFFER};
use crate::wire::message::{write_response, ErrorBody};

/// A bound TPP server. Start it with [`serve`](Self::serve).
pub struct Server {
    pub(super) listener: TcpListener,
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
    /// The address the server listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle that stops the server from another task.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.shutdown.clone())
    }

    /// Serves until the shutdown handle is used.
    pub async fn serve(self, handler: impl Handler) -> Result<(), Error> {
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
    ) -> Result<(), Error> {
        let admission = Admission {
            handler: Arc::new(handler),
            shared: self.shared.clone(),
            connections: self.connections.clone(),
            tracker: TaskTracker::new(),
            busy_answers: Arc::new(Semaphore::new(64)),
            closing: CancellationToken::new(),
            force_close: CancellationToken::new(),
        };
        let limits = &self.shared.limits;
        let scheme = if self.shared.tls.is_some() {
            "tls"
        } else {
            "tcp"
        };
        info!(addr = %self.local_addr, scheme, "tpp server listening");
        let signal = async {
            tokio::select! {
                _ = self.shutdown.cancelled() => {}
                _ = signal => {}
            }
        };
        accept_until(&self.listener, &admission, signal).await;
        self.shutdown.cancel();
        self.shared.draining.cancel();
        let delay = limits.shutdown_delay;
        info!(
            ?delay,
            health_check = self.shared.health.is_some(),
            "shutdown started: health check failing; still accepting for the delay"
        );
        if !delay.is_zero() {
            accept_until(&self.listener, &admission, tokio::time::sleep(delay)).await;
        }
        let queued = drain_accept_queue(self.listener, &admission);
        info!(
            queued,
            "listener closed after taking the connections queued in the kernel"
        );
        admission.closing.cancel();
        let tracker = &admission.tracker;
        tracker.close();
        let grace = limits.shutdown_grace;
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
            admission.force_close.cancel();
            tracker.wait().await;
        }
        info!(took = ?waited.elapsed(), "tpp server stopped");
        Ok(())
    }
}

/// What the accept loop needs to start serving one connection.
struct Admission<H> {
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
    fn admit(&self, tcp: TcpStream, peer: SocketAddr) {
        let _ = tcp.set_nodelay(true);
        let Ok(permit) = self.connections.clone().try_acquire_owned() else {
            warn!(%peer, "connection limit reached; answering busy");
            if let Some(m) = &self.shared.metrics {
                m.connection_refused();
            }
            if let Ok(p) = self.busy_answers.clone().try_acquire_owned() {
                let shared = self.shared.clone();
                self.tracker.spawn(async move {
                    answer_busy(tcp, &shared).await;
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
            let connection = Box::pin(serve_connection(tcp, peer, shared, handler, closing));
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
    listener: &TcpListener,
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
            Ok((tcp, peer)) => admission.admit(tcp, peer),
            Err(e) => {
                // Out of file descriptors and the like: back off, keep serving.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// Admits every connection the kernel has already completed, without
/// waiting for more, then closes the listener: closing it resets the ones
/// still queued. Returns how many were taken.
///
/// Real `accept` calls until `WouldBlock`: tokio's own accept only tries
/// once the reactor has seen the listener readable, and the last
/// connections may have arrived after that.
fn drain_accept_queue<H: Handler>(listener: TcpListener, admission: &Admission<H>) -> usize {
    let std_listener = listener
        .into_std()
        .and_then(|l| l.set_nonblocking(true).map(|()| l));
    let listener = match std_listener {
        Ok(l) => l,
        Err(e) => {
            warn!(error = %e, "cannot empty the accept queue");
            return 0;
        }
    };
    let mut taken = 0;
    let mut errors = 0;
    // Bounded: a persistent error (out of file descriptors) must not spin.
    while errors < 16 {
        match listener.accept() {
            Ok((std_stream, peer)) => {
                let tcp = std_stream
                    .set_nonblocking(true)
                    .and_then(|()| TcpStream::from_std(std_stream));
                match tcp {
                    Ok(tcp) => {
                        taken += 1;
                        admission.admit(tcp, peer);
                    }
                    Err(e) => warn!(%peer, error = %e, "cannot serve a queued connection"),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => {
                errors += 1;
                warn!(error = %e, "accept failed while emptying the accept queue");
            }
        }
    }
    taken
}

async fn answer_busy(tcp: TcpStream, shared: &Shared) {
    let limits = &shared.limits;
    let work = async {
        let stream = match &shared.tls {
            None => Stream::Tcp(tcp),
            Some(acceptor) => acceptor.accept(tcp).await.ok()?,
        };
        let mut io =
            FramedRead::with_capacity(stream, FrameCodec::new(limits.max_frame_size), READ_BUFFER);
        let mut out = Vec::new();
        write_response(
            &mut out,
            1,
            &ErrorBody {
                error: "Server busy",
            },
        )
        .ok()?;
        write_frame(&mut io, &out).await.ok()?;
        io.get_mut().shutdown().await.ok()
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), work).await;
}
