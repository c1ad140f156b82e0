//! Every policy form, and the description and policies they give.

use std::time::Duration;

use tpp_rpc::{ActionError, Handler, ItemStream, Service};

#[tpp_rpc::toxic_service]
trait Jobs {
    #[action(timeout = "250ms", concurrency = 4, idempotent)]
    async fn get(&self) -> Result<u32, ActionError>;
    #[action(timeout = "2m")]
    #[action(bare)]
    async fn slow(&self) -> Result<u32, ActionError>;
    #[action(stream, timeout = "1h", concurrency = 1)]
    async fn watch(&self) -> Result<ItemStream<u32>, ActionError>;
    async fn plain(&self) -> Result<u32, ActionError>;
}

struct Impl;

impl Jobs for Impl {
    async fn get(&self) -> Result<u32, ActionError> {
        Ok(1)
    }
    async fn slow(&self) -> Result<u32, ActionError> {
        Ok(2)
    }
    async fn watch(&self) -> Result<ItemStream<u32>, ActionError> {
        Ok(ItemStream::iter(vec![1, 2]))
    }
    async fn plain(&self) -> Result<u32, ActionError> {
        Ok(3)
    }
}

fn main() {
    let server = JobsServer::new(Impl);
    assert_eq!(server.action_timeout("get"), Some(Duration::from_millis(250)));
    assert_eq!(server.action_timeout("slow"), Some(Duration::from_secs(120)));
    assert_eq!(server.action_timeout("watch"), Some(Duration::from_secs(3600)));
    assert_eq!(server.action_timeout("plain"), None);
    let policies = server.policies();
    assert_eq!(policies.len(), 3);
    assert_eq!(policies[0].0, "get");
    assert_eq!(policies[0].1.concurrency, Some(4));
    assert!(policies[0].1.idempotent);
    let description = JobsServer::<Impl>::description();
    assert_eq!(description.actions[0].policy.timeout_ms, Some(250));
    assert_eq!(description.actions[2].policy.concurrency, Some(1));
    assert!(description.actions[3].policy.is_empty());
}
