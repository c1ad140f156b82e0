//! The envelope scan: one serde_json pass over a request's payload that
//! classifies `token` and `action`, finds where `body` and the extra fields
//! are, without building any of them.

use std::fmt;
use std::ops::Range;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use bytestring::ByteString;

use super::members::Members;
use super::{str_range, validated_str};
use crate::wire::fields::{DEADLINE_FIELD, KEEP_ALIVE_FIELD, RESERVED_PREFIX};
use crate::wire::json;

/// Why a payload is not a usable request (answered as "bad data", code 1).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BadData {
    /// The payload is empty (a lone `\n` or `0\n`).
    #[error("empty message")]
    Empty,
    /// The payload is not valid UTF-8.
    #[error("payload is not valid UTF-8")]
    NotUtf8,
    /// The payload is not JSON.
    #[error("invalid JSON: {0}")]
    Json(serde_json::Error),
    /// The JSON is not an object, or is an empty object.
    #[error("{0}")]
    Shape(&'static str),
}

/// A string field as a request stores it: where it sits in the payload (no
/// copy), or decoded when it had escapes.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Field {
    Missing,
    NotAString,
    At(Range<usize>),
    Decoded(Box<str>),
}

impl Field {
    pub(super) fn from_value(text: &str, value: FieldValue<'_>) -> Field {
        match value {
            FieldValue::Falsy => Field::Missing,
            FieldValue::Other => Field::NotAString,
            FieldValue::Str(std::borrow::Cow::Borrowed(s)) => Field::At(str_range(text, s)),
            FieldValue::Str(std::borrow::Cow::Owned(s)) => Field::Decoded(s.into_boxed_str()),
        }
    }

    /// The string, when it is one.
    pub(super) fn get<'a>(&'a self, payload: &'a ByteString) -> Result<Option<&'a str>, ()> {
        match self {
            Field::Missing => Ok(None),
            Field::NotAString => Err(()),
            Field::At(range) => Ok(Some(validated_str(payload, range.clone()))),
            Field::Decoded(s) => Ok(Some(s)),
        }
    }
}

/// An object key, borrowed from the payload when it has no escapes (serde's
/// own `Cow<str>` always allocates).
pub(super) struct Key<'de>(pub(super) std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(s)))
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(s.to_owned())))
            }

            fn visit_string<E: de::Error>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(s)))
            }
        }

        d.deserialize_str(KeyVisitor)
    }
}

/// A `token` or `action` value, classified by Python's truthiness (the
/// reference tests `not token`) without building a tree or copying a string.
pub(super) enum FieldValue<'de> {
    /// `null`, `""`, `false`, `0`, `0.0`, `[]`, `{}`.
    Falsy,
    /// A non-empty string.
    Str(std::borrow::Cow<'de, str>),
    /// Any other value.
    Other,
}

impl<'de> Deserialize<'de> for FieldValue<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldValueVisitor)
    }
}

struct FieldValueVisitor;

impl<'de> Visitor<'de> for FieldValueVisitor {
    type Value = FieldValue<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(match s {
            "" => FieldValue::Falsy,
            s => FieldValue::Str(std::borrow::Cow::Borrowed(s)),
        })
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        self.visit_string(s.to_owned())
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(match s.is_empty() {
            true => FieldValue::Falsy,
            false => FieldValue::Str(std::borrow::Cow::Owned(s)),
        })
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(FieldValue::Falsy)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(FieldValue::Falsy)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
        Ok(falsy_if(!b))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        Ok(falsy_if(n == 0))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        Ok(falsy_if(n == 0))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
        Ok(falsy_if(n == 0.0))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let empty = seq.next_element::<IgnoredAny>()?.is_none();
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(falsy_if(empty))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let empty = map.next_entry::<IgnoredAny, IgnoredAny>()?.is_none();
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(falsy_if(empty))
    }
}

fn falsy_if<'de>(falsy: bool) -> FieldValue<'de> {
    match falsy {
        true => FieldValue::Falsy,
        false => FieldValue::Other,
    }
}

/// Whether a value is JSON `true` (anything else, skipped without building it, is not).
struct IsTrue(bool);

impl<'de> Deserialize<'de> for IsTrue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct IsTrueVisitor;

        impl<'de> Visitor<'de> for IsTrueVisitor {
            type Value = IsTrue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_bool<E: de::Error>(self, b: bool) -> Result<IsTrue, E> {
                Ok(IsTrue(b))
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<IsTrue, E> {
                Ok(IsTrue(false))
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<IsTrue, E> {
                Ok(IsTrue(false))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<IsTrue, E> {
                Ok(IsTrue(false))
            }

            fn visit_str<E: de::Error>(self, _: &str) -> Result<IsTrue, E> {
                Ok(IsTrue(false))
            }

            fn visit_unit<E: de::Error>(self) -> Result<IsTrue, E> {
                Ok(IsTrue(false))
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<IsTrue, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(IsTrue(false))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IsTrue, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(IsTrue(false))
            }
        }

        d.deserialize_any(IsTrueVisitor)
    }
}

/// What the `tpp_deadline_ms` field held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeadlineField {
    /// Absent or `null`: the caller sets no deadline.
    #[default]
    Absent,
    /// A number of milliseconds (a fraction rounded down, beyond 64 bits
    /// saturated); 0 or less: the caller's time is already up.
    Millis(i64),
    /// Any other JSON value (refused: code 1).
    Invalid,
}

impl<'de> Deserialize<'de> for DeadlineField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct DeadlineVisitor;

        impl<'de> Visitor<'de> for DeadlineVisitor {
            type Value = DeadlineField;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<DeadlineField, E> {
                Ok(DeadlineField::Millis(n))
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<DeadlineField, E> {
                Ok(DeadlineField::Millis(i64::try_from(n).unwrap_or(i64::MAX)))
            }

            fn visit_f64<E: de::Error>(self, n: f64) -> Result<DeadlineField, E> {
                // `as` saturates; a NaN (only from Python's literals) is no budget.
                Ok(match n.is_nan() {
                    true => DeadlineField::Invalid,
                    false => DeadlineField::Millis(n.floor() as i64),
                })
            }

            fn visit_unit<E: de::Error>(self) -> Result<DeadlineField, E> {
                Ok(DeadlineField::Absent)
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<DeadlineField, E> {
                Ok(DeadlineField::Invalid)
            }

            fn visit_str<E: de::Error>(self, _: &str) -> Result<DeadlineField, E> {
                Ok(DeadlineField::Invalid)
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(DeadlineField::Invalid)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                // serde_json with `arbitrary_precision` (on anywhere in the
                // build) hands every number over as a map holding its text.
                let mut found = DeadlineField::Invalid;
                if let Some(key) = map.next_key::<String>()? {
                    if key == crate::wire::json::NUMBER_TOKEN {
                        found = number_text(&map.next_value::<String>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(found)
            }
        }

        /// A number given as its JSON text, read as the visitor reads numbers.
        fn number_text(text: &str) -> DeadlineField {
            if let Ok(n) = text.parse::<i64>() {
                return DeadlineField::Millis(n);
            }
            match text.parse::<f64>() {
                // `as` saturates: beyond 64 bits is the most time there is.
                Ok(n) if !n.is_nan() => DeadlineField::Millis(n.floor() as i64),
                _ => DeadlineField::Invalid,
            }
        }

        d.deserialize_any(DeadlineVisitor)
    }
}

struct Envelope<'a> {
    token: FieldValue<'a>,
    action: FieldValue<'a>,
    body: Option<&'a RawValue>,
    extras: Members,
    keep_alive: bool,
    deadline: DeadlineField,
    reserved: Members,
}

/// What a request keeps of its envelope: positions in the payload.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fields {
    pub(super) token: Field,
    pub(super) action: Field,
    pub(super) body: Option<Range<usize>>,
    /// Whether the body may hold an integer beyond 64 bits (then it is
    /// read the exact way: see [`crate::json::from_body_str`]).
    pub(super) body_wide: bool,
    pub(super) extras: Members,
    pub(super) keep_alive: bool,
    pub(super) deadline: DeadlineField,
    pub(super) reserved: Members,
}

impl Fields {
    /// No field found yet.
    pub(super) fn none() -> Fields {
        Fields {
            token: Field::Missing,
            action: Field::Missing,
            body: None,
            body_wide: false,
            extras: Members::default(),
            keep_alive: false,
            deadline: DeadlineField::Absent,
            reserved: Members::default(),
        }
    }

    /// One serde_json pass over `text` (a copy of the payload with stand-ins
    /// for Python's literals when `literals` is given).
    pub(super) fn scan(
        text: &str,
        literals: Option<json::Literals<'_>>,
    ) -> Result<Fields, BadData> {
        let mut de = serde_json::Deserializer::from_str(text);
        let envelope = de
            .deserialize_any(EnvelopeVisitor { text })
            .map_err(BadData::Json)?;
        de.end().map_err(BadData::Json)?;
        let mut envelope = envelope?;
        if let Some(literals) = literals {
            // A stand-in is not a string: `{"token": NaN}` has a token that is
            // truthy and not a string, as in Python.
            for field in [&mut envelope.token, &mut envelope.action] {
                if let FieldValue::Str(std::borrow::Cow::Borrowed(s)) = field {
                    if literals.at(s).is_some() {
                        *field = FieldValue::Other;
                    }
                }
            }
        }
        Ok(Fields {
            token: Field::from_value(text, envelope.token),
            action: Field::from_value(text, envelope.action),
            body_wide: envelope
                .body
                .is_some_and(|raw| json::skip::may_be_wide(raw.get())),
            body: envelope.body.map(|raw| str_range(text, raw.get())),
            extras: envelope.extras,
            keep_alive: envelope.keep_alive,
            deadline: envelope.deadline,
            reserved: envelope.reserved,
        })
    }

    /// [`Fields::scan`] with Python's literals; `None` when `text` has none.
    #[cold]
    pub(super) fn scan_python(text: &str) -> Option<Result<Fields, BadData>> {
        let sanitized = json::replace_literals(text)?;
        let literals = json::Literals {
            original: text,
            sanitized: &sanitized,
            lenient: true,
        };
        Some(Fields::scan(&sanitized, Some(literals)))
    }
}

/// serde_json's nesting limit when it builds a value.
const SERDE_JSON_DEPTH: usize = 128;

/// Reads a value through serde_json's nesting limit, building nothing.
struct Depth;

impl<'de> Deserialize<'de> for Depth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct DepthVisitor;

        impl<'de> Visitor<'de> for DepthVisitor {
            type Value = Depth;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Depth, E> {
                Ok(Depth)
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Depth, E> {
                Ok(Depth)
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Depth, E> {
                Ok(Depth)
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Depth, E> {
                Ok(Depth)
            }

            fn visit_str<E: de::Error>(self, _: &str) -> Result<Depth, E> {
                Ok(Depth)
            }

            fn visit_unit<E: de::Error>(self) -> Result<Depth, E> {
                Ok(Depth)
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Depth, A::Error> {
                while seq.next_element::<Depth>()?.is_some() {}
                Ok(Depth)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Depth, A::Error> {
                while map.next_entry::<IgnoredAny, Depth>()?.is_some() {}
                Ok(Depth)
            }
        }

        d.deserialize_any(DepthVisitor)
    }
}

struct EnvelopeVisitor<'a> {
    /// What is scanned, for the positions of the members (a copy with
    /// stand-ins for Python's literals has the payload's positions).
    text: &'a str,
}

impl<'de> Visitor<'de> for EnvelopeVisitor<'de> {
    type Value = Result<Envelope<'de>, BadData>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut env = Envelope {
            token: FieldValue::Falsy,
            action: FieldValue::Falsy,
            body: None,
            extras: Members::default(),
            keep_alive: false,
            deadline: DeadlineField::Absent,
            reserved: Members::default(),
        };
        let mut keys = 0usize;
        while let Some(key) = map.next_key::<Key<'de>>()?.map(|k| k.0) {
            keys += 1;
            match &*key {
                // The reference tests `not token` / `not action`: every falsy
                // JSON value (null, "", false, 0, [], {}) counts as absent.
                "token" => env.token = map.next_value()?,
                "action" => env.action = map.next_value()?,
                "body" => env.body = Some(map.next_value::<&'de RawValue>()?),
                KEEP_ALIVE_FIELD => env.keep_alive = map.next_value::<IsTrue>()?.0,
                DEADLINE_FIELD => env.deadline = map.next_value()?,
                // The framework's own fields are not application extras.
                // Both are only located here: built when read, after the token.
                k => {
                    let members = match k.starts_with(RESERVED_PREFIX) {
                        true => &mut env.reserved,
                        false => &mut env.extras,
                    };
                    let value = map.next_value::<&'de RawValue>()?;
                    // Refused now, as a bad request, rather than read as
                    // null later: a member too deep for serde_json to build.
                    if value.get().len() > 2 * SERDE_JSON_DEPTH {
                        serde_json::from_str::<Depth>(value.get()).map_err(de::Error::custom)?;
                    }
                    match &key {
                        std::borrow::Cow::Borrowed(k) => {
                            members.note(str_range(self.text, k), str_range(self.text, value.get()))
                        }
                        std::borrow::Cow::Owned(_) => members.note_unplaced(),
                    }
                }
            }
        }
        if keys == 0 {
            return Ok(Err(BadData::Shape("the request is an empty object")));
        }
        Ok(Ok(env))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Err(BadData::Shape("the request is not a JSON object")))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Err(BadData::Shape("the request is not a JSON object")))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err(BadData::Shape("the request is not a JSON object")))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Err(BadData::Shape("the request is not a JSON object")))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Err(BadData::Shape("the request is not a JSON object")))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Err(BadData::Shape("the request is not a JSON object")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Err(BadData::Shape("the request is not a JSON object")))
    }
}
