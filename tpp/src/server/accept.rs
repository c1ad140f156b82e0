//! [`Server`]: the accept loop, the connection limit, graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn, Instrument};

use super::{
    builder::Tls, conn_loop::serve_connection, connection::write_frame, Handler, Limits,
    ServerBuilder, Shared,
};
use crate::error::Error;
use crate::frame::{FrameCodec, READ_BUFFER};
use crate::message::{write_response, ErrorBody};
use crate::transport::Stream;

/// A bound TPP server. Start it with [`serve`](Self::serve).
pub struct Server {
    pub(super) listener: TcpListener,
    pub(super) local_addr: SocketAddr,
    pub(super) shared: Arc<Shared>,
    pub(super) connections: Arc<Semaphore>,
    pub(super) shutdown: CancellationToken,
}

/// Stops a running server gracefully: it stops accepting, lets in-flight
/// requests finish (up to [`Limits::shutdown_grace`]), then `serve` returns.
#[derive(Debug, Clone)]
pub struct ShutdownHandle(pub(super) CancellationToken);

impl ShutdownHandle {
    /// Starts the shutdown.
    pub fn shutdown(&self) {
        self.0.cancel();
    }
}

impl Server {
    /// A builder with default [`Limits`], no TLS and no authenticator yet.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            auth: None,
            config_error: None,
            backlog: 4096,
            tls: Tls::None,
            limits: Limits::default(),
            layers: Vec::new(),
            metrics: false,
        }
    }

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
    /// shutdown handle is used, then shuts down gracefully.
    pub async fn serve_with_shutdown(
        self,
        handler: impl Handler,
        signal: impl Future<Output = ()> + Send,
    ) -> Result<(), Error> {
        let handler = Arc::new(handler);
        let tracker = TaskTracker::new();
        let busy_answers = Arc::new(Semaphore::new(64));
        // Cancelled when the shutdown grace period is over: drops what is left.
        let force_close = CancellationToken::new();
        let scheme = if self.shared.tls.is_some() {
            "tls"
        } else {
            "tcp"
        };
        info!(addr = %self.local_addr, scheme, "tpp server listening");
        let mut signal = std::pin::pin!(signal);
        loop {
            let accepted = tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => break,
                _ = &mut signal => break,
                accepted = self.listener.accept() => accepted,
            };
            let (tcp, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let Ok(permit) = self.connections.clone().try_acquire_owned() else {
                warn!(%peer, "connection limit reached; answering busy");
                if let Some(m) = &self.shared.metrics {
                    m.connections_refused.increment(1);
                }
                if let Ok(p) = busy_answers.clone().try_acquire_owned() {
                    let shared = self.shared.clone();
                    tracker.spawn(async move {
                        answer_busy(tcp, &shared).await;
                        drop(p);
                    });
                }
                continue;
            };
            let shared = self.shared.clone();
            let handler = handler.clone();
            let shutdown = self.shutdown.clone();
            let force = force_close.clone();
            tracker.spawn(async move {
                // Boxed: the task's own future stays a few words, so spawning
                // does not copy the whole connection state (Connection, the
                // handler's future) from the stack into the task.
                let span = crate::trace::connection_span(peer, shared.tls.is_some());
                if let Some(m) = &shared.metrics {
                    m.connections_accepted.increment(1);
                    m.connections_open.increment(1.0);
                }
                let metered = shared.clone();
                let connection =
                    Box::pin(serve_connection(tcp, peer, shared, handler, shutdown).instrument(span));
                tokio::select! {
                    _ = connection => {}
                    _ = force.cancelled() => debug!(%peer, "connection dropped after the grace period"),
                }
                if let Some(m) = &metered.metrics {
                    m.connections_open.decrement(1.0);
                }
                drop(permit);
            });
        }
        self.shutdown.cancel();
        drop(self.listener);
        tracker.close();
        info!(in_flight = tracker.len(), "tpp server shutting down");
        if tokio::time::timeout(self.shared.limits.shutdown_grace, tracker.wait())
            .await
            .is_err()
        {
            warn!(
                remaining = tracker.len(),
                "shutdown grace period over; dropping connections"
            );
            force_close.cancel();
            tracker.wait().await;
        }
        info!("tpp server stopped");
        Ok(())
    }
}

async fn answer_busy(tcp: TcpStream, shared: &Shared) {
    let limits = &shared.limits;
    let work = async {
        let stream = match &shared.tls {
            None => Stream::Tcp(tcp),
            Some(acceptor) => Stream::Tls(Box::new(acceptor.accept(tcp).await.ok()?.into())),
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
