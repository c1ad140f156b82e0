//! `#[action(stream, ack)]`: a method returning `Result<(A, tpp_rpc::ItemStream<T>), E>` answers
//! `{"code": 0, "body": {"<action>": ack}}` first, then each item as `{"code": 0, "body": item}`;
//! the client method returns the acknowledgement and a stream of `T`.
#![deny(warnings)]

use serde::{Deserialize, Serialize};
use tpp_rpc::{ActionError, ActionKind, ItemStream};

#[derive(Serialize, Deserialize)]
struct Event {
    event_type: String,
}

#[derive(Serialize, Deserialize)]
struct Subscribed {
    stream: String,
    kinds: usize,
}

#[tpp_rpc::toxic_service(rename_all = "kebab-case")]
trait Hole {
    /// Pushes events as they happen, after acknowledging the subscription.
    #[action(stream, ack)]
    async fn stream(
        &self,
        ctx: &tpp_rpc::Context,
        event_types: Vec<String>,
    ) -> Result<(String, ItemStream<Event>), ActionError>;

    /// Any serde type may acknowledge; the action may be renamed.
    #[action(name = "watch", ack, stream)]
    async fn watch_builds(
        &self,
        #[body] kinds: Vec<String>,
    ) -> Result<(Subscribed, tpp_rpc::ItemStream<u64>), ActionError>;
}

struct Impl;

impl Hole for Impl {
    async fn stream(
        &self,
        _ctx: &tpp_rpc::Context,
        event_types: Vec<String>,
    ) -> Result<(String, ItemStream<Event>), ActionError> {
        let (sender, events) = ItemStream::channel(16);
        tokio::spawn(async move {
            for event_type in event_types {
                if sender.send(Event { event_type }).await.is_err() {
                    break;
                }
            }
        });
        Ok(("ok".to_owned(), events))
    }

    async fn watch_builds(
        &self,
        kinds: Vec<String>,
    ) -> Result<(Subscribed, ItemStream<u64>), ActionError> {
        let subscribed = Subscribed {
            stream: "ok".into(),
            kinds: kinds.len(),
        };
        Ok((subscribed, ItemStream::iter(0..3)))
    }
}

fn main() {
    let _server = HoleServer::new(Impl);
    assert_eq!(HOLE_ACTIONS[0].kind, ActionKind::Stream);
    assert_eq!(HOLE_ACTIONS[1].name, "watch");
    let client = HoleClient::new(tpp_rpc::Client::builder("127.0.0.1", 1).build().unwrap());
    let _call = async {
        use tpp_rpc::StreamExt;
        let (ack, mut events): (String, _) = client.stream(vec!["build_started".into()]).await?;
        assert_eq!(ack, "ok");
        while let Some(event) = events.next().await {
            let _: Event = event?;
        }
        let (subscribed, numbers) = client.watch_builds(vec![]).await?;
        let _: usize = subscribed.kinds;
        let _: Vec<Result<u64, tpp_rpc::CallError<ActionError>>> = numbers.collect().await;
        Ok::<(), tpp_rpc::CallError<ActionError>>(())
    };
}
