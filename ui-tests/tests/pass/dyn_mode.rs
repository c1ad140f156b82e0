//! `#[toxic_service(dyn)]`: the trait is dyn-compatible (through `tpp_rpc::async_trait`), every
//! feature of the native mode is available, and the server is built from a concrete type, an
//! `Arc<dyn …>` or a `Box<dyn …>`, chosen at run time.
#![deny(warnings)]

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tpp_rpc::{ActionError, Context, ItemStream};

#[derive(Debug, Serialize, Deserialize)]
pub struct Query {
    pub repo_url: String,
}

#[derive(Debug, thiserror::Error, tpp_rpc::ToxicError)]
pub enum StoreError {
    #[error("{0}")]
    #[toxic(code = 4)]
    NotFound(String),
}

#[tpp_rpc::toxic_service(dyn, rename_all = "kebab-case")]
/// A store chosen at run time.
pub trait Store {
    /// Adds a repository.
    async fn repo_add(
        &self,
        ctx: &Context,
        repo_name: String,
        #[param(default = "\"master\"")] branch: String,
        slaves: Option<Vec<String>>,
    ) -> Result<String, StoreError>;
    #[action(name = "list_builders", bare)]
    async fn builders(&self, #[body] query: Query) -> Result<Vec<String>, ActionError>;
    #[action(stream)]
    async fn build(&self, steps: u32) -> Result<ItemStream<u32>, ActionError>;
    #[action(stream, ack)]
    async fn stream(&self, #[context] c: &Context) -> Result<(String, ItemStream<u32>), ActionError>;
    /// A default body, as in the native mode.
    async fn version(&self) -> Result<String, ActionError> {
        Ok("1".to_owned())
    }
}

struct Memory;

#[tpp_rpc::async_trait]
impl Store for Memory {
    async fn repo_add(
        &self,
        ctx: &Context,
        repo_name: String,
        branch: String,
        slaves: Option<Vec<String>>,
    ) -> Result<String, StoreError> {
        let _ = (ctx.action(), slaves);
        Ok(format!("{repo_name}@{branch}"))
    }

    async fn builders(&self, query: Query) -> Result<Vec<String>, ActionError> {
        Ok(vec![query.repo_url])
    }

    async fn build(&self, steps: u32) -> Result<ItemStream<u32>, ActionError> {
        Ok(ItemStream::iter(0..steps))
    }

    async fn stream(&self, c: &Context) -> Result<(String, ItemStream<u32>), ActionError> {
        Ok((c.action().to_owned(), ItemStream::iter(0..1)))
    }
}

struct Failing;

#[tpp_rpc::async_trait]
impl Store for Failing {
    async fn repo_add(
        &self,
        _ctx: &Context,
        repo_name: String,
        _branch: String,
        _slaves: Option<Vec<String>>,
    ) -> Result<String, StoreError> {
        Err(StoreError::NotFound(repo_name))
    }

    async fn builders(&self, _query: Query) -> Result<Vec<String>, ActionError> {
        Err(ActionError::new(1, "no builders"))
    }

    async fn build(&self, _steps: u32) -> Result<ItemStream<u32>, ActionError> {
        Err(ActionError::new(1, "no build"))
    }

    async fn stream(&self, _c: &Context) -> Result<(String, ItemStream<u32>), ActionError> {
        Err(ActionError::new(1, "no stream"))
    }

    async fn version(&self) -> Result<String, ActionError> {
        Ok("2".to_owned())
    }
}

/// The implementation is a run-time choice.
fn choose(name: &str) -> Arc<dyn Store> {
    match name {
        "memory" => Arc::new(Memory),
        _ => Arc::new(Failing),
    }
}

fn serve<H: tpp_rpc::Handler>(_handler: H) {}

fn main() {
    // A concrete type, as in the native mode.
    serve(StoreServer::new(Memory));
    // Arc<dyn Store> (Send + Sync are supertraits, so both spellings are one type).
    let shared: Arc<dyn Store + Send + Sync> = choose("memory");
    serve(StoreServer::from_arc(shared.clone()));
    let server: StoreServer<dyn Store> = StoreServer::from(choose("failing"));
    serve(server.clone());
    // Box<dyn Store>.
    let boxed: Box<dyn Store + Send + Sync> = Box::new(Failing);
    serve(StoreServer::from_box(boxed));
    serve(StoreServer::<dyn Store>::from(Box::new(Memory) as Box<dyn Store>));
    // A dyn server is a Service like any other.
    let router = tpp_rpc::Router::new()
        .service(StoreServer::from_arc(shared))
        .unwrap();
    serve(router);
    assert_eq!(StoreServer::<dyn Store>::ACTIONS.len(), 5);
    assert_eq!(STORE_ACTIONS[1].name, "list_builders");
    assert_eq!(STORE_ACTIONS[0].params.len(), 3);

    // The generated client is the same in both modes.
    let client = StoreClient::new(tpp_rpc::Client::builder("127.0.0.1", 1).build().unwrap());
    let _calls = async {
        let _: Result<String, _> = client.repo_add("tpp").branch("main").await;
        let _ = client.builders(Query { repo_url: "u".into() }).await;
        let _ = client.build(3).await;
        let _ = client.stream().await;
        let _: Result<String, _> = client.version().await;
    };
}
