//! Envelopes: the request `{token, action, body, …}` and the response `{code, body}`.
//!
//! The envelope is parsed once; `body` is kept as the raw JSON text it was
//! sent as (a slice of the frame, no copy), so a typed action deserializes its
//! parameters straight from the frame's bytes and a pass-through action returns
//! the client's numbers untouched.

use std::fmt;
use std::ops::Range;

use bytes::Bytes;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenField {
    /// Absent or falsy: `null`, `""`, `false`, `0`, `[]`, `{}` ("No auth token", code 2).
    Missing,
    /// A non-empty string.
    Present(String),
    /// Any other JSON type ("Bad auth token", code 3).
    NotAString,
}

/// What the `action` field held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionField {
    /// Absent or falsy: `null`, `""`, `false`, `0`, `[]`, `{}` ("No action found!", code 1).
    Missing,
    /// A non-empty string.
    Present(String),
    /// Any other JSON type.
    NotAString,
}

/// A parsed request. Cheap to keep around: the body stays inside the frame.
#[derive(Debug, Clone)]
pub struct Request {
    payload: Bytes,
    token: TokenField,
    action: ActionField,
    body: Option<Range<usize>>,
    extras: Map<String, Value>,
}

impl Request {
    /// Parses a frame's payload.
    pub fn parse(payload: Bytes) -> Result<Request, BadData> {
        if payload.is_empty() {
            return Err(BadData::Empty);
        }
        let text = std::str::from_utf8(&payload).map_err(|_| BadData::NotUtf8)?;
        let mut de = serde_json::Deserializer::from_str(text);
        let envelope = de.deserialize_any(EnvelopeVisitor).map_err(BadData::Json)?;
        de.end().map_err(BadData::Json)?;
        let envelope = envelope?;
        let body = envelope.body.map(|raw| range_within(text, raw));
        Ok(Request {
            token: envelope.token,
            action: envelope.action,
            body,
            extras: envelope.extras,
            payload,
        })
    }

    /// A request with nothing in it, standing in before the first one arrives.
    pub(crate) fn empty() -> Request {
        Request {
            payload: Bytes::new(),
            token: TokenField::Missing,
            action: ActionField::Missing,
            body: None,
            extras: Map::new(),
        }
    }

    /// The `token` field.
    pub fn token_field(&self) -> &TokenField {
        &self.token
    }

    /// The token, when it is a non-empty string.
    pub fn token(&self) -> Option<&str> {
        match &self.token {
            TokenField::Present(t) => Some(t),
            _ => None,
        }
    }

    /// The `action` field.
    pub fn action_field(&self) -> &ActionField {
        &self.action
    }

    /// The action, when it is a non-empty string.
    pub fn action(&self) -> Option<&str> {
        match &self.action {
            ActionField::Present(a) => Some(a),
            _ => None,
        }
    }

    /// The raw JSON text of `body`; `"null"` when the request has none.
    pub fn body_json(&self) -> &str {
        json_slice(&self.payload, &self.body)
    }

    /// Deserializes `body` into `T`.
    pub fn body<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.body_json())
    }

    /// The body as a borrowed [`RawValue`], to pass it on untouched
    /// (numbers keep their exact text).
    pub fn body_raw(&self) -> Result<&RawValue, serde_json::Error> {
        serde_json::from_str(self.body_json())
    }

    /// An extra top-level field (anything but `token`, `action` and `body`),
    /// such as toxicbuild's `user_id`.
    pub fn extra(&self, key: &str) -> Option<&Value> {
        self.extras.get(key)
    }

    /// All extra top-level fields.
    pub fn extras(&self) -> &Map<String, Value> {
        &self.extras
    }

    /// The whole payload as received.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }
}

/// Where `raw`, borrowed from `text` by the parser, sits inside it.
fn range_within(text: &str, raw: &RawValue) -> Range<usize> {
    let start = raw.get().as_ptr() as usize - text.as_ptr() as usize;
    start..start + raw.get().len()
}

/// The JSON text at `range` of a payload checked to be UTF-8 when it was
/// parsed (a whole JSON value, so the range ends on char boundaries);
/// `"null"` when there is none.
fn json_slice<'a>(payload: &'a Bytes, range: &Option<Range<usize>>) -> &'a str {
    match range {
        Some(range) => std::str::from_utf8(&payload[range.clone()]).unwrap_or("null"),
        None => "null",
    }
}

/// Python's truthiness for JSON values.
fn is_falsy(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

struct Envelope<'a> {
    token: TokenField,
    action: ActionField,
    body: Option<&'a RawValue>,
    extras: Map<String, Value>,
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Result<Envelope<'de>, BadData>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut env = Envelope {
            token: TokenField::Missing,
            action: ActionField::Missing,
            body: None,
            extras: Map::new(),
        };
        let mut keys = 0usize;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            keys += 1;
            match &*key {
                // The reference tests `not token` / `not action`: every falsy
                // JSON value (null, "", false, 0, [], {}) counts as absent.
                "token" => {
                    env.token = match map.next_value::<Value>()? {
                        v if is_falsy(&v) => TokenField::Missing,
                        Value::String(s) => TokenField::Present(s),
                        _ => TokenField::NotAString,
                    }
                }
                "action" => {
                    env.action = match map.next_value::<Value>()? {
                        v if is_falsy(&v) => ActionField::Missing,
                        Value::String(s) => ActionField::Present(s),
                        _ => ActionField::NotAString,
                    }
                }
                "body" => env.body = Some(map.next_value::<&'de RawValue>()?),
                _ => {
                    let value = map.next_value::<Value>()?;
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
}

impl<B: Serialize + ?Sized> Serialize for OutgoingRequest<'_, B> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3 + self.extras.len()))?;
        map.serialize_entry("action", self.action)?;
        map.serialize_entry("body", self.body)?;
        map.serialize_entry("token", &self.token)?;
        for (k, v) in self.extras {
            map.serialize_entry(k, v)?;
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
    let mut ser = serde_json::Serializer::new(&mut *out);
    let mut map = ser.serialize_map(Some(2))?;
    map.serialize_entry("code", &code)?;
    map.serialize_entry("body", body)?;
    map.end()
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
    payload: Bytes,
    code: i64,
    body: Option<Range<usize>>,
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
        let text = std::str::from_utf8(&payload).map_err(|_| BadResponse::NotUtf8)?;
        if text.trim().is_empty() {
            return Ok(Response {
                payload,
                code: 0,
                body: None,
            });
        }
        let raw: ResponseFields<'_> = serde_json::from_str(text).map_err(BadResponse::Json)?;
        let code = match raw.code {
            None => 0,
            Some(raw_code) => parse_code(raw_code.get())
                .ok_or_else(|| BadResponse::BadCode(raw_code.get().to_owned()))?,
        };
        let body = raw.body.map(|raw| range_within(text, raw));
        Ok(Response {
            payload,
            code,
            body,
        })
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

    /// Deserializes the whole body.
    pub fn body<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.body_json())
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
        let mut de = serde_json::Deserializer::from_str(self.body_json());
        let found = FieldSeed::<T> {
            key: action,
            marker: std::marker::PhantomData,
        }
        .deserialize(&mut de)?;
        de.end()?;
        Ok(found)
    }

    /// The whole payload as received.
    pub fn payload(&self) -> &Bytes {
        &self.payload
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
}

/// Finds one key of a JSON object and deserializes only its value.
struct FieldSeed<'k, T> {
    key: &'k str,
    marker: std::marker::PhantomData<T>,
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
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
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
        assert_eq!(r.token_field(), &TokenField::Missing);
        assert_eq!(r.action_field(), &ActionField::Missing);
        assert_eq!(r.body_json(), "null");
        let r = req(r#"{"token":false,"action":0}"#).unwrap();
        assert_eq!(r.token_field(), &TokenField::Missing);
        assert_eq!(r.action_field(), &ActionField::Missing);
        let r = req(r#"{"token":5,"action":[1]}"#).unwrap();
        assert_eq!(r.token_field(), &TokenField::NotAString);
        assert_eq!(r.action_field(), &ActionField::NotAString);
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
