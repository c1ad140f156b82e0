//! Service errors travel as data: every variant shape (unit, tuple, struct, empty struct,
//! nested types, a struct error type, a transparent variant; with thiserror's `#[error]`
//! and with a hand-written `Display`) comes back from a real server as the very value the
//! server returned, in a unary answer and at the end of a stream. An answer carrying only
//! the message (an older or hand-written server) still decodes as before.

use std::fmt;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tpp_rpc::{CallError, ClientError, ItemStream, Server, ToxicError};
use tpp_tests::{frame, raw_exchange, response_json, split_frame, start, within, TOKEN};

/// A field type with no serde: its variant can only travel as a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Opaque(u8);

impl fmt::Display for Opaque {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "opaque {}", self.0)
    }
}

/// Without thiserror: `Display` by hand.
#[derive(Debug, Clone, PartialEq, tpp_rpc::ToxicError)]
pub enum PlainError {
    #[toxic(code = 20)]
    Gone,
    #[toxic(code = 21)]
    Busy { since: u32, who: Option<String> },
    #[toxic(code = 22)]
    Retry(u64),
}

impl fmt::Display for PlainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlainError::Gone => f.write_str("gone"),
            PlainError::Busy { since, who } => write!(f, "busy since {since} ({who:?})"),
            PlainError::Retry(after) => write!(f, "retry after {after} s"),
        }
    }
}

impl std::error::Error for PlainError {}

#[derive(Debug, Clone, PartialEq, thiserror::Error, tpp_rpc::ToxicError)]
pub enum JobError {
    #[error("job {0} not found")]
    #[toxic(code = 4)]
    NotFound(String),
    #[error("job {id} is locked by {by}")]
    #[toxic(code = 7)]
    Locked { id: u64, by: String },
    #[error("the queue is full")]
    #[toxic(code = 8)]
    Full,
    #[error("job {0} moved to shard {1}")]
    #[toxic(code = 9)]
    Moved(String, u32),
    #[error("limits {0:?}")]
    #[toxic(code = 10)]
    Limits(Option<Vec<u32>>),
    #[error("nothing")]
    #[toxic(code = 11)]
    Nothing {},
    #[error("raw {}", r#type)]
    #[toxic(code = 12)]
    Raw { r#type: String },
    #[error("{0}")]
    #[toxic(code = 13)]
    Hidden(Opaque),
    #[error(transparent)]
    #[toxic(transparent)]
    Plain(PlainError),
}

/// A struct as the error type.
#[derive(Debug, Clone, PartialEq, thiserror::Error, tpp_rpc::ToxicError)]
#[error("quota {used}/{limit}")]
#[toxic(code = 30)]
pub struct QuotaError {
    used: u32,
    limit: u32,
}

#[tpp_rpc::toxic_service]
pub trait Jobs {
    /// Fails with the error numbered `which`.
    async fn fail(&self, which: usize) -> Result<(), JobError>;
    /// Always over quota.
    async fn quota(&self) -> Result<(), QuotaError>;
    /// The error numbered `which`, as an `ActionError`.
    async fn untyped(&self, which: usize) -> Result<(), tpp_rpc::ActionError>;
    /// One item, then the error numbered `which`.
    #[action(stream)]
    async fn watch(&self, which: usize) -> Result<ItemStream<u32>, JobError>;
}

fn every_variant() -> Vec<JobError> {
    vec![
        JobError::NotFound("1".into()),
        JobError::Locked {
            id: 1,
            by: "ann".into(),
        },
        JobError::Full,
        JobError::Moved("x".into(), 3),
        JobError::Limits(Some(vec![1, 2])),
        JobError::Limits(None),
        JobError::Nothing {},
        JobError::Raw { r#type: "t".into() },
        JobError::Plain(PlainError::Gone),
        JobError::Plain(PlainError::Busy {
            since: 5,
            who: Some("bob".into()),
        }),
        JobError::Plain(PlainError::Retry(30)),
        JobError::Hidden(Opaque(7)),
    ]
}

struct Queue;

impl Jobs for Queue {
    async fn fail(&self, which: usize) -> Result<(), JobError> {
        Err(every_variant().swap_remove(which))
    }

    async fn quota(&self) -> Result<(), QuotaError> {
        Err(QuotaError { used: 9, limit: 8 })
    }

    async fn untyped(&self, which: usize) -> Result<(), tpp_rpc::ActionError> {
        Err(tpp_rpc::ActionError::from_error(&every_variant()[which]))
    }

    async fn watch(&self, which: usize) -> Result<ItemStream<u32>, JobError> {
        let (tx, items) = ItemStream::channel(4);
        tokio::spawn(async move {
            let _ = tx.send(1).await;
            let _ = tx.fail(every_variant().swap_remove(which)).await;
        });
        Ok(items)
    }
}

async fn jobs_server() -> tpp_tests::Running {
    start(Server::builder().token(TOKEN), JobsServer::new(Queue)).await
}

/// The last one (`Hidden`) holds a field without serde.
const TRAVELS_AS_DATA: usize = 11;

#[tokio::test]
async fn every_variant_shape_round_trips() {
    let server = jobs_server().await;
    let client = JobsClient::new(tpp_tests::client(server.port()));
    for (which, sent) in every_variant()
        .into_iter()
        .enumerate()
        .take(TRAVELS_AS_DATA)
    {
        match within(client.fail(which)).await {
            Err(CallError::Service(got)) => {
                assert_eq!(got, sent);
                assert_eq!(got.to_string(), sent.to_string());
            }
            other => panic!("{sent:?}: {other:?}"),
        }
    }
    // The message reads as written, not decorated twice.
    let not_found = within(client.fail(0)).await.unwrap_err();
    assert_eq!(not_found.to_string(), "job 1 not found");

    // An ActionError keeps the data, from which the typed error is rebuilt.
    match within(client.untyped(1)).await {
        Err(CallError::Service(any)) => {
            let data = any.data.as_deref().expect("the data came along");
            assert_eq!(
                JobError::from_data(any.code, &any.message, data),
                Some(every_variant()[1].clone())
            );
        }
        other => panic!("{other:?}"),
    }

    match within(client.quota()).await {
        Err(CallError::Service(got)) => assert_eq!(got, QuotaError { used: 9, limit: 8 }),
        other => panic!("{other:?}"),
    }
    server.stop().await;
}

#[tokio::test]
async fn a_variant_whose_fields_cannot_be_sent_travels_as_its_message() {
    let server = jobs_server().await;
    let client = JobsClient::new(tpp_tests::client(server.port()));
    match within(client.fail(TRAVELS_AS_DATA)).await {
        Err(CallError::Client(ClientError::Server {
            code: 13,
            message,
            data: None,
        })) => assert_eq!(message, "opaque 7"),
        other => panic!("{other:?}"),
    }
    server.stop().await;
}

#[tokio::test]
async fn a_stream_ends_with_the_same_typed_error() {
    let server = jobs_server().await;
    let client = JobsClient::new(tpp_tests::client(server.port()));
    for (which, sent) in every_variant()
        .into_iter()
        .enumerate()
        .take(TRAVELS_AS_DATA)
    {
        let mut items = within(client.watch(which))
            .await
            .expect("the stream starts");
        assert_eq!(within(items.next()).await.unwrap().unwrap(), 1);
        match within(items.next()).await {
            Some(Err(CallError::Service(got))) => assert_eq!(got, sent),
            other => panic!("{sent:?}: {other:?}"),
        }
    }
    server.stop().await;
}

async fn answer(port: u16, request: Value) -> Value {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    response_json(&raw_exchange(addr, &frame(&request.to_string())).await)
}

/// The wire format, pinned: the message where toxiccore reads it, the variant and its
/// fields beside it.
#[tokio::test]
async fn the_error_answer_carries_message_variant_and_fields() {
    let server = jobs_server().await;
    let request =
        |which: usize| json!({"token": TOKEN, "action": "fail", "body": {"which": which}});
    let cases = [
        (
            1,
            json!({"code": 7, "body": {"error": "job 1 is locked by ann",
                "tpp_error": {"variant": "Locked", "fields": {"id": 1, "by": "ann"}}}}),
        ),
        (
            0,
            json!({"code": 4, "body": {"error": "job 1 not found",
                "tpp_error": {"variant": "NotFound", "fields": ["1"]}}}),
        ),
        (
            2,
            json!({"code": 8, "body": {"error": "the queue is full",
                "tpp_error": {"variant": "Full"}}}),
        ),
        (
            7,
            json!({"code": 12, "body": {"error": "raw t",
                "tpp_error": {"variant": "Raw", "fields": {"type": "t"}}}}),
        ),
        (
            TRAVELS_AS_DATA,
            json!({"code": 13, "body": {"error": "opaque 7"}}),
        ),
    ];
    for (which, expected) in cases {
        assert_eq!(answer(server.port(), request(which)).await, expected);
    }
    server.stop().await;
}

/// A server that answers one request with `reply` (a whole payload).
async fn answering(reply: Value) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        while split_frame(&buf).is_none() {
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).await.unwrap();
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let _ = s.write_all(&frame(&reply.to_string())).await;
    });
    port
}

async fn decoded(reply: Value) -> CallError<JobError> {
    let port = answering(reply).await;
    let client = JobsClient::new(tpp_tests::client(port));
    within(client.fail(0)).await.unwrap_err()
}

/// An answer with the message alone decodes as it always has: unit variants and variants
/// holding just the message are rebuilt from it, the rest stay a server error.
#[tokio::test]
async fn a_message_only_answer_still_decodes() {
    let full = decoded(json!({"code": 8, "body": {"error": "the queue is full"}})).await;
    assert!(
        matches!(full, CallError::Service(JobError::Full)),
        "{full:?}"
    );
    let not_found = decoded(json!({"code": 4, "body": {"error": "no such job"}})).await;
    assert!(
        matches!(&not_found, CallError::Service(JobError::NotFound(m)) if m == "no such job"),
        "{not_found:?}"
    );
    let locked = decoded(json!({"code": 7, "body": {"error": "locked"}})).await;
    assert!(
        matches!(&locked, CallError::Client(ClientError::Server { code: 7, message, data: None }) if message == "locked"),
        "{locked:?}"
    );
    // A bare string body (old toxicbuild servers), and a tpp_error that is not data.
    let bare = decoded(json!({"code": 20, "body": "gone"})).await;
    assert!(
        matches!(bare, CallError::Service(JobError::Plain(PlainError::Gone))),
        "{bare:?}"
    );
    let odd = decoded(json!({"code": 8, "body": {"error": "full", "tpp_error": 5}})).await;
    assert!(matches!(odd, CallError::Service(JobError::Full)), "{odd:?}");
}

/// A variant this client does not know by name (renamed by a newer server) falls back to
/// the code; fields of the wrong type do not make a wrong value.
#[tokio::test]
async fn data_this_client_cannot_use_falls_back_to_the_code() {
    let renamed = decoded(json!({"code": 8, "body": {"error": "full",
        "tpp_error": {"variant": "QueueFull"}}}))
    .await;
    assert!(
        matches!(renamed, CallError::Service(JobError::Full)),
        "{renamed:?}"
    );
    let wrong = decoded(json!({"code": 7, "body": {"error": "locked",
        "tpp_error": {"variant": "Locked", "fields": {"id": "one", "by": "ann"}}}}))
    .await;
    match &wrong {
        CallError::Client(e) => {
            assert_eq!(e.server_code(), Some(7));
            assert_eq!(e.server_data().unwrap().variant, "Locked");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn derived_data_and_from_data_agree() {
    for error in every_variant().into_iter().take(TRAVELS_AS_DATA) {
        let data = error.data().expect("data");
        assert_eq!(
            JobError::from_data(error.code(), &error.message(), &data),
            Some(error.clone()),
            "{data:?}"
        );
    }
    assert_eq!(JobError::Hidden(Opaque(1)).data(), None);
}
