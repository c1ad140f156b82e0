//! A plain `list-funcs` answer, read in the server's order.
//!
//! The answer has toxicbuild's hole's shape (what `tpp_rpc::service::answer_list_funcs`
//! sends): `{"list-funcs": {"<action>": {"doc": "…", "parameters":
//! [{"name": "…", "required": true|false, "default": …}]}}}`. Actions are
//! shown in the server's order.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

/// The action every toxicbuild-style service answers with its actions.
pub const LIST_FUNCS: &str = "list-funcs";

/// One action, as list-funcs describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Func {
    /// The action's name.
    pub name: String,
    /// Its doc (`""` when it has none).
    pub doc: String,
    /// Its body keys.
    pub params: Vec<Param>,
    /// Its policy (timeout, concurrency, idempotent) in words, when the server gives a full
    /// description and the action declares one.
    pub policy: Option<String>,
}

/// One parameter of an action.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Param {
    /// The body key.
    pub name: String,
    /// Whether the key must be given.
    #[serde(default = "yes")]
    pub required: bool,
    /// The default, when the server tells it (`Some(Null)` for `null`).
    #[serde(default, deserialize_with = "present")]
    pub default: Option<Value>,
    /// Its type, when the server gives a full description (`string`, `[string]?`, `Repo`).
    #[serde(skip)]
    pub ty: Option<String>,
}

fn yes() -> bool {
    true
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

#[derive(Deserialize)]
struct Spec {
    #[serde(default)]
    doc: Option<String>,
    #[serde(default)]
    parameters: Option<Vec<Param>>,
}

struct Funcs(Vec<Func>);

impl<'de> Deserialize<'de> for Funcs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Funcs, D::Error> {
        struct Ordered;
        impl<'de> Visitor<'de> for Ordered {
            type Value = Funcs;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of actions")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Funcs, A::Error> {
                let mut funcs = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    let spec: Spec = map
                        .next_value()
                        .map_err(|e| de::Error::custom(format!("action {name:?}: {e}")))?;
                    funcs.push(Func {
                        name,
                        doc: spec.doc.unwrap_or_default(),
                        params: spec.parameters.unwrap_or_default(),
                        policy: None,
                    });
                }
                Ok(Funcs(funcs))
            }
        }
        d.deserialize_map(Ordered)
    }
}

/// Reads list-funcs' result, keeping the server's order.
pub fn parse(json: &str) -> Result<Vec<Func>, String> {
    serde_json::from_str::<Funcs>(json)
        .map(|f| f.0)
        .map_err(|e| e.to_string())
}
