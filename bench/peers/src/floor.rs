//! The floor of a pooled client: hand-written tokio on both sides, TPP's
//! framing (`<length>\n<payload>`) and nothing else. The server echoes each
//! payload back as it came; the client keeps a pool of connections with one
//! call at a time on each, as tpp's default client does. No JSON, no token,
//! no envelope, no timers: what one call per connection costs in syscalls
//! and wake-ups alone, the bound under any pooled client.

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::contenders::{CallFuture, Caller};

/// One connection with its read buffer and the buffer its frames are
/// written from (both reused: no allocation per call).
struct Conn {
    tcp: TcpStream,
    buf: Vec<u8>,
    out: Vec<u8>,
}

impl Conn {
    /// Reads one frame into `self.buf` (from the start); its payload's range.
    async fn read_frame(&mut self) -> std::io::Result<std::ops::Range<usize>> {
        let mut filled = 0;
        loop {
            if let Some(nl) = self.buf[..filled].iter().position(|&b| b == b'\n') {
                let len: usize = std::str::from_utf8(&self.buf[..nl])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| std::io::Error::other("bad header"))?;
                let end = nl + 1 + len;
                if self.buf.len() < end {
                    self.buf.resize(end, 0);
                }
                while filled < end {
                    let n = self.tcp.read(&mut self.buf[filled..end]).await?;
                    if n == 0 {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                    filled += n;
                }
                return Ok(nl + 1..end);
            }
            if filled == self.buf.len() {
                self.buf.resize(self.buf.len() * 2, 0);
            }
            let n = self.tcp.read(&mut self.buf[filled..]).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            filled += n;
        }
    }
}

/// The floor server: every connection echoes each frame it reads.
pub async fn serve() -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    crate::procs::announce_port(port);
    loop {
        let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
        // As tpp's server does.
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let mut conn = Conn {
                tcp,
                buf: vec![0; 4096],
                out: Vec::new(),
            };
            while let Ok(payload) = conn.read_frame().await {
                conn.out.clear();
                let _ = writeln!(conn.out, "{}", payload.len());
                conn.out.extend_from_slice(&conn.buf[payload]);
                if conn.tcp.write_all(&conn.out).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// The floor client: a pool of connections, one call at a time on each.
pub fn caller(port: u16) -> Caller {
    let idle: Arc<Mutex<Vec<Conn>>> = Arc::default();
    Arc::new(move |text: String| -> CallFuture {
        let idle = idle.clone();
        Box::pin(async move {
            let taken = idle.lock().map_err(|e| e.to_string())?.pop();
            let mut conn = match taken {
                Some(conn) => conn,
                None => {
                    let tcp = TcpStream::connect(("127.0.0.1", port))
                        .await
                        .map_err(|e| e.to_string())?;
                    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
                    Conn {
                        tcp,
                        buf: vec![0; 4096],
                        out: Vec::new(),
                    }
                }
            };
            conn.out.clear();
            let _ = writeln!(conn.out, "{}", text.len());
            conn.out.extend_from_slice(text.as_bytes());
            conn.tcp
                .write_all(&conn.out)
                .await
                .map_err(|e| e.to_string())?;
            let payload = conn.read_frame().await.map_err(|e| e.to_string())?;
            let len = payload.len();
            idle.lock().map_err(|e| e.to_string())?.push(conn);
            Ok(len)
        })
    })
}
