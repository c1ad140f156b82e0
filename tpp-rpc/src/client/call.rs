//! One unary call: a connection from the pool (or a new one), the request,
//! the response, and the connection handed back when the server keeps it.

use serde::Serialize;

use super::conn::SendFailure;
use super::{check_code, Client, ClientError, OutgoingRequest};
use crate::wire::message::Response;

impl Client {
    /// Sends the request and reads its response, following the retry rule
    /// of the [module documentation](super).
    pub(super) async fn exchange<B: Serialize + ?Sized>(
        &self,
        action: &str,
        body: &B,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Response, ClientError> {
        let pool = &self.inner.pool;
        let trace = crate::wire::trace::outgoing();
        let request = OutgoingRequest {
            action,
            body,
            token: self.token.as_deref(),
            extras: &self.extras,
            keep_alive: pool.enabled(),
            trace: trace.as_ref().map(|(id, tp)| (&**id, tp.as_deref())),
            deadline,
        };
        if let Some(pipelines) = self.inner.pipelines.as_ref().filter(|p| !p.refused()) {
            let frame = super::conn::encode_request(&request)?;
            match pipelines.call(self, frame).await {
                // The server does not keep connections open: not sent, so
                // it goes through the pool instead.
                Err(ClientError::NotSent(_)) if pipelines.refused() => {}
                result => return check_code(result?),
            }
        }
        // Opening a connection is boxed: its future is large and rarely
        // polled, and every call's future would otherwise carry its size.
        if !pool.enabled() {
            let mut conn = Box::pin(self.open()).await?;
            conn.send_request(&request).await.map_err(|f| f.error)?;
            return conn.get_response().await;
        }
        let lease = pool.lease().await;
        loop {
            let (mut conn, reused) = match pool.take_idle(&lease) {
                Some(conn) => (conn, true),
                None => (Box::pin(self.open()).await?, false),
            };
            match conn.send_request(&request).await {
                Ok(()) => {}
                // The kept connection died between the check and the write,
                // and the server cannot have read a byte: use another one.
                Err(SendFailure { unsent: true, .. }) if reused => continue,
                Err(failure) => return Err(failure.error),
            }
            let response = conn.read().await?.ok_or(ClientError::Closed)?;
            if response.keeps_alive() {
                pool.give_back(conn, lease);
            }
            return check_code(response);
        }
    }
}
