//! The server's memory for requests and answers over real sockets: the
//! request memory budget shared by all connections, no memory reserved for
//! bytes that have not arrived, and the largest answer.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tpp_rpc::Server;
use tpp_tests::{
    client, raw_exchange, response_json, start, status_kib, within, TestService, TOKEN,
};

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// A connection that declared `len` bytes and sent the first `sent` of a
/// valid request (the rest never comes).
async fn partial(addr: SocketAddr, len: usize, sent: usize) -> TcpStream {
    let mut s = within(TcpStream::connect(addr)).await.unwrap();
    let head = format!(r#"{{"token":"{TOKEN}","action":"echo","body":""#);
    let mut bytes = format!("{len}\n{head}").into_bytes();
    bytes.resize(bytes.len() + sent.saturating_sub(head.len()), b'x');
    within(s.write_all(&bytes)).await.unwrap();
    s
}

/// A whole echo request whose body is a string of `len` bytes.
fn echo_of(len: usize) -> Vec<u8> {
    let payload = format!(
        r#"{{"token":"{TOKEN}","action":"echo","body":"{}"}}"#,
        "x".repeat(len)
    );
    tpp_tests::frame(&payload)
}

/// Reads until the server closes (or [`tpp_tests::WAIT`]); what it sent.
async fn answer_of(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = within(s.read_to_end(&mut out)).await;
    out
}

#[tokio::test]
async fn a_request_over_the_budget_is_refused_at_once_and_room_comes_back() {
    let running = start(
        Server::builder()
            .token(TOKEN)
            .request_memory(MIB)
            .max_frame_size(4 * MIB),
        TestService,
    )
    .await;
    // Holds 900 KiB of the budget, sending only 1 KiB.
    let held = partial(running.addr, 900 * KIB, KIB).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // 200 KiB more does not fit: refused before its payload, the connection closed.
    let mut over = partial(running.addr, 200 * KIB, 10).await;
    let refused = response_json(&answer_of(&mut over).await);
    assert_eq!(refused["code"], 1);
    let message = refused["body"]["error"].as_str().unwrap();
    assert!(message.starts_with("Server busy"), "{message}");
    // Small requests are not charged: served meanwhile.
    let small: String = within(client(running.port()).request2server("echo", &"hi"))
        .await
        .expect("a small request is served while the budget is full");
    assert_eq!(small, "hi");
    // The held request ends: its bytes are given back.
    drop(held);
    let mut served = false;
    for _ in 0..100 {
        let answer = raw_exchange(running.addr, &echo_of(200 * KIB)).await;
        if response_json(&answer)["code"] == 0 {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        served,
        "room came back once the held request's connection closed"
    );
    running.stop().await;
}

#[tokio::test]
async fn an_attack_of_many_large_wrong_token_requests_stays_within_the_budget() {
    // CI-sized: 16 connections × 4 MiB against an 8 MiB budget.
    let running = start(
        Server::builder().token(TOKEN).request_memory(8 * MIB),
        TestService,
    )
    .await;
    let payload = format!(
        r#"{{"token":"wrong","action":"echo","body":1,"junk":[{}]}}"#,
        vec!["1"; 2 * MIB].join(",")
    );
    let frame = std::sync::Arc::new(tpp_tests::frame(&payload));
    let attackers: Vec<_> = (0..16)
        .map(|_| {
            let frame = frame.clone();
            let addr = running.addr;
            tokio::spawn(async move {
                // A refused peer may see its connection reset while it writes.
                let mut s = within(TcpStream::connect(addr)).await.unwrap();
                let _ = within(s.write_all(&frame)).await;
                let mut out = Vec::new();
                let _ = within(s.read_to_end(&mut out)).await;
                tpp_tests::split_frame(&out)
                    .map(|(p, _)| serde_json::from_slice::<Value>(p).unwrap())
            })
        })
        .collect();
    let good = client(running.port());
    for i in 0..20 {
        let n: i64 = within(good.request2server("echo", &i))
            .await
            .expect("a good client is served during the attack");
        assert_eq!(n, i);
    }
    let (mut wrong, mut busy, mut reset) = (0, 0, 0);
    for a in attackers {
        let Some(answer) = within(a).await.unwrap() else {
            reset += 1; // refused while it was still writing
            continue;
        };
        match answer["code"].as_i64() {
            Some(3) => wrong += 1,
            Some(1)
                if answer["body"]["error"]
                    .as_str()
                    .unwrap()
                    .starts_with("Server busy") =>
            {
                busy += 1
            }
            _ => panic!("unexpected answer {answer}"),
        }
    }
    assert_eq!(wrong + busy + reset, 16);
    println!(
        "16 × 4 MiB wrong-token requests: {wrong} refused for the token, {busy} answered busy, \
         {reset} reset while still sending"
    );
    running.stop().await;
}

#[tokio::test]
async fn nothing_is_reserved_for_bytes_that_have_not_arrived() {
    let running = start(
        Server::builder()
            .token(TOKEN)
            .request_memory(usize::MAX) // no budget: the reservation alone is measured
            .max_frame_size(64 * MIB),
        TestService,
    )
    .await;
    let before = status_kib("VmSize:");
    let mut held = Vec::new();
    for _ in 0..16 {
        held.push(partial(running.addr, 60_000_000, 4 * KIB).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = status_kib("VmSize:");
    let grown_mib = after.saturating_sub(before) / 1024;
    println!("16 connections declaring 60 MB and sending 4 KiB: virtual memory +{grown_mib} MiB");
    // Reserving the declared lengths would map 960 MB.
    assert!(
        before == 0 || grown_mib < 400,
        "virtual memory grew by {grown_mib} MiB"
    );
    drop(held);
    running.stop().await;
}

#[tokio::test]
async fn an_answer_over_the_maximum_is_code_1_and_nothing_of_it_is_sent() {
    let running = start(
        Server::builder().token(TOKEN).max_answer_size(64 * KIB),
        TestService,
    )
    .await;
    let c = client(running.port());
    let e = within(c.request2server::<_, Value>("big", &1))
        .await
        .unwrap_err();
    assert_eq!(e.server_code(), Some(1));
    let message = e.server_message().unwrap();
    assert!(message.contains("too large"), "{message}");
    // Smaller answers are sent as usual.
    let echoed: String = within(c.request2server("echo", &"x".repeat(1000)))
        .await
        .unwrap();
    assert_eq!(echoed.len(), 1000);
    running.stop().await;
}

/// Answers `converse` with "go on", reads the peer's next message and keeps
/// it (and the request) until the connection closes; `echo` as usual.
struct Conversation;

impl tpp_rpc::Handler for Conversation {
    async fn handle(&self, conn: &mut tpp_rpc::Connection) -> Result<(), tpp_rpc::Error> {
        match conn.action() {
            "converse" => {
                conn.send_response(0, &"go on").await?;
                let kept = conn.read_message().await?;
                // Holds the request and the message read until the peer leaves.
                let _ = conn.read_message().await;
                drop(kept);
                Ok(())
            }
            _ => TestService.handle(conn).await,
        }
    }
}

#[tokio::test]
async fn messages_a_handler_reads_are_charged_alongside_its_request() {
    let running = start(
        Server::builder()
            .token(TOKEN)
            .request_memory(MIB)
            .max_frame_size(4 * MIB),
        Conversation,
    )
    .await;
    // A 600 KiB request, then a 300 KiB message read by its handler.
    let mut talker = within(TcpStream::connect(running.addr)).await.unwrap();
    let request = format!(
        r#"{{"token":"{TOKEN}","action":"converse","body":"{}"}}"#,
        "x".repeat(600 * KIB)
    );
    within(talker.write_all(&tpp_tests::frame(&request)))
        .await
        .unwrap();
    let mut go_on = [0u8; 64];
    let n = within(talker.read(&mut go_on)).await.unwrap();
    assert!(
        String::from_utf8_lossy(&go_on[..n]).contains("go on"),
        "the handler answered first"
    );
    let message = format!(r#""{}""#, "y".repeat(300 * KIB));
    within(talker.write_all(&tpp_tests::frame(&message)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Both are held: 200 KiB more does not fit in the 1 MiB budget.
    let mut over = partial(running.addr, 200 * KIB, 10).await;
    let refused = response_json(&answer_of(&mut over).await);
    assert_eq!(refused["code"], 1, "{refused}");
    assert!(
        refused["body"]["error"]
            .as_str()
            .unwrap()
            .starts_with("Server busy"),
        "{refused}"
    );
    // The conversation ends: both are given back.
    drop(talker);
    let mut served = false;
    for _ in 0..100 {
        let answer = raw_exchange(running.addr, &echo_of(600 * KIB)).await;
        if response_json(&answer)["code"] == 0 {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served, "room came back once the conversation ended");
    running.stop().await;
}

/// Reads one frame's payload from `s`.
async fn one_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut header = Vec::new();
    loop {
        let byte = within(s.read_u8()).await.expect("a frame header");
        if byte == b'\n' {
            break;
        }
        header.push(byte);
    }
    let len: usize = String::from_utf8(header).unwrap().trim().parse().unwrap();
    let mut payload = vec![0; len];
    within(s.read_exact(&mut payload)).await.unwrap();
    payload
}

#[tokio::test]
async fn a_connection_kept_alive_holds_nothing_of_the_request_it_has_answered() {
    let running = start(
        Server::builder()
            .token(TOKEN)
            .request_memory(MIB)
            .max_frame_size(4 * MIB),
        TestService,
    )
    .await;
    // 700 KiB, answered, and the connection kept open, idle.
    let payload = format!(
        r#"{{"token":"{TOKEN}","action":"echo","tpp_keep_alive":true,"body":"{}"}}"#,
        "x".repeat(700 * KIB)
    );
    let mut idle = within(TcpStream::connect(running.addr)).await.unwrap();
    within(idle.write_all(&tpp_tests::frame(&payload)))
        .await
        .unwrap();
    let answer: Value = serde_json::from_slice(&one_frame(&mut idle).await).unwrap();
    assert_eq!(answer["code"], 0);
    // Another 700 KiB fits the 1 MiB budget only if the idle connection
    // gave its request back, and (a moment later) the buffer it kept for
    // its next requests.
    let mut served = None;
    for _ in 0..50 {
        let answer = response_json(&raw_exchange(running.addr, &echo_of(700 * KIB)).await);
        if answer["code"] == 0 {
            served = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        served.is_some(),
        "the idle connection still holds its answered request"
    );
    // And the idle connection is still usable.
    within(idle.write_all(&tpp_tests::frame(&payload)))
        .await
        .unwrap();
    let again: Value = serde_json::from_slice(&one_frame(&mut idle).await).unwrap();
    assert_eq!(again["code"], 0);
    drop(idle);
    running.stop().await;
}
