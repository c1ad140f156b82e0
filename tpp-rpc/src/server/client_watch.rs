//! A unary handler cancelled when its client leaves.
//!
//! While the handler's work is pending, the connection is watched as a
//! stream's is (peer_watch.rs): a reset is seen at once, a client that
//! closed its socket about a second after its FIN (the probe it answers
//! with a reset), a vanished host within the keepalive bound. A client that
//! only half-closed (it shut its write side and still reads) is not gone:
//! it gets its answer. Bytes a pipelining client sends meanwhile are kept
//! for its next requests.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use super::link::Link;
use super::{Connection, Context};

/// The means to notice, while a request's work runs, that its client left:
/// from [`Connection::watch_client`].
pub struct ClientWatch<'a> {
    link: &'a mut Link,
}

impl Connection {
    /// The request's context, and a [`ClientWatch`] that runs work against
    /// the client's departure: a unary handler that calls slow services
    /// with the context uses it so that its work stops when nobody waits
    /// for the answer any more (the services `#[toxic_service]` generates
    /// do so for every unary action).
    ///
    /// ```no_run
    /// use tpp_rpc::{Connection, Handler};
    ///
    /// struct Slow;
    ///
    /// impl Handler for Slow {
    ///     async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
    ///         let (ctx, watch) = conn.watch_client();
    ///         let work = async {
    ///             tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    ///             format!("done for {}", ctx.peer_addr())
    ///         };
    ///         match watch.run(work).await {
    ///             Some(answer) => conn.send_result(&answer).await,
    ///             // The client left: the work was dropped, nothing to answer.
    ///             None => Ok(()),
    ///         }
    ///     }
    /// }
    /// ```
    pub fn watch_client(&mut self) -> (&Context, ClientWatch<'_>) {
        let (ctx, link) = self.context_and_link();
        (ctx, ClientWatch { link })
    }
}

impl ClientWatch<'_> {
    /// Runs `work` to its end, or drops it when the client leaves first
    /// (see the bounds in the module's text: at once for a reset, about a
    /// second after the client closed its socket); `None` then, and the
    /// connection closes after this request, which gets no answer and is
    /// recorded as cancelled (metrics code label `cancelled`, span field
    /// `cancelled`).
    pub async fn run<F: Future>(self, work: F) -> Option<F::Output> {
        let mut work = pin!(work);
        // Work that is done at once (the common case) never touches the socket.
        let first = std::future::poll_fn(|cx| Poll::Ready(work.as_mut().poll(cx))).await;
        if let Poll::Ready(out) = first {
            return Some(out);
        }
        let gone = self.link.client_gone();
        tokio::select! {
            biased;
            out = work => Some(out),
            reason = gone => {
                tracing::debug!(reason, "client left; request cancelled");
                self.link.cancel_request();
                None
            }
        }
    }
}
