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
//!
//! # The guide
//!
//! The [`guide`] walks through everything else, one chapter per subject:
//! [typed services](guide::typed_services) and the dyn mode, [streaming](guide::streaming),
//! the [low-level API and the client](guide::low_level), [auth and TLS](guide::security),
//! [transports](guide::transports) (mutual TLS, Unix sockets, in-process testing),
//! [limits and reliability](guide::limits), [running in production](guide::production)
//! (identity, layers, metrics, traces), [deployment](guide::deployment) (HAProxy, systemd,
//! Kubernetes), [interop with toxiccore](guide::interop) and
//! [your service from Python and from the shell](guide::contract) (descriptions,
//! `tpp describe`, `tpp diff`, `tpp gen python`).
//!
//! # Cargo features
//!
//! The defaults serve a toxiccore deployment out of the box: TLS and the
//! bcrypt token hashes it stores. The rest is opt-in.
//!
//! | feature | default | adds | dependencies |
//! |---|---|---|---|
//! | `tls` | yes | TLS on both sides: `ServerBuilder::tls`, `ServerBuilder::tls_pem_files`, `ClientBuilder::tls` and its variants, the `tls` module, the `rustls` re-export | rustls (ring provider), tokio-rustls, rustls-native-certs |
//! | `bcrypt` | yes | `BcryptToken`, `UserHashes`, `ServerBuilder::token_hash` | bcrypt, ring (the digests that key the verdict caches) |
//! | `metrics` | no | `ServerBuilder::metrics`: requests, latency, connections through the `metrics` facade | metrics |
//! | `proxy-protocol` | no | `ServerBuilder::proxy_protocol`: PROXY protocol v1/v2 from trusted balancers | ppp |
//! | `dyn` | no | `#[toxic_service(dyn)]`: dyn-compatible service traits, with the `async_trait` re-export | async-trait |
//! | `schema` | no | JSON Schemas of parameter, result and error types in service descriptions (types deriving `schemars::JsonSchema`; without it a type is described as any JSON), the `schemars` re-export | schemars |
//! | `full` | no | all of the above | |
//!
//! Without `tls` a server and a client speak plain TCP only; without
//! `bcrypt`, `PlainToken`, `UserTokens`, `FnAuth` or an
//! `Authenticator` of your own check tokens.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// Layers, bottom up: `wire` (bytes and their meaning, shared), `settings`
// (what a configured value means at its extremes, shared) and `transport`
// (TCP or TLS streams, shared); `server` and `client` side by side above them,
// never importing each other; `service` (what generated code builds on) on top.
pub mod client;
pub mod guide;
pub mod server;
pub mod service;
pub mod settings;
mod transport;
mod wire;

pub use server::auth;
pub use service::stream;
#[cfg(feature = "tls")]
pub use transport::tls;
pub use wire::{describe, fields, json, trace};

pub use auth::{Authenticator, FnAuth, Identity, PlainToken, UserTokens};
#[cfg(feature = "bcrypt")]
pub use auth::{BcryptToken, UserHashes};
pub use client::{
    CallError, CallStream, Client, ClientBuilder, ClientConnection, ClientError, EndpointSelection,
    FuncInfo, FuncList, FuncParam, ResponseStream, TlsProblem,
};
pub use describe::{
    ActionDescription, Description, ErrorDescription, ParamDescription, ServiceDescription,
};
/// `next()` on the streams of generated clients ([`CallStream`]) and on
/// [`ResponseStream`]: re-exported from `futures-util`, so a service needs no
/// dependency of its own for it.
pub use futures_util::StreamExt;
pub use server::{
    BoxFuture, Connection, Context, Error, Handler, Layer, Limits, Next, Server, ServerBuilder,
    ServerError, ShutdownHandle,
};
pub use service::{ActionInfo, ActionKind, ParamInfo, Router, Service};
pub use stream::{ItemSender, ItemStream};
#[cfg(feature = "tls")]
pub use tokio_rustls::rustls;
pub use tpp_rpc_macros::{toxic_service, ToxicError};
pub use transport::{InProcess, TlsError, Transport};
pub use wire::frame::FrameError;
pub use wire::message::{ActionField, BadData, BadResponse, Request, Response, TokenField};
pub use wire::{ActionError, ToxicError};

/// The building blocks under the API, for tools, benchmarks and fuzzers that
/// speak TPP at the byte level: the frame codec, the raw stream, the answer
/// writer. **Not covered by semver**: anything here may change in any release.
pub mod unstable {
    pub use crate::transport::{Socket, Stream};
    pub use crate::wire::frame::{
        encode_frame, FrameCodec, DEFAULT_MAX_FRAME_SIZE, MAX_HEADER_LEN,
    };
    pub use crate::wire::message::{write_response, ActionResult, ErrorBody};
}

/// `async-trait`'s attribute, for the implementations of a `#[toxic_service(dyn)]` trait:
/// write `#[tpp_rpc::async_trait]` on each `impl` block, so that a crate needs no dependency of its
/// own on `async-trait` (the generated trait uses this same path). Each call of such a method
/// allocates one boxed future; native `#[toxic_service]` traits need no attribute and box
/// nothing. See [`macro@toxic_service`].
#[cfg(feature = "dyn")]
pub use async_trait::async_trait;

/// The `schemars` crate tpp describes types with (feature `schema`): derive
/// `tpp_rpc::schemars::JsonSchema` with `#[schemars(crate = "tpp_rpc::schemars")]`, or depend on
/// `schemars` 1.x directly.
#[cfg(feature = "schema")]
pub use schemars;

/// Re-exports for the code `#[toxic_service]` generates. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::service::describe_probes::{
        LacksJsonSchema, LacksVariants, ViaJsonSchema, ViaVariants,
    };
    pub use crate::service::generated::*;
    pub use crate::service::param_default::{LacksDefault, ViaDefault};
    pub use crate::wire::describe::SchemaSet;
    pub use futures_core;
    pub use futures_util;
    pub use serde;
    pub use serde_json;
    pub use std::boxed::Box;
    pub use std::future::Future;
    pub use std::pin::Pin;
}
