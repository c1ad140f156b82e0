//! Services: what `#[toxic_service]` generates builds on this module.
//!
//! A [`Service`] is a [`Handler`] that also lists its actions. Several
//! services share one server through a [`Router`], which refuses duplicate
//! action names when it is built and answers `list-funcs` for all of them.

#[doc(hidden)]
pub mod describe_probes;
pub(crate) mod error_answer;
pub(crate) mod generated;
pub(crate) mod param_default;
pub mod stream;

use std::collections::HashMap;

use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;

use crate::server::{BoxFuture, Connection, Error, Handler};

/// The introspection action toxicbuild's hole answers.
pub const LIST_FUNCS: &str = "list-funcs";

/// How an action answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    /// One response, `{"code": 0, "body": {"<action>": result}}`.
    Unary,
    /// One response whose body is the result itself, `{"code": 0, "body": result}`.
    Bare,
    /// Many responses, `{"code": 0, "body": item}` each, then the connection closes.
    Stream,
}

/// One parameter of an action: a key of the request's body.
#[derive(Debug, Clone, Copy)]
pub struct ParamInfo {
    /// The body key.
    pub name: &'static str,
    /// Whether the key must be present.
    pub required: bool,
    /// The default used when the key is absent, as JSON text, when known.
    pub default: Option<&'static str>,
    /// The Rust type, as written.
    pub ty: &'static str,
}

/// One action of a service.
#[derive(Debug, Clone, Copy)]
pub struct ActionInfo {
    /// The name on the wire.
    pub name: &'static str,
    /// The Rust method's name.
    pub method: &'static str,
    /// The method's doc comment.
    pub doc: &'static str,
    /// The body's keys (empty for a `#[body]` action, whose body is one value).
    pub params: &'static [ParamInfo],
    /// How it answers.
    pub kind: ActionKind,
}

/// A [`Handler`] that knows its actions: what `#[toxic_service]` generates.
pub trait Service: Handler {
    /// Every action this service answers (the generated `list-funcs` excluded).
    fn actions(&self) -> &'static [ActionInfo];

    /// The service's description (schemas, errors); generated services give the full one,
    /// a hand-written service the names, docs and parameters of [`Service::actions`].
    fn description(&self) -> crate::describe::ServiceDescription {
        describe_actions(std::any::type_name::<Self>(), self.actions())
    }

    /// The actions that declare a policy (`#[action(timeout = …)]`,
    /// `concurrency`, `idempotent`), by name; default none.
    fn policies(&self) -> &'static [(&'static str, ActionPolicy)] {
        &[]
    }
}

/// What an action declares about how it may be called:
/// `#[action(timeout = "5s", concurrency = 4, idempotent)]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActionPolicy {
    /// The action's own time limit (under the server's
    /// [`Limits::handler_timeout`](crate::Limits::handler_timeout), over
    /// the caller's budget: the soonest wins).
    pub timeout: Option<std::time::Duration>,
    /// At most this many calls of the action run at once on one server;
    /// later ones wait their turn (within their deadline).
    pub concurrency: Option<usize>,
    /// Safe to run twice: the generated client sends it again, once, when
    /// the connection was lost after sending.
    pub idempotent: bool,
}

impl ActionPolicy {
    /// A policy (for generated code; every field as declared).
    pub const fn new(
        timeout: Option<std::time::Duration>,
        concurrency: Option<usize>,
        idempotent: bool,
    ) -> Self {
        Self {
            timeout,
            concurrency,
            idempotent,
        }
    }
}

/// Answers `{"code": 1, "body": {"error": "Action X does not exist"}}` and
/// closes the connection afterwards, as for every refused request.
pub async fn answer_unknown_action(conn: &mut Connection) -> Result<(), Error> {
    conn.close();
    conn.observe_unknown_action();
    let message = format!("Action {} does not exist", conn.action());
    conn.send_error(1, &message).await
}

/// Answers `list-funcs` in the shape of toxicbuild's hole:
/// `{"list-funcs": {"<action>": {"doc": …, "parameters": [{"name", "required", "default"?}]}}}`.
pub async fn answer_list_funcs(
    conn: &mut Connection,
    actions: &[&'static [ActionInfo]],
) -> Result<(), Error> {
    conn.send_result(&FuncList(actions)).await
}

/// Answers `list-funcs`: the full description when the body asks for it, else the plain
/// list toxicbuild's hole answers (byte for byte as before).
pub async fn answer_list_funcs_or_description(
    conn: &mut Connection,
    actions: &[&'static [ActionInfo]],
    describe: impl FnOnce() -> crate::describe::Description,
) -> Result<(), Error> {
    if crate::describe::asks_description(conn.body_json()) {
        conn.send_result(&describe()).await
    } else {
        answer_list_funcs(conn, actions).await
    }
}

struct FuncList<'a>(&'a [&'static [ActionInfo]]);

impl Serialize for FuncList<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let count = self.0.iter().map(|a| a.len()).sum();
        let mut map = s.serialize_map(Some(count))?;
        for action in self.0.iter().flat_map(|a| a.iter()) {
            map.serialize_entry(action.name, &FuncInfo(action))?;
        }
        map.end()
    }
}

struct FuncInfo<'a>(&'a ActionInfo);

impl Serialize for FuncInfo<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("doc", self.0.doc)?;
        map.serialize_entry("parameters", &Params(self.0.params))?;
        map.end()
    }
}

struct Params(&'static [ParamInfo]);

impl Serialize for Params {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for p in self.0 {
            seq.serialize_element(&Param(p))?;
        }
        seq.end()
    }
}

struct Param<'a>(&'a ParamInfo);

impl Serialize for Param<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("name", p.name)?;
        map.serialize_entry("required", &p.required)?;
        if !p.required {
            let default = p
                .default
                .and_then(|text| serde_json::from_str::<&serde_json::value::RawValue>(text).ok());
            map.serialize_entry("default", &default)?;
        }
        map.end()
    }
}

/// A description from the compile-time list of actions alone: names, docs, kinds and
/// parameters, every schema `{}` (what a hand-written [`Service`] has).
pub fn describe_actions(name: &str, actions: &[ActionInfo]) -> crate::ServiceDescription {
    use crate::describe::{build, Kind};
    let any = || serde_json::Value::Object(serde_json::Map::new());
    let actions = actions
        .iter()
        .map(|a| {
            let params = a
                .params
                .iter()
                .map(|p| build::param(p.name, p.required, p.default, any()))
                .collect();
            let kind = match a.kind {
                ActionKind::Unary => Kind::Unary,
                ActionKind::Bare => Kind::Bare,
                ActionKind::Stream => Kind::Stream,
            };
            build::action(
                a.name,
                a.method,
                a.doc,
                kind,
                params,
                None,
                any(),
                None,
                Vec::new(),
            )
        })
        .collect();
    build::service(name, "", false, actions, serde_json::Map::new())
}

/// Object-safe form of [`Service`], for the router.
trait DynService: Send + Sync + 'static {
    fn call<'a>(&'a self, conn: &'a mut Connection) -> BoxFuture<'a, Result<(), Error>>;
    fn action_timeout(&self, action: &str) -> Option<std::time::Duration>;
}

impl<S: Service> DynService for S {
    fn call<'a>(&'a self, conn: &'a mut Connection) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.handle(conn))
    }

    fn action_timeout(&self, action: &str) -> Option<std::time::Duration> {
        Handler::action_timeout(self, action)
    }
}

/// Two services declare the same action name.
#[derive(Debug, thiserror::Error)]
#[error("action {name:?} is declared by two services (methods `{first}` and `{second}`)")]
pub struct DuplicateAction {
    /// The action's name.
    pub name: &'static str,
    /// The method that declared it first.
    pub first: &'static str,
    /// The method that declared it again.
    pub second: &'static str,
}

/// Several services on one server, dispatched by action name.
///
/// ```no_run
/// # async fn run(a: impl tpp_rpc::Service, b: impl tpp_rpc::Service) -> Result<(), Box<dyn std::error::Error>> {
/// let router = tpp_rpc::Router::new().service(a)?.service(b)?;
/// let server = tpp_rpc::Server::builder().token("secret").bind("127.0.0.1:0").await?;
/// server.serve(router).await?;
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct Router {
    services: Vec<Box<dyn DynService>>,
    by_action: HashMap<&'static str, (usize, &'static str)>,
    all_actions: Vec<&'static [ActionInfo]>,
    description: Option<crate::describe::Description>,
    /// Whether some action has its own timeout.
    any_timeout: bool,
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a service; fails if one of its action names is already taken.
    pub fn service(mut self, service: impl Service) -> Result<Self, DuplicateAction> {
        let index = self.services.len();
        let actions = Service::actions(&service);
        for action in actions {
            if let Some((_, first)) = self.by_action.get(action.name) {
                return Err(DuplicateAction {
                    name: action.name,
                    first,
                    second: action.method,
                });
            }
            self.by_action.insert(action.name, (index, action.method));
        }
        self.any_timeout |= service
            .policies()
            .iter()
            .any(|(_, policy)| policy.timeout.is_some());
        self.description
            .get_or_insert_with(|| crate::describe::Description::new(Vec::new()))
            .services
            .push(service.description());
        self.services.push(Box::new(service));
        self.all_actions.push(actions);
        Ok(self)
    }

    /// The description of every service, in the order they were added (what `list-funcs`
    /// answers when asked with `{"tpp_describe": true}`).
    pub fn description(&self) -> crate::describe::Description {
        self.description
            .clone()
            .unwrap_or_else(|| crate::describe::Description::new(Vec::new()))
    }

    /// Every action of every service, in the order they were added.
    pub fn all_actions(&self) -> impl Iterator<Item = &'static ActionInfo> + '_ {
        self.all_actions.iter().flat_map(|a| a.iter())
    }
}

impl Handler for Router {
    async fn handle(&self, conn: &mut Connection) -> Result<(), Error> {
        match self.by_action.get(conn.action()) {
            Some((index, _)) => match self.services.get(*index) {
                Some(service) => service.call(conn).await,
                None => answer_unknown_action(conn).await,
            },
            None if conn.action() == LIST_FUNCS => {
                let all = &self.all_actions;
                let description = self.description.clone();
                answer_list_funcs_or_description(conn, all, || {
                    description.unwrap_or_else(|| crate::describe::Description::new(Vec::new()))
                })
                .await
            }
            None => answer_unknown_action(conn).await,
        }
    }

    fn has_action(&self, action: &str) -> Option<bool> {
        Some(action == LIST_FUNCS || self.by_action.contains_key(action))
    }

    fn action_timeout(&self, action: &str) -> Option<std::time::Duration> {
        // Most routers have no action with a timeout: no lookup then.
        if !self.any_timeout {
            return None;
        }
        let (index, _) = self.by_action.get(action)?;
        self.services.get(*index)?.action_timeout(action)
    }
}
