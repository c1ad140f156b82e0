//! [`Connection`]: what a handler holds: the request being handled and the
//! means to answer it (single-write responses, further reads, close,
//! peer-gone detection). The socket itself belongs to the [`Link`] inside,
//! which does every write.

use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use serde::Serialize;

use super::auth::Identity;
use super::context::Context;
use super::large_answer::serialize_into;
use super::link::Link;
use super::observe::Observer;
use crate::server::Error;
use crate::wire::message::{append_response, append_result, ErrorBody, Request};

/// The authenticated request being handled, and the connection it came on.
pub struct Connection {
    ctx: Context,
    link: Link,
    /// Per-action metrics and the layers' response hook, when the server has either.
    observer: Option<Box<Observer>>,
    /// The identity of the client's verified certificate (mutual TLS): the
    /// caller's identity when the authenticator names none.
    certificate_identity: Option<Identity>,
    /// The `tpp.connection` span: the parent of every request's span.
    span: tracing::Span,
}

impl Connection {
    /// The request's context (action, extra fields, peer).
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The requested action.
    pub fn action(&self) -> &str {
        self.ctx.action()
    }

    /// The whole request.
    pub fn request(&self) -> &Request {
        &self.ctx.request
    }

    /// The raw JSON text of the request's `body` (`"null"` when absent).
    pub fn body_json(&self) -> &str {
        self.ctx.request.body_json()
    }

    /// Whether the body may hold an integer beyond 64 bits: the generated
    /// dispatch then reads it the exact way. Not a public API.
    #[doc(hidden)]
    pub fn body_may_be_wide(&self) -> bool {
        self.ctx.request.body_may_be_wide()
    }

    /// Deserializes the body into `T`.
    pub fn body<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        Ok(self.ctx.request.body()?)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.ctx.peer_addr
    }

    /// How many responses were sent for this request so far.
    pub fn responses_sent(&self) -> usize {
        self.link.sent()
    }

    /// Resolves when the shutting-down server stops accepting (after its
    /// [`Limits::shutdown_delay`](super::Limits::shutdown_delay)): long streams should end.
    pub fn shutdown_signal(&self) -> impl Future<Output = ()> + Send + 'static {
        self.link.shutdown().clone().cancelled_owned()
    }

    /// Whether the server is shutting down and no longer accepting.
    pub fn is_shutting_down(&self) -> bool {
        self.link.closing_now()
    }

    /// Sends `{"code": code, "body": body}`.
    pub async fn send_response<B: Serialize + ?Sized>(
        &mut self,
        code: i64,
        body: &B,
    ) -> Result<(), Error> {
        let buf = self.link.answer_buffer();
        serialize_into(buf, |out| append_response(out, code, body)).await?;
        self.send_answer(code).await
    }

    /// Sends `{"code": 0, "body": {"<action>": value}}`, the shape toxiccore's
    /// `request2server` unwraps.
    pub async fn send_result<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let action = self.ctx.request.action().unwrap_or_default();
        let buf = self.link.answer_buffer();
        serialize_into(buf, |out| append_result(out, action, value)).await?;
        self.send_answer(0).await
    }

    /// Sends the answer serialized in the link's buffer.
    async fn send_answer(&mut self, code: i64) -> Result<(), Error> {
        if let Some(size) = self.link.oversized_answer() {
            return self.refuse_large_answer(size).await;
        }
        self.observe_response(code);
        self.link.send_answer(code).await
    }

    /// An answer of `size` bytes over [`Limits::max_answer_size`](super::Limits::max_answer_size):
    /// nothing of it is written; the client gets code 1 and the handler an error.
    #[cold]
    async fn refuse_large_answer(&mut self, size: usize) -> Result<(), Error> {
        let max = self.link.max_answer_size();
        let action = self.ctx.request.action().unwrap_or_default().to_owned();
        tracing::warn!(peer = %self.ctx.peer_addr, ?action, size, max, "answer too large; not sent");
        let message =
            format!("the answer is too large ({size} bytes; the server sends at most {max})");
        let buf = self.link.fresh_answer_buffer();
        serialize_into(buf, |out| {
            append_response(out, 1, &ErrorBody { error: &message })
        })
        .await?;
        self.observe_response(1);
        self.link.send_answer(1).await?;
        Err(Error::Handler(message))
    }

    /// Sends `{"code": code, "body": {"error": message}}`.
    pub async fn send_error(&mut self, code: i64, message: &str) -> Result<(), Error> {
        self.send_response(code, &ErrorBody { error: message })
            .await
    }

    /// Reads the peer's next message on this connection, if it sends one
    /// (`None` when it closes). Bounded by [`Limits::read_timeout`](super::Limits::read_timeout).
    pub async fn read_message(&mut self) -> Result<Option<Bytes>, Error> {
        self.link.read_message().await
    }

    /// Closes the connection after this request instead of keeping it alive
    /// (call it before the first response: a client that asked for
    /// keep-alive is told in that response that the connection stays open;
    /// it will find the connection closed and use another).
    pub fn close(&mut self) {
        self.link.close();
    }

    /// Refuses the request: answers `{"code": code, "body": {"error":
    /// message}}` and closes the connection afterwards, as the server does
    /// for every refused request. For layers that stop a call before the
    /// handler.
    pub async fn refuse(&mut self, code: i64, message: &str) -> Result<(), Error> {
        self.close();
        self.send_error(code.max(1), message).await
    }

    /// Closes the connection after this request, which deliberately gets no
    /// response (the client left, or the server is shutting down): the server
    /// does not warn about it.
    pub(crate) fn end_quietly(&mut self) {
        self.link.end_quietly();
    }

    /// Resolves when the client is gone (used while streaming, when the
    /// client has nothing more to send); bytes it sends meanwhile are read
    /// and dropped. Cancel-safe: select it against the next item, write,
    /// call it again.
    ///
    /// A half-close is not gone: a client that shut its write side still
    /// reads, and the stream goes on. After its FIN and a second without
    /// writing, the server writes one space (which TPP readers skip before a
    /// header) and a client that has closed its socket answers it with a
    /// reset, so a client that closed is noticed about a second later, and
    /// one that reset at once. A client
    /// whose host vanished is found by TCP keepalive (armed by the first
    /// call) within 25 s of silence. A stream that keeps writing also learns
    /// from its writes' errors, or from [`Limits::write_timeout`](super::Limits::write_timeout).
    pub async fn peer_gone(&mut self) -> &'static str {
        self.link.peer_gone().await
    }
}

/// What the connection's own code does with it (conn_loop.rs, pipeline.rs,
/// request_watch.rs).
impl Connection {
    pub(super) fn new(
        link: Link,
        ctx: Context,
        observer: Option<Box<Observer>>,
        certificate_identity: Option<Identity>,
        span: tracing::Span,
    ) -> Connection {
        Connection {
            ctx,
            link,
            observer,
            certificate_identity,
            span,
        }
    }

    /// The socket's owner.
    pub(super) fn link(&mut self) -> &mut Link {
        &mut self.link
    }

    /// The context and the socket's owner at once: work that borrows the
    /// context runs while the link watches the client (client_watch.rs).
    pub(super) fn context_and_link(&mut self) -> (&Context, &mut Link) {
        (&self.ctx, &mut self.link)
    }

    /// Whether the request's work was dropped because its client left.
    pub(super) fn cancelled(&self) -> bool {
        self.link.cancelled()
    }

    /// The next request, accepted: the authenticator's name for the caller,
    /// else the certificate's.
    pub(super) fn begin(&mut self, request: Request, identity: Option<Identity>) {
        self.link.begin_request(request.wants_keep_alive());
        self.ctx.request = request;
        self.ctx.identity = identity.or_else(|| self.certificate_identity.clone());
    }

    /// The request has been answered: the connection keeps nothing of it
    /// (kept alive, it would otherwise hold a large request's bytes, and
    /// keep them charged to the request memory budget, while it is idle).
    pub(super) fn end_request(&mut self) {
        self.ctx.request = Request::empty();
    }

    /// What request_watch.rs records: the context, the connection's span
    /// and the observer.
    pub(super) fn watched(&mut self) -> (&mut Context, &tracing::Span, Option<&mut Observer>) {
        (&mut self.ctx, &self.span, self.observer.as_deref_mut())
    }

    /// The last response's code, if any.
    pub(super) fn last_code(&self) -> Option<i64> {
        self.link.last_code()
    }

    /// The first response's code, if any.
    pub(super) fn first_code(&self) -> Option<i64> {
        self.link.first_code()
    }

    /// The request ended without a response on purpose.
    pub(super) fn ended_quietly(&self) -> bool {
        self.link.ended_quietly()
    }

    /// A response with `code` is about to be sent.
    fn observe_response(&mut self, code: i64) {
        if let Some(observer) = self.observer.as_deref_mut() {
            observer.on_response(&self.ctx, code);
        }
    }

    /// The request reached the handler: no layer refused it.
    pub(super) fn observe_reached_handler(&mut self) {
        if let Some(o) = self.observer.as_deref_mut() {
            o.reached_handler = true;
        }
    }

    /// What follows are stream items (after the acknowledgement, if any).
    pub(crate) fn observe_stream(&mut self) {
        if let Some(o) = self.observer.as_deref_mut() {
            o.streaming = true;
        }
    }

    /// The action was not found: metrics label it `<unknown>`, so a peer
    /// cannot make one time series per name it invents.
    pub(crate) fn observe_unknown_action(&mut self) {
        if let Some(o) = self.observer.as_deref_mut() {
            o.unknown_action = true;
        }
    }
}
