//! The fuzz targets' properties (`fuzz/fuzz_targets/`), run as property tests on the stable
//! toolchain, plus the one the fuzz targets cannot reach: a server's decoder scanning a large
//! request's envelope while it arrives, fed over a real socket in random pieces.
//!
//! `PROPTEST_CASES=10000 cargo test -p tpp-tests --test fuzz_props` runs them longer.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::{Decoder, Encoder};
use tpp_rpc::json::RawValue;
use tpp_rpc::unstable::FrameCodec;
use tpp_rpc::{Connection, Handler, Request, Response, Server};
use tpp_tests::{frame, response_json, split_frame, start, within, TOKEN};

/// The `decoder` fuzz target: any bytes, in any chunks, never panic the decoder, every frame
/// respects the limit and re-encodes to a frame that decodes to itself.
fn decoder_body(chunk: usize, stream: &[u8]) {
    let mut codec = FrameCodec::new(4096);
    let mut buf = BytesMut::new();
    for piece in stream.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => {
                    assert!(frame.len() <= 4096);
                    let mut again = BytesMut::new();
                    FrameCodec::new(4096)
                        .encode(&frame[..], &mut again)
                        .unwrap();
                    let mut round = FrameCodec::new(4096);
                    assert_eq!(
                        round.decode(&mut again).unwrap().as_deref(),
                        Some(&frame[..])
                    );
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    let _ = codec.decode_eof(&mut buf);
}

/// The `envelope` fuzz target: any payload parses as a request and as a response without a
/// panic, and a request that parses has a body that is JSON text.
fn envelope_body(data: &[u8]) {
    let payload = Bytes::copy_from_slice(data);
    if let Ok(request) = Request::parse(payload.clone()) {
        let body = request.body_json();
        assert!(request.body_raw().is_ok(), "body is JSON: {body:?}");
        let _ = request.token();
        let _ = request.action();
        let _ = request.body::<Value>();
    }
    if let Ok(response) = Response::parse(payload) {
        let _ = response.error_message();
        let _ = response.action_result::<Value>("a");
        let _ = response.body_is_null();
    }
}

/// Frames with headers the reference accepts and refuses, around JSON-like payloads.
fn framed_streams() -> impl Strategy<Value = Vec<u8>> {
    let header = prop_oneof![
        Just(None),
        Just(Some(" ".to_owned())),
        Just(Some("+".to_owned())),
        Just(Some("0".to_owned())),
        Just(Some("99999999999999999999".to_owned())),
    ];
    proptest::collection::vec((header, "[ -~é\\n\\r]{0,64}"), 0..6).prop_map(|frames| {
        let mut out = Vec::new();
        for (header, payload) in frames {
            let header = header.unwrap_or_else(|| payload.len().to_string());
            out.extend_from_slice(header.as_bytes());
            out.push(b'\n');
            out.extend_from_slice(payload.as_bytes());
        }
        out
    })
}

/// Envelopes close to valid ones: the parser's interesting cases, which random bytes rarely
/// reach.
fn envelopes() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        Just("null".to_owned()),
        Just("NaN".to_owned()),
        Just("-Infinity".to_owned()),
        Just("1267650600228229401496703205376".to_owned()),
        Just(r#""a\"b\u00e9\ud83d\ude00""#.to_owned()),
        Just("[1,{\"x\":[]}]".to_owned()),
        Just("{}".to_owned()),
        "[ -~]{0,12}",
    ];
    let key = prop_oneof![
        Just("token"),
        Just("action"),
        Just("body"),
        Just("code"),
        Just("tpp_keep_alive"),
        Just("user_id"),
        Just("\\u0074oken"),
    ];
    proptest::collection::vec((key, value), 0..6).prop_map(|fields| {
        let fields: Vec<String> = fields
            .into_iter()
            .map(|(k, v)| format!("\"{k}\": {v}"))
            .collect();
        format!("{{{}}}", fields.join(", ")).into_bytes()
    })
}

proptest! {
    #![proptest_config(Config::with_cases(512))]

    #[test]
    fn decoder_on_random_bytes(chunk in 1usize..=256, stream in proptest::collection::vec(any::<u8>(), 0..600)) {
        decoder_body(chunk, &stream);
    }

    #[test]
    fn decoder_on_framed_streams(chunk in 1usize..=64, stream in framed_streams()) {
        decoder_body(chunk, &stream);
    }

    #[test]
    fn envelope_on_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        envelope_body(&data);
    }

    #[test]
    fn envelope_on_near_envelopes(data in envelopes()) {
        envelope_body(&data);
    }
}

/// Echoes the body's text as it came.
struct RawEcho;

impl Handler for RawEcho {
    async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
        let body: Box<RawValue> = conn.body()?;
        conn.send_result(&body).await
    }
}

/// A request with a body of at least 64 KiB (the size from which a server scans a request
/// while it arrives): records with escapes, numbers and non-ASCII text, then one long string
/// (which the scan crosses in as many reads as the pieces cut it into).
fn large_request(records: usize) -> String {
    let record = r#"{"id":12,"ok":true,"t":1.5e3,"s":"a\"b\u00e9 é","n":null,"l":[1,-2.5e-3]}"#;
    let long = format!(
        "{}\\n\\u00e9{}",
        "abcdefgh".repeat(records * 4),
        "é".repeat(records)
    );
    let body = format!("[{},\"{long}\"]", vec![record; records].join(","));
    format!(r#"{{"token":"{TOKEN}","action":"echo","body":{body}}}"#)
}

/// Bytes that matter to a JSON scanner, to write over the body.
const MUTATIONS: &[&[u8]] = &[
    b"\"", b"\\", b",", b"]", b"}", b"[", b"{", b":", b"\x01", b"N", b" ", b"0", b"\xc3", b"\xff",
    b"NaN", b"1e", b"\\u12",
];

/// Writes `bytes` in pieces of the given sizes (cycled), yielding after each so that the
/// server reads and scans the request in many parts, then reads one framed response.
async fn send_in_pieces(addr: SocketAddr, bytes: &[u8], pieces: &[usize]) -> Vec<u8> {
    let mut s = within(TcpStream::connect(addr)).await.expect("connect");
    let mut at = 0;
    for size in pieces.iter().cycle() {
        if at == bytes.len() {
            break;
        }
        let end = at.saturating_add(*size).min(bytes.len());
        within(s.write_all(&bytes[at..end])).await.expect("write");
        at = end;
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while split_frame(&out).is_none() {
        let n = within(s.read(&mut buf)).await.expect("read");
        assert!(n > 0, "closed before a whole response");
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// A server's answer to a large request that arrives in random pieces, good or damaged, is the
/// one the request's parse as a whole gives: the echoed body, or the parse's error.
#[test]
fn scanning_while_arriving_answers_as_the_whole_parse() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(start(Server::builder().token(TOKEN), RawEcho));
    let addr = server.addr;
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(24);
    let mut runner = TestRunner::new(Config::with_cases(cases));
    let strategy = (
        900usize..2500,
        proptest::collection::vec((any::<prop::sample::Index>(), 0..MUTATIONS.len()), 0..3),
        proptest::collection::vec(1usize..70_000, 1..6),
    );
    // How many good and damaged requests the cases made: the test must see both.
    let (good, bad) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    let result = runner.run(&strategy, |(records, mutations, pieces)| {
        let mut payload = large_request(records).into_bytes();
        let body_start = payload.windows(7).position(|w| w == b"\"body\":").unwrap() + 7;
        for (at, with) in &mutations {
            let at = body_start + at.index(payload.len() - 1 - body_start);
            let with = MUTATIONS[*with];
            let end = (at + with.len()).min(payload.len() - 1);
            payload.splice(at..end, with.iter().copied());
        }
        let mut framed = format!("{}\n", payload.len()).into_bytes();
        framed.extend_from_slice(&payload);
        let expected = match Request::parse(Bytes::from(payload.clone())) {
            Ok(request) => Ok(request.body_json().to_owned()),
            Err(e) => Err(json!({"code": 1, "body": {"error": format!("Something wrong with your data: {e}")}})),
        };
        let out = runtime.block_on(send_in_pieces(addr, &framed, &pieces));
        match expected {
            Ok(body) => {
                good.set(good.get() + 1);
                let (answer, _) = split_frame(&out).expect("a frame");
                let answer = String::from_utf8(answer.to_vec()).expect("UTF-8");
                prop_assert_eq!(answer, format!(r#"{{"code":0,"body":{{"echo":{body}}}}}"#));
            }
            Err(error) => {
                bad.set(bad.get() + 1);
                prop_assert_eq!(response_json(&out), error);
            }
        }
        // The server goes on serving.
        let small = runtime.block_on(send_in_pieces(
            addr,
            &frame(&format!(r#"{{"token":"{TOKEN}","action":"echo","body":[1]}}"#)),
            &[usize::MAX],
        ));
        prop_assert_eq!(response_json(&small), json!({"code": 0, "body": {"echo": [1]}}));
        Ok(())
    });
    runtime.block_on(server.stop());
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(
        good.get() > 0 && bad.get() > 0,
        "good {} and damaged {} requests: both kinds expected",
        good.get(),
        bad.get()
    );
}
