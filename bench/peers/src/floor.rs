//! The floors of a pooled client: hand-written tokio on both sides, one
//! call at a time on each pooled connection, as tpp's default client does.
//!
//! - [`Work::Frames`]: TPP's framing (`<length>\n<payload>`) and nothing
//!   else. The server echoes each payload back as it came. No JSON, no token,
//!   no envelope, no timers: what one call per connection costs in syscalls
//!   and wake-ups alone, the bound under any pooled client.
//! - [`Work::Json`]: the same, plus the least JSON work the protocol asks
//!   for: the client writes the request envelope (`token`, `action`, `body`)
//!   with serde_json, the server parses it into borrowed and typed fields,
//!   checks the token and the action and writes `{"code": 0, "body":
//!   {"echo": …}}`, the client parses that into typed fields. The bound under
//!   any pooled client that speaks TPP, whatever else it leaves out.

use std::borrow::Cow;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::contenders::{CallFuture, Caller};
use crate::servers::TPP_TOKEN;

/// What a floor does with each message besides framing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Nothing: the payload goes back as it came.
    Frames,
    /// TPP's JSON envelope, both ways, with serde_json.
    Json,
}

/// A request, written by the client and read by the server.
#[derive(Serialize, Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    token: Cow<'a, str>,
    #[serde(borrow)]
    action: Cow<'a, str>,
    #[serde(borrow)]
    body: EchoParams<'a>,
}

#[derive(Serialize, Deserialize)]
struct EchoParams<'a> {
    #[serde(borrow)]
    text: Cow<'a, str>,
}

/// A response, written by the server and read by the client.
#[derive(Serialize, Deserialize)]
struct Answer<'a> {
    code: u32,
    #[serde(borrow)]
    body: EchoAnswer<'a>,
}

#[derive(Serialize, Deserialize)]
struct EchoAnswer<'a> {
    #[serde(borrow)]
    echo: Cow<'a, str>,
}

/// Writes `<length>\n` and the JSON of `value` into `out` (cleared first),
/// with `scratch` for the JSON (both reused).
fn frame_json<T: Serialize>(out: &mut Vec<u8>, scratch: &mut Vec<u8>, value: &T) {
    scratch.clear();
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *scratch, value);
    out.clear();
    let _ = writeln!(out, "{}", scratch.len());
    out.extend_from_slice(scratch);
}

/// One connection with its read buffer and the buffer its frames are
/// written from (both reused: no allocation per call).
struct Conn {
    tcp: TcpStream,
    buf: Vec<u8>,
    out: Vec<u8>,
    scratch: Vec<u8>,
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

impl Conn {
    fn new(tcp: TcpStream) -> Conn {
        Conn {
            tcp,
            buf: vec![0; 4096],
            out: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// The server's answer to the request at `payload` of `self.buf`, into `self.out`.
    fn answer(&mut self, work: Work, payload: std::ops::Range<usize>) {
        let Conn {
            buf, out, scratch, ..
        } = self;
        let payload = &buf[payload];
        match work {
            Work::Frames => {
                out.clear();
                let _ = writeln!(out, "{}", payload.len());
                out.extend_from_slice(payload);
            }
            Work::Json => match serde_json::from_slice::<Envelope>(payload) {
                Ok(request) if request.token == TPP_TOKEN && request.action == "echo" => {
                    let answer = Answer {
                        code: 0,
                        body: EchoAnswer {
                            echo: request.body.text,
                        },
                    };
                    frame_json(out, scratch, &answer);
                }
                _ => {
                    let refusal = Answer {
                        code: 1,
                        body: EchoAnswer {
                            echo: Cow::Borrowed("refused"),
                        },
                    };
                    frame_json(out, scratch, &refusal);
                }
            },
        }
    }
}

/// A floor server: every connection answers each frame it reads.
pub async fn serve(work: Work) -> Result<(), String> {
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
            let mut conn = Conn::new(tcp);
            while let Ok(payload) = conn.read_frame().await {
                conn.answer(work, payload);
                if conn.tcp.write_all(&conn.out).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// A floor client: a pool of connections, one call at a time on each.
pub fn caller(port: u16, work: Work) -> Caller {
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
                    Conn::new(tcp)
                }
            };
            match work {
                Work::Frames => {
                    conn.out.clear();
                    let _ = writeln!(conn.out, "{}", text.len());
                    conn.out.extend_from_slice(text.as_bytes());
                }
                Work::Json => {
                    let request = Envelope {
                        token: Cow::Borrowed(TPP_TOKEN),
                        action: Cow::Borrowed("echo"),
                        body: EchoParams {
                            text: Cow::Borrowed(&text),
                        },
                    };
                    frame_json(&mut conn.out, &mut conn.scratch, &request);
                }
            }
            conn.tcp
                .write_all(&conn.out)
                .await
                .map_err(|e| e.to_string())?;
            let payload = conn.read_frame().await.map_err(|e| e.to_string())?;
            let len = match work {
                Work::Frames => payload.len(),
                Work::Json => {
                    let answer: Answer = serde_json::from_slice(&conn.buf[payload])
                        .map_err(|e| format!("floor answer: {e}"))?;
                    if answer.code != 0 {
                        return Err(format!("floor answer: code {}", answer.code));
                    }
                    // Owned, as a typed client hands its caller.
                    answer.body.echo.into_owned().len()
                }
            };
            idle.lock().map_err(|e| e.to_string())?.push(conn);
            Ok(len)
        })
    })
}
