//! Envelopes: the request `{token, action, body, …}` and the response `{code, body}`.
//!
//! The envelope is parsed once; `body` is kept as the raw JSON text it was
//! sent as (a slice of the frame, no copy), so a typed action deserializes its
//! parameters straight from the frame's bytes and a pass-through action returns
//! the client's numbers untouched.

use std::fmt;
use std::ops::Range;

use bytes::Bytes;
use bytestring::ByteString;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::json;

/// Why a payload is not a usable request (answered as "bad data", code 1).
#[derive(Debug, thiserror::Error)]
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

/// What the `token` field held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenField<'a> {
    /// Absent or falsy: `null`, `""`, `false`, `0`, `[]`, `{}` ("No auth token", code 2).
    Missing,
    /// A non-empty string.
    Present(&'a str),
    /// Any other JSON type ("Bad auth token", code 3).
    NotAString,
}

/// What the `action` field held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionField<'a> {
    /// Absent or falsy: `null`, `""`, `false`, `0`, `[]`, `{}` ("No action found!", code 1).
    Missing,
    /// A non-empty string.
    Present(&'a str),
    /// Any other JSON type.
    NotAString,
}

/// A string field as a request stores it: where it sits in the payload (no
/// copy), or decoded when it had escapes.
#[derive(Debug, Clone)]
enum Field {
    Missing,
    NotAString,
    At(Range<usize>),
    Decoded(Box<str>),
}

impl Field {
    fn from_value(text: &str, value: FieldValue<'_>) -> Field {
        match value {
            FieldValue::Falsy => Field::Missing,
            FieldValue::Other => Field::NotAString,
            FieldValue::Str(std::borrow::Cow::Borrowed(s)) => Field::At(str_range(text, s)),
            FieldValue::Str(std::borrow::Cow::Owned(s)) => Field::Decoded(s.into_boxed_str()),
        }
    }

    /// The string, when it is one.
    fn get<'a>(&'a self, payload: &'a ByteString) -> Result<Option<&'a str>, ()> {
        match self {
            Field::Missing => Ok(None),
            Field::NotAString => Err(()),
            Field::At(range) => Ok(Some(validated_str(payload, range.clone()))),
            Field::Decoded(s) => Ok(Some(s)),
        }
    }
}

/// A parsed request. Cheap to keep around: the body stays inside the frame.
#[derive(Debug, Clone)]
pub struct Request {
    payload: ByteString,
    token: Field,
    action: Field,
    body: Option<Range<usize>>,
    extras: Map<String, Value>,
    keep_alive: bool,
    reserved: Map<String, Value>,
}

/// The request field by which a client asks the server to keep the
/// connection open after a unary response (`"tpp_keep_alive": true`).
/// toxiccore servers ignore it, as they ignore every unknown top-level field.
pub const KEEP_ALIVE_FIELD: &str = "tpp_keep_alive";

/// The prefix of the framework's own top-level fields (`tpp_keep_alive`,
/// `tpp_request_id`, `tpp_traceparent`…): recognised by the server and never
/// shown to handlers as extras ([`Request::reserved`] has them). toxiccore
/// ignores unknown top-level fields, so they are safe to send to it.
pub const RESERVED_PREFIX: &str = "tpp_";

impl Request {
    /// Parses a frame's payload.
    pub fn parse(payload: Bytes) -> Result<Request, BadData> {
        if payload.is_empty() {
            return Err(BadData::Empty);
        }
        // Validated once here; fields and body are then sliced as `str` freely.
        let payload = ByteString::try_from(payload).map_err(|_| BadData::NotUtf8)?;
        let text: &str = &payload;
        let fields = match Fields::scan(text, None) {
            Ok(fields) => fields,
            // Python's `json` also writes NaN, Infinity and -Infinity: read
            // again with stand-ins of the same length, so every range found
            // is the same in the payload. Only after a syntax error: the
            // common path stays one pass.
            Err(BadData::Json(error)) if error.is_syntax() => {
                Fields::scan_python(text).ok_or(BadData::Json(error))??
            }
            Err(error) => return Err(error),
        };
        Ok(Request {
            token: fields.token,
            action: fields.action,
            body: fields.body,
            extras: fields.extras,
            keep_alive: fields.keep_alive,
            reserved: fields.reserved,
            payload,
        })
    }

    /// A request with nothing in it, standing in before the first one arrives.
    pub(crate) fn empty() -> Request {
        Request {
            payload: ByteString::new(),
            token: Field::Missing,
            action: Field::Missing,
            body: None,
            extras: Map::new(),
            keep_alive: false,
            reserved: Map::new(),
        }
    }

    /// Whether the request carried `"tpp_keep_alive": true`: the client asks
    /// to send further requests on this connection after a unary response.
    pub fn wants_keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// The `token` field.
    pub fn token_field(&self) -> TokenField<'_> {
        match self.token.get(&self.payload) {
            Ok(Some(t)) => TokenField::Present(t),
            Ok(None) => TokenField::Missing,
            Err(()) => TokenField::NotAString,
        }
    }

    /// The token, when it is a non-empty string.
    pub fn token(&self) -> Option<&str> {
        self.token.get(&self.payload).ok().flatten()
    }

    /// The `action` field.
    pub fn action_field(&self) -> ActionField<'_> {
        match self.action.get(&self.payload) {
            Ok(Some(a)) => ActionField::Present(a),
            Ok(None) => ActionField::Missing,
            Err(()) => ActionField::NotAString,
        }
    }

    /// The action, when it is a non-empty string.
    pub fn action(&self) -> Option<&str> {
        self.action.get(&self.payload).ok().flatten()
    }

    /// The raw JSON text of `body`; `"null"` when the request has none.
    pub fn body_json(&self) -> &str {
        json_slice(&self.payload, &self.body)
    }

    /// Deserializes `body` into `T`, reading Python's `NaN`, `Infinity` and
    /// big integers as [`crate::json`] describes.
    pub fn body<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        Ok(json::from_str(self.body_json())?)
    }

    /// The body as a borrowed [`RawValue`], to pass it on untouched
    /// (numbers, `NaN` and `Infinity` keep their exact text).
    pub fn body_raw(&self) -> Result<&RawValue, serde_json::Error> {
        // Already read as JSON by `parse`: not validated twice.
        json::raw_of_checked(self.body_json())
    }

    /// An extra top-level field (anything but `token`, `action`, `body` and
    /// the [reserved](RESERVED_PREFIX) `tpp_*` fields), such as toxicbuild's
    /// `user_id`.
    pub fn extra(&self, key: &str) -> Option<&Value> {
        self.extras.get(key)
    }

    /// All extra top-level fields.
    pub fn extras(&self) -> &Map<String, Value> {
        &self.extras
    }

    /// A reserved `tpp_*` top-level field (see [`RESERVED_PREFIX`]), such as
    /// `tpp_request_id`.
    pub fn reserved(&self, key: &str) -> Option<&Value> {
        self.reserved.get(key)
    }

    /// The whole payload as received.
    pub fn payload(&self) -> &Bytes {
        self.payload.as_bytes()
    }
}

/// Where `part`, borrowed from `text` by the parser, sits inside it.
fn str_range(text: &str, part: &str) -> Range<usize> {
    let start = part.as_ptr() as usize - text.as_ptr() as usize;
    start..start + part.len()
}

/// The JSON text at `range` of a payload; `"null"` when there is none.
fn json_slice<'a>(payload: &'a ByteString, range: &Option<Range<usize>>) -> &'a str {
    match range {
        Some(range) => validated_str(payload, range.clone()),
        None => "null",
    }
}

/// The text at `range` of a payload, where the parser gave `range` (a whole
/// JSON value or a string's contents, so it is on char boundaries).
fn validated_str(payload: &ByteString, range: Range<usize>) -> &str {
    payload.get(range).unwrap_or_default()
}

/// An object key, borrowed from the payload when it has no escapes (serde's
/// own `Cow<str>` always allocates).
struct Key<'de>(std::borrow::Cow<'de, str>);

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
enum FieldValue<'de> {
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

struct Envelope<'a> {
    token: FieldValue<'a>,
    action: FieldValue<'a>,
    body: Option<&'a RawValue>,
    extras: Map<String, Value>,
    keep_alive: bool,
    reserved: Map<String, Value>,
}

/// What a request keeps of its envelope: positions in the payload.
struct Fields {
    token: Field,
    action: Field,
    body: Option<Range<usize>>,
    extras: Map<String, Value>,
    keep_alive: bool,
    reserved: Map<String, Value>,
}

impl Fields {
    /// One serde_json pass over `text` (a copy of the payload with stand-ins
    /// for Python's literals when `literals` is given).
    fn scan(text: &str, literals: Option<json::Literals<'_>>) -> Result<Fields, BadData> {
        let mut de = serde_json::Deserializer::from_str(text);
        let envelope = de
            .deserialize_any(EnvelopeVisitor { literals })
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
            body: envelope.body.map(|raw| str_range(text, raw.get())),
            extras: envelope.extras,
            keep_alive: envelope.keep_alive,
            reserved: envelope.reserved,
        })
    }

    /// [`Fields::scan`] with Python's literals; `None` when `text` has none.
    #[cold]
    fn scan_python(text: &str) -> Option<Result<Fields, BadData>> {
        let sanitized = json::replace_literals(text)?;
        let literals = json::Literals {
            original: text,
            sanitized: &sanitized,
            lenient: true,
        };
        Some(Fields::scan(&sanitized, Some(literals)))
    }
}

struct EnvelopeVisitor<'a> {
    /// Set when the text has stand-ins for Python's literals.
    literals: Option<json::Literals<'a>>,
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
            extras: Map::new(),
            keep_alive: false,
            reserved: Map::new(),
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
                // The framework's own fields are not application extras.
                k if k.starts_with(RESERVED_PREFIX) => {
                    let value = map.next_value::<Value>()?;
                    env.reserved.insert(key.into_owned(), value);
                }
                _ => {
                    let value = match self.literals {
                        None => map.next_value::<Value>()?,
                        // `Value` has no NaN: a literal there reads as null.
                        Some(literals) => map.next_value_seed(json::Seed {
                            seed: std::marker::PhantomData::<Value>,
                            literals,
                        })?,
                    };
                    env.extras.insert(key.into_owned(), value);
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

/// A request as a client writes it: `{"action", "body", "token", …extras}`.
pub(crate) struct OutgoingRequest<'a, B: ?Sized> {
    pub action: &'a str,
    pub body: &'a B,
    pub token: Option<&'a str>,
    pub extras: &'a Map<String, Value>,
    /// Adds `"tpp_keep_alive": true` (see [`KEEP_ALIVE_FIELD`]).
    pub keep_alive: bool,
    /// `tpp_request_id` and `tpp_traceparent`, when sent.
    pub trace: Option<(&'a str, Option<&'a str>)>,
}

impl<B: Serialize + ?Sized> Serialize for OutgoingRequest<'_, B> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields = 3
            + self.extras.len()
            + usize::from(self.keep_alive)
            + 2 * usize::from(self.trace.is_some());
        let mut map = s.serialize_map(Some(fields))?;
        map.serialize_entry("action", self.action)?;
        map.serialize_entry("body", self.body)?;
        map.serialize_entry("token", &self.token)?;
        for (k, v) in self.extras {
            map.serialize_entry(k, v)?;
        }
        if self.keep_alive {
            map.serialize_entry(KEEP_ALIVE_FIELD, &true)?;
        }
        if let Some((request_id, traceparent)) = self.trace {
            map.serialize_entry(crate::trace::REQUEST_ID_FIELD, request_id)?;
            if let Some(tp) = traceparent {
                map.serialize_entry(crate::trace::TRACEPARENT_FIELD, tp)?;
            }
        }
        map.end()
    }
}

/// Serializes `{"code": code, "body": body}` into `out` (cleared first).
pub fn write_response<B: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    code: i64,
    body: &B,
) -> Result<(), serde_json::Error> {
    out.clear();
    append_response(out, code, body)
}

/// Serializes `{"code": code, "body": body}` after what `out` holds: the
/// bytes serde_json writes for that map, with the constant keys copied rather
/// than escaped on every response.
pub(crate) fn append_response<W: std::io::Write, B: Serialize + ?Sized>(
    mut out: W,
    code: i64,
    body: &B,
) -> Result<(), serde_json::Error> {
    out.write_all(br#"{"code":"#)
        .map_err(serde_json::Error::io)?;
    serde_json::to_writer(&mut out, &code)?;
    out.write_all(br#","body":"#)
        .map_err(serde_json::Error::io)?;
    serde_json::to_writer(&mut out, body)?;
    out.write_all(b"}").map_err(serde_json::Error::io)
}

/// Serializes `{"code": 0, "body": {action: value}}` (what [`ActionResult`]
/// gives) after what `out` holds.
pub(crate) fn append_result<W: std::io::Write, T: Serialize + ?Sized>(
    mut out: W,
    action: &str,
    value: &T,
) -> Result<(), serde_json::Error> {
    out.write_all(br#"{"code":0,"body":{"#)
        .map_err(serde_json::Error::io)?;
    serde_json::to_writer(&mut out, action)?;
    out.write_all(b":").map_err(serde_json::Error::io)?;
    serde_json::to_writer(&mut out, value)?;
    out.write_all(b"}}").map_err(serde_json::Error::io)
}

/// `{"<action>": value}`: the body of a successful typed action.
pub struct ActionResult<'a, T: ?Sized> {
    /// The action's name.
    pub action: &'a str,
    /// Its result.
    pub value: &'a T,
}

impl<T: Serialize + ?Sized> Serialize for ActionResult<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(self.action, self.value)?;
        map.end()
    }
}

/// `{"error": message}`: the body of an error response.
#[derive(Serialize)]
pub struct ErrorBody<'a> {
    /// The message.
    pub error: &'a str,
}

/// A response as a client reads it.
#[derive(Debug, Clone)]
pub struct Response {
    payload: ByteString,
    code: i64,
    body: Option<Range<usize>>,
    keep_alive: bool,
}

/// Why a payload is not a usable response.
#[derive(Debug, thiserror::Error)]
pub enum BadResponse {
    /// Not UTF-8.
    #[error("response is not valid UTF-8")]
    NotUtf8,
    /// Not JSON, or not an object.
    #[error("response is not a JSON object: {0}")]
    Json(serde_json::Error),
    /// `code` is neither an integer nor a numeric string.
    #[error("response code is not an integer: {0}")]
    BadCode(String),
}

impl Response {
    /// Parses a frame's payload. An empty payload reads as `{}` (the reference
    /// client does the same); a missing `code` counts as success; a numeric
    /// string `code` is accepted.
    pub fn parse(payload: Bytes) -> Result<Response, BadResponse> {
        let payload = ByteString::try_from(payload).map_err(|_| BadResponse::NotUtf8)?;
        let text: &str = &payload;
        if text.trim().is_empty() {
            return Ok(Response {
                payload,
                code: 0,
                body: None,
                keep_alive: false,
            });
        }
        let (code, body, keep_alive) = match ResponseFields::scan(text) {
            Ok(found) => found,
            // NaN, Infinity or -Infinity (Python's `json` writes them): again
            // on a copy with stand-ins of the same length.
            Err(error) if error.is_syntax() => match json::replace_literals(text) {
                Some(sanitized) => ResponseFields::scan(&sanitized).map_err(BadResponse::Json)?,
                None => return Err(BadResponse::Json(error)),
            },
            Err(error) => return Err(BadResponse::Json(error)),
        };
        let code = match code {
            None => 0,
            Some(range) => {
                let raw_code = validated_str(&payload, range);
                parse_code(raw_code).ok_or_else(|| BadResponse::BadCode(raw_code.to_owned()))?
            }
        };
        Ok(Response {
            payload,
            code,
            body,
            keep_alive,
        })
    }

    /// Whether the server promised to keep the connection open for another
    /// request (`"tpp_keep_alive": true` in the response, which a tpp server
    /// adds only when the request asked for it). toxiccore servers never do:
    /// they close after every response.
    pub fn keeps_alive(&self) -> bool {
        self.keep_alive
    }

    /// The response code: 0 is success, anything else an error.
    pub fn code(&self) -> i64 {
        self.code
    }

    /// Whether the body is absent or `null` (the end of a toxicbuild stream).
    pub fn body_is_null(&self) -> bool {
        self.body_json() == "null"
    }

    /// The raw JSON text of `body` (`"null"` when absent).
    pub fn body_json(&self) -> &str {
        json_slice(&self.payload, &self.body)
    }

    /// Deserializes the whole body, reading Python's `NaN`, `Infinity` and big
    /// integers as [`crate::json`] describes.
    pub fn body<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        Ok(json::from_str(self.body_json())?)
    }

    /// The error message of an error response: `body["error"]` when the body
    /// is an object with a string `error`, the body itself when it is a bare
    /// string, else the body's JSON text.
    pub fn error_message(&self) -> String {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum ErrorShape {
            Object { error: Value },
            Bare(String),
        }
        match serde_json::from_str::<ErrorShape>(self.body_json()) {
            Ok(ErrorShape::Object {
                error: Value::String(s),
            }) => s,
            Ok(ErrorShape::Object { error }) => error.to_string(),
            Ok(ErrorShape::Bare(s)) => s,
            Err(_) => self.body_json().to_owned(),
        }
    }

    /// Deserializes `body[action]`, the way `request2server` unwraps a result.
    /// `Ok(None)` when the body has no such key.
    pub fn action_result<T: DeserializeOwned>(
        &self,
        action: &str,
    ) -> Result<Option<T>, serde_json::Error> {
        let seed = FieldSeed::<T> {
            key: action,
            marker: std::marker::PhantomData,
        };
        Ok(json::from_str_seed(self.body_json(), seed)?)
    }

    /// The whole payload as received.
    pub fn payload(&self) -> &Bytes {
        self.payload.as_bytes()
    }
}

fn parse_code(raw: &str) -> Option<i64> {
    if let Ok(n) = raw.parse::<i64>() {
        return Some(n);
    }
    // Python's `int(response['code'])` also takes a numeric string.
    let s: String = serde_json::from_str(raw).ok()?;
    s.trim().parse::<i64>().ok()
}

#[derive(Deserialize)]
struct ResponseFields<'a> {
    #[serde(borrow, default)]
    code: Option<&'a RawValue>,
    #[serde(borrow, default)]
    body: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "tpp_keep_alive")]
    keep_alive: Option<&'a RawValue>,
}

impl ResponseFields<'_> {
    /// Where `code` and `body` sit in `text`, and whether the server
    /// promised keep-alive (`"tpp_keep_alive": true`).
    #[allow(clippy::type_complexity)]
    fn scan(
        text: &str,
    ) -> Result<(Option<Range<usize>>, Option<Range<usize>>, bool), serde_json::Error> {
        let raw: ResponseFields<'_> = serde_json::from_str(text)?;
        let range = |raw: &RawValue| str_range(text, raw.get());
        let keep_alive = raw.keep_alive.is_some_and(|v| v.get() == "true");
        Ok((raw.code.map(range), raw.body.map(range), keep_alive))
    }
}

/// Finds one key of a JSON object and deserializes only its value.
struct FieldSeed<'k, T> {
    key: &'k str,
    marker: std::marker::PhantomData<T>,
}

impl<T> Clone for FieldSeed<'_, T> {
    fn clone(&self) -> Self {
        FieldSeed {
            key: self.key,
            marker: std::marker::PhantomData,
        }
    }
}

impl<T> json::SeedValue for FieldSeed<'_, T> {
    type Out = Option<T>;
}

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for FieldSeed<'_, T> {
    type Value = Option<T>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for FieldSeed<'_, T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object with the key {:?}", self.key)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<T>, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<Key<'de>>()?.map(|k| k.0) {
            if found.is_none() && key == self.key {
                found = Some(map.next_value::<T>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(s: &str) -> Result<Request, BadData> {
        Request::parse(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn parses_the_envelope_and_keeps_the_body_raw() {
        let r = req(r#"{"token":"t","action":"a","body":{"x": 1.0, "y": [1, 2]},"user_id":"u1"}"#)
            .unwrap();
        assert_eq!(r.token(), Some("t"));
        assert_eq!(r.action(), Some("a"));
        assert_eq!(r.body_json(), r#"{"x": 1.0, "y": [1, 2]}"#);
        assert_eq!(r.extra("user_id"), Some(&Value::from("u1")));
    }

    #[test]
    fn classifies_missing_and_odd_fields() {
        let r = req(r#"{"token":"","action":null}"#).unwrap();
        assert_eq!(r.token_field(), TokenField::Missing);
        assert_eq!(r.action_field(), ActionField::Missing);
        assert_eq!(r.body_json(), "null");
        let r = req(r#"{"token":false,"action":0}"#).unwrap();
        assert_eq!(r.token_field(), TokenField::Missing);
        assert_eq!(r.action_field(), ActionField::Missing);
        let r = req(r#"{"token":5,"action":[1]}"#).unwrap();
        assert_eq!(r.token_field(), TokenField::NotAString);
        assert_eq!(r.action_field(), ActionField::NotAString);
        let r = req(r#"{"token":"a\"b"}"#).unwrap();
        assert_eq!(r.token(), Some("a\"b"));
    }

    #[test]
    fn refuses_what_is_not_a_request() {
        for bad in [
            "", "{}", "[]", "\"\"", "0", "false", "null", "[1,2]", "{", "{} x", "nope",
        ] {
            assert!(req(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(
            Request::parse(Bytes::from_static(b"{\"a\":\"\xff\"}")),
            Err(BadData::NotUtf8)
        ));
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let deep = format!("{{\"token\":\"t\",\"body\":{nested}}}");
        // Either refused or kept raw; never a stack overflow.
        if let Ok(r) = req(&deep) {
            assert!(r.body::<Value>().is_err());
        }
        let deep = format!("{{\"x\":{nested}}}");
        assert!(req(&deep).is_err());
    }

    #[test]
    fn writes_responses() {
        let mut out = Vec::new();
        write_response(
            &mut out,
            0,
            &ActionResult {
                action: "a-b",
                value: &vec![1, 2],
            },
        )
        .unwrap();
        assert_eq!(out, br#"{"code":0,"body":{"a-b":[1,2]}}"#);
        // The hand-written prefixes give the bytes serde_json gives.
        for action in ["echo", "a\"b\\c\n", "é\u{1}"] {
            let value = serde_json::json!({"x": [1, 2.5, "é"]});
            let mut fast = b"xx".to_vec();
            append_result(&mut fast, action, &value).unwrap();
            #[derive(Serialize)]
            struct Whole<'a> {
                code: i64,
                body: ActionResult<'a, Value>,
            }
            let whole = Whole {
                code: 0,
                body: ActionResult {
                    action,
                    value: &value,
                },
            };
            let slow = serde_json::to_vec(&whole).unwrap();
            assert_eq!(fast[2..], slow[..]);
            write_response(
                &mut fast,
                0,
                &ActionResult {
                    action,
                    value: &value,
                },
            )
            .unwrap();
            assert_eq!(fast, slow);
        }
        write_response(&mut out, 3, &ErrorBody { error: "é" }).unwrap();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"code":3,"body":{"error":"é"}}"#
        );
    }

    #[test]
    fn reads_responses_like_the_reference_client() {
        let r = Response::parse(Bytes::from_static(
            br#"{"code": "2", "body": {"error": "No auth token"}}"#,
        ))
        .unwrap();
        assert_eq!(r.code(), 2);
        assert_eq!(r.error_message(), "No auth token");
        let r = Response::parse(Bytes::from_static(
            br#"{"code": 1, "body": "No action found!"}"#,
        ))
        .unwrap();
        assert_eq!(r.error_message(), "No action found!");
        let r = Response::parse(Bytes::from_static(
            br#"{"body": {"x": 1, "act": {"n": 5}}}"#,
        ))
        .unwrap();
        assert_eq!(r.code(), 0);
        let v: Option<Value> = r.action_result("act").unwrap();
        assert_eq!(v, Some(serde_json::json!({"n": 5})));
        assert_eq!(r.action_result::<Value>("nope").unwrap(), None);
        let r = Response::parse(Bytes::new()).unwrap();
        assert!(r.body_is_null());
    }
}

#[cfg(test)]
mod python_tests;
