//! A parsed request: its token, action, body and extra fields, as positions in
//! the payload it was read from.

use std::ops::Range;

use bytes::Bytes;
use bytestring::ByteString;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::envelope::{BadData, DeadlineField, Field, Fields};
use super::json_slice;
use super::members::Members;
use crate::wire::json;

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

/// A parsed request. Cheap to keep around: the body stays inside the frame.
#[derive(Debug, Clone)]
pub struct Request {
    payload: ByteString,
    token: Field,
    action: Field,
    body: Option<Range<usize>>,
    body_wide: bool,
    extras: Members,
    keep_alive: bool,
    deadline: DeadlineField,
    reserved: Members,
}

impl Request {
    /// Parses a frame's payload.
    pub fn parse(payload: Bytes) -> Result<Request, BadData> {
        if payload.is_empty() {
            return Err(BadData::Empty);
        }
        // Validated once here; fields and body are then sliced as `str` freely.
        let payload = ByteString::try_from(payload).map_err(|_| BadData::NotUtf8)?;
        let text: &str = &payload;
        let fields = match Fields::scan_fast(text).map_or_else(|| Fields::scan(text, None), Ok) {
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
        Ok(Request::from_fields(payload, fields))
    }

    /// [`Request::parse`] of a payload whose envelope the frame decoder has
    /// already scanned while it arrived (`fields`); without them, the same
    /// as `parse`.
    pub(crate) fn parse_scanned(
        payload: Bytes,
        fields: Option<Fields>,
    ) -> Result<Request, BadData> {
        match fields {
            Some(fields) => {
                let payload = ByteString::try_from(payload).map_err(|_| BadData::NotUtf8)?;
                Ok(Request::from_fields(payload, fields))
            }
            None => Request::parse(payload),
        }
    }

    /// A request with nothing in it, standing in before the first one arrives.
    pub(crate) fn empty() -> Request {
        Request::from_fields(ByteString::new(), Fields::none())
    }

    fn from_fields(payload: ByteString, fields: Fields) -> Request {
        Request {
            token: fields.token,
            action: fields.action,
            body: fields.body,
            body_wide: fields.body_wide,
            extras: fields.extras,
            keep_alive: fields.keep_alive,
            deadline: fields.deadline,
            reserved: fields.reserved,
            payload,
        }
    }

    /// Whether the request carried `"tpp_keep_alive": true`: the client asks
    /// to send further requests on this connection after a unary response.
    pub fn wants_keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// The caller's budget, `tpp_deadline_ms` (see [`crate::deadline`]).
    pub fn deadline_field(&self) -> DeadlineField {
        self.deadline
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
        // Validated by `parse`: a raw body is not read again.
        Ok(json::from_body_str(self.body_json(), self.body_wide)?)
    }

    /// Whether the body may hold an integer beyond 64 bits (for the
    /// generated dispatch: see [`crate::json`]).
    pub(crate) fn body_may_be_wide(&self) -> bool {
        self.body_wide
    }

    /// The body as a borrowed [`RawValue`], to pass it on untouched
    /// (numbers, `NaN` and `Infinity` keep their exact text).
    pub fn body_raw(&self) -> Result<&RawValue, serde_json::Error> {
        // Already read as JSON by `parse`: not validated twice.
        json::raw_of_checked(self.body_json())
    }

    /// An extra top-level field (anything but `token`, `action`, `body` and
    /// the [reserved](crate::fields::RESERVED_PREFIX) `tpp_*` fields), such as toxicbuild's
    /// `user_id`.
    ///
    /// Extra fields are only located when the request arrives, and built on
    /// first use (so never for a request refused for its token). A request
    /// whose extra field is nested deeper than serde_json builds (128
    /// levels) is refused as bad data.
    pub fn extra(&self, key: &str) -> Option<&Value> {
        self.extras().get(key)
    }

    /// All extra top-level fields (built on first use, see [`extra`](Self::extra)).
    pub fn extras(&self) -> &Map<String, Value> {
        self.extras.get(&self.payload, false)
    }

    /// A reserved `tpp_*` top-level field (see [`RESERVED_PREFIX`](crate::fields::RESERVED_PREFIX)), such as
    /// `tpp_request_id` (built on first use, as [`extra`](Self::extra)).
    pub fn reserved(&self, key: &str) -> Option<&Value> {
        self.reserved.get(&self.payload, true).get(key)
    }

    /// The reserved field `key` alone, built now: the server reads its own
    /// fields this way, so a large `tpp_*` field it does not know is never
    /// built.
    pub(crate) fn reserved_one(&self, key: &str) -> Option<Value> {
        self.reserved.one(&self.payload, true, key)
    }

    /// The whole payload as received.
    pub fn payload(&self) -> &Bytes {
        self.payload.as_bytes()
    }
}
