//! A response as a client reads it.

use std::fmt;
use std::ops::Range;

use bytes::Bytes;
use bytestring::ByteString;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::Value;

use super::envelope::Key;
use super::{json_slice, str_range, validated_str};
use crate::wire::json;
use crate::wire::ErrorData;

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
#[non_exhaustive]
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
        // The fast path locates the members in one pass; anything it does
        // not take (escaped keys, a repeated member, Python's literals…) is
        // read by serde_json, whose result and errors are the answer.
        let fast = ResponseFields::scan_fast(text.as_bytes());
        let (code, body, keep_alive) = match fast.map_or_else(|| ResponseFields::scan(text), Ok) {
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
        self.error_parts().0
    }

    /// The error message ([`error_message`](Self::error_message)) and, when the body carries
    /// it (`tpp_error`, from a tpp server), the error's variant and fields. A `tpp_error`
    /// that is not shaped as [`ErrorData`] is left out: the message still stands.
    pub fn error_parts(&self) -> (String, Option<ErrorData>) {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum ErrorShape {
            Object {
                error: Value,
                #[serde(default)]
                tpp_error: Option<Value>,
            },
            Bare(String),
        }
        match serde_json::from_str::<ErrorShape>(self.body_json()) {
            Ok(ErrorShape::Object { error, tpp_error }) => {
                let message = match error {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                let data = tpp_error.and_then(|data| serde_json::from_value(data).ok());
                (message, data)
            }
            Ok(ErrorShape::Bare(s)) => (s, None),
            Err(_) => (self.body_json().to_owned(), None),
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

impl ResponseFields<'_> {
    /// [`scan`](Self::scan) by the fast validator: a top-level object whose
    /// keys have no escapes, no member twice that `scan` reads (serde_json
    /// refuses those), values it validates as serde_json would. `None`
    /// leaves the payload to `scan`.
    #[allow(clippy::type_complexity)]
    fn scan_fast(b: &[u8]) -> Option<(Option<Range<usize>>, Option<Range<usize>>, bool)> {
        use super::fast_scan::key_at;
        use crate::wire::fields::KEEP_ALIVE_FIELD;
        use crate::wire::json::skip::{skip_ws, Step, Walk};
        let (mut code, mut body, mut keep_alive) = (None, None, None);
        let mut i = skip_ws(b, 0);
        if b.get(i) != Some(&b'{') {
            return None;
        }
        i = skip_ws(b, i + 1);
        if b.get(i) == Some(&b'}') {
            i += 1;
        } else {
            loop {
                // A whole payload: a key cut short is as bad as a wrong one.
                let Some(Ok((key, start))) = key_at(b, i) else {
                    return None;
                };
                let key = &b[key];
                let Step::Ended(end) = Walk::at(start).resume(b, true) else {
                    return None;
                };
                let slot = match key {
                    b"code" => &mut code,
                    b"body" => &mut body,
                    k if k == KEEP_ALIVE_FIELD.as_bytes() => &mut keep_alive,
                    _ => &mut None,
                };
                if slot.replace(start..end).is_some() {
                    return None;
                }
                i = skip_ws(b, end);
                match b.get(i) {
                    Some(b',') => i = skip_ws(b, i + 1),
                    Some(b'}') => {
                        i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        if skip_ws(b, i) != b.len() {
            return None;
        }
        // As serde_json reads an `Option`: `null` is `None`.
        let present = |r: Option<Range<usize>>| r.filter(|r| &b[r.clone()] != b"null");
        let keep_alive = keep_alive.is_some_and(|r: Range<usize>| &b[r] == b"true");
        Some((present(code), present(body), keep_alive))
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
    use super::ResponseFields;

    /// The fast scan takes a document only where serde_json reads the same
    /// members, and leaves the others (errors included) to it.
    #[test]
    fn the_fast_scan_agrees_with_serde_json_or_steps_aside() {
        let taken = [
            r#"{"code":0,"body":{"echo":"hi"}}"#,
            " { \"body\" : [1, 2, {\"a\": null}] , \"code\" : \"2\" } \n",
            r#"{}"#,
            r#"{"code":0,"body":null,"tpp_keep_alive":true}"#,
            r#"{"code":0,"tpp_keep_alive":false,"other":1,"other":2}"#,
            r#"{"body":"caf\u00e9 \"q\"","code":-1}"#,
            r#"{"code":null}"#,
        ];
        for text in taken {
            let fast = ResponseFields::scan_fast(text.as_bytes());
            assert!(fast.is_some(), "{text}");
            assert_eq!(fast.unwrap(), ResponseFields::scan(text).unwrap(), "{text}");
        }
        let left = [
            r#"{"code":0,"code":1}"#,
            r#"{"co\u0064e":0}"#,
            r#"{"code":NaN}"#,
            r#"{"code":0,}"#,
            r#"{"code":0} x"#,
            r#"[1]"#,
            r#"{"code":0"#,
            r#"{"code" 0}"#,
            r#"{"code":0,"body":nullx}"#,
            "",
        ];
        for text in left {
            assert_eq!(ResponseFields::scan_fast(text.as_bytes()), None, "{text}");
        }
        // Where the fast scan steps aside on valid JSON, serde_json reads it.
        assert!(ResponseFields::scan(r#"{"co\u0064e":0}"#).is_ok());
        assert!(ResponseFields::scan(r#"{"code":0,"code":1}"#).is_err());
    }
}
