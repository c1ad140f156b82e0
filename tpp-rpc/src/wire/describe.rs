//! Service descriptions: the contract of a `#[toxic_service]` trait as data.
//!
//! A [`Description`] lists every service a server answers; each [`ServiceDescription`] lists
//! its actions with their wire names, docs, kinds, parameters (name, whether required, the
//! default) and a JSON Schema (2020-12) for each parameter, the result (or a stream's item)
//! and the error variants the action may answer. It is available without a server
//! (`ReposClient::description()`, `ReposServer::<T>::description()`) and from a running
//! server: `list-funcs` with the body key `"tpp_describe": true` answers it; without that key
//! `list-funcs` answers exactly what toxicbuild's readers know.
//!
//! ```text
//! -> {"token": "…", "action": "list-funcs", "body": {"tpp_describe": true}}
//! <- {"code": 0, "body": {"list-funcs": {"tpp_describe": 1, "services": [{"name": "Repos", …}]}}}
//! ```
//!
//! Schemas come from [`schemars`](https://docs.rs/schemars) when this crate's `schema` feature
//! is on and the type implements `JsonSchema`. Otherwise the schema is `{}` (any JSON) with a
//! `$comment` naming the type: Cargo features must be additive, so turning `schema` on (from
//! any crate of a build) never breaks a service whose types lack `JsonSchema`. The full format
//! is in [the guide](crate::guide::contract).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub(crate) mod schema;
pub use schema::SchemaSet;

/// The version of the description format, sent as the value of its `tpp_describe` key.
pub const FORMAT_VERSION: u32 = 1;

/// The body key that asks `list-funcs` for the full description: `{"tpp_describe": true}`.
pub const DESCRIBE_KEY: &str = "tpp_describe";

/// Every service a server answers: what `list-funcs` with `{"tpp_describe": true}` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Description {
    /// The format's version ([`FORMAT_VERSION`]); its presence tells a description from a
    /// plain `list-funcs` answer.
    pub tpp_describe: u32,
    /// The services, in the order the server (or its router) holds them.
    pub services: Vec<ServiceDescription>,
}

impl Description {
    /// A description of `services`.
    pub fn new(services: Vec<ServiceDescription>) -> Self {
        Self {
            tpp_describe: FORMAT_VERSION,
            services,
        }
    }

    /// Every action of every service.
    pub fn actions(&self) -> impl Iterator<Item = (&ServiceDescription, &ActionDescription)> {
        self.services
            .iter()
            .flat_map(|s| s.actions.iter().map(move |a| (s, a)))
    }

    /// The action named `name` on the wire, with its service.
    pub fn action(&self, name: &str) -> Option<(&ServiceDescription, &ActionDescription)> {
        self.actions().find(|(_, a)| a.name == name)
    }
}

/// One service: one `#[toxic_service]` trait.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServiceDescription {
    /// The trait's name.
    pub name: String,
    /// The trait's doc comment.
    #[serde(default)]
    pub doc: String,
    /// What the server does with a body key no parameter names: `"ignore"` or `"refuse"`.
    #[serde(default = "UnknownKeys::ignore")]
    pub unknown_keys: UnknownKeys,
    /// The actions, in declaration order.
    pub actions: Vec<ActionDescription>,
    /// The named schemas that the actions' schemas point at with `{"$ref": "#/$defs/Name"}`:
    /// resolve a `$ref` against the service object (copy `$defs` beside a schema to hand it to
    /// a general JSON Schema validator).
    #[serde(rename = "$defs", default, skip_serializing_if = "Map::is_empty")]
    pub defs: Map<String, Value>,
}

/// What a server does with a body key that names no parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum UnknownKeys {
    /// Leaves it out (the default): a newer client's new optional parameter reaches an older
    /// server harmlessly during a rolling upgrade.
    Ignore,
    /// Refuses the request, naming the key (`#[toxic_service(strict)]`).
    Refuse,
}

impl UnknownKeys {
    fn ignore() -> Self {
        Self::Ignore
    }
}

/// How an action answers, on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Kind {
    /// One response, `{"code": 0, "body": {"<action>": result}}`.
    Unary,
    /// One response whose body is the result itself.
    Bare,
    /// An optional acknowledgement (`ack`), then one response per item, then the connection
    /// closes.
    Stream,
}

/// One action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActionDescription {
    /// The name on the wire.
    pub name: String,
    /// The Rust method's name.
    pub method: String,
    /// The method's doc comment.
    #[serde(default)]
    pub doc: String,
    /// How it answers.
    pub kind: Kind,
    /// The body's keys (empty when `body` is set).
    #[serde(default)]
    pub params: Vec<ParamDescription>,
    /// The schema of the whole body, for an action taking it as one value (`#[body]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// The schema of the result (of each item, for a stream).
    pub result: Value,
    /// The schema of an acknowledged stream's first answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<Value>,
    /// The errors it may answer besides the protocol's own (bad parameters, unknown action).
    #[serde(default)]
    pub errors: Vec<ErrorDescription>,
    /// What it declares about how it may be called (`#[action(timeout, concurrency,
    /// idempotent)]`); left out when it declares nothing.
    #[serde(default, skip_serializing_if = "PolicyDescription::is_empty")]
    pub policy: PolicyDescription,
}

/// An action's policy: `{"timeout_ms": 5000, "concurrency": 4, "idempotent": true}`, each key
/// only when declared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PolicyDescription {
    /// The action's own time limit, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// At most this many calls run at once on one server; later ones wait their turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u64>,
    /// Safe to run twice: generated clients send it again once after a lost connection.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub idempotent: bool,
}

impl PolicyDescription {
    /// A policy (each part as declared).
    pub const fn new(timeout_ms: Option<u64>, concurrency: Option<u64>, idempotent: bool) -> Self {
        Self {
            timeout_ms,
            concurrency,
            idempotent,
        }
    }

    /// Whether nothing is declared.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// One parameter: a key of the request's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ParamDescription {
    /// The body key.
    pub name: String,
    /// Whether a caller must send it.
    pub required: bool,
    /// The value used when the key is absent (`null` for an `Option` without a default).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub default: Option<Value>,
    /// The schema of its value.
    pub schema: Value,
}

/// One error variant an action may answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorDescription {
    /// The response code.
    pub code: i64,
    /// The variant's name (the type's, for a struct).
    pub variant: String,
    /// The message as written in `#[error("...")]` (placeholders unfilled), or empty.
    #[serde(default)]
    pub message: String,
    /// The schema of the variant's fields: an object for named fields, an array for a tuple
    /// variant, absent for a unit variant; an error answer carries the fields in this shape
    /// beside its message, as `{"error": "...", "tpp_error": {"variant": ..., "fields": ...}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Value>,
}

/// Builders for the code `#[toxic_service]` generates (the description types grow, so they
/// are `#[non_exhaustive]`). Not a public API.
#[doc(hidden)]
pub mod build {
    use serde_json::{Map, Value};

    use crate::describe::{
        ActionDescription, ErrorDescription, Kind, ParamDescription, ServiceDescription,
        UnknownKeys,
    };

    /// A service.
    pub fn service(
        name: &str,
        doc: &str,
        strict: bool,
        actions: Vec<ActionDescription>,
        defs: Map<String, Value>,
    ) -> ServiceDescription {
        ServiceDescription {
            name: name.to_owned(),
            doc: doc.to_owned(),
            unknown_keys: if strict {
                UnknownKeys::Refuse
            } else {
                UnknownKeys::Ignore
            },
            actions,
            defs,
        }
    }

    /// An action.
    #[allow(clippy::too_many_arguments)]
    pub fn action(
        name: &str,
        method: &str,
        doc: &str,
        kind: Kind,
        params: Vec<ParamDescription>,
        body: Option<Value>,
        result: Value,
        ack: Option<Value>,
        errors: Vec<ErrorDescription>,
    ) -> ActionDescription {
        ActionDescription {
            name: name.to_owned(),
            method: method.to_owned(),
            doc: doc.to_owned(),
            kind,
            params,
            body,
            result,
            ack,
            errors,
            policy: super::PolicyDescription::default(),
        }
    }

    /// A parameter; `default` is JSON text the macro checked.
    pub fn param(
        name: &str,
        required: bool,
        default: Option<&str>,
        schema: Value,
    ) -> ParamDescription {
        ParamDescription {
            name: name.to_owned(),
            required,
            default: default.and_then(|text| serde_json::from_str(text).ok()),
            schema,
        }
    }

    /// A parameter whose default is a value (the type's `Default`, serialized).
    pub fn param_value(
        name: &str,
        required: bool,
        default: Option<Value>,
        schema: Value,
    ) -> ParamDescription {
        ParamDescription {
            name: name.to_owned(),
            required,
            default,
            schema,
        }
    }

    /// An error variant; `fields` is the schema of its fields (absent for a unit variant).
    pub fn error(
        code: i64,
        variant: &str,
        message: &str,
        fields: Option<Value>,
    ) -> ErrorDescription {
        ErrorDescription {
            code,
            variant: variant.to_owned(),
            message: message.to_owned(),
            fields,
        }
    }

    /// The schema of a tuple variant's fields: an array of exactly these items.
    pub fn tuple(items: Vec<Value>) -> Value {
        let len = items.len();
        serde_json::json!({
            "type": "array",
            "prefixItems": items,
            "minItems": len,
            "maxItems": len,
        })
    }

    /// The schema of a struct variant's fields: an object with exactly these keys.
    pub fn record(fields: Vec<(&str, Value)>) -> Value {
        let required: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
        let properties: Map<String, Value> = fields
            .into_iter()
            .map(|(name, schema)| (name.to_owned(), schema))
            .collect();
        serde_json::json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        })
    }
}

/// A key that is present is `Some`, even when its value is `null`.
fn present<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(de).map(Some)
}

/// Whether a `list-funcs` body asks for the full description: an object whose
/// `tpp_describe` is `true`. Any other body (toxicbuild sends none) asks for the plain list.
pub fn asks_description(body: &str) -> bool {
    #[derive(Deserialize)]
    struct Ask {
        #[serde(default)]
        tpp_describe: bool,
    }
    let body = body.trim_start();
    body.starts_with('{') && serde_json::from_str::<Ask>(body).is_ok_and(|ask| ask.tpp_describe)
}

#[cfg(test)]
mod tests;
