//! [`ResponseStream`]: the responses of a streaming action, one connection's worth.

use std::future::Future as _;
use std::pin::Pin;
use std::task::{ready, Poll};
use std::time::Duration;

use futures_core::Stream as FuturesStream;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use tokio_util::codec::FramedRead;

use super::{check_code, ClientError};
use crate::transport::Stream;
use crate::wire::frame::FrameCodec;
use crate::wire::message::Response;

/// The responses of a streaming action, in order. Ends when the server
/// closes the connection or sends a `null` body (toxicbuild's build loop);
/// an error code ends it with [`ClientError::Server`].
pub struct ResponseStream {
    pub(super) io: FramedRead<Stream, FrameCodec>,
    pub(super) item_timeout: Option<Duration>,
    pub(super) sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    pub(super) done: bool,
}

impl ResponseStream {
    /// The next response, or `None` at the end of the stream.
    pub async fn next_response(&mut self) -> Option<Result<Response, ClientError>> {
        self.next().await
    }

    /// Deserializes each response's body into `T`.
    pub fn typed<T: DeserializeOwned>(self) -> impl FuturesStream<Item = Result<T, ClientError>> {
        self.map(|item| {
            item.and_then(|r| {
                r.body().map_err(|source| ClientError::Decode {
                    action: "stream item".to_owned(),
                    source,
                })
            })
        })
    }
}

impl FuturesStream for ResponseStream {
    type Item = Result<Response, ClientError>;

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(limit) = this.item_timeout {
            let sleep = this
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
            if sleep.as_mut().poll(cx).is_ready() {
                this.done = true;
                return Poll::Ready(Some(Err(ClientError::Timeout(limit))));
            }
        }
        let polled = ready!(this.io.poll_next_unpin(cx));
        this.sleep = None;
        let item = match polled {
            None => None,
            Some(Err(e)) => Some(Err(ClientError::from_frame(e))),
            Some(Ok(frame)) => match Response::parse(frame) {
                Err(e) => Some(Err(e.into())),
                Ok(r) if r.body_is_null() && r.code() == 0 => None,
                Ok(r) => Some(check_code(r)),
            },
        };
        if !matches!(item, Some(Ok(_))) {
            this.done = true;
        }
        Poll::Ready(item)
    }
}
