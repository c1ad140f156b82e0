//! `#[action(stream)]`: a method returning `Result<tpp_rpc::ItemStream<T>, E>` sends each item as
//! `{"code": 0, "body": item}`, then closes; the client method returns a stream of `T`.
#![deny(warnings)]

use serde::{Deserialize, Serialize};
use tpp_rpc::{ActionError, ActionKind, ItemStream};

#[derive(Serialize, Deserialize)]
struct StepInfo {
    name: String,
}

#[tpp_rpc::toxic_service]
trait Builds {
    /// Runs a build, streaming its steps.
    #[action(stream)]
    async fn build(
        &self,
        builder_name: String,
        ctx: &tpp_rpc::Context,
    ) -> Result<ItemStream<StepInfo>, ActionError>;

    /// The whole body is the query.
    #[action(name = "build-all", stream)]
    async fn build_all(
        &self,
        #[body] names: Vec<String>,
    ) -> Result<tpp_rpc::ItemStream<u32>, ActionError>;
}

struct Impl;

impl Builds for Impl {
    async fn build(
        &self,
        builder_name: String,
        _ctx: &tpp_rpc::Context,
    ) -> Result<ItemStream<StepInfo>, ActionError> {
        Ok(ItemStream::iter(vec![StepInfo { name: builder_name }]))
    }

    async fn build_all(&self, names: Vec<String>) -> Result<ItemStream<u32>, ActionError> {
        let (sender, stream) = ItemStream::channel(4);
        tokio::spawn(async move {
            for (i, _) in names.iter().enumerate() {
                if sender.send(i as u32).await.is_err() {
                    break;
                }
            }
        });
        Ok(stream)
    }
}

fn main() {
    let _server = BuildsServer::new(Impl);
    assert_eq!(BUILDS_ACTIONS[0].kind, ActionKind::Stream);
    assert_eq!(BUILDS_ACTIONS[0].params.len(), 1);
    let client = BuildsClient::new(tpp_rpc::Client::builder("127.0.0.1", 1).build().unwrap());
    let _call = async {
        use tpp_rpc::StreamExt;
        let mut steps = client.build("py").await?;
        while let Some(step) = steps.next().await {
            let _: StepInfo = step?;
        }
        let _all = client.build_all(vec!["a".into()]).await?;
        Ok::<(), tpp_rpc::CallError<ActionError>>(())
    };
}
