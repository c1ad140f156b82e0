//! The deserializer behind [`super::from_str`]'s second pass: it reads serde_json's
//! stand-ins for Python's literals as the literals (for the types that can hold them)
//! and gives raw values the original text.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, Visitor};
use serde_json::value::RawValue;

use super::Literals;

/// The newtype name serde_json's `RawValue` deserializes through.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// The key under which serde_json, with its `arbitrary_precision` feature,
/// hands every number to `deserialize_any`: a one-entry map
/// `{NUMBER_TOKEN: "<the number's text>"}`.
pub(crate) const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// A [`RawValue`] borrowed from `text`, which the caller has already read as
/// JSON (or Python's JSON): no second validation.
pub(crate) fn raw_of_checked(text: &str) -> Result<&RawValue, serde_json::Error> {
    <&RawValue as serde::Deserialize>::deserialize(RawText(text))
}

/// What the type being deserialized asked for, as far as literals matter.
#[derive(Clone, Copy)]
enum Want {
    Float,
    Integer(&'static str),
    Anything,
    Other,
}

/// A deserializer that reads the stand-ins as the literals they replace and
/// gives raw values the original text.
pub(crate) struct Wrap<'de, D> {
    pub(crate) de: D,
    pub(crate) literals: Literals<'de>,
}

macro_rules! forward {
    ($($method:ident => $want:expr),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.de.$method(Visit { visitor, literals: self.literals, want: $want })
        }
    )*};
}

// serde_json refuses a string for a number or a bool without calling the
// visitor, so a stand-in would never be seen: these scalars are read with
// `deserialize_any` (for which serde_json reads a number exactly as
// `deserialize_f64` or `deserialize_i64` do) and the visitor decides.
macro_rules! through_any {
    ($($method:ident => $want:expr),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.de.deserialize_any(Visit { visitor, literals: self.literals, want: $want })
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Wrap<'de, D> {
    type Error = D::Error;

    through_any! {
        deserialize_f32 => Want::Float,
        deserialize_f64 => Want::Float,
        deserialize_i8 => Want::Integer("i8"),
        deserialize_i16 => Want::Integer("i16"),
        deserialize_i32 => Want::Integer("i32"),
        deserialize_i64 => Want::Integer("i64"),
        deserialize_u8 => Want::Integer("u8"),
        deserialize_u16 => Want::Integer("u16"),
        deserialize_u32 => Want::Integer("u32"),
        deserialize_u64 => Want::Integer("u64"),
        // Through `deserialize_any` too, so a stand-in for a wide integer
        // reaches the visitor (serde_json reads numbers within 64 bits as
        // it would for these).
        deserialize_i128 => Want::Integer("i128"),
        deserialize_u128 => Want::Integer("u128"),
        deserialize_bool => Want::Other,
    }

    forward! {
        deserialize_any => Want::Anything,
        deserialize_char => Want::Other,
        deserialize_str => Want::Other,
        deserialize_string => Want::Other,
        deserialize_bytes => Want::Other,
        deserialize_byte_buf => Want::Other,
        deserialize_option => Want::Other,
        deserialize_unit => Want::Other,
        deserialize_seq => Want::Other,
        deserialize_map => Want::Other,
        deserialize_identifier => Want::Other,
        deserialize_ignored_any => Want::Other,
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = self.visit(visitor);
        self.de.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        if name == RAW_VALUE_TOKEN {
            // The raw text of the stand-in copy, swapped for the original's.
            let raw = <&'de RawValue as serde::Deserialize<'de>>::deserialize(self.de)?;
            return visitor.visit_map(RawEntry::new(self.literals.original_of(raw.get())));
        }
        let visitor = self.visit(visitor);
        self.de.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = self.visit(visitor);
        self.de.deserialize_tuple(len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = self.visit(visitor);
        self.de.deserialize_tuple_struct(name, len, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = self.visit(visitor);
        self.de.deserialize_struct(name, fields, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = self.visit(visitor);
        self.de.deserialize_enum(name, variants, visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

impl<'de, D> Wrap<'de, D> {
    fn visit<V>(&self, visitor: V) -> Visit<'de, V> {
        Visit {
            visitor,
            literals: self.literals,
            want: Want::Other,
        }
    }
}

/// The visitor side of [`Wrap`].
struct Visit<'de, V> {
    visitor: V,
    literals: Literals<'de>,
    want: Want,
}

impl<'de, V> Visit<'de, V> {
    fn wrap<T>(&self, inner: T) -> Wrap<'de, T> {
        Wrap {
            de: inner,
            literals: self.literals,
        }
    }
}

impl<'de, V: Visitor<'de>> Visit<'de, V> {
    /// A number serde_json kept as text (`arbitrary_precision`), given to the
    /// visitor as serde_json gives it without that feature: `u64`, else
    /// `i64`, else `f64` (so an integer beyond 64 bits is refused alike).
    fn visit_number_text<E: de::Error>(self, text: &str) -> Result<V::Value, E> {
        let integer = !text.contains(['.', 'e', 'E']);
        if integer {
            if let Ok(n) = text.parse::<u64>() {
                return self.visitor.visit_u64(n);
            }
            if let Ok(n) = text.parse::<i64>() {
                return self.visitor.visit_i64(n);
            }
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => de::Visitor::visit_f64(self, f),
            _ => Err(E::custom(format_args!("number out of range: {text}"))),
        }
    }
}

macro_rules! pass {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.visitor.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Visit<'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    pass! {
        visit_bool(bool), visit_i8(i8), visit_i16(i16), visit_i32(i32), visit_i64(i64),
        visit_i128(i128), visit_u8(u8), visit_u16(u16), visit_u32(u32), visit_u64(u64),
        visit_u128(u128), visit_f32(f32), visit_char(char), visit_str(&str),
        visit_string(String), visit_bytes(&[u8]), visit_borrowed_bytes(&'de [u8]),
        visit_byte_buf(Vec<u8>),
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // serde_json gives an integer beyond 64 bits as a float; say so.
        if let Want::Integer(ty) = self.want {
            if v.fract() == 0.0 && v.abs() >= 2f64.powi(63) {
                return Err(E::custom(format_args!(
                    "integer out of range for {ty} (it needs more than 64 bits)"
                )));
            }
        }
        self.visitor.visit_f64(v)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        if let Some(integer) = self.literals.integer_at(v) {
            return self.wide_integer(integer);
        }
        match self.literals.at(v) {
            None => self.visitor.visit_borrowed_str(v),
            Some(lit) => match self.want {
                Want::Float => self.visitor.visit_f64(lit.value()),
                Want::Anything if self.literals.lenient => self.visitor.visit_f64(lit.value()),
                Want::Integer(ty) => Err(E::custom(format_args!(
                    "{} cannot be held by {ty} (only by a float or a raw value)",
                    lit.text()
                ))),
                _ => Err(E::custom(format_args!(
                    "{} cannot be held by this type (only by a float or a raw value; \
                     serde_json::Value has no NaN)",
                    lit.text()
                ))),
            },
        }
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visitor.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visitor.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let d = self.wrap(d);
        self.visitor.visit_some(d)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let d = self.wrap(d);
        self.visitor.visit_newtype_struct(d)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let seq = self.wrap(seq);
        self.visitor.visit_seq(seq)
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if let Want::Float | Want::Integer(_) = self.want {
            // A number read through `deserialize_any` (see `through_any!`)
            // comes as a map only from serde_json's `arbitrary_precision`.
            return match map.next_key::<std::borrow::Cow<'de, str>>()? {
                Some(key) if key == NUMBER_TOKEN => {
                    let text = map.next_value::<std::borrow::Cow<'de, str>>()?;
                    self.visit_number_text(&text)
                }
                _ => Err(de::Error::invalid_type(de::Unexpected::Map, &self.visitor)),
            };
        }
        let map = self.wrap(map);
        self.visitor.visit_map(map)
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        let data = self.wrap(data);
        self.visitor.visit_enum(data)
    }
}

impl<'de, V: Visitor<'de>> Visit<'de, V> {
    /// An integer beyond 64 bits (its text): only a type that holds it
    /// exactly gets it; any other says so instead of rounding it.
    fn wide_integer<E: de::Error>(self, integer: &str) -> Result<V::Value, E> {
        // A peer's digits, shortened: an error message stays small.
        let shown = match integer.char_indices().nth(40) {
            Some((cut, _)) => format!("{}…", &integer[..cut]),
            None => integer.to_owned(),
        };
        let out_of_range = |ty: &str| {
            E::custom(format_args!(
                "integer out of range for {ty} (it needs more than 64 bits): {shown}"
            ))
        };
        match self.want {
            Want::Float => match integer.parse::<f64>() {
                Ok(x) => self.visitor.visit_f64(x),
                Err(_) => Err(out_of_range("f64")),
            },
            Want::Integer("i128") => match integer.parse::<i128>() {
                Ok(n) => self.visitor.visit_i128(n),
                Err(_) => Err(out_of_range("i128")),
            },
            Want::Integer("u128") => match integer.parse::<u128>() {
                Ok(n) => self.visitor.visit_u128(n),
                Err(_) => Err(out_of_range("u128")),
            },
            Want::Integer(ty) => Err(out_of_range(ty)),
            Want::Anything | Want::Other => Err(E::custom(format_args!(
                "integer needs more than 64 bits, which this type would round or refuse \
                 (take it as i128, u128, a float or a raw value): {shown}"
            ))),
        }
    }
}

/// A seed whose deserializer is wrapped.
pub(crate) struct Seed<'de, S> {
    pub(crate) seed: S,
    pub(crate) literals: Literals<'de>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<'de, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Wrap {
            de: d,
            literals: self.literals,
        })
    }
}

impl<'de, A: de::SeqAccess<'de>> de::SeqAccess<'de> for Wrap<'de, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let literals = self.literals;
        self.de.next_element_seed(Seed { seed, literals })
    }

    fn size_hint(&self) -> Option<usize> {
        self.de.size_hint()
    }
}

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for Wrap<'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let literals = self.literals;
        self.de.next_key_seed(Seed { seed, literals })
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        let literals = self.literals;
        self.de.next_value_seed(Seed { seed, literals })
    }

    fn size_hint(&self) -> Option<usize> {
        self.de.size_hint()
    }
}

impl<'de, A: de::EnumAccess<'de>> de::EnumAccess<'de> for Wrap<'de, A> {
    type Error = A::Error;
    type Variant = Wrap<'de, A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), A::Error> {
        let literals = self.literals;
        let (value, variant) = self.de.variant_seed(Seed { seed, literals })?;
        Ok((
            value,
            Wrap {
                de: variant,
                literals,
            },
        ))
    }
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for Wrap<'de, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.de.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        let literals = self.literals;
        self.de.newtype_variant_seed(Seed { seed, literals })
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let visitor = self.visit(visitor);
        self.de.tuple_variant(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let visitor = self.visit(visitor);
        self.de.struct_variant(fields, visitor)
    }
}

/// Hands already-checked JSON text to `RawValue`'s visitor the way
/// serde_json does: a one-entry map from its token to the text.
/// A deserializer for text already read as JSON that serves only
/// [`RawValue`]s, with the text itself: anything else asked of it fails at
/// once, before reading a byte (see [`super::from_checked_str`]).
pub(crate) struct RawOnly<'de>(pub(crate) &'de str);

impl<'de> Deserializer<'de> for RawOnly<'de> {
    type Error = NotRaw;

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, NotRaw> {
        match name {
            RAW_VALUE_TOKEN => visitor.visit_map(RawEntry::new(self.0)),
            _ => Err(NotRaw),
        }
    }

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, NotRaw> {
        Err(NotRaw)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// What [`RawOnly`] answers for anything but a [`RawValue`].
#[derive(Debug)]
pub(crate) struct NotRaw;

impl fmt::Display for NotRaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a raw value")
    }
}

impl std::error::Error for NotRaw {}

impl de::Error for NotRaw {
    fn custom<T: fmt::Display>(_: T) -> Self {
        NotRaw
    }
}

struct RawText<'de>(&'de str);

impl<'de> Deserializer<'de> for RawText<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_map(RawEntry::new(self.0))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct RawEntry<'de, E>(Option<&'de str>, PhantomData<E>);

impl<'de, E> RawEntry<'de, E> {
    fn new(text: &'de str) -> Self {
        RawEntry(Some(text), PhantomData)
    }
}

impl<'de, E: de::Error> de::MapAccess<'de> for RawEntry<'de, E> {
    type Error = E;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        match self.0 {
            Some(_) => seed
                .deserialize(BorrowedStrDeserializer::new(RAW_VALUE_TOKEN))
                .map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        let text = self.0.take().unwrap_or("null");
        seed.deserialize(BorrowedStrDeserializer::new(text))
    }
}
