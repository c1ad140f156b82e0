//! JSON Schemas of the types a service uses, collected per service.
//!
//! The generated code asks for each type's schema through a `Probe` (see `generated.rs`):
//! `ViaJsonSchema` answers for a type implementing `schemars::JsonSchema` when the `schema`
//! feature is on; every other type falls back to `LacksJsonSchema`, whose schema accepts any
//! JSON and says why in a `$comment`.

use serde_json::{Map, Value};

use super::ErrorDescription;
use crate::generated::Probe;
use crate::service::ToxicError;

/// The schemas of one service: each type's schema, with the named ones gathered in `$defs`.
pub struct SchemaSet {
    #[cfg(feature = "schema")]
    generator: schemars::SchemaGenerator,
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
fn any_json(type_name: &str) -> Value {
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

/// A type's schema, for `T: JsonSchema` (with the `schema` feature).
pub trait ViaJsonSchema<T: ?Sized> {
    /// The schema, its named parts added to `set`.
    fn tpp_schema(&self, set: &mut SchemaSet) -> Value;
}

#[cfg(feature = "schema")]
impl<T: schemars::JsonSchema + ?Sized> ViaJsonSchema<T> for Probe<T> {
    fn tpp_schema(&self, set: &mut SchemaSet) -> Value {
        set.generator.subschema_for::<T>().to_value()
    }
}

/// The fallback of [`ViaJsonSchema`]: any JSON.
pub trait LacksJsonSchema<T: ?Sized> {
    /// `{"$comment": "any JSON: …"}`.
    fn tpp_schema(&self, _set: &mut SchemaSet) -> Value {
        any_json(std::any::type_name::<T>())
    }
}

impl<T: ?Sized> LacksJsonSchema<T> for &Probe<T> {}

/// An error type's variants, for `E: ToxicError`.
pub trait ViaVariants<E> {
    /// The variants, with their fields' schemas added to `set`.
    fn tpp_variants(&self, set: &mut SchemaSet) -> Vec<ErrorDescription>;
}

impl<E: ToxicError> ViaVariants<E> for Probe<E> {
    fn tpp_variants(&self, set: &mut SchemaSet) -> Vec<ErrorDescription> {
        E::describe_variants(set)
    }
}

/// The fallback of [`ViaVariants`] (never in a program that compiles: the macro asserts
/// `ToxicError` on its own).
pub trait LacksVariants<E> {
    /// None.
    fn tpp_variants(&self, _set: &mut SchemaSet) -> Vec<ErrorDescription> {
        Vec::new()
    }
}

impl<E> LacksVariants<E> for &Probe<E> {}
