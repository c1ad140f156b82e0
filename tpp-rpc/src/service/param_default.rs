//! `#[param(default)]` support for generated code: the type's `Default` through a probe, so a
//! type without one is reported once, at the type, by the macro's own assertion.

use super::generated::Probe;

/// The type's default, for `T: Default`.
pub trait ViaDefault<T> {
    /// `Some(T::default())`.
    fn default_value(&self) -> Option<T>;
}

impl<T: Default> ViaDefault<T> for Probe<T> {
    fn default_value(&self) -> Option<T> {
        Some(T::default())
    }
}

/// The fallback of [`ViaDefault`] (never in a program that compiles).
pub trait LacksDefault<T> {
    /// `None`.
    fn default_value(&self) -> Option<T> {
        None
    }
}

impl<T> LacksDefault<T> for &Probe<T> {}
