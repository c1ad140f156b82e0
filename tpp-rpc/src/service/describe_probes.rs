//! What the generated code asks of each type for the description, through a `Probe` (see
//! `generated.rs`): `ViaJsonSchema` answers for a type implementing `schemars::JsonSchema`
//! when the `schema` feature is on; every other type falls back to `LacksJsonSchema`, whose
//! schema accepts any JSON and says why in a `$comment`. Not a public API.

use serde_json::Value;

use super::generated::Probe;
use crate::wire::describe::schema::{any_json, SchemaSet};
use crate::wire::describe::ErrorDescription;
use crate::wire::ToxicError;

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
