//! Malformed input against our server, over raw sockets: every row of
//! docs/PROTOCOL.md where a peer breaks the framing or the envelope (F2-F5,
//! S1-S4, S6, S9, S10, unknown actions).
//!
//! Each case checks the exact answer (code and body, framed as F1 says) or a
//! quiet close, that the server closes after an error by itself, and that a
//! normal request on a new connection is served right after.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tpp_rpc::{Connection, Handler, Server, ServerBuilder};
use tpp_tests::{split_frame, start, within, Running};

/// The plain token of the servers below.
const TOKEN: &str = "secret";

/// How long a case may take to be answered and closed. Far below the
/// servers' default read timeout (30 s): an answer that only comes when the
/// server gives up waiting fails the test.
const SHORT: Duration = Duration::from_secs(5);

/// Echoes the body as `{"echo": body}`; any other action is unknown.
struct Echo;

impl Handler for Echo {
    async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
        match conn.action() {
            "echo" => {
                let body: Value = conn.body()?;
                conn.send_result(&body).await
            }
            _ => tpp_rpc::service::answer_unknown_action(conn).await,
        }
    }
}

fn builder() -> ServerBuilder {
    Server::builder().token(TOKEN)
}

/// A well-formed echo request's payload.
fn echo_request(body: &Value) -> String {
    json!({"token": TOKEN, "action": "echo", "body": body}).to_string()
}

fn frame(payload: &str) -> Vec<u8> {
    tpp_tests::frame(payload)
}

fn frame_bytes(payload: &[u8]) -> Vec<u8> {
    tpp_rpc::unstable::encode_frame(payload)
}

/// What a case must get back.
#[derive(Debug, Clone)]
enum Expect {
    /// `{"code": 0, "body": {"echo": body}}`.
    Echo(Value),
    /// Exactly `{"code": code, "body": body}` from the handler: a unary
    /// response, after which the connection may be kept alive (S8).
    Unary(i64, Value),
    /// Exactly `{"code": code, "body": body}`, then the server closes.
    Answer(i64, Value),
    /// Code 1 and `{"error": "Something wrong with your data: <reason>"}`,
    /// then the server closes.
    BadData,
    /// Nothing at all: the server closes quietly.
    Closed,
    /// `code` and `{"error": message}` where the message starts with the
    /// given text, then the server closes.
    ErrorStarting(i64, &'static str),
}

struct Case {
    name: String,
    input: Vec<u8>,
    expect: Expect,
}

fn case(name: impl Into<String>, input: impl Into<Vec<u8>>, expect: Expect) -> Case {
    Case {
        name: name.into(),
        input: input.into(),
        expect,
    }
}

fn no_auth_token() -> Expect {
    Expect::Answer(2, json!({"error": "No auth token"}))
}

fn bad_auth_token() -> Expect {
    Expect::Answer(3, json!({"error": "Bad auth token"}))
}

fn no_action() -> Expect {
    Expect::Answer(1, json!({"error": "No action found!"}))
}

/// Reads until the peer closes (EOF or reset) or `bound` passes.
/// Returns what arrived and whether the connection was closed.
async fn read_until_close(s: &mut TcpStream, bound: Duration) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + bound;
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return (out, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads until one whole frame arrived (the server keeps a served
/// connection open for a next request). Fails after [`SHORT`].
async fn read_one_frame(s: &mut TcpStream, what: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + SHORT;
    let mut buf = [0u8; 8192];
    while split_frame(&out).is_none() {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => panic!("{what}: no whole response within {SHORT:?}; got {out:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => panic!(
                "{what}: closed before a whole response; got {:?}",
                String::from_utf8_lossy(&out)
            ),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

/// Checks `bytes` is exactly one frame as F1 says (decimal byte count, no
/// sign, no leading zeros, nothing after the payload) and parses it.
#[track_caller]
fn one_response(bytes: &[u8], what: &str) -> Value {
    let text = String::from_utf8_lossy(bytes);
    let nl = bytes
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or_else(|| panic!("{what}: no header in {text:?}"));
    let header = &bytes[..nl];
    assert!(
        !header.is_empty()
            && header.iter().all(u8::is_ascii_digit)
            && (header == b"0" || header[0] != b'0'),
        "{what}: header not canonical in {text:?}"
    );
    let (payload, rest) =
        split_frame(bytes).unwrap_or_else(|| panic!("{what}: partial frame {text:?}"));
    assert!(
        rest.is_empty(),
        "{what}: bytes after the response: {text:?}"
    );
    serde_json::from_slice(payload)
        .unwrap_or_else(|e| panic!("{what}: response not JSON ({e}): {text:?}"))
}

#[track_caller]
fn assert_bad_data(response: &Value, what: &str) {
    assert_eq!(response["code"], json!(1), "{what}: {response}");
    let body = response["body"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: {response}"));
    assert_eq!(body.len(), 1, "{what}: {response}");
    let message = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: {response}"));
    let reason = message
        .strip_prefix("Something wrong with your data: ")
        .unwrap_or_else(|| panic!("{what}: {message:?}"));
    assert!(
        !reason.trim().is_empty(),
        "{what}: no reason in {message:?}"
    );
}

/// Sends a case's bytes on a new connection, half-closed after them or not,
/// and checks the outcome.
async fn check(addr: SocketAddr, case: &Case, half_close: bool) {
    let what = format!(
        "{} ({})",
        case.name,
        if half_close {
            "then half-close"
        } else {
            "connection left open"
        }
    );
    let mut s = within(TcpStream::connect(addr)).await.expect("connect");
    within(s.write_all(&case.input)).await.expect("write");
    if half_close {
        within(s.shutdown()).await.expect("half-close");
    }
    match &case.expect {
        Expect::Echo(_) | Expect::Unary(..) => {
            let expected = match &case.expect {
                Expect::Echo(body) => json!({"code": 0, "body": {"echo": body}}),
                Expect::Unary(code, body) => json!({"code": code, "body": body}),
                _ => unreachable!(),
            };
            let bytes = read_one_frame(&mut s, &what).await;
            let response = one_response(&bytes, &what);
            assert_eq!(response, expected, "{what}");
            if !half_close {
                within(s.shutdown()).await.expect("half-close");
            }
            let (more, closed) = read_until_close(&mut s, SHORT).await;
            assert!(
                closed && more.is_empty(),
                "{what}: after the answer: {more:?}, closed: {closed}"
            );
        }
        expect => {
            let started = Instant::now();
            let (bytes, closed) = read_until_close(&mut s, SHORT).await;
            assert!(
                closed,
                "{what}: not closed after {:?}; got {:?}",
                started.elapsed(),
                String::from_utf8_lossy(&bytes)
            );
            match expect {
                Expect::Closed => assert!(
                    bytes.is_empty(),
                    "{what}: expected a quiet close, got {:?}",
                    String::from_utf8_lossy(&bytes)
                ),
                Expect::BadData => assert_bad_data(&one_response(&bytes, &what), &what),
                Expect::Answer(code, body) => assert_eq!(
                    one_response(&bytes, &what),
                    json!({"code": code, "body": body}),
                    "{what}"
                ),
                Expect::ErrorStarting(code, prefix) => {
                    let response = one_response(&bytes, &what);
                    assert_eq!(response["code"], json!(code), "{what}: {response}");
                    let message = response["body"]["error"].as_str().unwrap_or_default();
                    assert!(
                        message.starts_with(prefix),
                        "{what}: {message:?} does not start with {prefix:?}"
                    );
                }
                Expect::Echo(_) | Expect::Unary(..) => unreachable!(),
            }
        }
    }
}

/// A normal request on a new connection is served.
async fn assert_served(addr: SocketAddr, after: &str) {
    let body = json!({"after": after});
    let served = case(
        format!("normal request after {after}"),
        frame(&echo_request(&body)),
        Expect::Echo(body),
    );
    check(addr, &served, false).await;
}

/// Runs every case on `server`, left open and then half-closed (except
/// cases that need the EOF), each followed by a normal request.
async fn run(server: &Running, cases: &[Case]) {
    for c in cases {
        if !matches!(c.expect, Expect::Closed) {
            check(server.addr, c, false).await;
            assert_served(server.addr, &c.name).await;
        }
        // S9: a request followed by the client's half-close is still answered.
        check(server.addr, c, true).await;
        assert_served(server.addr, &c.name).await;
    }
}

// ---------------------------------------------------------------------------
// Framing
// ---------------------------------------------------------------------------

/// F1/F2: the header forms the reference's `int()` accepts get normal answers.
#[tokio::test]
async fn f2_accepted_header_forms_are_served() {
    let server = start(builder(), Echo).await;
    let body = json!({"n": 1, "s": "é"});
    let payload = echo_request(&body);
    let n = payload.len();
    let forms = [
        format!("{n}"),
        format!(" {n} "),
        format!("{n}\r"),
        format!("00{n}"),
        format!("+{n}"),
        format!("\t{n}\t"),
        format!(" +{n} \r"),
        format!("{:0>20}", n),
    ];
    let cases: Vec<Case> = forms
        .iter()
        .map(|h| {
            let mut input = format!("{h}\n").into_bytes();
            input.extend_from_slice(payload.as_bytes());
            case(format!("header {h:?}"), input, Expect::Echo(body.clone()))
        })
        .collect();
    run(&server, &cases).await;
    server.stop().await;
}

/// F2: any other header is a framing error (code 1, then close), answered at
/// once, without waiting for more bytes; so is a header longer than 20 bytes
/// even without its newline.
#[tokio::test]
async fn f2_bad_headers_are_refused() {
    let server = start(builder(), Echo).await;
    let payload = echo_request(&json!(1));
    let bad = [
        "4 8", "abc", "0x10", "1e3", "+", "++4", "4_8", "4.0", " ", "\r", "\r48", "48\r\r", "٤٨",
        "4\u{0}8",
    ];
    let mut cases: Vec<Case> = bad
        .iter()
        .map(|h| {
            let mut input = format!("{h}\n").into_bytes();
            input.extend_from_slice(payload.as_bytes());
            case(format!("header {h:?}"), input, Expect::BadData)
        })
        .collect();
    cases.extend([
        case(
            "21 digits without a newline",
            "0".repeat(21),
            Expect::BadData,
        ),
        case(
            "30 bytes of text without a newline",
            "x".repeat(30),
            Expect::BadData,
        ),
        case(
            "a 21-byte header",
            format!("{}\n{payload}", "0".repeat(21)),
            Expect::BadData,
        ),
        case(
            "a length above u64",
            "99999999999999999999\n",
            Expect::BadData,
        ),
    ]);
    run(&server, &cases).await;
    server.stop().await;
}

/// F3: a frame over the configured maximum is answered with code 1 and
/// closed as soon as its header arrives, without the payload being sent; a
/// frame of exactly the maximum is served.
#[tokio::test]
async fn f3_frames_over_the_maximum_are_refused_before_the_payload() {
    const MAX: usize = 256;
    let server = start(builder().max_frame_size(MAX), Echo).await;
    // A request of exactly MAX bytes.
    let skeleton = echo_request(&json!(""));
    let body = json!("x".repeat(MAX - skeleton.len()));
    let exact = echo_request(&body);
    assert_eq!(exact.len(), MAX);
    let cases = [
        case("exactly the maximum", frame(&exact), Expect::Echo(body)),
        case(
            "one byte over, header only",
            format!("{}\n", MAX + 1),
            Expect::BadData,
        ),
        case("1 GB, header only", "1000000000\n", Expect::BadData),
        case(
            "u64::MAX, header only",
            format!("{}\n", u64::MAX),
            Expect::BadData,
        ),
    ];
    run(&server, &cases).await;
    server.stop().await;
}

/// F4: an empty message (a lone `\n`, `0\n`) is bad data; a negative
/// length is a framing error. Both code 1, then close.
#[tokio::test]
async fn f4_empty_and_negative_lengths_are_refused() {
    let server = start(builder(), Echo).await;
    let cases = [
        case("lone \\n", "\n", Expect::BadData),
        case("0\\n", "0\n", Expect::BadData),
        case("00\\n", "00\n", Expect::BadData),
        case("+0\\n", "+0\n", Expect::BadData),
        case("-5\\n", "-5\n", Expect::BadData),
        case(
            "-5\\n and a payload",
            format!("-5\n{}", echo_request(&json!(1))),
            Expect::BadData,
        ),
        case("-0\\n", "-0\n", Expect::BadData),
    ];
    run(&server, &cases).await;
    server.stop().await;
}

/// F5: EOF inside a header or a payload closes that connection quietly.
#[tokio::test]
async fn f5_eof_mid_message_closes_quietly() {
    let server = start(builder(), Echo).await;
    let mut mid_payload = b"100\n".to_vec();
    mid_payload.extend_from_slice(&[b'x'; 48]);
    let request = frame(&echo_request(&json!(1)));
    let cases = [
        case("EOF mid-header \"12\"", "12", Expect::Closed),
        case("EOF after a space", " ", Expect::Closed),
        case(
            "EOF after \"100\\n\" + 48 bytes",
            mid_payload,
            Expect::Closed,
        ),
        case("EOF right after a header", "100\n", Expect::Closed),
        case(
            "EOF one byte short",
            &request[..request.len() - 1],
            Expect::Closed,
        ),
    ];
    run(&server, &cases).await;
    server.stop().await;
}

/// F5: connections holding a truncated header or payload, left open, do not
/// hold up anyone: other clients are served meanwhile, concurrently. The
/// truncated request is served when it is completed; another one that ends
/// in EOF is closed quietly; and clients are served after.
#[tokio::test]
async fn f5_truncated_frames_do_not_block_other_clients() {
    let server = start(builder(), Echo).await;
    let addr = server.addr;

    // A request of exactly 100 bytes, cut after 48.
    let skeleton = echo_request(&json!(""));
    let body = json!("y".repeat(100 - skeleton.len()));
    let payload = echo_request(&body);
    assert_eq!(payload.len(), 100);
    let whole = frame(&payload);
    let (head, tail) = whole.split_at(4 + 48);

    let mut slow = within(TcpStream::connect(addr)).await.expect("connect");
    within(slow.write_all(head)).await.expect("write");
    let mut mid_header = within(TcpStream::connect(addr)).await.expect("connect");
    within(mid_header.write_all(b"12")).await.expect("write");
    let mut mid_payload = within(TcpStream::connect(addr)).await.expect("connect");
    within(mid_payload.write_all(b"100\n"))
        .await
        .expect("write");
    within(mid_payload.write_all(&[b'x'; 48]))
        .await
        .expect("write");

    // Served meanwhile, several at once.
    let served: Vec<_> = (0..8)
        .map(|i| {
            tokio::spawn(
                async move { assert_served(addr, &format!("concurrent client {i}")).await },
            )
        })
        .collect();
    for task in served {
        within(task).await.expect("a concurrent client failed");
    }

    // The truncated connections are still open and were sent nothing. (A
    // bounded wait: absence can only be observed over time.)
    for (name, s) in [
        ("slow", &mut slow),
        ("mid-header", &mut mid_header),
        ("mid-payload", &mut mid_payload),
    ] {
        let (bytes, closed) = read_until_close(s, Duration::from_millis(200)).await;
        assert!(
            !closed && bytes.is_empty(),
            "{name}: closed {closed}, got {bytes:?}"
        );
    }

    // The slow one completes its request and is answered.
    within(slow.write_all(tail)).await.expect("write");
    let bytes = read_one_frame(&mut slow, "completed request").await;
    assert_eq!(
        one_response(&bytes, "completed request"),
        json!({"code": 0, "body": {"echo": body}})
    );

    // EOF mid-header and mid-payload: closed without a byte.
    for (name, mut s) in [("mid-header", mid_header), ("mid-payload", mid_payload)] {
        within(s.shutdown()).await.expect("half-close");
        let (bytes, closed) = read_until_close(&mut s, SHORT).await;
        assert!(
            closed && bytes.is_empty(),
            "{name}: closed {closed}, got {bytes:?}"
        );
    }

    assert_served(addr, "the truncated connections").await;
    drop(slow);
    server.stop().await;
}

// ---------------------------------------------------------------------------
// Envelope
// ---------------------------------------------------------------------------

/// S1: a payload that is not UTF-8, not JSON, empty/false JSON or not an
/// object: code 1, "Something wrong with your data: <reason>".
#[tokio::test]
async fn s1_bad_data_is_refused() {
    let server = start(builder(), Echo).await;
    let payloads: Vec<(&str, Vec<u8>)> = vec![
        ("not UTF-8", b"\xff\xfe".to_vec()),
        (
            "not UTF-8 inside a request",
            b"{\"token\": \"secret\", \"action\": \"echo\", \"body\": \"\xff\"}".to_vec(),
        ),
        (
            "a cut multi-byte character",
            b"{\"token\": \"secret\", \"action\": \"\xc3\"}".to_vec(),
        ),
        (
            "a lone surrogate byte sequence",
            b"{\"token\": \"\xed\xa0\x80\"}".to_vec(),
        ),
        ("not JSON", b"nope".to_vec()),
        (
            "truncated JSON",
            format!("{{\"token\": \"{TOKEN}\", \"action\": ").into_bytes(),
        ),
        (
            "JSON then garbage",
            format!("{} x", echo_request(&json!(1))).into_bytes(),
        ),
        (
            "two JSON objects",
            format!("{}{}", echo_request(&json!(1)), echo_request(&json!(2))).into_bytes(),
        ),
        ("{}", b"{}".to_vec()),
        ("[]", b"[]".to_vec()),
        ("\"\"", b"\"\"".to_vec()),
        ("0", b"0".to_vec()),
        ("false", b"false".to_vec()),
        ("null", b"null".to_vec()),
        ("whitespace only", b"  ".to_vec()),
        (
            "a list holding a request",
            format!("[{}]", echo_request(&json!(1))).into_bytes(),
        ),
        ("a string", b"\"echo\"".to_vec()),
        ("a number", b"42".to_vec()),
        ("true", b"true".to_vec()),
    ];
    let cases: Vec<Case> = payloads
        .into_iter()
        .map(|(name, p)| case(name, frame_bytes(&p), Expect::BadData))
        .collect();
    run(&server, &cases).await;
    server.stop().await;
}

/// S2: `token` absent, `""` or `null`: code 2 "No auth token", checked before
/// the action.
#[tokio::test]
async fn s2_missing_token_is_refused() {
    let server = start(builder(), Echo).await;
    let cases = [
        case(
            "token absent",
            frame(r#"{"action": "echo", "body": 1}"#),
            no_auth_token(),
        ),
        case(
            "token \"\"",
            frame(r#"{"token": "", "action": "echo"}"#),
            no_auth_token(),
        ),
        case(
            "token null",
            frame(r#"{"token": null, "action": "echo"}"#),
            no_auth_token(),
        ),
        case(
            "token absent, action absent",
            frame(r#"{"body": 1}"#),
            no_auth_token(),
        ),
        case(
            "token absent, extra field",
            frame(r#"{"user_id": "u", "action": "echo"}"#),
            no_auth_token(),
        ),
    ];
    run(&server, &cases).await;
    server.stop().await;
}

/// The reference tests `not token`, so a falsy token of another type
/// (`false`, `0`, `0.0`, `[]`, `{}`) is answered code 2 "No auth token"
/// (measured; see interop::reference_server_answers_as_protocol_md_says),
/// and so does tpp.
#[tokio::test]
async fn s2_falsy_tokens_are_no_auth_token_like_the_reference() {
    let server = start(builder(), Echo).await;
    let cases: Vec<Case> = ["false", "0", "0.0", "-0", "[]", "{}"]
        .iter()
        .map(|t| {
            case(
                format!("token {t}"),
                frame(&format!(r#"{{"token": {t}, "action": "echo"}}"#)),
                no_auth_token(),
            )
        })
        .collect();
    run(&server, &cases).await;
    server.stop().await;
}

/// S3: a token that does not verify, is not a string: code 3 "Bad auth
/// token", checked before the action.
#[tokio::test]
async fn s3_bad_token_is_refused() {
    let server = start(builder(), Echo).await;
    let tokens = [
        r#""wrong""#,
        r#""secret ""#,
        r#"" secret""#,
        r#""SECRET""#,
        r#""secre""#,
        r#""secretsecret""#,
        r#""secret\u0000""#,
        "5",
        "1.5",
        "true",
        r#"["secret"]"#,
        r#"{"token": "secret"}"#,
    ];
    let mut cases: Vec<Case> = tokens
        .iter()
        .map(|t| {
            case(
                format!("token {t}"),
                frame(&format!(r#"{{"token": {t}, "action": "echo", "body": 1}}"#)),
                bad_auth_token(),
            )
        })
        .collect();
    cases.push(case(
        "wrong token, no action",
        frame(r#"{"token": "wrong"}"#),
        bad_auth_token(),
    ));
    run(&server, &cases).await;
    server.stop().await;
}

/// S3 with a bcrypt-hashed server: a token over 72 bytes (bcrypt's limit) is
/// refused, even when its first 72 bytes are the right token (never
/// truncated silently); the 72-byte token itself is served.
#[tokio::test]
async fn s3_tokens_over_72_bytes_are_refused_by_a_bcrypt_server() {
    let token72 = "k".repeat(60) + "çççççç"; // 72 bytes, non-ASCII at the end
    assert_eq!(token72.len(), 72);
    let hash = tpp_rpc::BcryptToken::hash(&token72, 4).expect("hash");
    let server = start(Server::builder().token_hash(&hash), Echo).await;
    let request =
        |token: &str| frame(&json!({"token": token, "action": "echo", "body": 7}).to_string());
    let cases = [
        case(
            "the 72-byte token",
            request(&token72),
            Expect::Echo(json!(7)),
        ),
        case(
            "73 bytes, right first 72",
            request(&format!("{token72}x")),
            bad_auth_token(),
        ),
        case(
            "1000 bytes, right first 72",
            request(&format!("{token72}{}", "x".repeat(928))),
            bad_auth_token(),
        ),
        case("a wrong token", request("wrong"), bad_auth_token()),
        case(
            "token 5",
            frame(r#"{"token": 5, "action": "echo"}"#),
            bad_auth_token(),
        ),
    ];
    for c in &cases {
        check(server.addr, c, false).await;
        check(server.addr, c, true).await;
        let follow = case("normal request", request(&token72), Expect::Echo(json!(7)));
        check(server.addr, &follow, false).await;
    }
    server.stop().await;
}

/// S4: `action` absent, `""` or `null` (with a good token): code 1
/// `{"error": "No action found!"}`.
#[tokio::test]
async fn s4_missing_action_is_refused() {
    let server = start(builder(), Echo).await;
    let cases = [
        case(
            "action absent",
            frame(r#"{"token": "secret", "body": 1}"#),
            no_action(),
        ),
        case(
            "action \"\"",
            frame(r#"{"token": "secret", "action": ""}"#),
            no_action(),
        ),
        case(
            "action null",
            frame(r#"{"token": "secret", "action": null}"#),
            no_action(),
        ),
        case("only a token", frame(r#"{"token": "secret"}"#), no_action()),
    ];
    run(&server, &cases).await;
    server.stop().await;
}

/// S6: what makes the reference send nothing and run the handler
/// unauthenticated is answered as S1/S3 and closed; the handler never runs.
#[tokio::test]
async fn s6_reference_crashes_are_answered() {
    let server = start(builder(), Echo).await;
    let echo = echo_request(&json!(1));
    let cases = [
        case(
            "non-numeric header",
            format!("abc\n{echo}"),
            Expect::BadData,
        ),
        case(
            "invalid UTF-8",
            frame_bytes(b"{\"token\": \"secret\", \"action\": \"echo\", \"body\": \"\x80\"}"),
            Expect::BadData,
        ),
        case(
            "top level a list",
            frame(&format!("[{echo}]")),
            Expect::BadData,
        ),
        case("top level a number", frame("12"), Expect::BadData),
        case(
            "token a number",
            frame(r#"{"token": 5, "action": "echo"}"#),
            bad_auth_token(),
        ),
        case(
            "token a list",
            frame(r#"{"token": ["secret"], "action": "echo"}"#),
            bad_auth_token(),
        ),
        case(
            "token an object",
            frame(r#"{"token": {"a": 1}, "action": "echo"}"#),
            bad_auth_token(),
        ),
        case(
            "token over 72 bytes",
            frame(&json!({"token": "s".repeat(73), "action": "echo"}).to_string()),
            bad_auth_token(),
        ),
        case(
            "action a number",
            frame(r#"{"token": "secret", "action": 5}"#),
            Expect::BadData,
        ),
        case(
            "action a list",
            frame(r#"{"token": "secret", "action": ["echo"]}"#),
            Expect::BadData,
        ),
    ];
    run(&server, &cases).await;
    server.stop().await;
}

/// An action the handler does not have: code 1
/// `{"error": "Action X does not exist"}` (`answer_unknown_action`, a unary
/// response: the connection may then be kept alive).
#[tokio::test]
async fn unknown_action_is_refused() {
    let server = start(builder(), Echo).await;
    let unknown = |action: &str| {
        case(
            format!("action {action:?}"),
            frame(&json!({"token": TOKEN, "action": action, "body": 1}).to_string()),
            Expect::Unary(
                1,
                json!({"error": format!("Action {action} does not exist")}),
            ),
        )
    };
    let cases = [
        unknown("nope"),
        unknown("Echo"),
        unknown("echo "),
        unknown("ação 中文 😀"),
    ];
    run(&server, &cases).await;
    server.stop().await;
}

/// S9: a request followed at once by the client's half-close (in the same
/// write) is answered.
#[tokio::test]
async fn s9_request_then_half_close_is_answered() {
    let server = start(builder(), Echo).await;
    let body = json!({"half": "close ½"});
    let c = case(
        "request then half-close",
        frame(&echo_request(&body)),
        Expect::Echo(body),
    );
    check(server.addr, &c, true).await;
    // Two requests then half-close, the first asking for keep-alive: both
    // answered, then closed.
    let keep = json!({"token": TOKEN, "action": "echo", "body": 1, "tpp_keep_alive": true});
    let mut input = frame(&keep.to_string());
    input.extend(frame(&echo_request(&json!(2))));
    let mut s = within(TcpStream::connect(server.addr))
        .await
        .expect("connect");
    within(s.write_all(&input)).await.expect("write");
    within(s.shutdown()).await.expect("half-close");
    let (bytes, closed) = read_until_close(&mut s, SHORT).await;
    assert!(closed, "not closed");
    let (first, rest) = split_frame(&bytes).expect("first response");
    let first: Value = serde_json::from_slice(first).expect("json");
    assert_eq!(
        first,
        json!({"code": 0, "body": {"echo": 1}, "tpp_keep_alive": true})
    );
    assert_eq!(
        one_response(rest, "second response"),
        json!({"code": 0, "body": {"echo": 2}})
    );
    assert_served(server.addr, "S9").await;
    server.stop().await;
}

/// S10: a connection that sends nothing, or stops in the middle of a
/// request (even trickling bytes), is closed by the read timeout, which
/// bounds the whole request.
#[tokio::test]
async fn s10_silent_connections_are_closed_by_the_read_timeout() {
    const READ_TIMEOUT: Duration = Duration::from_millis(300);
    let server = start(builder().read_timeout(READ_TIMEOUT), Echo).await;
    let addr = server.addr;
    for (name, input) in [
        ("nothing", &b""[..]),
        ("half a header", &b"4"[..]),
        ("a header, no payload", &b"100\n"[..]),
        ("half a payload", &b"100\n{\"token\""[..]),
    ] {
        let started = Instant::now();
        let mut s = within(TcpStream::connect(addr)).await.expect("connect");
        within(s.write_all(input)).await.expect("write");
        let (bytes, closed) = read_until_close(&mut s, SHORT).await;
        let elapsed = started.elapsed();
        assert!(
            closed && bytes.is_empty(),
            "{name}: closed {closed}, got {bytes:?}"
        );
        assert!(
            elapsed >= READ_TIMEOUT - Duration::from_millis(50) && elapsed < Duration::from_secs(3),
            "{name}: closed after {elapsed:?}"
        );
        assert_served(addr, name).await;
    }

    // Trickling one byte every 50 ms does not reset the timeout.
    let started = Instant::now();
    let mut s = within(TcpStream::connect(addr)).await.expect("connect");
    within(s.write_all(b"1000\n")).await.expect("write");
    let closed_after = loop {
        let mut buf = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(50), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break started.elapsed(),
            Ok(Ok(n)) => panic!("trickle: unexpected answer {:?}", &buf[..n]),
            Err(_) => {}
        }
        assert!(started.elapsed() < SHORT, "trickle: never closed");
        if s.write_all(b"x").await.is_err() {
            break started.elapsed();
        }
    };
    assert!(
        closed_after < Duration::from_secs(2),
        "trickle: closed after {closed_after:?}"
    );
    assert_served(addr, "trickle").await;
    server.stop().await;
}

// ---------------------------------------------------------------------------
// Hostile inputs beyond docs/PROTOCOL.md
// ---------------------------------------------------------------------------

/// `raw` echoes the body untouched; `typed` takes `{"n": u32, "s": String}`.
struct Strict;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Params {
    n: u32,
    s: String,
}

impl Handler for Strict {
    async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
        match conn.action() {
            "echo" => {
                let body: Value = conn.body()?;
                conn.send_result(&body).await
            }
            "raw" => {
                let request = conn.request().clone();
                conn.send_result(request.body_raw()?).await
            }
            "typed" => {
                let p: Params = conn.body()?;
                conn.send_result(&p.n).await
            }
            _ => tpp_rpc::service::answer_unknown_action(conn).await,
        }
    }
}

fn request_with_body(action: &str, body: &str) -> Vec<u8> {
    frame(&format!(
        r#"{{"token": "{TOKEN}", "action": "{action}", "body": {body}}}"#
    ))
}

/// Headers of absurd sizes, NUL bytes, invalid UTF-8, deep nesting, huge
/// keys, duplicate keys, huge numbers, and bodies of the wrong shape for a
/// typed action: each gets its documented answer or a close, and the next
/// client is served.
#[tokio::test]
async fn hostile_inputs_are_answered_or_closed() {
    let server = start(builder(), Strict).await;
    let deep_open = "[".repeat(100_000);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_objects = format!("{}1{}", r#"{"a":"#.repeat(50_000), "}".repeat(50_000));
    let huge_key = "k".repeat(1 << 20);
    let mut nul_payload = br#"{"token": "secret", "action": "echo", "body": "a"#.to_vec();
    nul_payload.extend_from_slice(b"\0b\"}");
    let mut bad_utf8 = br#"{"token": "secret", "action": "echo", "body": ""#.to_vec();
    bad_utf8.extend_from_slice(b"\xc3\x28\"}");
    let cases = vec![
        case(
            "header 10^30",
            format!("1{}\n{{}}", "0".repeat(30)),
            Expect::BadData,
        ),
        case("header 2^64", "18446744073709551616\n{}", Expect::BadData),
        case(
            "header u64::MAX",
            "18446744073709551615\n{}",
            Expect::BadData,
        ),
        case("NUL in the header", b"4\x008\n".to_vec(), Expect::BadData),
        case(
            "NUL alone as the header",
            b"\x00\n".to_vec(),
            Expect::BadData,
        ),
        case(
            "invalid UTF-8 in the header",
            b"\xff\xfe\n{}".to_vec(),
            Expect::BadData,
        ),
        case(
            "a raw NUL inside a JSON string",
            frame_bytes(&nul_payload),
            Expect::BadData,
        ),
        case("a NUL payload", frame_bytes(b"\0"), Expect::BadData),
        case(
            "invalid UTF-8 in the payload",
            frame_bytes(&bad_utf8),
            Expect::BadData,
        ),
        case(
            "an escaped NUL is fine",
            request_with_body("echo", r#""a\u0000b""#),
            Expect::Echo(json!("a\u{0}b")),
        ),
        case(
            "a lone surrogate, typed",
            request_with_body("echo", r#""\ud800""#),
            Expect::ErrorStarting(1, "JSON error: unexpected end of hex escape"),
        ),
        case(
            "a byte-order mark",
            frame("\u{feff}{\"token\": \"secret\"}"),
            Expect::BadData,
        ),
        case(
            "100 000 unclosed [",
            request_with_body("echo", &deep_open),
            Expect::BadData,
        ),
        case(
            "100 000 nested arrays, typed",
            request_with_body("echo", &deep),
            Expect::ErrorStarting(1, "JSON error: recursion limit exceeded"),
        ),
        case(
            "50 000 nested objects, typed",
            request_with_body("echo", &deep_objects),
            Expect::ErrorStarting(1, "JSON error: recursion limit exceeded"),
        ),
        case(
            "100 000 nested arrays in an extra field",
            frame(&format!(
                r#"{{"token": "secret", "action": "echo", "x": {deep}}}"#
            )),
            Expect::BadData,
        ),
        case(
            "a 1 MiB key in an extra field is accepted",
            frame(&format!(
                r#"{{"token": "secret", "action": "echo", "{huge_key}": 1, "body": 2}}"#
            )),
            Expect::Echo(json!(2)),
        ),
        case(
            "duplicate keys: the last one wins, as in Python",
            frame(
                r#"{"token": "wrong", "token": "secret", "action": "nope", "action": "echo", "body": 1, "body": 3}"#,
            ),
            Expect::Echo(json!(3)),
        ),
        case(
            "duplicate keys ending on a wrong token",
            frame(r#"{"token": "secret", "token": "wrong", "action": "echo"}"#),
            bad_auth_token(),
        ),
        case(
            "a huge integer passes through untouched",
            request_with_body("raw", "123456789012345678901234567890123456789"),
            Expect::Unary(
                0,
                // Parsed the same way as the answer; the bytes themselves are
                // checked in tests/server.rs.
                serde_json::from_str(r#"{"raw": 123456789012345678901234567890123456789}"#)
                    .unwrap(),
            ),
        ),
        case(
            "1e400, typed",
            request_with_body("echo", "1e400"),
            Expect::ErrorStarting(1, "JSON error: number out of range"),
        ),
        case(
            "a token that is a huge number",
            frame(r#"{"token": 1e400}"#),
            Expect::BadData,
        ),
        case(
            "trailing garbage",
            frame(r#"{"token": "secret"} x"#),
            Expect::BadData,
        ),
        case(
            "two objects in one frame",
            frame(r#"{"token": "secret"}{"a": 1}"#),
            Expect::BadData,
        ),
        case(
            "1 MiB of spaces",
            frame(&" ".repeat(1 << 20)),
            Expect::BadData,
        ),
        case(
            "typed action, body is an array",
            request_with_body("typed", "[1]"),
            Expect::ErrorStarting(1, "JSON error: invalid length 1"),
        ),
        case(
            "typed action, body is a string",
            request_with_body("typed", r#""n=1""#),
            Expect::ErrorStarting(1, "JSON error: invalid type: string"),
        ),
        case(
            "typed action, body is absent",
            frame(r#"{"token": "secret", "action": "typed"}"#),
            Expect::ErrorStarting(1, "JSON error: invalid type: null"),
        ),
        case(
            "typed action, wrong parameter type",
            request_with_body("typed", r#"{"n": "5", "s": "x"}"#),
            Expect::ErrorStarting(
                1,
                "JSON error: at `n`: invalid type: string \"5\", expected u32",
            ),
        ),
        case(
            "typed action, negative for an unsigned parameter",
            request_with_body("typed", r#"{"n": -1, "s": "x"}"#),
            Expect::ErrorStarting(1, "JSON error: at `n`: invalid value: integer `-1`"),
        ),
        case(
            "typed action, missing parameter",
            request_with_body("typed", r#"{"n": 1}"#),
            Expect::ErrorStarting(1, "JSON error: missing field `s`"),
        ),
        case(
            "typed action, unknown parameter",
            request_with_body("typed", r#"{"n": 1, "s": "x", "t": 0}"#),
            Expect::ErrorStarting(1, "JSON error: unknown field `t`"),
        ),
        case(
            "a 1 MiB action name",
            frame(&format!(r#"{{"token": "secret", "action": "{huge_key}"}}"#)),
            Expect::ErrorStarting(1, "Action kkkk"),
        ),
    ];
    assert!(cases.len() >= 30);
    run(&server, &cases).await;
    server.stop().await;
}
