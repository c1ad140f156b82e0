//! Helpers shared by the integration tests: servers on 127.0.0.1:0, raw
//! sockets, test certificates, the Python reference, and timeouts on
//! every wait.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Upper bound for any single wait in a test.
pub const WAIT: Duration = Duration::from_secs(20);

/// Awaits `f`, failing the test if it takes longer than [`WAIT`].
pub async fn within<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f)
        .await
        .expect("test step timed out")
}

/// A running server: its address, a shutdown handle and its task.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Stops it.
    pub shutdown: tpp::ShutdownHandle,
    /// The serving task.
    pub task: tokio::task::JoinHandle<Result<(), tpp::Error>>,
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
pub async fn start(builder: tpp::ServerBuilder, handler: impl tpp::Handler) -> Running {
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
    tpp::frame::encode_frame(payload.as_bytes())
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

/// The Python interpreter with `toxiccore` installed: `$TPP_PYTHON`, else
/// `.venv/bin/python` at the workspace root. `None` when neither works.
pub fn python() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("TPP_PYTHON").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python")),
    ];
    candidates.into_iter().flatten().find(|p| {
        std::process::Command::new(p)
            .args(["-c", "import toxiccore"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Like [`python`], but fails the test when the reference is missing and
/// `TPP_REQUIRE_PYTHON=1` (as in CI), and otherwise says it skips.
pub fn python_or_skip(test: &str) -> Option<PathBuf> {
    let found = python();
    if found.is_none() {
        if std::env::var("TPP_REQUIRE_PYTHON").is_ok_and(|v| v == "1") {
            panic!("{test}: Python with toxiccore is required (TPP_REQUIRE_PYTHON=1); run .ci/run or create .venv");
        }
        eprintln!("SKIPPED {test}: no Python with toxiccore (create .venv: python3 -m venv .venv && .venv/bin/pip install toxicbuild-core)");
    }
    found
}

/// A low-level service for the hostile-peer tests: `echo` (the body
/// untouched), `big` (N MiB), `fail` (code 5), `stream` (N numbers) and
/// `hang` (never answers).
pub struct TestService;

impl tpp::Handler for TestService {
    async fn handle(&self, conn: &mut tpp::Connection) -> Result<(), tpp::Error> {
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
                tpp::stream::send_stream(conn, None::<&()>, tpp::ItemStream::iter(0..n)).await
            }
            "hang" => {
                std::future::pending::<()>().await;
                Ok(())
            }
            _ => tpp::service::answer_unknown_action(conn).await,
        }
    }
}

/// This process's resident memory, in KiB (0 where /proc is absent).
pub fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Makes dropping `s` send a RST instead of a FIN.
pub fn reset_on_drop(s: &TcpStream) {
    // Deprecated because a non-zero linger blocks on drop; zero does not.
    #[allow(deprecated)]
    s.set_linger(Some(Duration::ZERO)).unwrap();
}
