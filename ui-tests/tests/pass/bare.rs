//! `#[action(bare)]`: the result is the whole body (toxicbuild's list_builders, healthcheck).
#![deny(warnings)]

use serde::{Deserialize, Serialize};
use tpp_rpc::{ActionError, ActionKind};

#[derive(Serialize, Deserialize)]
struct Builders {
    builders: Vec<String>,
}

#[tpp_rpc::toxic_service]
trait BuildServer {
    #[action(bare)]
    async fn list_builders(&self, repo_url: String) -> Result<Builders, ActionError>;
    #[action(name = "healthcheck", bare)]
    async fn health(&self) -> Result<serde_json::Value, ActionError>;
    async fn build(&self) -> Result<(), ActionError>;
}

fn main() {
    assert_eq!(BUILD_SERVER_ACTIONS[0].kind, ActionKind::Bare);
    assert_eq!(BUILD_SERVER_ACTIONS[1].kind, ActionKind::Bare);
    assert_eq!(BUILD_SERVER_ACTIONS[1].name, "healthcheck");
    assert_eq!(BUILD_SERVER_ACTIONS[2].kind, ActionKind::Unary);
    let client = BuildServerClient::from(tpp_rpc::Client::builder("127.0.0.1", 1).build().unwrap());
    let _call = async {
        let _: Result<Builders, tpp_rpc::CallError<ActionError>> = client.list_builders("u").await;
        let _: Result<serde_json::Value, tpp_rpc::CallError<ActionError>> = client.health().await;
    };
}
