//! [`ClientConnection`]: one open connection for raw messages,
//! request/response exchanges and response streams.

use std::time::Duration;

use bytes::{Buf, BytesMut};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;
use tokio_util::codec::FramedRead;

use super::{action_result, ClientError, ResponseStream};
use crate::transport::Stream;
use crate::wire::frame::{finish_frame, put_header, start_frame, FrameCodec};
use crate::wire::message::{OutgoingRequest, Response};

/// One open connection: raw messages, request/response, response streams.
pub struct ClientConnection {
    pub(super) io: FramedRead<Stream, FrameCodec>,
    pub(super) scratch: Vec<u8>,
    /// The pooled calls' timer, kept from call to call: moving a registered
    /// timer to a later deadline is one atomic store, where a new timer per
    /// call would lock the runtime's timer wheel twice.
    pub(super) timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl ClientConnection {
    /// Sends any serializable value as one message.
    pub async fn write<T: Serialize + ?Sized>(&mut self, message: &T) -> Result<(), ClientError> {
        self.scratch.clear();
        crate::wire::json::to_writer(&mut self.scratch, message).map_err(ClientError::Serialize)?;
        self.write_raw_scratch().await
    }

    /// Sends raw payload bytes as one message (framing added).
    pub async fn write_raw(&mut self, payload: &[u8]) -> Result<(), ClientError> {
        write_frame(self.io.get_mut(), payload).await
    }

    async fn write_raw_scratch(&mut self) -> Result<(), ClientError> {
        write_frame(self.io.get_mut(), &self.scratch).await
    }

    /// Sends a request: `{"action", "body", "token", …extras}`.
    pub async fn write_request<B: Serialize + ?Sized>(
        &mut self,
        action: &str,
        body: &B,
        token: Option<&str>,
        extras: &Map<String, Value>,
    ) -> Result<(), ClientError> {
        let trace = crate::wire::trace::outgoing();
        self.write(&OutgoingRequest {
            action,
            body,
            token,
            extras,
            keep_alive: false,
            trace: trace.as_ref().map(|(id, tp)| (&**id, tp.as_deref())),
            deadline: None,
        })
        .await
    }

    /// Sends a request for the pool: asks for keep-alive when `keep_alive`,
    /// and on failure says whether no byte of it left this client (then the
    /// server cannot have read any, and it may be sent again elsewhere).
    pub(super) async fn send_request<B: Serialize + ?Sized>(
        &mut self,
        request: &OutgoingRequest<'_, B>,
    ) -> Result<(), SendFailure> {
        // One buffer, one write (see `start_frame`).
        start_frame(&mut self.scratch);
        if let Err(e) = crate::wire::json::to_writer(&mut self.scratch, request) {
            return Err(SendFailure {
                error: ClientError::Serialize(e),
                unsent: false,
            });
        }
        let start = finish_frame(&mut self.scratch);
        let frame = &self.scratch[start..];
        let stream = self.io.get_mut();
        // TLS accepts plaintext into its own buffer before the socket does,
        // so only plain TCP can tell that nothing was sent.
        let tracks = !stream.is_tls();
        let mut done = 0;
        while done < frame.len() {
            match stream.write(&frame[done..]).await {
                Ok(0) => {
                    return Err(SendFailure {
                        error: std::io::Error::from(std::io::ErrorKind::WriteZero).into(),
                        unsent: tracks && done == 0,
                    })
                }
                Ok(n) => done += n,
                Err(e) => {
                    return Err(SendFailure {
                        error: e.into(),
                        unsent: tracks && done == 0,
                    })
                }
            }
        }
        stream.flush().await.map_err(|e| SendFailure {
            error: e.into(),
            unsent: false,
        })
    }

    /// Whether a kept connection cannot take a request: the server closed
    /// or reset it, or sent something nobody asked for. Looks without
    /// waiting and without consuming anything.
    pub(super) fn is_closed_or_dirty(&mut self) -> bool {
        if !self.io.read_buffer().is_empty() {
            return true;
        }
        socket_mut(self.io.get_mut()).closed_or_readable()
    }

    /// Reads the next response; `None` when the server closed the connection
    /// between messages.
    pub async fn read(&mut self) -> Result<Option<Response>, ClientError> {
        match self.io.next().await {
            None => Ok(None),
            Some(Err(e)) => Err(ClientError::from_frame(e)),
            Some(Ok(frame)) => Ok(Some(Response::parse(frame)?)),
        }
    }

    /// [`read`](Self::read) within `limit`, on this connection's timer.
    pub(super) async fn read_by(
        &mut self,
        limit: crate::wire::deadline::Limit,
    ) -> Result<Option<Response>, ClientError> {
        let Some((at, timeout)) = limit else {
            return self.read().await;
        };
        let timer = match &mut self.timer {
            Some(timer) => {
                timer.as_mut().reset(at);
                timer
            }
            none => none.insert(Box::pin(tokio::time::sleep_until(at))),
        };
        let frame = tokio::select! {
            biased;
            frame = self.io.next() => frame,
            () = timer.as_mut() => return Err(ClientError::Timeout(timeout)),
        };
        match frame {
            None => Ok(None),
            Some(Err(e)) => Err(ClientError::from_frame(e)),
            Some(Ok(frame)) => Ok(Some(Response::parse(frame)?)),
        }
    }

    /// Reads the next response and turns a code other than 0 into
    /// [`ClientError::Server`], and a closed connection into [`ClientError::Closed`].
    pub async fn get_response(&mut self) -> Result<Response, ClientError> {
        let response = self.read().await?.ok_or(ClientError::Closed)?;
        check_code(response)
    }

    /// toxiccore's `request2server` on this connection: writes the request,
    /// reads one response within `timeout`, returns `body[action]`.
    pub async fn request2server<B: Serialize + ?Sized, T: DeserializeOwned>(
        &mut self,
        action: &str,
        body: &B,
        token: &str,
        timeout: Option<Duration>,
    ) -> Result<T, ClientError> {
        let work = async {
            self.write_request(action, body, Some(token), &Map::new())
                .await?;
            let response = self.get_response().await?;
            action_result(&response, action)
        };
        match timeout {
            Some(d) => tokio::time::timeout(d, work)
                .await
                .unwrap_or(Err(ClientError::Timeout(d))),
            None => work.await,
        }
    }

    /// Turns this connection into the stream of its remaining responses.
    pub fn into_stream(self, item_timeout: Option<Duration>) -> ResponseStream {
        ResponseStream {
            io: self.io,
            item_timeout,
            sleep: None,
            done: false,
        }
    }

    /// Closes the connection (TLS close_notify included).
    pub async fn close(mut self) -> Result<(), ClientError> {
        self.io.get_mut().shutdown().await?;
        Ok(())
    }
}

/// Why a pooled request could not be sent.
pub(super) struct SendFailure {
    pub(super) error: ClientError,
    /// No byte of the request left the client.
    pub(super) unsent: bool,
}

pub(super) fn check_code(response: Response) -> Result<Response, ClientError> {
    if response.code() != 0 {
        let (message, data) = response.error_parts();
        return Err(ClientError::Server {
            code: response.code(),
            message,
            data: data.map(Box::new),
        });
    }
    Ok(response)
}

async fn write_frame(stream: &mut Stream, payload: &[u8]) -> Result<(), ClientError> {
    let mut header = BytesMut::with_capacity(24);
    put_header(&mut header, payload.len());
    let mut chained = header.chain(payload);
    stream.write_all_buf(&mut chained).await?;
    stream.flush().await?;
    Ok(())
}

/// The socket under a (TLS) stream, to look at it without going through TLS.
fn socket_mut(stream: &mut crate::transport::Stream) -> &mut crate::transport::Socket {
    match stream {
        crate::transport::Stream::Plain(s) => s,
        #[cfg(feature = "tls")]
        crate::transport::Stream::Tls(s) => s.get_mut().0,
    }
}
