//! The floor: the least any TPP server can do for an echo, written by hand on
//! tokio. It reads a frame, parses the JSON envelope (the body is borrowed as
//! raw JSON, validated but never turned into a tree), compares a plain token
//! and writes `{"code":0,"body":{"echo": body}}` in one write. It keeps
//! reading requests on the connection until the peer closes, so it serves
//! one-request-per-connection clients and keep-alive clients alike. No
//! timeouts, no limits, no logging, no graceful shutdown.
//!
//! With `copy` it does not even parse: every frame is answered with
//! `{"code":0,"body":{"echo":` + the request's payload + `}}`, the socket-copy
//! floor (the bytes copied through the socket pair once each way, and
//! nothing else).

use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Accepts connections forever, one task each.
pub async fn serve(listener: TcpListener, token: Arc<str>, copy: bool) {
    loop {
        match listener.accept().await {
            Ok((sock, _)) => {
                let _ = sock.set_nodelay(true);
                tokio::spawn(connection(sock, token.clone(), copy));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow)]
    token: Option<Cow<'a, str>>,
    #[serde(borrow)]
    action: Option<Cow<'a, str>>,
    #[serde(borrow)]
    body: Option<&'a RawValue>,
}

const PREFIX: &[u8] = br#"{"code":0,"body":{"echo":"#;
const SUFFIX: &[u8] = b"}}";

async fn connection(mut sock: TcpStream, token: Arc<str>, copy: bool) -> io::Result<()> {
    let mut buf = BytesMut::with_capacity(1024);
    let mut out = Vec::new();
    while let Some(len) = read_frame(&mut sock, &mut buf).await? {
        if copy {
            frame_into(&mut out, &[PREFIX, &buf[..len], SUFFIX]);
            buf.advance(len);
            sock.write_all(&out).await?;
            continue;
        }
        let answered = match serde_json::from_slice::<Request<'_>>(&buf[..len]) {
            Ok(req) if req.token.as_deref() != Some(&*token) => {
                frame_into(
                    &mut out,
                    &[br#"{"code":3,"body":{"error":"Bad auth token"}}"#],
                );
                false
            }
            Ok(req) if req.action.as_deref() == Some("echo") => {
                let body = req.body.map_or("null", RawValue::get).as_bytes();
                frame_into(&mut out, &[PREFIX, body, SUFFIX]);
                true
            }
            _ => {
                frame_into(&mut out, &[br#"{"code":1,"body":{"error":"bad request"}}"#]);
                false
            }
        };
        buf.advance(len);
        sock.write_all(&out).await?;
        if !answered {
            return Ok(());
        }
    }
    Ok(())
}

/// Writes the frame of the concatenated `parts` into `out` (cleared first).
fn frame_into(out: &mut Vec<u8>, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    out.clear();
    out.reserve(len + 21);
    let _ = writeln!(out, "{len}");
    for p in parts {
        out.extend_from_slice(p);
    }
}

/// Reads one frame; on success the payload is `buf[..len]`. `None` when the
/// peer closed between frames.
async fn read_frame(sock: &mut TcpStream, buf: &mut BytesMut) -> io::Result<Option<usize>> {
    loop {
        let window = &buf[..buf.len().min(21)];
        if let Some(nl) = window.iter().position(|b| *b == b'\n') {
            let len = std::str::from_utf8(&buf[..nl])
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad header"))?;
            buf.advance(nl + 1);
            if buf.len() < len {
                buf.reserve(len - buf.len());
                while buf.len() < len {
                    if sock.read_buf(buf).await? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                }
            }
            return Ok(Some(len));
        }
        if buf.len() > 20 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "header too long",
            ));
        }
        if sock.read_buf(buf).await? == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
    }
}
