//! Procedural macros of [tpp](https://example.invalid/tpp): `#[toxic_service]`, which turns one
//! trait into a typed TPP server and a typed client, and `#[derive(ToxicError)]`, which gives
//! an error type its TPP code and message. Use them through the runtime's re-exports,
//! `tpp_rpc::toxic_service` and `tpp_rpc::ToxicError`.
//!
//! Every example below shows the Rust a user writes and the JSON on the wire. A request is
//! `{"token": ..., "action": ..., "body": ..., <extra fields>}`; a response is
//! `{"code": ..., "body": ...}` (the framing and every rule of the protocol are in
//! `docs/PROTOCOL.md` of the repository).
//!
//! The whole reference is on the macros themselves, so the re-exports' pages in the `tpp`
//! crate have it too:
//!
//! - [`#[toxic_service]`](macro@toxic_service): a trait becomes a server and a typed client;
//! - [`#[derive(ToxicError)]`](derive@ToxicError): an error type's codes and messages.

#![deny(missing_docs)]

extern crate proc_macro;

mod attrs;
mod defaults;
mod derive_error;
mod model;
mod naming;
mod render;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::visit_mut::VisitMut;

use crate::attrs::{Errors, ServiceArgs};
use crate::model::Service;

/// Turns a trait into a typed TPP service: server dispatch (`<Trait>Server`), a typed
/// client (`<Trait>Client`, with one call builder per action) and the list of actions
/// (`<TRAIT>_ACTIONS`). Every argument and attribute follows, with the JSON on the wire.
///
/// ```
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Serialize, Deserialize)]
/// pub struct Repo { pub name: String, pub url: String }
///
/// #[derive(Debug, thiserror::Error, tpp_rpc::ToxicError)]
/// pub enum ReposError {
///     #[error("{0}")]
///     #[toxic(code = 4)]
///     NotFound(String),
/// }
///
/// #[tpp_rpc::toxic_service(rename_all = "kebab-case")]
/// pub trait Repos {
///     /// Adds a repository.
///     async fn repo_add(&self, repo_name: String, repo_url: String, branch: Option<String>)
///         -> Result<Repo, ReposError>;
///     /// Shows a repository.
///     async fn repo_get(&self, repo_name: String) -> Result<Repo, ReposError>;
/// }
///
/// struct MyRepos;
/// impl Repos for MyRepos {
///     async fn repo_add(&self, repo_name: String, repo_url: String, branch: Option<String>)
///         -> Result<Repo, ReposError> {
///         Ok(Repo { name: repo_name, url: repo_url })
///     }
///     async fn repo_get(&self, repo_name: String) -> Result<Repo, ReposError> {
///         Err(ReposError::NotFound(repo_name))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Server: a ReposServer is a tpp_rpc::Handler (and a tpp_rpc::Service for tpp_rpc::Router).
/// let server = tpp_rpc::Server::builder().token("t").bind("127.0.0.1:0").await?;
/// let port = server.local_addr().port();
/// tokio::spawn(server.serve(ReposServer::new(MyRepos)));
///
/// // Client: required parameters in order (`&str` for `String`), optional ones set on the
/// // call, then `.await`; the service's error comes back as itself.
/// let client = ReposClient::new(tpp_rpc::Client::builder("127.0.0.1", port).token("t").build()?);
/// let repo = client.repo_add("tpp", "https://x/tpp.git").await?;
/// let repo = client.repo_add("tpp", "https://x/tpp.git").branch("main").await?;
/// match client.repo_get("nope").await {
///     Err(tpp_rpc::CallError::Service(ReposError::NotFound(name))) => assert_eq!(name, "nope"),
///     other => panic!("{other:?}"),
/// }
/// # Ok(())
/// # }
/// ```
///
/// ```text
/// -> {"token": "…", "action": "repo-add", "body": {"repo_name": "tpp", "repo_url": "https://x/tpp.git"}}
/// <- {"code": 0, "body": {"repo-add": {"name": "tpp", "url": "https://x/tpp.git"}}}
/// ```
///
/// # What is generated
///
/// For `trait Repos` (all items share the trait's visibility and `#[cfg]`s):
///
/// - the trait itself, with `Send + Sync + 'static` added to its supertraits and each
///   `async fn m(&self, ..) -> R` rewritten as
///   `fn m(&self, ..) -> impl Future<Output = R> + Send`. Implementations still write
///   `async fn` (no `#[async_trait]`), and the compiler checks that their futures are `Send`,
///   which serving on a multi-threaded runtime needs. A method may have a default body. (With
///   `#[toxic_service(dyn)]` the methods stay `async fn` under `tpp_rpc::async_trait`: see
///   [the dyn mode](#the-dyn-mode-choosing-an-implementation-at-run-time).)
/// - `ReposServer<T: Repos + ?Sized>`: `new(T)`, `from_arc(Arc<T>)`, `from_box(Box<T>)`,
///   `From<Arc<T>>`, `From<Box<T>>`, `inner()`, `Clone`, the constant
///   `ReposServer::<T>::ACTIONS`, and implementations of `tpp_rpc::Handler` (dispatch by action
///   name) and `tpp_rpc::Service` (`actions()`, for `tpp_rpc::Router`).
/// - `REPOS_ACTIONS: &[tpp_rpc::ActionInfo]`: every action's wire name, method name, doc, kind
///   and parameters, at compile time (the trait name in `SCREAMING_SNAKE_CASE` + `_ACTIONS`).
/// - `ReposClient`: wraps a `tpp_rpc::Client`; `new(client)`, `inner()`, `into_inner()`,
///   `with_timeout(d)`, `with_item_timeout(Option<d>)`, `with_field(key, value)`,
///   `From<tpp_rpc::Client>`, `list_funcs()` (when the generated `list-funcs` exists and no
///   method is called `list_funcs`; it returns a typed `tpp_rpc::FuncList`), and one method per
///   action (see *The client* below). Calling a misspelled action is therefore a compile
///   error.
/// - `ReposRepoAddCall<'_>` (trait name + method name in `PascalCase` + `Call`): what
///   `ReposClient::repo_add` returns; it is `IntoFuture`, so it is awaited directly.
///
/// # The client
///
/// Each client method takes the action's **required** parameters, in order (context and
/// optional parameters left out), and returns the action's call builder:
///
/// - a `String` parameter takes `impl Into<String>`, so `"literal"` works;
/// - each optional parameter (`Option<T>`, or with `#[param(default)]`) is a setter of the
///   call builder, named like the parameter and taking `T` (`impl Into<String>` for a
///   `String`); one left unset is not sent, so the server's default applies:
///   `client.repo_add("tpp", url).branch("main").await`;
/// - `.timeout(d)` on the call bounds this call alone instead of the client's call timeout;
///   for a streaming action, `.item_timeout(d)` bounds the wait for each item.
///
/// Awaiting the call gives `Result<T, tpp_rpc::CallError<E>>`, `E` being the method's error
/// type: `CallError::Service(e)` when the server answered a code `E` knows
/// ([`ToxicError::from_parts`](derive@ToxicError)), `CallError::Client(ClientError)`
/// otherwise (connection, TLS, timeout, protocol, or a code `E` does not know, kept as
/// `ClientError::Server { code, message }`). `match` reaches `ReposError::NotFound` in one
/// step, and `?` converts it into `Box<dyn Error>` or `anyhow::Error`.
///
/// Timeouts: the client's call timeout (`ClientBuilder::timeout`, `with_timeout`) bounds
/// connecting, sending and the answer: a unary call's response, an acknowledged stream's
/// acknowledgement. It never bounds a stream's items: their wait is the item timeout
/// (`ClientBuilder::item_timeout`, `with_item_timeout`, or `.item_timeout(d)` on the call),
/// none by default, so an idle stream (a watch) stays open as long as the server keeps it.
///
/// # Arguments of `#[toxic_service(...)]`
///
/// - `rename_all = "<rule>"`: how method names become action names. Rules: `"snake_case"`
///   (the default: the method name as written), `"kebab-case"` (toxicbuild's hole:
///   `repo_add` → `repo-add`), `"camelCase"` (`repoAdd`), `"PascalCase"` (`RepoAdd`),
///   `"SCREAMING_SNAKE_CASE"`, `"SCREAMING-KEBAB-CASE"`, `"lowercase"`, `"UPPERCASE"`. It
///   renames actions only; body keys stay the parameter names, as in the hole.
/// - `list_funcs = false`: no generated `list-funcs` (nor client `list_funcs()`), for
///   re-implementing a service that has none, such as toxicbuild's build server: the
///   action then answers `Action list-funcs does not exist`, as there.
/// - `crate = "<path>"`: where the runtime is, when it is not `::tpp_rpc` (a renamed dependency
///   or a re-export): `#[toxic_service(crate = "::my_rpc")]`. Generated code only uses
///   absolute paths (`::core`, `::std` and this one), so it also compiles under
///   `#![no_implicit_prelude]` (except in the dyn mode: async-trait's expansion names `Box`).
/// - `dyn`: a dyn-compatible trait, so that the implementation can be chosen at run time
///   (`Arc<dyn Repos>`); see the next section.
/// - `strict`: refuse body keys that name no parameter (code 1, naming the key). By default
///   they are ignored, which keeps rolling upgrades working when a parameter is added; the
///   description says which (`"unknown_keys": "ignore"` or `"refuse"`).
///
/// # The dyn mode: choosing an implementation at run time
///
/// Natively, the trait's methods return `impl Future`, so the trait is not dyn-compatible:
/// there is no `dyn Repos`. With `#[toxic_service(dyn)]` the generated trait goes through
/// `async-trait` (re-exported as `tpp_rpc::async_trait`, so no dependency of your own is needed):
/// each method returns a `Pin<Box<dyn Future<Output = R> + Send>>`, and implementations are
/// written with `#[tpp_rpc::async_trait]` on the `impl` block. The server then takes a concrete
/// type (`new`), an `Arc<dyn Repos>` (`from_arc`, `From`) or a `Box<dyn Repos>` (`from_box`,
/// `From`); `dyn Repos` and `dyn Repos + Send + Sync` both work (`Send + Sync` are
/// supertraits). Everything else is the same in both modes: attributes, streams, context
/// parameters, errors, `list-funcs`, the client.
///
/// ```no_run
/// use std::sync::Arc;
/// use tpp_rpc::ActionError;
///
/// #[tpp_rpc::toxic_service(dyn, rename_all = "kebab-case")]
/// pub trait Store {
///     async fn get_key(&self, ctx: &tpp_rpc::Context, key: String) -> Result<String, ActionError>;
/// }
///
/// struct Memory;
/// struct Remote { url: String }
///
/// #[tpp_rpc::async_trait]
/// impl Store for Memory {
///     async fn get_key(&self, _ctx: &tpp_rpc::Context, key: String) -> Result<String, ActionError> {
///         Ok(key)
///     }
/// }
///
/// #[tpp_rpc::async_trait]
/// impl Store for Remote {
///     async fn get_key(&self, _ctx: &tpp_rpc::Context, key: String) -> Result<String, ActionError> {
///         Ok(format!("{}/{key}", self.url))
///     }
/// }
///
/// # fn main() {}
/// # async fn demo(server: tpp_rpc::Server, config: &str) -> Result<(), tpp_rpc::ServerError> {
/// let store: Arc<dyn Store> = match config {
///     "memory" => Arc::new(Memory),
///     url => Arc::new(Remote { url: url.to_owned() }),
/// };
/// server.serve(StoreServer::from_arc(store)).await
/// # }
/// ```
///
/// Each call allocates one boxed future and goes through the vtable; the native mode does
/// neither (BENCHMARKS.md has the measured cost). `#[async_trait]` written on the trait *under*
/// `#[toxic_service]` is the same as `dyn` (`#[async_trait(?Send)]` is refused: the server
/// needs `Send` futures); written *above* it, it runs first and the error says so. An
/// implementation without `#[tpp_rpc::async_trait]` fails with rustc's E0195 ("lifetime
/// parameters or bounds on method `get_key` do not match the trait declaration"): add the
/// attribute. `StoreServer::new(boxed)` with a `Box<dyn Store>` fails with a note that names
/// `from_box` and `from_arc`.
///
/// # `#[action(...)]` on a method
///
/// - `name = "<wire name>"`: the exact action name, bypassing `rename_all`:
///
///   ```no_run
///   # use serde::{Deserialize, Serialize};
///   # use tpp_rpc::ActionError;
///   # type E = ActionError;
///   # #[derive(Serialize, Deserialize)] pub struct BuildersQuery { repo_url: String, branch: Option<String> }
///   # #[derive(Serialize, Deserialize)] pub struct Builders { builders: Vec<String> }
///   # #[derive(Serialize, Deserialize)] pub struct StepInfo { name: String, status: String }
///   # #[derive(Serialize, Deserialize)] pub struct Event { event_type: String }
///   # #[derive(Serialize, Deserialize)] pub struct Repo { name: String }
///   # fn main() {}
///   # #[tpp_rpc::toxic_service]
///   # pub trait Service {
///   #[action(name = "list_builders")]
///   async fn builders(&self, #[body] query: BuildersQuery) -> Result<Vec<String>, ActionError>;
///   # }
///   ```
///
///   Names must be non-empty, without whitespace or control characters, and unique in the
///   trait (checked after renaming).
/// - `bare`: answer the result as the whole body instead of `{"<action>": result}`
///   (toxicbuild's build server answers `list_builders` and `healthcheck` that way). The
///   client method reads the whole body accordingly.
///
///   ```no_run
///   # use serde::{Deserialize, Serialize};
///   # use tpp_rpc::ActionError;
///   # type E = ActionError;
///   # #[derive(Serialize, Deserialize)] pub struct BuildersQuery { repo_url: String, branch: Option<String> }
///   # #[derive(Serialize, Deserialize)] pub struct Builders { builders: Vec<String> }
///   # #[derive(Serialize, Deserialize)] pub struct StepInfo { name: String, status: String }
///   # #[derive(Serialize, Deserialize)] pub struct Event { event_type: String }
///   # #[derive(Serialize, Deserialize)] pub struct Repo { name: String }
///   # fn main() {}
///   # #[tpp_rpc::toxic_service]
///   # pub trait Service {
///   #[action(name = "list_builders", bare)]
///   async fn builders(&self, repo_url: String) -> Result<Builders, ActionError>;
///   // struct Builders { builders: Vec<String> }
///   # }
///   ```
///
///   ```text
///   -> {"token": "…", "action": "list_builders", "body": {"repo_url": "…"}}
///   <- {"code": 0, "body": {"builders": ["b1", "b2"]}}
///   ```
/// - `stream`: a streaming action (toxicbuild's build). The method returns
///   `Result<tpp_rpc::ItemStream<T>, E>` (any path ending in `ItemStream`); each item is sent as
///   `{"code": 0, "body": item}` (not wrapped in the action name), an item that is an error
///   ends the stream with `{"code": N, "body": {"error": ...}}`, and the connection closes
///   after the last one. An `Err(e)` from the method itself is the only response. The client
///   call gives `Result<tpp_rpc::CallStream<T, E>, tpp_rpc::CallError<E>>`, a `Stream` of
///   `Result<T, tpp_rpc::CallError<E>>` (read it with `tpp_rpc::StreamExt::next`); the call timeout
///   bounds connecting and sending, the item timeout (none by default) each item.
///
///   ```no_run
///   # use serde::{Deserialize, Serialize};
///   # use tpp_rpc::ActionError;
///   # type E = ActionError;
///   # #[derive(Serialize, Deserialize)] pub struct BuildersQuery { repo_url: String, branch: Option<String> }
///   # #[derive(Serialize, Deserialize)] pub struct Builders { builders: Vec<String> }
///   # #[derive(Serialize, Deserialize)] pub struct StepInfo { name: String, status: String }
///   # #[derive(Serialize, Deserialize)] pub struct Event { event_type: String }
///   # #[derive(Serialize, Deserialize)] pub struct Repo { name: String }
///   # fn main() {}
///   # #[tpp_rpc::toxic_service]
///   # pub trait Service {
///   #[action(stream)]
///   async fn build(&self, builder_name: String) -> Result<tpp_rpc::ItemStream<StepInfo>, E>;
///   // impl: Ok(tpp_rpc::ItemStream::iter(steps)) or ItemStream::channel(16) for a producer task
///   // client: let mut steps = client.build("py").await?;
///   //         while let Some(step) = steps.next().await { let step = step?; }
///   # }
///   ```
///   ```text
///   -> {"token": "…", "action": "build", "body": {"builder_name": "py"}}
///   <- {"code": 0, "body": {"name": "checkout", "status": "running"}}
///   <- {"code": 0, "body": {"name": "checkout", "status": "success"}}
///   <- (connection closed)
///   ```
///
///   `bare` and `stream` cannot be combined.
/// - `stream, ack`: a streaming action that first answers an acknowledgement, like the hole's
///   `stream` action. The method returns `Result<(A, tpp_rpc::ItemStream<T>), E>`: `A` is sent
///   first as `{"code": 0, "body": {"<action>": ack}}` (what toxiccore's `request2server`
///   unwraps), then each item as for `stream`. An `Err(e)` from the method is the only
///   response (no acknowledgement). The client method returns
///   `Result<(A, tpp_rpc::CallStream<T, E>), tpp_rpc::CallError<E>>`; the call timeout
///   bounds connecting, sending and reading the acknowledgement, the item timeout each item.
///
///   ```no_run
///   # use serde::{Deserialize, Serialize};
///   # use tpp_rpc::ActionError;
///   # type E = ActionError;
///   # #[derive(Serialize, Deserialize)] pub struct BuildersQuery { repo_url: String, branch: Option<String> }
///   # #[derive(Serialize, Deserialize)] pub struct Builders { builders: Vec<String> }
///   # #[derive(Serialize, Deserialize)] pub struct StepInfo { name: String, status: String }
///   # #[derive(Serialize, Deserialize)] pub struct Event { event_type: String }
///   # #[derive(Serialize, Deserialize)] pub struct Repo { name: String }
///   # fn main() {}
///   # #[tpp_rpc::toxic_service]
///   # pub trait Service {
///   #[action(stream, ack)]
///   async fn stream(&self, ctx: &tpp_rpc::Context, event_types: Vec<String>)
///       -> Result<(String, tpp_rpc::ItemStream<Event>), E>;
///   // impl: let (tx, events) = tpp_rpc::ItemStream::channel(16);
///   //       tokio::spawn(async move { while tx.send(next_event().await).await.is_ok() {} });
///   //       Ok(("ok".to_owned(), events))
///   // client: let (ack, mut events) = client.stream(vec!["build_started".into()]).await?;
///   # }
///   ```
///   ```text
///   -> {"token": "…", "action": "stream", "body": {"event_types": ["build_started"]}, "user_id": "42"}
///   <- {"code": 0, "body": {"stream": "ok"}}
///   <- {"code": 0, "body": {"event_type": "build_started", "build": {...}}}
///   <- {"code": 0, "body": {"event_type": "build_started", "build": {...}}}
///   <- (connection closed when the events end, or when the client leaves)
///   ```
///
///   `ack` needs `stream` and cannot be combined with `bare`.
///
/// # Parameters
///
/// The first parameter must be `&self`. Every other parameter is a plain identifier (no
/// patterns) and is, by default, **a key of the body object** named like the parameter
/// (`r#type` is the key `type`). Keys are deserialized straight from the request's raw body
/// bytes into the parameter types (no intermediate `serde_json::Value`).
///
/// - A parameter of type `Option<T>` (any path ending in `Option`) may be absent or `null`;
///   it is `None` then. Every other key is required.
/// - An absent or `null` body counts as `{}`; a body that is not an object is an error.
/// - A missing required key or a value of the wrong type is an error, answered with code 1
///   and the serde message, which names the key:
///
///   ```text
///   <- {"code": 1, "body": {"error": "Bad parameters for action repo-add: missing field `repo_url` at line 1 column 22"}}
///   ```
/// - Keys that name no parameter are ignored, so that during a rolling upgrade a newer
///   client's new optional parameter reaches a replica not yet upgraded without failing the
///   call (what `tpp diff` calls compatible is compatible in both directions).
///   `#[toxic_service(strict)]` refuses them instead, with code 1:
///
///   ```text
///   <- {"code": 1, "body": {"error": "Bad parameters for action repo-add: unknown field `nmae`, expected one of `repo_name`, `repo_url`, `branch` at line 1 column 7"}}
///   ```
/// - The client does not send optional parameters left unset on the call, so a Python
///   handler's own defaults (`handler(**body)`) apply.
///
/// Parameter attributes:
///
/// - `#[param(default)]`, `#[param(default = <literal>)]` or `#[param(default = "<json>")]`:
///   the value used when the key is absent (or `null`): the type's `Default`
///   (`#[param(default)] retries: u32`), a number or `true`/`false` as Rust writes it
///   (`#[param(default = 10)] limit: u32`, `#[param(default = -1.5)] x: f64`), or JSON
///   text (`#[param(default = "\"main\"")] branch: String`, `#[param(default = "[1, 2]")]`).
///   Any other form is a compile error listing these three. Such a parameter is not required
///   (a setter on the client's call); list-funcs announces its default. A default that cannot
///   be the parameter's type never reaches a request: it is a compile error for the types the
///   macro knows by name (integers with their ranges, floats, `bool`, `String`, `char`,
///   `Option`, sequences, maps), naming the action and the parameter, and otherwise
///   `<Trait>Server::new` panics with that message.
/// - `#[param(rename = "<key>")]`: the body key, when it differs from the parameter name.
/// - `#[body]`: the single body parameter takes **the whole body** as one serde type (then no
///   other body parameter is allowed). A `null` body is given to the type as is, or as `{}`
///   if the type does not accept `null`:
///
///   ```no_run
///   # use serde::{Deserialize, Serialize};
///   # use tpp_rpc::ActionError;
///   # type E = ActionError;
///   # #[derive(Serialize, Deserialize)] pub struct BuildersQuery { repo_url: String, branch: Option<String> }
///   # #[derive(Serialize, Deserialize)] pub struct Builders { builders: Vec<String> }
///   # #[derive(Serialize, Deserialize)] pub struct StepInfo { name: String, status: String }
///   # #[derive(Serialize, Deserialize)] pub struct Event { event_type: String }
///   # #[derive(Serialize, Deserialize)] pub struct Repo { name: String }
///   # fn main() {}
///   # #[tpp_rpc::toxic_service]
///   # pub trait Service {
///   async fn builders(&self, #[body] query: BuildersQuery) -> Result<Vec<String>, E>;
///   # }
///   ```
///   ```text
///   -> {"action": "list_builders", "body": {"repo_url": "…", "branch": "main"}, "token": "…"}
///   ```
/// - **Request context**: a parameter whose type is a shared reference to a path ending in
///   `Context` (`ctx: &tpp_rpc::Context`), or any parameter marked `#[context]`, receives the
///   request's `tpp_rpc::Context` (action, peer address, extra top-level fields such as the
///   hole's `user_id`). It is not a body key and does not appear in the client method:
///
///   ```no_run
///   # use serde::{Deserialize, Serialize};
///   # use tpp_rpc::ActionError;
///   # type E = ActionError;
///   # #[derive(Serialize, Deserialize)] pub struct BuildersQuery { repo_url: String, branch: Option<String> }
///   # #[derive(Serialize, Deserialize)] pub struct Builders { builders: Vec<String> }
///   # #[derive(Serialize, Deserialize)] pub struct StepInfo { name: String, status: String }
///   # #[derive(Serialize, Deserialize)] pub struct Event { event_type: String }
///   # #[derive(Serialize, Deserialize)] pub struct Repo { name: String }
///   # fn main() {}
///   # #[tpp_rpc::toxic_service]
///   # pub trait Service {
///   async fn repo_list(&self, ctx: &tpp_rpc::Context) -> Result<Vec<Repo>, ActionError>;
///   // impl: let user = ctx.extra("user_id");
///   // client: ReposClient::new(c).with_field("user_id", json!("42")).repo_list().await
///   # }
///   ```
///   ```text
///   -> {"token": "…", "action": "repo-list", "body": {}, "user_id": "42"}
///   ```
///
/// Parameter types must be `Serialize + DeserializeOwned` (owned: `String`, not `&str`);
/// otherwise the compile error points at the parameter's type.
///
/// # Results and errors
///
/// A method returns `Result<T, E>` (any path ending in `Result`, so `Result<T>` aliases
/// work); `T: Serialize + DeserializeOwned`, `E: tpp_rpc::ToxicError`.
///
/// ```text
/// Ok(value)  <- {"code": 0, "body": {"<action>": value}}     (what request2server unwraps)
/// Err(e)     <- {"code": e.code(), "body": {"error": e.message()}}
/// ```
///
/// A code that is not greater than 0 is sent as 1. Use the ready-made `tpp_rpc::ActionError`
/// (`{ code, message }`) or derive [`ToxicError`](derive@ToxicError).
///
/// # Introspection: `list-funcs`
///
/// Unless the trait has an action named `list-funcs` or says `list_funcs = false`, the server
/// also answers `list-funcs`,
/// shaped like toxicbuild's hole: per action, its doc comment and parameters (`name`,
/// `required`, and `default` when not required: the `#[param(default = ...)]` JSON, the
/// type's `Default` for `#[param(default)]` when the macro knows the type by name (else
/// `null`; the description has the real value), or `null` for an `Option`).
///
/// With the body `{"tpp_describe": true}`, `list-funcs` answers the service's full
/// description instead (JSON Schemas of every parameter, result and error variant); see
/// `tpp_rpc::describe`. Context parameters are not listed; a `#[body]` action lists no parameters.
///
/// ```text
/// -> {"token": "…", "action": "list-funcs", "body": {}}
/// <- {"code": 0, "body": {"list-funcs": {"repo-add": {"doc": "Adds a repository.", "parameters": [
///        {"name": "repo_name", "required": true}, {"name": "repo_url", "required": true},
///        {"name": "branch", "required": false, "default": null}]}}}}
/// ```
///
/// The same information is available at compile time as `REPOS_ACTIONS` and
/// `ReposServer::<T>::ACTIONS`. An unknown action answers
/// `{"code": 1, "body": {"error": "Action X does not exist"}}`.
///
/// # Several services on one server
///
/// Each generated server implements `tpp_rpc::Service`, so `tpp_rpc::Router::new().service(a)?.service(b)?`
/// serves several traits on one port; a duplicate action name is reported when the router is
/// built.
///
/// # Compile-time checks
///
/// Each is reported on the offending item, and all of them at once: a method that is not
/// `async fn`, that does not take `&self`, that is generic, that has pattern arguments, that
/// does not return `Result`; a stream that does not return `ItemStream<T>` (or
/// `(A, ItemStream<T>)` with `ack`); `bare` with `stream`, `ack` without `stream`; duplicate, empty or whitespace-containing action names; unknown
/// attribute arguments (the message lists the valid ones); `#[body]` beside other body
/// parameters; a `#[param(default)]` that cannot be its parameter's type; a trait that is
/// generic or has items other than methods; a method named like a client method (`new`,
/// `inner`, `into_inner`, `with_timeout`, `with_item_timeout`, `with_field`); an optional
/// parameter named like a call-builder method (`timeout`, `item_timeout`, `into_future`).
///
/// A parameter or result type that is not `Serialize + DeserializeOwned`, or an error type
/// that is not `tpp_rpc::ToxicError`, is one error at that type per missing trait (no error
/// inside the generated code).
///
/// # Lints
///
/// The generated code raises no warning under `clippy::all`. Lint attributes
/// (`#[allow(...)]`, `#[expect]`, `#[warn]`, `#[deny]`, `#[forbid]`) on the trait reach every
/// generated item; on a method, its client method, call builder and dispatch arm.
#[proc_macro_attribute]
pub fn toxic_service(args: TokenStream, input: TokenStream) -> TokenStream {
    expand_service(args.into(), input.into()).into()
}

/// Implements `tpp_rpc::ToxicError`: `#[toxic(code = N)]` per variant (or on the type), message
/// from `Display`, `from_parts` for unit and single-`String` variants,
/// `#[toxic(transparent)]` to delegate.
///
/// Implements `tpp_rpc::ToxicError` for an enum (or a struct):
///
/// - `code()`: the variant's `#[toxic(code = N)]` (N > 0), or the enum's `#[toxic(code = N)]`
///   for variants without one; a struct takes its code from `#[toxic(code = N)]` on it.
/// - `message()`: the `Display` text (so `thiserror`'s `#[error("...")]` is the message).
/// - `from_parts(code, message)`: used by the client to rebuild the error from a server's
///   answer. The first variant with that code that is a unit, or holds exactly one field that
///   is a `String` or is named `message`, is rebuilt (the field gets the message). Other
///   variants are not rebuilt, and the client keeps `ClientError::Server { code, message }`.
/// - `#[toxic(transparent)]` on a one-field variant: code, message and decoding are the
///   field's own (`Other(tpp_rpc::ActionError)`).
/// - `#[toxic(crate = "<path>")]` on the type: the runtime's path, as for the service.
///
/// ```
/// use tpp_rpc::ToxicError;
///
/// #[derive(Debug, thiserror::Error, tpp_rpc::ToxicError)]
/// pub enum ReposError {
///     #[error("{0}")]                  // message: the String itself, so it round-trips
///     #[toxic(code = 4)]
///     NotFound(String),
///     #[error("permission denied")]
///     #[toxic(code = 5)]
///     Denied,
///     #[error(transparent)]
///     #[toxic(transparent)]
///     Other(tpp_rpc::ActionError),
/// }
///
/// assert_eq!((ReposError::Denied.code(), ReposError::Denied.message()), (5, "permission denied".into()));
/// assert!(matches!(ReposError::from_parts(4, "tpp"), Some(ReposError::NotFound(m)) if m == "tpp"));
/// ```
/// ```text
/// Err(ReposError::Denied)  <- {"code": 5, "body": {"error": "permission denied"}}
/// client: Err(tpp_rpc::CallError::Service(ReposError::Denied))
/// ```
///
/// Prefer `#[error("{0}")]` for a variant holding the message: the client rebuilds it from
/// the message text, so any decoration in the format would be applied twice.
#[proc_macro_derive(ToxicError, attributes(toxic))]
pub fn derive_toxic_error(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    derive_error::expand(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// The attribute macro on `proc_macro2` tokens (testable outside a compiler run).
fn expand_service(args: TokenStream2, input: TokenStream2) -> TokenStream2 {
    let mut errors = Errors::default();
    let args = ServiceArgs::parse(args, &mut errors);
    let item = match syn::parse2::<syn::Item>(input) {
        Ok(syn::Item::Trait(item)) => item,
        Ok(other) => {
            let error = syn::Error::new_spanned(
                item_head(&other),
                "#[toxic_service] must be placed on a trait",
            );
            let error = error.into_compile_error();
            return quote!(#error #other);
        }
        Err(error) => return error.into_compile_error(),
    };
    let service = Service::from_trait(args, &item, &mut errors);
    match errors.finish() {
        Ok(()) => render::render(&service),
        Err(error) => {
            // Keep the trait (without our helper attributes) so that code using it does not
            // fail with a second, confusing error.
            let mut item = item;
            StripHelpers.visit_item_trait_mut(&mut item);
            let errors = error.into_compile_error();
            quote!(#errors #item)
        }
    }
}

/// The start of an item, to point errors at something short.
fn item_head(item: &syn::Item) -> TokenStream2 {
    match item {
        syn::Item::Struct(s) => {
            let (token, ident) = (&s.struct_token, &s.ident);
            quote!(#token #ident)
        }
        syn::Item::Enum(e) => {
            let (token, ident) = (&e.enum_token, &e.ident);
            quote!(#token #ident)
        }
        syn::Item::Fn(f) => {
            let (token, ident) = (&f.sig.fn_token, &f.sig.ident);
            quote!(#token #ident)
        }
        syn::Item::Impl(i) => {
            let token = &i.impl_token;
            quote!(#token)
        }
        other => quote!(#other),
    }
}

/// Makes the trait re-emitted after errors quiet: removes `#[action]` and parameter
/// attributes, and replaces rejected parameter patterns.
struct StripHelpers;

impl VisitMut for StripHelpers {
    fn visit_trait_item_fn_mut(&mut self, method: &mut syn::TraitItemFn) {
        method.attrs.retain(|a| !a.path().is_ident("action"));
        let has_body = method.default.is_some();
        for (index, input) in method.sig.inputs.iter_mut().enumerate() {
            if let syn::FnArg::Typed(typed) = input {
                // Every parameter attribute was reported already, if it was not ours.
                typed.attrs.clear();
                let plain = matches!(&*typed.pat, syn::Pat::Ident(p)
                    if p.by_ref.is_none() && p.mutability.is_none() && p.subpat.is_none());
                if !has_body && !plain {
                    // Patterns were reported already; keep rustc from reporting them again.
                    let ident = quote::format_ident!("__tpp_arg{}", index);
                    *typed.pat = syn::parse_quote!(#ident);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
