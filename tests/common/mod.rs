//! Helpers shared by the integration tests: servers on 127.0.0.1:0 and
//! their clients, raw sockets, test certificates, the Python reference (its
//! server and its client), and timeouts on every wait.

pub mod contract;
pub mod pki;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Upper bound for any single wait in a test.
pub const WAIT: Duration = Duration::from_secs(20);

/// Awaits `f` (a future, or a generated client's call), failing the test if
/// it takes longer than [`WAIT`].
pub async fn within<T>(f: impl std::future::IntoFuture<Output = T>) -> T {
    tokio::time::timeout(WAIT, f.into_future())
        .await
        .expect("test step timed out")
}

/// A running server: its address, a shutdown handle and its task.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Stops it.
    pub shutdown: tpp_rpc::ShutdownHandle,
    /// The serving task.
    pub task: tokio::task::JoinHandle<Result<(), tpp_rpc::ServerError>>,
}

impl Running {
    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Shuts it down and waits for `serve` to return.
    pub async fn stop(self) {
        self.shutdown.shutdown();
        within(self.task)
            .await
            .expect("server task panicked")
            .expect("server failed");
    }
}

/// Binds `builder` on 127.0.0.1:0 and serves `handler` in a task.
pub async fn start(builder: tpp_rpc::ServerBuilder, handler: impl tpp_rpc::Handler) -> Running {
    let server = builder.bind("127.0.0.1:0").await.expect("bind");
    let addr = server.local_addr();
    let shutdown = server.shutdown_handle();
    let task = tokio::spawn(server.serve(handler));
    Running {
        addr,
        shutdown,
        task,
    }
}

/// The token of the tests' plain servers (`Server::builder().token("tok")`),
/// sent by [`client`].
pub const TOKEN: &str = "tok";

/// A builder for a client of a test server on 127.0.0.1:`port`: [`TOKEN`],
/// and [`WAIT`] bounding each call. For a variant, add to it, e.g.
/// `.reuse_connections(true)` or `.tls_insecure()`.
pub fn client_builder(port: u16) -> tpp_rpc::ClientBuilder {
    tpp_rpc::Client::builder("127.0.0.1", port)
        .token(TOKEN)
        .timeout(WAIT)
}

/// The client of a test server on 127.0.0.1:`port` ([`client_builder`],
/// built). For another token, `client(port).with_token(..)`.
pub fn client(port: u16) -> tpp_rpc::Client {
    client_builder(port).build().expect("client")
}

/// Every item of a client's stream, in order, failing the test on an error
/// item; the whole read is bounded by [`WAIT`].
pub async fn all_items<T, E: std::fmt::Debug>(
    stream: impl futures_util::Stream<Item = Result<T, E>> + Unpin,
) -> Vec<T> {
    use futures_util::StreamExt;
    within(stream.map(|item| item.expect("an item")).collect()).await
}

/// Sends raw bytes on a new connection, half-closes it (as a client that
/// has nothing more to say) and reads until the server closes. Returns
/// everything received. Fails the test if the server does not close within
/// [`WAIT`].
pub async fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = within(TcpStream::connect(addr)).await.expect("connect");
    within(s.write_all(bytes)).await.expect("write");
    within(s.shutdown()).await.expect("half-close");
    let mut out = Vec::new();
    // A reset after the server's answer is fine: keep what arrived.
    let _ = within(s.read_to_end(&mut out)).await;
    out
}

/// Splits one framed message off the front of `bytes`: (payload, rest).
pub fn split_frame(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let nl = bytes.iter().position(|b| *b == b'\n')?;
    let len: usize = std::str::from_utf8(&bytes[..nl])
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let rest = &bytes[nl + 1..];
    (rest.len() >= len).then(|| (&rest[..len], &rest[len..]))
}

/// Frames `payload` as TPP does.
pub fn frame(payload: &str) -> Vec<u8> {
    tpp_rpc::unstable::encode_frame(payload.as_bytes())
}

/// Parses the single response frame of `bytes` into JSON.
pub fn response_json(bytes: &[u8]) -> serde_json::Value {
    let (payload, _) = split_frame(bytes)
        .unwrap_or_else(|| panic!("no complete frame in {:?}", String::from_utf8_lossy(bytes)));
    serde_json::from_slice(payload).expect("response is JSON")
}

/// A self-signed certificate for `localhost` and 127.0.0.1, written as PEM
/// files into a fresh temporary directory.
pub struct TestCert {
    /// Directory holding the files.
    pub dir: PathBuf,
    /// Certificate (PEM).
    pub cert: PathBuf,
    /// Private key (PEM, PKCS#8).
    pub key: PathBuf,
}

impl TestCert {
    /// Generates a new certificate.
    pub fn new() -> TestCert {
        let certified = rcgen::generate_simple_self_signed(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
        ])
        .expect("generate certificate");
        let dir = temp_dir("cert");
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, certified.cert.pem()).expect("write cert");
        std::fs::write(&key, certified.key_pair.serialize_pem()).expect("write key");
        TestCert { dir, cert, key }
    }
}

impl TestCert {
    /// A self-signed certificate marked as a CA (`CA:TRUE`, what
    /// `openssl req -x509` makes by default), which rustls refuses as a
    /// server's own certificate even when it is the trusted CA.
    pub fn self_signed_ca() -> TestCert {
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("certificate params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key_pair = rcgen::KeyPair::generate().expect("key pair");
        let certified = params.self_signed(&key_pair).expect("self-sign");
        let dir = temp_dir("ca-cert");
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, certified.pem()).expect("write cert");
        std::fs::write(&key, key_pair.serialize_pem()).expect("write key");
        TestCert { dir, cert, key }
    }
}

impl Default for TestCert {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestCert {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A new empty directory under the system's temporary directory.
pub fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tpp-test-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// The Python interpreter with `toxiccore` installed, as found by the build
/// script (`tests/build.rs`): `$TPP_PYTHON`, else `.venv/bin/python` at the
/// workspace root. The tests that need it are marked
/// `#[cfg_attr(not(tpp_python), ignore = "...")]`, so without it they show as
/// ignored, with the reason, instead of passing without running.
///
/// # Panics
///
/// When the build found no reference: only an ignored test run with
/// `--ignored` gets here, and it fails, as it should.
pub fn reference_python(test: &str) -> PathBuf {
    match option_env!("TPP_PYTHON_FOUND") {
        Some(python) => PathBuf::from(python),
        None => panic!(
            "{test} needs Python with toxicbuild-core: set TPP_PYTHON or create .venv \
             (python3 -m venv .venv && .venv/bin/pip install toxicbuild-core), then rebuild"
        ),
    }
}

/// The Python with toxicbuild-core the build found ([`reference_python`]), or None. For tests
/// outside this crate, which cannot see its `tpp_python` cfg: they skip when it is None,
/// and fail instead under `TPP_REQUIRE_PYTHON=1`.
pub fn found_python() -> Option<PathBuf> {
    option_env!("TPP_PYTHON_FOUND").map(PathBuf::from)
}

/// A low-level service for the hostile-peer tests: `echo` (the body
/// untouched), `big` (N MiB), `fail` (code 5), `stream` (N numbers) and
/// `hang` (never answers).
pub struct TestService;

impl tpp_rpc::Handler for TestService {
    async fn handle(&self, conn: &mut tpp_rpc::Connection) -> Result<(), tpp_rpc::Error> {
        match conn.action() {
            "echo" => {
                let request = conn.request().clone();
                conn.send_result(request.body_raw()?).await
            }
            "big" => {
                let mib: usize = conn.body()?;
                conn.send_result(&"x".repeat(mib << 20)).await
            }
            "fail" => conn.send_error(5, "nope").await,
            "stream" => {
                let n: u64 = conn.body()?;
                tpp_rpc::stream::send_stream(conn, None::<&()>, tpp_rpc::ItemStream::iter(0..n))
                    .await
            }
            "hang" => {
                std::future::pending::<()>().await;
                Ok(())
            }
            _ => tpp_rpc::service::answer_unknown_action(conn).await,
        }
    }
}

/// A `VmRSS:`/`VmHWM:`-style line of /proc/self/status (`key` with its
/// colon), in KiB (0 where /proc is absent).
pub fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// This process's resident memory, in KiB (0 where /proc is absent).
pub fn resident_kib() -> u64 {
    status_kib("VmRSS:")
}

/// Makes dropping `s` send a RST instead of a FIN.
pub fn reset_on_drop(s: &TcpStream) {
    // Deprecated because a non-zero linger blocks on drop; zero does not.
    #[allow(deprecated)]
    s.set_linger(Some(Duration::ZERO)).unwrap();
}

/// A helper script under `tests/python/`.
pub fn python_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(name)
}

/// Runs toxiccore's client, `tests/python/ref_client.py` (see that script
/// for the spec and its ops), with `spec` on its stdin, and returns its
/// results: the JSON array on the last line of its stdout, one per op.
///
/// The spec is written from a task of its own while the output is read, so
/// neither pipe can fill up and block the other. Every wait is bounded by
/// [`WAIT`], and the process is killed if the test gives up on it. Fails the
/// test, with the script's stderr, when it exits unsuccessfully, prints no
/// results or not one per op.
pub async fn ref_client(python: &Path, spec: serde_json::Value) -> Vec<serde_json::Value> {
    use std::process::Stdio;

    let mut child = tokio::process::Command::new(python)
        .arg(python_script("ref_client.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn ref_client.py");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = serde_json::to_vec(&spec).expect("spec");
    let writer = tokio::spawn(async move {
        stdin.write_all(&input).await?;
        stdin.shutdown().await
    });
    let out = within(child.wait_with_output())
        .await
        .expect("wait for ref_client.py");
    within(writer)
        .await
        .expect("stdin task")
        .expect("write the spec to ref_client.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "ref_client.py failed ({}):\n{stderr}",
        out.status
    );
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty());
    let results: Vec<serde_json::Value> = last
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("ref_client.py printed no results:\n{stdout}\n{stderr}"));
    let ops = spec["ops"].as_array().map_or(0, Vec::len);
    assert_eq!(results.len(), ops, "one result per op: {results:?}");
    results
}

/// The token [`RefServer`] starts `ref_server.py` with (the script stores a
/// toxiccore-style bcrypt hash of it, cost 4).
pub const REF_TOKEN: &str = "py-secret-ç";

/// A toxiccore `ToxicServer` running `tests/python/ref_server.py` (see that
/// script for its actions), on 127.0.0.1 and a free port, authenticating
/// [`REF_TOKEN`].
///
/// The process is killed and reaped when the guard is dropped, whatever
/// happens in the test. Its stdout is drained after the first line (the
/// port) and its stderr is kept: [`RefServer::stderr`] returns it, and it is
/// printed when the guard drops during a panic.
///
/// ```no_run
/// # async fn t(python: &std::path::Path) {
/// let server = tpp_tests::RefServer::start(python, None).await;
/// let client = server.client().build().unwrap();
/// # }
/// ```
pub struct RefServer {
    child: std::process::Child,
    port: u16,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl RefServer {
    /// Starts the server (TLS when `tls` is given) and waits, for at most
    /// [`WAIT`], until it prints its port. The wait runs on tokio's blocking
    /// pool, so the test's runtime keeps running.
    pub async fn start(python: &Path, tls: Option<&TestCert>) -> RefServer {
        let (mut server, port) = RefServer::spawn(python, tls);
        let line = within(tokio::task::spawn_blocking(move || {
            port.recv_timeout(WAIT).unwrap_or_default()
        }))
        .await
        .unwrap_or_default();
        server.set_port(&line);
        server
    }

    /// [`RefServer::start`] for plain `#[test]`s (no runtime): blocks the
    /// thread for at most [`WAIT`] until the port is printed.
    pub fn start_blocking(python: &Path, tls: Option<&TestCert>) -> RefServer {
        let (mut server, port) = RefServer::spawn(python, tls);
        let line = port.recv_timeout(WAIT).unwrap_or_default();
        server.set_port(&line);
        server
    }

    /// Spawns the process and its pipe readers; the receiver gets stdout's
    /// first line. From here on the guard kills the process on drop.
    fn spawn(
        python: &Path,
        tls: Option<&TestCert>,
    ) -> (RefServer, std::sync::mpsc::Receiver<String>) {
        use std::io::{BufRead, Read};
        use std::process::Stdio;

        let mut cmd = std::process::Command::new(python);
        cmd.arg(python_script("ref_server.py"))
            .args(["--token", REF_TOKEN]);
        if let Some(cert) = tls {
            cmd.arg("--tls").arg(&cert.cert).arg(&cert.key);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ref_server.py");
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = std::io::BufReader::new(stdout);
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let _ = tx.send(first);
            // Keep the pipe drained so the server never blocks on it.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let server = RefServer {
            child,
            port: 0,
            stderr: log,
        };
        (server, rx)
    }

    fn set_port(&mut self, line: &str) {
        self.port = line.trim().parse().unwrap_or_else(|_| {
            panic!(
                "ref_server.py did not print its port (got {line:?}); stderr:\n{}",
                self.stderr()
            )
        });
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// What the server wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// A client builder for it: [`REF_TOKEN`] and a 10 s timeout per call
    /// (plain TCP; add TLS settings for a TLS server).
    pub fn client(&self) -> tpp_rpc::ClientBuilder {
        tpp_rpc::Client::builder("127.0.0.1", self.port)
            .token(REF_TOKEN)
            .timeout(Duration::from_secs(10))
    }
}

impl Drop for RefServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("ref_server.py stderr:\n{}", self.stderr());
        }
    }
}

/// Collects everything a `tracing` subscriber writes, for tests of the logs:
/// `tracing_subscriber::fmt().with_writer(sink.clone())`, then [`LogSink::text`].
#[derive(Clone, Default)]
pub struct LogSink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogSink {
    /// Captures everything logged on this thread at `level` and above, until
    /// the guard is dropped.
    pub fn capture(level: tracing::Level) -> (LogSink, tracing::subscriber::DefaultGuard) {
        let sink = LogSink::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(sink.clone())
            .finish();
        (sink, tracing::subscriber::set_default(subscriber))
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().map(|v| v.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogSink {
    type Writer = LogSink;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Marks a test of another crate (the CLI's) as needing the Python reference:
/// ignored, with the reason, when the build of this crate found none (see
/// [`reference_python`]). Tests of this crate write
/// `#[cfg_attr(not(tpp_python), ignore = "...")]` instead.
#[cfg(not(tpp_python))]
#[macro_export]
macro_rules! python_test {
    ($(#[$meta:meta])* fn $name:ident() $body:block) => {
        $(#[$meta])*
        #[ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"]
        fn $name() $body
    };
}

/// Marks a test of another crate (the CLI's) as needing the Python reference
/// (found by this build: the test runs).
#[cfg(tpp_python)]
#[macro_export]
macro_rules! python_test {
    ($(#[$meta:meta])* fn $name:ident() $body:block) => {
        $(#[$meta])*
        fn $name() $body
    };
}

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
