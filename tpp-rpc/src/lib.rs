//! # tpp — the ToxicBuild Poor's Protocol in Rust
//!
//! TPP is a small RPC protocol over TCP (optionally TLS), made for the
//! ToxicBuild CI system: a message is the payload's byte length in decimal,
//! `\n`, then UTF-8 JSON. A request carries `token`, `action` and `body`; a
//! response carries `code` (0 ok, > 0 error) and `body`. This crate speaks it
//! byte-compatibly with the Python reference, `toxiccore`.
//!
//! Two levels of server API:
//! - [`Handler`]: one async method gets each authenticated request
//!   ([`Connection`]) and sends one or more responses, like toxiccore's
//!   `BaseToxicProtocol.client_connected`;
//! - `#[toxic_service]` on a trait: typed dispatch by action name and a typed
//!   client, generated from one trait.
//!
//! ```no_run
//! use tpp_rpc::{Connection, Handler, Server};
//!
//! struct Hello;
//!
//! impl Handler for Hello {
//!     async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
//!         #[derive(serde::Deserialize)]
//!         struct Body { name: String }
//!         match conn.action() {
//!             "hello" => {
//!                 let body: Body = conn.body()?;
//!                 conn.send_result(&format!("Hello, {}!", body.name)).await
//!             }
//!             _ => tpp_rpc::service::answer_unknown_action(conn).await,
//!         }
//!     }
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Server::builder().token("secret").bind("127.0.0.1:7777").await?;
//! server.serve(Hello).await?;
//! # Ok(()) }
//! ```
//!
//! A typed service and its client, from one trait (every attribute is
//! documented in [`macro@toxic_service`]):
//!
//! ```
//! #[derive(Debug, thiserror::Error, tpp_rpc::ToxicError)]
//! pub enum GreetError {
//!     #[error("{0}")]
//!     #[toxic(code = 4)]
//!     Refused(String),
//! }
//!
//! #[tpp_rpc::toxic_service(rename_all = "kebab-case")]
//! pub trait Greeter {
//!     /// Greets someone.
//!     async fn say_hello(&self, name: String, excited: Option<bool>) -> Result<String, GreetError>;
//! }
//!
//! struct English;
//!
//! impl Greeter for English {
//!     async fn say_hello(&self, name: String, excited: Option<bool>) -> Result<String, GreetError> {
//!         if name.is_empty() {
//!             return Err(GreetError::Refused("who?".into()));
//!         }
//!         let end = if excited.unwrap_or(false) { "!" } else { "." };
//!         Ok(format!("Hello, {name}{end}"))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = tpp_rpc::Server::builder().token("secret").bind("127.0.0.1:0").await?;
//! let port = server.local_addr().port();
//! tokio::spawn(server.serve(GreeterServer::new(English)));
//!
//! let client = GreeterClient::new(tpp_rpc::Client::builder("127.0.0.1", port).token("secret").build()?);
//! // -> {"action": "say-hello", "body": {"name": "Ana"}, "token": "secret"}
//! // <- {"code":0,"body":{"say-hello":"Hello, Ana."}}
//! assert_eq!(client.say_hello("Ana").await?, "Hello, Ana.");
//! // Optional parameters are set on the call.
//! assert_eq!(client.say_hello("Ana").excited(true).await?, "Hello, Ana!");
//! // The service's own error, typed.
//! match client.say_hello("").await {
//!     Err(tpp_rpc::CallError::Service(GreetError::Refused(why))) => assert_eq!(why, "who?"),
//!     other => panic!("{other:?}"),
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod auth;
pub mod client;
pub mod describe;
mod error;
pub mod frame;
mod generated;
pub mod json;
pub mod message;
mod param_default;
pub mod server;
pub mod service;
pub mod stream;
pub mod tls;
pub mod trace;
pub mod transport;

use std::future::Future;
use std::pin::Pin;

pub use auth::{Authenticator, BcryptToken, FnAuth, Identity, PlainToken, UserHashes, UserTokens};
pub use client::{
    CallError, CallStream, Client, ClientBuilder, ClientConnection, ClientError, EndpointSelection,
    FuncInfo, FuncList, FuncParam, ResponseStream, TlsProblem,
};
pub use describe::{
    ActionDescription, Description, ErrorDescription, ParamDescription, ServiceDescription,
};
pub use error::Error;
pub use frame::{FrameCodec, FrameError};
/// `next()` on the streams of generated clients ([`CallStream`]) and on
/// [`ResponseStream`]: re-exported from `futures-util`, so a service needs no
/// dependency of its own for it.
pub use futures_util::StreamExt;
pub use message::{Request, Response};
pub use server::{
    Connection, Context, Handler, Layer, Limits, Next, Server, ServerBuilder, ShutdownHandle,
};
pub use service::{ActionError, ActionInfo, ActionKind, ParamInfo, Router, Service, ToxicError};
pub use stream::{ItemSender, ItemStream};
pub use tokio_rustls::rustls;
pub use tpp_rpc_macros::{toxic_service, ToxicError};

/// `async-trait`'s attribute, for the implementations of a `#[toxic_service(dyn)]` trait:
/// write `#[tpp_rpc::async_trait]` on each `impl` block, so that a crate needs no dependency of its
/// own on `async-trait` (the generated trait uses this same path). Each call of such a method
/// allocates one boxed future; native `#[toxic_service]` traits need no attribute and box
/// nothing. See [`macro@toxic_service`].
pub use async_trait::async_trait;

/// The `schemars` crate tpp describes types with (feature `schema`): derive
/// `tpp_rpc::schemars::JsonSchema` with `#[schemars(crate = "tpp_rpc::schemars")]`, or depend on
/// `schemars` 1.x directly.
#[cfg(feature = "schema")]
pub use schemars;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Re-exports for the code `#[toxic_service]` generates. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::describe::probes::{LacksJsonSchema, LacksVariants, ViaJsonSchema, ViaVariants};
    pub use crate::describe::SchemaSet;
    pub use crate::generated::*;
    pub use crate::param_default::{LacksDefault, ViaDefault};
    pub use futures_core;
    pub use futures_util;
    pub use serde;
    pub use serde_json;
    pub use std::boxed::Box;
    pub use std::future::Future;
    pub use std::pin::Pin;
}
