//! `#[async_trait]` written under `#[toxic_service]` asks for the dyn mode, as
//! `#[toxic_service(dyn)]` does; async-trait is applied once.
#![deny(warnings)]

use std::sync::Arc;

use tpp_rpc::ActionError;

#[tpp_rpc::toxic_service(rename_all = "kebab-case")]
#[tpp_rpc::async_trait]
pub trait Store {
    async fn get_key(&self, key: String) -> Result<String, ActionError>;
}

struct Memory;

#[tpp_rpc::async_trait]
impl Store for Memory {
    async fn get_key(&self, key: String) -> Result<String, ActionError> {
        Ok(key)
    }
}

fn serve<H: tpp_rpc::Handler>(_handler: H) {}

fn main() {
    let store: Arc<dyn Store> = Arc::new(Memory);
    serve(StoreServer::from_arc(store));
    assert_eq!(STORE_ACTIONS[0].name, "get-key");
    serve(renamed::server());
}

/// `dyn` with `crate = "..."`: async-trait is reached through the runtime's path too.
mod rt {
    pub use ::tpp_rpc::*;
}

mod renamed {
    use crate::rt;

    #[rt::toxic_service(dyn, crate = "crate::rt")]
    pub trait Ping {
        async fn ping(&self) -> Result<u32, rt::ActionError>;
    }

    pub struct Pong;

    #[rt::async_trait]
    impl Ping for Pong {
        async fn ping(&self) -> Result<u32, rt::ActionError> {
            Ok(1)
        }
    }

    pub fn server() -> PingServer<dyn Ping> {
        PingServer::from_box(Box::new(Pong))
    }
}
