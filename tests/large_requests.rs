//! Large requests (from 64 KiB, which the server scans while they arrive)
//! sent over a real socket in pieces, with pauses: good ones are served as
//! a whole read would serve them, bad ones get the same answer as the
//! request's parse gives, and the server goes on serving.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tpp_rpc::json::RawValue;
use tpp_rpc::{Connection, Handler, Request, Server};
use tpp_tests::{frame, raw_exchange, response_json, split_frame, start, within, TOKEN};

/// Echoes the body's text as it came (`NaN` included).
struct RawEcho;

impl Handler for RawEcho {
    async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
        let body: Box<RawValue> = conn.body()?;
        conn.send_result(&body).await
    }
}

/// A body of about `size` bytes: records with numbers, escapes and
/// non-ASCII text, then `tail` as its last element.
fn body(size: usize, tail: &str) -> String {
    let record = r#"{"id":12,"ok":true,"t":1.5e3,"s":"a\"b\u00e9 é","n":null}"#;
    let records = vec![record; size / record.len() + 1].join(",");
    format!("[{records},{tail}]")
}

fn request(token: &str, body: &str) -> String {
    format!(r#"{{"token":"{token}","action":"echo","body":{body}}}"#)
}

/// Writes `bytes` 16 KiB at a time with a pause after each piece (so the
/// server reads and scans the request in many parts), then reads one
/// framed response.
async fn send_in_pieces(addr: std::net::SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = within(TcpStream::connect(addr)).await.expect("connect");
    for piece in bytes.chunks(16 * 1024) {
        within(s.write_all(piece)).await.expect("write");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while split_frame(&out).is_none() {
        let n = within(s.read(&mut buf)).await.expect("read");
        assert!(n > 0, "closed before a whole response: {out:?}");
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// A small request on a new connection is still served.
async fn assert_served(addr: std::net::SocketAddr) {
    let out = raw_exchange(addr, &frame(&request(TOKEN, "[1]"))).await;
    assert_eq!(
        response_json(&out),
        json!({"code": 0, "body": {"echo": [1]}})
    );
}

#[tokio::test]
async fn a_large_request_in_pieces_is_served_as_a_whole_one() {
    let server = start(Server::builder().token(TOKEN), RawEcho).await;
    // Plain JSON, and Python's NaN (left to the whole parse, passed through).
    for tail in [r#""end""#, "NaN"] {
        let body = body(200 * 1024, tail);
        let out = send_in_pieces(server.addr, &frame(&request(TOKEN, &body))).await;
        let (payload, _) = split_frame(&out).expect("a frame");
        let text = std::str::from_utf8(payload).expect("UTF-8");
        let head: Value = serde_json::from_str(&text.replace("NaN", "null")).expect("JSON");
        assert_eq!(head["code"], json!(0), "tail {tail}");
        assert!(
            text.contains(&body),
            "tail {tail}: the body is not echoed as sent"
        );
        assert_served(server.addr).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn a_bad_large_request_in_pieces_gets_the_parse_s_answer() {
    let server = start(Server::builder().token(TOKEN), RawEcho).await;
    let bad = [
        // An error near the end, one in the middle (a control byte in a
        // string), a cut document, garbage after it.
        request(TOKEN, &body(200 * 1024, "[1,]")),
        request(
            TOKEN,
            &format!(
                "[{},{}]",
                body(100 * 1024, "\"a\u{1}b\""),
                body(100 * 1024, "1")
            ),
        ),
        request(TOKEN, &body(200 * 1024, "1"))
            .trim_end_matches('}')
            .to_owned(),
        format!("{} x", request(TOKEN, &body(200 * 1024, "1"))),
    ];
    for payload in &bad {
        let expected = match Request::parse(payload.clone().into_bytes().into()) {
            Err(e) => format!("Something wrong with your data: {e}"),
            Ok(_) => panic!("the parse takes {:.80}…", payload),
        };
        let out = send_in_pieces(server.addr, &frame(payload)).await;
        assert_eq!(
            response_json(&out),
            json!({"code": 1, "body": {"error": expected}}),
            "{:.80}…",
            payload
        );
        assert_served(server.addr).await;
    }
    // A wrong token on a large request: refused as a small one is.
    let out = send_in_pieces(
        server.addr,
        &frame(&request("wrong", &body(200 * 1024, "1"))),
    )
    .await;
    assert_eq!(response_json(&out)["code"], json!(3));
    assert_served(server.addr).await;
    server.stop().await;
}
