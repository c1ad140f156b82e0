//! The load generator: N closed-loop clients over loopback, each sending a
//! pre-framed request and reading the response by hand (no JSON parsing: it
//! only checks the response starts with `{"code":0` or `{"code": 0`), so that
//! it costs as little CPU as possible. Plain TCP or TLS; one request per
//! connection (how toxiccore clients work) or keep-alive.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tpp_rpc::rustls::pki_types::ServerName;
use tpp_rpc::unstable::{Socket, Stream};

use crate::procs::{cpu_seconds_of, self_cpu_seconds, ServerProc};

/// How clients use connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Connect, one request, close: how toxiccore clients work.
    OneShot,
    /// Many requests per connection.
    KeepAlive,
}

/// Where to connect.
#[derive(Clone)]
pub struct Target {
    /// The server's address.
    pub addr: SocketAddr,
    /// TLS, when set (no session resumption: every handshake is a full one).
    pub tls: Option<TlsConnector>,
    /// A Unix domain socket to connect to instead of `addr`.
    pub unix: Option<std::path::PathBuf>,
}

impl Target {
    /// Plain TCP to `127.0.0.1:port`.
    pub fn tcp(port: u16) -> Target {
        Target {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            tls: None,
            unix: None,
        }
    }

    /// Plain, over the Unix domain socket at `path`.
    pub fn unix(path: std::path::PathBuf) -> Target {
        Target {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: None,
            unix: Some(path),
        }
    }

    /// Opens a connection (TCP, then TLS if configured).
    pub async fn connect(&self) -> io::Result<Stream> {
        if let Some(path) = &self.unix {
            let unix = tokio::net::UnixStream::connect(path).await?;
            return Ok(Stream::Plain(Socket::Unix(unix)));
        }
        let tcp = TcpStream::connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        Ok(match &self.tls {
            None => Stream::Plain(Socket::Tcp(tcp)),
            Some(connector) => {
                let name = ServerName::try_from("localhost").expect("valid name");
                let tls = connector.connect(name, Socket::Tcp(tcp)).await?;
                Stream::Tls(Box::new(tls.into()))
            }
        })
    }
}

/// A TLS connector that accepts the bench's self-signed certificate and never
/// resumes sessions (like toxiccore's client, which builds a new TLS context
/// per connection).
pub fn insecure_tls() -> TlsConnector {
    let mut config = (*tpp_rpc::tls::client_config_insecure()).clone();
    config.resumption = tpp_rpc::rustls::client::Resumption::disabled();
    TlsConnector::from(Arc::new(config))
}

/// One load run.
#[derive(Clone)]
pub struct Spec {
    /// Where.
    pub target: Target,
    /// How connections are used.
    pub mode: Mode,
    /// Concurrent clients.
    pub clients: usize,
    /// Load before measuring (connections warm, caches filled).
    pub warmup: Duration,
    /// Measured time.
    pub duration: Duration,
    /// The framed request every client sends.
    pub request: Arc<[u8]>,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Responses completed inside the measured window.
    pub requests: u64,
    /// Failed requests inside the window.
    pub errors: u64,
    /// Length of the window, in seconds.
    pub secs: f64,
    /// Latency of each completed request, in nanoseconds, sorted.
    pub latencies: Vec<u64>,
    /// CPU the load generator used, in cores (1.0 = one core busy).
    pub gen_cpu: f64,
    /// CPU the server process used, in cores.
    pub server_cpu: f64,
    /// The first error seen, if any.
    pub first_error: Option<String>,
    /// Responses completed during the whole run, warm-up included.
    pub total: u64,
    /// Seconds from the start of the window to the last response in it.
    pub span: f64,
}

impl Outcome {
    /// Requests per second.
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.secs
    }

    /// Requests per second over the span from the window's start to its last
    /// response: for a server that answers in batches far apart (the
    /// reference at bcrypt cost 12), counting a window that ends mid-batch
    /// would understate its rate.
    pub fn rps_over_span(&self) -> f64 {
        self.requests as f64 / self.span
    }

    /// The `q` quantile (0..1) of latency, in nanoseconds.
    pub fn quantile(&self, q: f64) -> u64 {
        quantile(&self.latencies, q)
    }

    /// Server CPU time per request, in microseconds.
    pub fn server_us_per_request(&self) -> f64 {
        self.server_cpu * self.secs * 1e6 / self.requests.max(1) as f64
    }

    /// Load-generator CPU time per request, in microseconds.
    pub fn gen_us_per_request(&self) -> f64 {
        self.gen_cpu * self.secs * 1e6 / self.requests.max(1) as f64
    }

    /// Adds another run of the same case (totals; latencies merged).
    pub fn merge(&mut self, other: &Outcome) {
        let total = self.secs + other.secs;
        if total > 0.0 {
            self.gen_cpu = (self.gen_cpu * self.secs + other.gen_cpu * other.secs) / total;
            self.server_cpu = (self.server_cpu * self.secs + other.server_cpu * other.secs) / total;
        }
        self.requests += other.requests;
        self.errors += other.errors;
        self.secs = total;
        self.latencies.extend_from_slice(&other.latencies);
        self.latencies.sort_unstable();
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        self.total += other.total;
    }
}

/// The `q` quantile of sorted values (0 when empty).
pub fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

#[derive(Default)]
struct ClientStats {
    total: u64,
    last_done: Option<Instant>,
    latencies: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
}

/// Runs `spec` against `server` (whose CPU use is measured over the window).
/// Requests still in flight when the window closes are abandoned.
pub async fn run(spec: &Spec, server: &ServerProc) -> Outcome {
    run_with(spec, || server.cpu_seconds()).await
}

/// [`run`], with the server's CPU time read by `server_cpu`.
pub async fn run_with(spec: &Spec, server_cpu: impl Fn() -> f64) -> Outcome {
    let phase = Arc::new(AtomicU8::new(WARMUP));
    let mut stats = Vec::with_capacity(spec.clients);
    let mut tasks = Vec::with_capacity(spec.clients);
    for _ in 0..spec.clients {
        let s = Arc::new(Mutex::new(ClientStats::default()));
        stats.push(s.clone());
        tasks.push(tokio::spawn(client(spec.clone(), phase.clone(), s)));
    }
    tokio::time::sleep(spec.warmup).await;
    let (gen0, srv0, t0) = (self_cpu_seconds(), server_cpu(), Instant::now());
    phase.store(MEASURE, Ordering::SeqCst);
    tokio::time::sleep(spec.duration).await;
    phase.store(STOP, Ordering::SeqCst);
    let secs = t0.elapsed().as_secs_f64();
    let (gen1, srv1) = (self_cpu_seconds(), server_cpu());
    // Let clients finish a request in progress briefly, then abandon the rest.
    let grace = tokio::time::sleep(Duration::from_millis(100));
    tokio::pin!(grace);
    for task in &mut tasks {
        tokio::select! {
            _ = &mut *task => {}
            _ = &mut grace => break,
        }
    }
    for task in &tasks {
        task.abort();
    }
    let mut out = Outcome {
        secs,
        gen_cpu: (gen1 - gen0) / secs,
        server_cpu: (srv1 - srv0) / secs,
        ..Outcome::default()
    };
    for s in stats {
        let s = s.lock().unwrap_or_else(|e| e.into_inner());
        out.requests += s.latencies.len() as u64;
        out.total += s.total;
        if let Some(done) = s.last_done {
            out.span = out
                .span
                .max(done.saturating_duration_since(t0).as_secs_f64());
        }
        out.latencies.extend_from_slice(&s.latencies);
        out.errors += s.errors;
        if out.first_error.is_none() {
            out.first_error.clone_from(&s.first_error);
        }
    }
    out.latencies.sort_unstable();
    out
}

/// `request` with `"tpp_keep_alive": true` added: a tpp server keeps a
/// connection open after a unary answer only when the request asks (the
/// floor server ignores the field).
pub fn asking_keep_alive(request: &[u8]) -> Arc<[u8]> {
    let payload = request
        .iter()
        .position(|b| *b == b'\n')
        .map_or(request, |nl| &request[nl + 1..]);
    match payload.strip_suffix(b"}") {
        Some(open) => {
            let mut asked = open.to_vec();
            asked.extend_from_slice(br#","tpp_keep_alive":true}"#);
            tpp_rpc::unstable::encode_frame(&asked).into()
        }
        None => request.into(),
    }
}

async fn client(spec: Spec, phase: Arc<AtomicU8>, stats: Arc<Mutex<ClientStats>>) {
    let request = match spec.mode {
        Mode::KeepAlive => asking_keep_alive(&spec.request),
        Mode::OneShot => spec.request.clone(),
    };
    let mut conn: Option<Stream> = None;
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        if phase.load(Ordering::Relaxed) == STOP {
            return;
        }
        let started = Instant::now();
        let result = async {
            if conn.is_none() {
                buf.clear();
                conn = Some(spec.target.connect().await?);
            }
            let stream = conn.as_mut().expect("connected above");
            exchange(stream, &request, &mut buf).await
        }
        .await;
        let elapsed = started.elapsed().as_nanos() as u64;
        let measured = phase.load(Ordering::Relaxed) == MEASURE;
        let failed = result.is_err();
        if !measured && !failed {
            stats.lock().unwrap_or_else(|e| e.into_inner()).total += 1;
        }
        if measured {
            let mut s = stats.lock().unwrap_or_else(|e| e.into_inner());
            s.total += u64::from(!failed);
            match result {
                Ok(_) => {
                    s.latencies.push(elapsed);
                    s.last_done = Some(Instant::now());
                }
                Err(e) => {
                    s.errors += 1;
                    if s.first_error.is_none() {
                        s.first_error = Some(e.to_string());
                    }
                }
            }
        }
        if failed || spec.mode == Mode::OneShot {
            conn = None;
        }
        if failed {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Writes `request` and reads one response into `buf`; returns its payload length.
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &[u8],
    buf: &mut BytesMut,
) -> io::Result<usize> {
    stream.write_all(request).await?;
    stream.flush().await?;
    read_response(stream, buf).await
}

/// [`exchange`], also telling when the response's first bytes came: for a
/// server that answers only once it has read the whole request, the time
/// the request's half of the exchange took.
pub async fn exchange_first_byte<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &[u8],
    buf: &mut BytesMut,
) -> io::Result<Duration> {
    let started = Instant::now();
    stream.write_all(request).await?;
    stream.flush().await?;
    if buf.is_empty() && stream.read_buf(buf).await? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let first = started.elapsed();
    read_response(stream, buf).await?;
    Ok(first)
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Reads one response frame and checks it is a success (`"code": 0`).
pub async fn read_response<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
) -> io::Result<usize> {
    loop {
        let window = &buf[..buf.len().min(21)];
        if let Some(nl) = window.iter().position(|b| *b == b'\n') {
            let len: usize = std::str::from_utf8(&buf[..nl])
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| invalid(format!("bad header {:?}", &buf[..nl])))?;
            let need = nl + 1 + len;
            if buf.len() < need {
                buf.reserve(need - buf.len());
                while buf.len() < need {
                    if stream.read_buf(buf).await? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                }
            }
            let payload = &buf[nl + 1..need];
            if !(payload.starts_with(br#"{"code":0,"#) || payload.starts_with(br#"{"code": 0,"#)) {
                let shown = String::from_utf8_lossy(&payload[..payload.len().min(200)]);
                return Err(invalid(format!("error response: {shown}")));
            }
            buf.advance(need);
            return Ok(len);
        }
        if buf.len() > 20 {
            return Err(invalid("header too long".to_owned()));
        }
        if stream.read_buf(buf).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before a response",
            ));
        }
    }
}

/// `tpp-bench load --port P [--pid PID] [--tls] [--one-shot] [--size BYTES]
/// [--action A] [--clients N] [--secs S] [--text]`: the load generator alone,
/// against a server started by hand (for profiling it). `--text`: the body is
/// `{"text": "abc…"}`, one string of `--size` letters (for `--action echo_text`).
pub fn main_load(args: &[String]) -> Result<(), String> {
    let mut port = None;
    let mut pid = None;
    let mut tls = false;
    let mut mode = Mode::KeepAlive;
    let mut size = 100usize;
    let mut action = "echo".to_owned();
    let mut clients = 32usize;
    let mut secs = 10.0f64;
    let mut token = "benchT0ken".to_owned();
    let mut text = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        let bad = |e: &dyn std::fmt::Display| format!("{a}: {e}");
        match a.as_str() {
            "--port" => port = Some(value()?.parse::<u16>().map_err(|e| bad(&e))?),
            "--pid" => pid = Some(value()?.parse::<u32>().map_err(|e| bad(&e))?),
            "--tls" => tls = true,
            "--one-shot" => mode = Mode::OneShot,
            "--size" => size = value()?.parse().map_err(|e| bad(&e))?,
            "--action" => action = value()?,
            "--clients" => clients = value()?.parse().map_err(|e| bad(&e))?,
            "--secs" => secs = value()?.parse().map_err(|e| bad(&e))?,
            "--token" => token = value()?,
            "--text" => text = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let port = port.ok_or("--port is required")?;
    let mut target = Target::tcp(port);
    if tls {
        target.tls = Some(insecure_tls());
    }
    let body = match text {
        true => crate::docs::text_body(size),
        false => crate::docs::body(size),
    };
    let frame = crate::docs::request_frame(&token, &action, &body);
    let spec = Spec {
        target,
        mode,
        clients,
        warmup: Duration::from_millis(300),
        duration: Duration::from_secs_f64(secs),
        request: match mode {
            // A tpp server keeps the connection only when asked.
            Mode::KeepAlive => asking_keep_alive(&frame),
            Mode::OneShot => frame.into(),
        },
    };
    let rt = crate::serve::runtime(crate::cores());
    let o = rt.block_on(run_with(&spec, || pid.map_or(f64::NAN, cpu_seconds_of)));
    println!(
        "{} req/s, p50 {}, p99 {}, server CPU {:.0}% ({:.1} µs/req), load gen CPU {:.0}%, {} errors{}; {} responses in all",
        crate::report::rate(o.rps()),
        crate::report::duration_ns(o.quantile(0.5)),
        crate::report::duration_ns(o.quantile(0.99)),
        o.server_cpu * 100.0,
        o.server_us_per_request(),
        o.gen_cpu * 100.0,
        o.errors,
        o.first_error
            .as_ref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default(),
        o.total
    );
    Ok(())
}
