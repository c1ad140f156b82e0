//! JSON Schemas of the types a service uses, collected per service.
//!
//! The generated code reaches it through the probes of `probes.rs`.

use serde_json::{Map, Value};

/// The schemas of one service: each type's schema, with the named ones gathered in `$defs`.
pub struct SchemaSet {
    #[cfg(feature = "schema")]
    pub(crate) generator: schemars::SchemaGenerator,
}

impl Default for SchemaSet {
    fn default() -> Self {
        Self::new()
    }
}

impl SchemaSet {
    /// An empty set (JSON Schema 2020-12, definitions under `#/$defs/`).
    pub fn new() -> Self {
        Self {
            #[cfg(feature = "schema")]
            generator: schemars::generate::SchemaSettings::draft2020_12().into_generator(),
        }
    }

    /// The named schemas the others point at, for the service's `$defs`.
    pub fn into_defs(self) -> Map<String, Value> {
        #[cfg(feature = "schema")]
        {
            let mut generator = self.generator;
            generator.take_definitions(true)
        }
        #[cfg(not(feature = "schema"))]
        Map::new()
    }
}

/// The schema of a type without one: any JSON, and a comment naming the type.
pub(crate) fn any_json(type_name: &str) -> Value {
    let mut map = Map::new();
    map.insert(
        "$comment".to_owned(),
        Value::String(format!(
            "any JSON: `{type_name}` has no schema (derive `schemars::JsonSchema` for it and \
             turn on tpp-rpc's `schema` feature)"
        )),
    );
    Value::Object(map)
}
