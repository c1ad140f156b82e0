//! One connection from accept to close: the PROXY header and the TLS
//! handshake, then requests one after another (keep-alive) until the
//! connection ends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::closing::Ending;
use super::connection::Connection;
use super::context::Context;
use super::link::{Link, ReadClock, SHUTDOWN_READ_GRACE};
use super::observe::Observer;
use super::pipeline::{check_request, serve_request, Checked};
use super::{Handler, Shared};
use crate::transport::{Socket, Stream};
use crate::wire::message::Request;

pub(super) async fn serve_connection<H: Handler>(
    socket: Socket,
    peer: SocketAddr,
    shared: Arc<Shared>,
    handler: Arc<H>,
    shutdown: CancellationToken,
) {
    let started = Instant::now();
    // One deadline from accept to the first whole request: the PROXY header,
    // the TLS handshake and the first frame share it.
    let first_deadline = tokio::time::Instant::now() + shared.limits.first_request_timeout;
    let Some(mut conn) = open(socket, peer, &shared, &shutdown, first_deadline).await else {
        return;
    };
    // One timer and one shutdown waiter for the whole connection, not one per request.
    let timer = tokio::time::sleep_until(first_deadline);
    let cancelled = shutdown.cancelled_owned();
    tokio::pin!(timer, cancelled);
    let mut clock = ReadClock::new(first_deadline, timer.as_mut(), cancelled.as_mut());
    let ending = serve_requests(&mut conn, &mut clock, &shared, &*handler).await;
    conn.link().end(ending).await;
    debug!(peer = %conn.peer_addr(), duration = ?started.elapsed(), "connection closed");
}

/// Serves requests until the connection ends; says how it ends.
async fn serve_requests<H: Handler>(
    conn: &mut Connection,
    clock: &mut ReadClock<'_>,
    shared: &Shared,
    handler: &H,
) -> Ending {
    loop {
        let frame = match conn.link().next_frame(clock).await {
            Ok(frame) => frame,
            Err(ending) => return ending,
        };
        // Timed only for the debug log.
        let started = tracing::enabled!(tracing::Level::DEBUG).then(Instant::now);
        let checked = match check_request(frame, shared) {
            Checked::Decided(checked) => checked,
            Checked::Verify(slow) => slow.verify(shared, conn.link()).await,
        };
        let accepted = match checked {
            Ok(accepted) => accepted,
            Err(ending) => return ending,
        };
        serve_request(conn, accepted, started, shared, handler).await;
        conn.end_request();
        if let Some(ending) = conn.link().after_request().await {
            return ending;
        }
    }
}

/// The connection, once the PROXY header (if the server expects one) and
/// the TLS handshake (if the server has TLS) are through; `None` when
/// either failed or ran out of time.
async fn open(
    mut socket: Socket,
    peer: SocketAddr,
    shared: &Arc<Shared>,
    shutdown: &CancellationToken,
    first_deadline: tokio::time::Instant,
) -> Option<Connection> {
    let peer = client_addr(&mut socket, peer, shared, shutdown, first_deadline).await?;
    // After the PROXY header: the client's address, not the balancer's. Not
    // entered (`.instrument`) for the connection's life: that would cost the
    // subscriber a clone and a close on every poll; request spans name it as
    // their parent instead, and events outside a request carry `peer`.
    let span = super::spans::connection_span(peer, shared.tls.is_some());
    let stream = handshake(socket, peer, shared, first_deadline).await?;
    #[cfg(feature = "tls")]
    let peer_certificate = stream.peer_certificate();
    #[cfg(feature = "tls")]
    let cert_identity = super::auth::Identity::from_certificate(peer_certificate.as_ref());
    #[cfg(not(feature = "tls"))]
    let cert_identity: Option<super::auth::Identity> = None;
    let ctx = Context {
        request: Request::empty(),
        peer_addr: peer,
        secure: stream.is_tls(),
        transport: stream.socket().transport(),
        #[cfg(feature = "tls")]
        peer_certificate,
        identity: None,
        trace: None,
        deadline: None,
    };
    let link = Link::new(stream, peer, shared, shutdown.clone());
    let observer = Observer::for_connection(shared);
    Some(Connection::new(link, ctx, observer, cert_identity, span))
}

/// The client's address: the one a PROXY header names, when the server
/// expects one. PROXY headers come over TCP only: a Unix socket or
/// in-process peer is local.
async fn client_addr(
    socket: &mut Socket,
    peer: SocketAddr,
    shared: &Shared,
    shutdown: &CancellationToken,
    first_deadline: tokio::time::Instant,
) -> Option<SocketAddr> {
    let (Some(proxy), Some(tcp)) = (&shared.proxy, socket.tcp_mut()) else {
        return Some(peer);
    };
    // At shutdown, a header still missing gets the same moment as a request.
    let stopping = async {
        shutdown.cancelled().await;
        tokio::time::sleep(SHUTDOWN_READ_GRACE).await;
    };
    let until_first = first_deadline.saturating_duration_since(tokio::time::Instant::now());
    tokio::select! {
        client = proxy.client_addr(tcp, peer, until_first) => client,
        _ = stopping => None,
    }
}

/// The TLS handshake, when the server has TLS, bounded by the first
/// request's deadline.
async fn handshake(
    socket: Socket,
    peer: SocketAddr,
    shared: &Shared,
    first_deadline: tokio::time::Instant,
) -> Option<Stream> {
    let Some(acceptor) = &shared.tls else {
        return Some(Stream::Plain(socket));
    };
    match tokio::time::timeout_at(first_deadline, acceptor.accept(socket)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(e)) => {
            debug!(%peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}
