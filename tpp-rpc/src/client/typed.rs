//! What the generated clients return: [`CallError`], a service's own error or
//! the client's, and [`FuncList`], the typed answer of `list-funcs`.

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::ClientError;
use crate::wire::ToxicError;

/// The error of a generated client method: the service's own error `E`,
/// rebuilt from the answer's variant and fields (or from its code and message, from a
/// server that sends no fields), or a [`ClientError`]
/// (connection, TLS, timeout, protocol, or a server error whose code `E`
/// does not know, kept as [`ClientError::Server`] with its code and message).
///
/// ```
/// # fn main() {}
/// #[derive(Debug, thiserror::Error, tpp_rpc::ToxicError)]
/// pub enum KvError {
///     #[error("{0}")]
///     #[toxic(code = 4)]
///     NotFound(String),
/// }
///
/// #[tpp_rpc::toxic_service]
/// pub trait Kv {
///     async fn get(&self, key: String) -> Result<String, KvError>;
/// }
///
/// async fn show(kv: &KvClient) -> Result<(), Box<dyn std::error::Error>> {
///     match kv.get("missing").await {
///         Ok(value) => println!("{value}"),
///         Err(tpp_rpc::CallError::Service(KvError::NotFound(key))) => println!("no {key}"),
///         Err(other) => return Err(other.into()), // `?` works too
///     }
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub enum CallError<E> {
    /// The service answered with one of its errors (a code `E` knows).
    Service(E),
    /// Anything else: no connection, TLS, timeout, bad answer, or a server
    /// error code `E` does not know ([`ClientError::Server`]).
    Client(ClientError),
}

impl<E> CallError<E> {
    /// The service's error, if it is one.
    pub fn service_error(&self) -> Option<&E> {
        match self {
            CallError::Service(e) => Some(e),
            CallError::Client(_) => None,
        }
    }

    /// The client's error, if it is one.
    pub fn client_error(&self) -> Option<&ClientError> {
        match self {
            CallError::Service(_) => None,
            CallError::Client(e) => Some(e),
        }
    }

    /// The server's response code: `E`'s for a service error, or the
    /// undecoded [`ClientError::Server`]'s.
    pub fn code(&self) -> Option<i64>
    where
        E: ToxicError,
    {
        match self {
            CallError::Service(e) => Some(e.code()),
            CallError::Client(e) => e.server_code(),
        }
    }
}

impl<E: ToxicError> From<ClientError> for CallError<E> {
    /// Decodes a [`ClientError::Server`] into `E` when `E` knows its variant or its code
    /// ([`ToxicError::from_answer`]).
    fn from(error: ClientError) -> Self {
        match &error {
            ClientError::Server {
                code,
                message,
                data,
            } => match E::from_answer(*code, message, data.as_deref()) {
                Some(e) => CallError::Service(e),
                None => CallError::Client(error),
            },
            _ => CallError::Client(error),
        }
    }
}

impl<E: fmt::Display> fmt::Display for CallError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Service(e) => e.fmt(f),
            CallError::Client(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for CallError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CallError::Service(e) => e.source(),
            CallError::Client(e) => std::error::Error::source(e),
        }
    }
}

/// The answer of `list-funcs`, in the hole's shape: every action with its
/// doc and parameters, in the order the server listed them.
///
/// ```
/// let json = r#"{"repo-add": {"doc": "Adds a repository.", "parameters": [
///     {"name": "repo_name", "required": true},
///     {"name": "branch", "required": false, "default": "master"}]}}"#;
/// let funcs: tpp_rpc::FuncList = serde_json::from_str(json).unwrap();
/// let add = funcs.get("repo-add").unwrap();
/// assert_eq!(add.doc, "Adds a repository.");
/// assert_eq!(add.parameters[1].default, Some(serde_json::json!("master")));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(transparent)]
pub struct FuncList {
    /// The actions, in the server's order.
    #[serde(serialize_with = "serialize_funcs")]
    pub actions: Vec<FuncInfo>,
}

impl FuncList {
    /// The action named `name`.
    pub fn get(&self, name: &str) -> Option<&FuncInfo> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// The actions' names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.actions.iter().map(|a| a.name.as_str())
    }
}

/// One action of a [`FuncList`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FuncInfo {
    /// The action's name (the key in the answer).
    #[serde(skip)]
    pub name: String,
    /// Its doc comment.
    #[serde(default)]
    pub doc: String,
    /// Its body keys.
    #[serde(default)]
    pub parameters: Vec<FuncParam>,
}

/// One parameter of a [`FuncInfo`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FuncParam {
    /// The body key.
    pub name: String,
    /// Whether the caller must send it.
    #[serde(default)]
    pub required: bool,
    /// The value used when the key is absent, if announced:
    /// `Some(Value::Null)` for an optional parameter, `None` when the server
    /// announced no default (a required parameter).
    #[serde(
        default,
        deserialize_with = "announced",
        skip_serializing_if = "Option::is_none"
    )]
    pub default: Option<serde_json::Value>,
}

/// Keeps an announced `null` as `Some(Value::Null)`.
fn announced<'de, D: Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

fn serialize_funcs<S: serde::Serializer>(funcs: &[FuncInfo], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(funcs.len()))?;
    for f in funcs {
        map.serialize_entry(&f.name, f)?;
    }
    map.end()
}

impl<'de> Deserialize<'de> for FuncList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Funcs;
        impl<'de> Visitor<'de> for Funcs {
            type Value = FuncList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of actions, each with its doc and parameters")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FuncList, A::Error> {
                let mut actions = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((name, info)) = map.next_entry::<String, FuncInfo>()? {
                    actions.push(FuncInfo { name, ..info });
                }
                Ok(FuncList { actions })
            }
        }
        d.deserialize_map(Funcs)
    }
}

/// The items of a generated client's streaming action: each a `T`, or the
/// error that ends the stream. Read them with [`StreamExt::next`](crate::StreamExt::next).
pub type CallStream<T, E> =
    std::pin::Pin<Box<dyn futures_core::Stream<Item = Result<T, CallError<E>>> + Send + 'static>>;
