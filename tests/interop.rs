//! Interop with the Python reference, toxiccore (toxicbuild-core 0.10.0).
//!
//! Both directions, over plain TCP and TLS:
//! - toxiccore's `BaseToxicClient` (driven by `tests/python/ref_client.py`)
//!   against our server, authenticated with a bcrypt hash made by toxiccore's
//!   own `bcrypt_string`;
//! - our `tpp_rpc::Client` against a toxiccore `ToxicServer`
//!   (`tests/python/ref_server.py`), run as a subprocess killed when the test
//!   ends.
//!
//! Every test needs Python with toxiccore: `$TPP_PYTHON` or `.venv` at the
//! workspace root. Without it a test says it skips, unless
//! `TPP_REQUIRE_PYTHON=1` (CI), where it fails.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::OnceCell;
use tpp_rpc::{ClientError, Connection, Handler, Server};
use tpp_tests::{
    all_items, ref_client, reference_python, start, within, RefServer, TestCert, REF_TOKEN, WAIT,
};

// ---------------------------------------------------------------------------
// Python helpers
// ---------------------------------------------------------------------------

/// The result of a successful op.
#[track_caller]
fn ok<'a>(r: &'a Value, what: &str) -> &'a Value {
    assert_eq!(
        r["ok"],
        json!(true),
        "{what}: the Python client failed: {}",
        cut(r)
    );
    r
}

/// Asserts that an op raised `exc` with exactly `message`.
#[track_caller]
fn raised(r: &Value, exc: &str, message: &str, what: &str) {
    assert_eq!(
        (r["ok"].clone(), r["exc"].clone(), r["message"].clone()),
        (json!(false), json!(exc), json!(message)),
        "{what}: {}",
        cut(r)
    );
}

fn cut(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 600 {
        let head: String = s.chars().take(600).collect();
        format!("{head}… ({} bytes)", s.len())
    } else {
        s
    }
}

/// The token whose hash toxiccore makes (non-ASCII on purpose: both sides
/// must hash its UTF-8 bytes).
const HASHED_TOKEN: &str = "s3cret-ção-🔑";

/// `toxiccore.utils.bcrypt_string(HASHED_TOKEN)` (cost 12), made once per
/// test run by Python.
async fn python_made_hash(python: &Path) -> &'static str {
    static HASH: OnceCell<String> = OnceCell::const_new();
    HASH.get_or_init(|| async {
        let spec = json!({"ops": [{"op": "bcrypt", "token": HASHED_TOKEN}]});
        let results = ref_client(python, spec).await;
        let hash = ok(&results[0], "bcrypt_string")["result"]
            .as_str()
            .expect("a hash")
            .to_owned();
        assert!(hash.starts_with("$2b$12$"), "{hash}");
        hash
    })
    .await
}

// ---------------------------------------------------------------------------
// Our server, as toxiccore's client sees it
// ---------------------------------------------------------------------------

/// A low-level handler, like a toxicbuild `BaseToxicProtocol`.
struct Interop;

#[derive(Deserialize)]
struct Fail {
    code: i64,
    message: String,
}

#[derive(Deserialize)]
struct Build {
    steps: usize,
    /// "close" (default), "null" or "error".
    #[serde(default)]
    end: String,
    /// Close explicitly (a one-item stream would otherwise be kept alive).
    #[serde(default)]
    close: bool,
}

fn build_item(i: usize) -> Value {
    json!({"step": i, "output": format!("passo {i} ✔ 构建 🚀")})
}

impl Handler for Interop {
    async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
        match conn.action() {
            "echo" => {
                let body: Value = conn.body()?;
                conn.send_result(&body).await
            }
            "hello" => {
                #[derive(Deserialize)]
                struct Hello {
                    name: String,
                }
                let hello: Hello = conn.body()?;
                conn.send_result(&format!("Olá, {}! 你好 🎉", hello.name))
                    .await
            }
            "ação" => conn.send_result("feito ✓").await,
            "whoami" => {
                let user = conn.context().extra("user_id").cloned();
                conn.send_result(&user).await
            }
            "fail" => {
                let fail: Fail = conn.body()?;
                conn.send_error(fail.code, &fail.message).await
            }
            "build" => {
                let build: Build = conn.body()?;
                for i in 0..build.steps {
                    conn.send_response(0, &build_item(i)).await?;
                }
                match build.end.as_str() {
                    "null" => conn.send_response(0, &Value::Null).await?,
                    "error" => conn.send_error(5, "step failed").await?,
                    _ => {}
                }
                if build.close {
                    conn.close();
                }
                Ok(())
            }
            _ => tpp_rpc::service::answer_unknown_action(conn).await,
        }
    }
}

/// Our server, authenticating with the hash toxiccore made, on 127.0.0.1:0.
async fn our_server(python: &Path, tls: Option<&TestCert>) -> tpp_tests::Running {
    let hash = python_made_hash(python).await;
    let mut builder = Server::builder().token_hash(hash);
    if let Some(cert) = tls {
        builder = builder.tls_pem_files(&cert.cert, &cert.key);
    }
    start(builder, Interop).await
}

fn client_spec(port: u16, tls: bool, ops: Vec<Value>) -> Value {
    json!({
        "host": "127.0.0.1",
        "port": port,
        "use_ssl": tls,
        "validate_cert": false,
        "timeout": 15,
        "ops": ops,
    })
}

fn r2s(action: &str, body: Value, token: Value) -> Value {
    json!({"op": "request2server", "action": action, "body": body, "token": token})
}

/// About 1 MiB of text mixing 1- to 4-byte UTF-8 characters.
fn big_text() -> String {
    let text = "é中😀x".repeat(110_000);
    assert!(text.len() > 1024 * 1024);
    text
}

async fn python_request2server(test: &str, tls: bool) {
    let python = reference_python(test);
    let cert = tls.then(TestCert::new);
    let server = our_server(&python, cert.as_ref()).await;
    let token = json!(HASHED_TOKEN);
    let non_ascii = json!({"s": "é 中文 😀", "list": ["ü", {"ß": "\u{10FFFF}"}], "n": 1.5});
    let big = big_text();
    let mut ops = vec![
        r2s("echo", json!({"text": "plain"}), token.clone()),
        r2s("echo", non_ascii.clone(), token.clone()),
        r2s("hello", json!({"name": "José 中文 😀"}), token.clone()),
        r2s("ação", json!({}), token.clone()),
        r2s("echo", json!({"big": big}), token.clone()),
    ];
    let codes = [1, 2, 3, 4, 5, 6];
    for code in codes {
        ops.push(r2s(
            "fail",
            json!({"code": code, "message": format!("falhou {code} ✗ 失败")}),
            token.clone(),
        ));
    }
    ops.extend([
        r2s("echo", json!(1), json!("wrong token")),
        r2s("echo", json!(1), Value::Null),
        r2s("echo", json!(1), json!("")),
        r2s("nope", json!(1), token.clone()),
        r2s("", json!(1), token.clone()),
        // Still served after all that.
        r2s("echo", json!("last"), token.clone()),
    ]);
    let results = within(ref_client(&python, client_spec(server.port(), tls, ops))).await;
    let mut r = results.iter();
    let mut next = || r.next().expect("one result per op");

    assert_eq!(ok(next(), "echo")["result"], json!({"text": "plain"}));
    assert_eq!(ok(next(), "echo non-ASCII")["result"], non_ascii);
    assert_eq!(
        ok(next(), "hello")["result"],
        json!("Olá, José 中文 😀! 你好 🎉")
    );
    assert_eq!(ok(next(), "non-ASCII action")["result"], json!("feito ✓"));
    let echoed = ok(next(), "1 MiB echo");
    assert!(
        echoed["result"]["big"].as_str() == Some(big.as_str()),
        "the 1 MiB body did not come back intact: {}",
        cut(echoed)
    );
    for code in codes {
        raised(
            next(),
            "ToxicClientException",
            &format!("falhou {code} ✗ 失败"),
            &format!("error code {code}"),
        );
    }
    raised(
        next(),
        "ToxicClientException",
        "Bad auth token",
        "wrong token",
    );
    raised(
        next(),
        "ToxicClientException",
        "No auth token",
        "token None",
    );
    raised(
        next(),
        "ToxicClientException",
        "No auth token",
        "token \"\"",
    );
    raised(
        next(),
        "ToxicClientException",
        "Action nope does not exist",
        "unknown action",
    );
    // The reference answers a bare string here, and its own client then
    // fails with TypeError; ours answers {"error": ...}.
    raised(
        next(),
        "ToxicClientException",
        "No action found!",
        "empty action",
    );
    assert_eq!(ok(next(), "last echo")["result"], json!("last"));
    server.stop().await;
}

/// toxiccore's `request2server` against our server over plain TCP: success,
/// non-ASCII both ways (body, result, action name), 1 MiB, error codes 1-6,
/// wrong/missing token against a hash made by toxiccore, unknown and empty
/// actions.
#[tokio::test]
#[cfg_attr(
    not(tpp_python),
    ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"
)]
async fn python_request2server_against_our_server_tcp() {
    python_request2server("python_request2server_against_our_server_tcp", false).await;
}

/// The same over TLS (self-signed certificate, `validate_cert=False`).
#[tokio::test]
#[cfg_attr(
    not(tpp_python),
    ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"
)]
async fn python_request2server_against_our_server_tls() {
    python_request2server("python_request2server_against_our_server_tls", true).await;
}

fn exchange(message: Value) -> Value {
    json!({"op": "exchange", "message": message})
}

async fn python_build_loop(test: &str, tls: bool) {
    let python = reference_python(test);
    let cert = tls.then(TestCert::new);
    let server = our_server(&python, cert.as_ref()).await;
    let build =
        |body: Value| exchange(json!({"action": "build", "body": body, "token": HASHED_TOKEN}));
    let ops = vec![
        // The handler sends 3 responses and returns: the connection closes
        // and toxiccore reads `{}`.
        build(json!({"steps": 3})),
        // A one-item stream that closes explicitly.
        build(json!({"steps": 1, "close": true})),
        // A `null` body ends the loop.
        build(json!({"steps": 2, "end": "null"})),
        // An error code ends it with ToxicClientException.
        build(json!({"steps": 3, "end": "error"})),
        // Extra top-level fields reach the handler (toxicbuild's user_id).
        // whoami is unary: our server answers and closes, as the reference
        // does, so the loop (reading until the close, bounded by the spec's
        // 15 s, well under the server's 30 s idle timeout) ends on `{}`.
        json!({
            "op": "exchange",
            "message": {"action": "whoami", "body": {}, "token": HASHED_TOKEN, "user_id": "u-1 ü"},
        }),
    ];
    let spec = client_spec(server.port(), tls, ops);
    let results = within(ref_client(&python, spec)).await;
    let items = |n: usize| {
        (0..n)
            .map(|i| json!({"code": 0, "body": build_item(i)}))
            .collect::<Vec<_>>()
    };

    let r = ok(&results[0], "build, close");
    assert_eq!(r["responses"], json!(items(3)));
    assert_eq!(r["last"], json!({}), "a closed stream reads as {{}}");

    let r = ok(&results[1], "build, one item, close()");
    assert_eq!(r["responses"], json!(items(1)));
    assert_eq!(r["last"], json!({}));

    let r = ok(&results[2], "build, null end");
    assert_eq!(r["responses"], json!(items(2)));
    assert_eq!(r["last"], json!({"code": 0, "body": null}));

    let r = &results[3];
    raised(r, "ToxicClientException", "step failed", "build, error end");
    assert_eq!(r["responses"], json!(items(3)));

    let r = ok(&results[4], "whoami with user_id");
    assert_eq!(
        r["responses"],
        json!([{"code": 0, "body": {"whoami": "u-1 ü"}}])
    );
    assert_eq!(r["last"], json!({}), "the close right after the response");
    server.stop().await;
}

/// toxicbuild's build loop (`while True: r = await client.get_response();
/// if not r or r.get('body') is None: break`) against a handler that sends
/// several responses then returns, over plain TCP.
#[tokio::test]
#[cfg_attr(
    not(tpp_python),
    ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"
)]
async fn python_build_loop_against_our_server_tcp() {
    python_build_loop("python_build_loop_against_our_server_tcp", false).await;
}

/// The same over TLS.
#[tokio::test]
#[cfg_attr(
    not(tpp_python),
    ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"
)]
async fn python_build_loop_against_our_server_tls() {
    python_build_loop("python_build_loop_against_our_server_tls", true).await;
}

/// toxiccore with `validate_cert=True` refuses our self-signed certificate
/// (T2), and our server keeps serving.
#[tokio::test]
#[cfg_attr(
    not(tpp_python),
    ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"
)]
async fn python_client_validating_refuses_our_self_signed_cert() {
    let python = reference_python("python_client_validating_refuses_our_self_signed_cert");
    let cert = TestCert::new();
    let server = our_server(&python, Some(&cert)).await;
    let ops = vec![r2s("echo", json!(1), json!(HASHED_TOKEN))];
    let mut spec = client_spec(server.port(), true, ops.clone());
    spec["validate_cert"] = json!(true);
    let results = within(ref_client(&python, spec)).await;
    assert_eq!(
        results[0]["exc"],
        json!("SSLCertVerificationError"),
        "{}",
        cut(&results[0])
    );
    let results = within(ref_client(&python, client_spec(server.port(), true, ops))).await;
    assert_eq!(
        ok(&results[0], "after a refused handshake")["result"],
        json!(1)
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------
// The reference server, measured raw
// ---------------------------------------------------------------------------

/// Sends `bytes` to `addr`, half-closes, and reads until the peer closes.
fn raw_std(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = StdTcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    s.set_write_timeout(Some(WAIT)).expect("timeout");
    s.write_all(bytes).expect("write");
    s.shutdown(std::net::Shutdown::Write).expect("half-close");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

fn framed(payload: &str) -> Vec<u8> {
    tpp_tests::frame(payload)
}

/// Measures the reference server's answers to the rows of docs/PROTOCOL.md that
/// it answers (the ones that freeze it, F5, are left out), byte for byte.
#[tokio::test]
#[cfg_attr(
    not(tpp_python),
    ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"
)]
async fn reference_server_answers_as_protocol_md_says() {
    let python = reference_python("reference_server_answers_as_protocol_md_says");
    let server = RefServer::start(&python, None).await;
    let addr = server.addr();
    let echo = serde_json::to_string(&json!({"token": REF_TOKEN, "action": "echo", "body": 1}))
        .expect("json");
    let ok_answer = "32\n{\"code\": 0, \"body\": {\"echo\": 1}}".to_owned();
    let bad_data =
        "69\n{\"code\": 1, \"body\": {\"error\": \"Something wrong with your data None\"}}";
    let no_token = "47\n{\"code\": 2, \"body\": {\"error\": \"No auth token\"}}";
    let bad_token = "48\n{\"code\": 3, \"body\": {\"error\": \"Bad auth token\"}}";
    let no_action = "39\n{\"code\": 1, \"body\": \"No action found!\"}";
    // S6: the check crashes, nothing is sent, and the handler runs
    // unauthenticated with action None (ref_server.py answers it).
    let unauthenticated =
        "60\n{\"code\": 1, \"body\": {\"error\": \"Action None does not exist\"}}";
    let with_token = |rest: &str| framed(&format!("{{\"token\": \"{REF_TOKEN}\"{rest}}}"));
    let n = echo.len();
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        ("F1 a normal request", framed(&echo), ok_answer.clone()),
        (
            "F2 \" N \"",
            format!(" {n} \n{echo}").into_bytes(),
            ok_answer.clone(),
        ),
        (
            "F2 \"N\\r\"",
            format!("{n}\r\n{echo}").into_bytes(),
            ok_answer.clone(),
        ),
        (
            "F2 \"00N\"",
            format!("00{n}\n{echo}").into_bytes(),
            ok_answer.clone(),
        ),
        (
            "F2 \"+N\"",
            format!("+{n}\n{echo}").into_bytes(),
            ok_answer.clone(),
        ),
        ("F4 lone \\n", b"\n".to_vec(), bad_data.into()),
        ("F4 0\\n", b"0\n".to_vec(), bad_data.into()),
        ("S1 not JSON", framed("nope"), bad_data.into()),
        ("S1 {}", framed("{}"), bad_data.into()),
        ("S1 []", framed("[]"), bad_data.into()),
        ("S1 \"\"", framed("\"\""), bad_data.into()),
        ("S1 0", framed("0"), bad_data.into()),
        ("S1 false", framed("false"), bad_data.into()),
        ("S1 null", framed("null"), bad_data.into()),
        (
            "S2 token absent",
            framed(r#"{"action": "echo"}"#),
            no_token.into(),
        ),
        (
            "S2 token \"\"",
            framed(r#"{"token": "", "action": "echo"}"#),
            no_token.into(),
        ),
        (
            "S2 token null",
            framed(r#"{"token": null, "action": "echo"}"#),
            no_token.into(),
        ),
        // Not in docs/PROTOCOL.md's S2 row: the reference tests `not token`, so
        // every falsy token is "No auth token".
        (
            "S2 token false",
            framed(r#"{"token": false, "action": "echo"}"#),
            no_token.into(),
        ),
        (
            "S2 token 0",
            framed(r#"{"token": 0, "action": "echo"}"#),
            no_token.into(),
        ),
        (
            "S2 token []",
            framed(r#"{"token": [], "action": "echo"}"#),
            no_token.into(),
        ),
        (
            "S2 token {}",
            framed(r#"{"token": {}, "action": "echo"}"#),
            no_token.into(),
        ),
        (
            "S3 wrong token",
            framed(r#"{"token": "wrong", "action": "echo"}"#),
            bad_token.into(),
        ),
        ("S4 action absent", with_token(""), no_action.into()),
        (
            "S4 action \"\"",
            with_token(", \"action\": \"\""),
            no_action.into(),
        ),
        (
            "S4 action null",
            with_token(", \"action\": null"),
            no_action.into(),
        ),
        (
            "S4 action false",
            with_token(", \"action\": false"),
            no_action.into(),
        ),
        (
            "S6 token 5",
            framed(r#"{"token": 5, "action": "echo"}"#),
            unauthenticated.into(),
        ),
        (
            "S6 token over 72 bytes",
            framed(&format!(
                r#"{{"token": "{}", "action": "echo"}}"#,
                "x".repeat(73)
            )),
            unauthenticated.into(),
        ),
    ];
    for (name, input, expected) in cases {
        let got = within(tokio::task::spawn_blocking(move || raw_std(addr, &input)))
            .await
            .expect("raw exchange");
        assert_eq!(
            String::from_utf8_lossy(&got),
            expected,
            "{name}: the reference answered differently"
        );
    }
    // S6: a non-numeric header, invalid UTF-8 and a non-object top level get
    // nothing at all (the handler then fails on `self.data` and closes).
    for (name, input) in [
        ("S6 header abc", b"abc\n".to_vec()),
        (
            "S6 not UTF-8",
            tpp_rpc::unstable::encode_frame(b"{\"a\": \"\xff\"}"),
        ),
        ("S6 top-level list", framed("[1]")),
    ] {
        let got = within(tokio::task::spawn_blocking(move || raw_std(addr, &input)))
            .await
            .expect("raw exchange");
        assert!(
            got.is_empty(),
            "{name}: {:?}",
            String::from_utf8_lossy(&got)
        );
    }
}

// ---------------------------------------------------------------------------
// Our client against the reference server
// ---------------------------------------------------------------------------

#[track_caller]
fn server_error<T: std::fmt::Debug>(
    r: Result<T, ClientError>,
    code: i64,
    message: &str,
    what: &str,
) {
    match r {
        Err(ClientError::Server {
            code: c,
            message: m,
            ..
        }) => {
            assert_eq!((c, m.as_str()), (code, message), "{what}")
        }
        other => panic!("{what}: expected server error {code} {message:?}, got {other:?}"),
    }
}

async fn our_client_unary(client: &tpp_rpc::Client) {
    let echoed: Value = within(client.request2server("echo", &json!({"s": "é 中文 😀"})))
        .await
        .expect("echo");
    assert_eq!(echoed, json!({"s": "é 中文 😀"}));

    let big = big_text();
    let echoed: Value = within(client.request2server("echo", &json!({ "big": big })))
        .await
        .expect("1 MiB echo");
    assert!(echoed["big"].as_str() == Some(big.as_str()), "1 MiB echo");

    for code in 1..=6 {
        let message = format!("erro {code} ✗");
        let r = within(client.request("error", &json!({"code": code, "message": message}))).await;
        server_error(r, code, &message, "error code");
    }
    let r = within(client.request("bare-error", &json!({"code": 4, "message": "só texto"}))).await;
    server_error(r, 4, "só texto", "bare-string error body");
    let r = within(client.request("string-code", &json!({"code": 6, "message": "seis"}))).await;
    server_error(r, 6, "seis", "code as a numeric string");

    let fine: String = within(client.request2server("no-code", &json!(null)))
        .await
        .expect("a response without code is a success");
    assert_eq!(fine, "fine");
    let r = within(client.request2server::<_, Value>("no-key", &json!(null))).await;
    assert!(
        matches!(&r, Err(ClientError::MissingActionKey { action, .. }) if action == "no-key"),
        "{r:?}"
    );
    let user: String = within(
        client
            .with_field("user_id", "u-1 ü")
            .request2server("whoami", &json!({})),
    )
    .await
    .expect("whoami");
    assert_eq!(user, "u-1 ü");

    let r = within(client.with_token("wrong").request("echo", &json!(1))).await;
    server_error(r, 3, "Bad auth token", "wrong token");
    let r = within(client.with_token("").request("echo", &json!(1))).await;
    server_error(r, 2, "No auth token", "empty token");
    let r = within(client.request("", &json!(1))).await;
    server_error(r, 1, "No action found!", "empty action (bare string body)");
    let r = within(client.request("nope", &json!(1))).await;
    server_error(r, 1, "Action nope does not exist", "unknown action");
    let r = within(client.request("close", &json!(1))).await;
    assert!(matches!(r, Err(ClientError::Closed)), "{r:?}");

    let started = Instant::now();
    let r = within(
        client
            .with_timeout(Duration::from_millis(300))
            .request("sleep", &json!({"seconds": 5})),
    )
    .await;
    assert!(matches!(r, Err(ClientError::Timeout(_))), "{r:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// Our client against toxiccore's server over plain TCP: success, non-ASCII,
/// 1 MiB, error codes 1-6 (object, bare-string and string-code bodies), a
/// response without code, a missing action key, extra fields, auth errors,
/// a close without answer and the client's timeout.
#[tokio::test]
#[cfg_attr(
    not(tpp_python),
    ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"
)]
async fn our_client_against_reference_server_tcp() {
    let python = reference_python("our_client_against_reference_server_tcp");
    let server = RefServer::start(&python, None).await;
    let client = server.client().build().expect("client");
    our_client_unary(&client).await;
    let no_token = tpp_rpc::Client::builder("127.0.0.1", server.port())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let r = within(no_token.request("echo", &json!(1))).await;
    server_error(r, 2, "No auth token", "no token at all (null)");
}

/// The default (pooled) client against toxiccore's `ToxicServer`, which
/// closes after every answer: 1000 sequential and 200 concurrent calls, not
/// one failure, and no connection ever reused (the server never promised
/// keep-alive). The pipelined mode falls back to the same.
#[tokio::test]
#[cfg_attr(
    not(tpp_python),
    ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"
)]
async fn our_pooled_client_against_reference_server_never_fails() {
    let python = reference_python("our_pooled_client_against_reference_server_never_fails");
    let server = RefServer::start(&python, None).await;
    let client = server.client().build().expect("client");
    for i in 0..1000 {
        let v: Value = within(client.request2server("echo", &json!({"i": i})))
            .await
            .unwrap_or_else(|e| panic!("sequential call {i}: {e}"));
        assert_eq!(v, json!({"i": i}));
    }
    let sequential = client.connections_opened();
    concurrent_echoes(&client, 200).await;
    let all = client.connections_opened();
    eprintln!(
        "pooled client vs ToxicServer: {:.2} connections per call sequential, {:.2} concurrent",
        sequential as f64 / 1000.0,
        (all - sequential) as f64 / 200.0
    );
    assert_eq!(all, 1200, "one connection per call, none reused");
    assert_eq!(client.idle_connections(), 0);

    let pipelined = server.client().pipelined(2).build().expect("client");
    concurrent_echoes(&pipelined, 50).await;
}

/// `n` concurrent `echo` calls on `client`: each must get its own answer.
async fn concurrent_echoes(client: &tpp_rpc::Client, n: usize) {
    let calls = (0..n).map(|i| {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .request2server::<_, Value>("echo", &json!({"i": i}))
                .await
        })
    });
    for (i, r) in within(futures_util::future::join_all(calls))
        .await
        .into_iter()
        .enumerate()
    {
        let v = r
            .unwrap()
            .unwrap_or_else(|e| panic!("concurrent call {i}: {e}"));
        assert_eq!(v, json!({"i": i}));
    }
}

/// Opens the reference server's streaming `action` for `steps` items, each
/// awaited for at most 10 s.
async fn ref_stream(client: &tpp_rpc::Client, action: &str, steps: u32) -> tpp_rpc::ResponseStream {
    let item_timeout = Some(Duration::from_secs(10));
    within(client.request_stream(action, &json!({ "steps": steps }), item_timeout))
        .await
        .expect("stream")
}

async fn our_client_streams(client: &tpp_rpc::Client) {
    let expected: Vec<Value> = (0..4).map(build_item).collect();

    // Items, then the server closes.
    let items = all_items(ref_stream(client, "build", 4).await.typed::<Value>()).await;
    assert_eq!(items, expected);

    // Items, then a null body while the server keeps the connection open
    // for 30 s: the stream must end at the null body.
    let started = Instant::now();
    let items = all_items(ref_stream(client, "build-null", 2).await.typed::<Value>()).await;
    assert_eq!(items, expected[..2]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // Items, then an error code.
    let mut stream = ref_stream(client, "build-error", 3).await;
    for want in &expected[..3] {
        let got = within(stream.next_response())
            .await
            .expect("an item")
            .expect("a success");
        assert_eq!(&got.body::<Value>().expect("json"), want);
    }
    let end = within(stream.next_response()).await;
    match end {
        Some(Err(ClientError::Server {
            code: 5, message, ..
        })) => assert_eq!(message, "step failed"),
        other => panic!("expected the stream's error, got {other:?}"),
    }
    assert!(within(stream.next_response()).await.is_none());
}

/// `Client::request_stream` against toxiccore's server: a build-style stream
/// that ends when the server closes, one that ends on a null body, one that
/// ends with an error code.
#[tokio::test]
#[cfg_attr(
    not(tpp_python),
    ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"
)]
async fn our_client_streams_from_reference_server_tcp() {
    let python = reference_python("our_client_streams_from_reference_server_tcp");
    let server = RefServer::start(&python, None).await;
    let client = server.client().build().expect("client");
    our_client_streams(&client).await;
}

/// Our client with `tls_insecure()` against toxiccore's TLS server with a
/// self-signed certificate: unary calls, errors and streams.
#[tokio::test]
#[cfg_attr(
    not(tpp_python),
    ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"
)]
async fn our_client_against_reference_server_tls_insecure() {
    let python = reference_python("our_client_against_reference_server_tls_insecure");
    let cert = TestCert::new();
    let server = RefServer::start(&python, Some(&cert)).await;
    let client = server.client().tls_insecure().build().expect("client");
    our_client_unary(&client).await;
    our_client_streams(&client).await;
}

/// With validation on, our client refuses toxiccore's self-signed
/// certificate, whether it trusts the system's roots or an unrelated CA, with
/// a `ClientError::Tls`; it accepts it when that very certificate is its CA.
/// A plaintext client on the TLS port gets no answer (T3).
#[tokio::test]
#[cfg_attr(
    not(tpp_python),
    ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"
)]
async fn our_client_validates_reference_server_cert() {
    let python = reference_python("our_client_validates_reference_server_cert");
    let cert = TestCert::new();
    let other = TestCert::new();
    let server = RefServer::start(&python, Some(&cert)).await;

    let client = server
        .client()
        .tls_ca_file(&other.cert)
        .build()
        .expect("client");
    let r = within(client.request("echo", &json!(1))).await;
    match &r {
        Err(ClientError::Tls { source, .. }) => {
            let text = source.to_string();
            assert!(
                text.contains("certificate") || text.contains("Certificate"),
                "the TLS error should say it is about the certificate: {text}"
            );
        }
        other => panic!("unrelated CA: expected ClientError::Tls, got {other:?}"),
    }

    match server.client().tls().build() {
        Ok(client) => {
            let r = within(client.request("echo", &json!(1))).await;
            assert!(
                matches!(r, Err(ClientError::Tls { .. })),
                "system roots: {r:?}"
            );
        }
        // A machine without system roots: the config says so.
        Err(ClientError::TlsConfig(e)) => eprintln!("no system roots here: {e}"),
        Err(e) => panic!("system roots: {e:?}"),
    }

    let client = server
        .client()
        .tls_ca_file(&cert.cert)
        .server_name("localhost")
        .build()
        .expect("client");
    let echoed: Value = within(client.request2server("echo", &json!("trusted")))
        .await
        .expect("validated TLS");
    assert_eq!(echoed, json!("trusted"));

    let plain = server
        .client()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let r = within(plain.request("echo", &json!(1))).await;
    assert!(
        matches!(r, Err(ClientError::Closed | ClientError::Io(_))),
        "plaintext on a TLS port: {r:?}"
    );
}
