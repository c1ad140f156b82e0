//! The request context: `&tpp_rpc::Context`, `&Context` imported, and `#[context]` on any
//! parameter; none of them is a body key or a client parameter.
#![deny(warnings)]

use tpp_rpc::{ActionError, Context};

mod wrapped {
    /// A type alias: not recognized by its name, so it needs #[context].
    pub type Ctx = tpp_rpc::Context;
}

#[tpp_rpc::toxic_service(rename_all = "kebab-case")]
pub trait Who {
    async fn who_am_i(&self, ctx: &tpp_rpc::Context) -> Result<String, ActionError>;
    async fn short_path(&self, name: String, ctx: &Context) -> Result<String, ActionError>;
    async fn explicit(&self, #[context] c: &wrapped::Ctx, n: u32) -> Result<u32, ActionError>;
}

struct Impl;

impl Who for Impl {
    async fn who_am_i(&self, ctx: &tpp_rpc::Context) -> Result<String, ActionError> {
        Ok(ctx
            .extra("user_id")
            .and_then(|v| v.as_str())
            .unwrap_or("nobody")
            .to_owned())
    }

    async fn short_path(&self, name: String, ctx: &Context) -> Result<String, ActionError> {
        Ok(format!("{name}@{}", ctx.peer_addr()))
    }

    async fn explicit(&self, c: &wrapped::Ctx, n: u32) -> Result<u32, ActionError> {
        Ok(n + c.action().len() as u32)
    }
}

fn main() {
    let _server = WhoServer::new(Impl);
    assert!(WHO_ACTIONS[0].params.is_empty());
    assert_eq!(WHO_ACTIONS[1].params.len(), 1);
    assert_eq!(WHO_ACTIONS[1].params[0].name, "name");
    assert_eq!(WHO_ACTIONS[2].params[0].name, "n");
    let client = WhoClient::new(tpp_rpc::Client::builder("127.0.0.1", 1).build().unwrap())
        .with_field("user_id", "42")
        .with_timeout(std::time::Duration::from_secs(1));
    let _calls = async {
        let _: Result<String, _> = client.who_am_i().await;
        let _: Result<String, _> = client.short_path("x").await;
        let _: Result<u32, _> = client.explicit(1).await;
    };
}
