//! The server's answers: `{"code": …, "body": …}` written into the frame
//! buffer with [`crate::json::to_writer`].

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

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
    crate::wire::json::to_writer(&mut out, &code)?;
    out.write_all(br#","body":"#)
        .map_err(serde_json::Error::io)?;
    crate::wire::json::to_writer(&mut out, body)?;
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
    crate::wire::json::to_writer(&mut out, action)?;
    out.write_all(b":").map_err(serde_json::Error::io)?;
    crate::wire::json::to_writer(&mut out, value)?;
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

/// `{"error": message, "tpp_error": {"variant": …, "fields": …}}`: the body of a service
/// error's response; without data, the same as [`ErrorBody`].
#[derive(Serialize)]
pub struct ServiceErrorBody<'a> {
    /// The message (what toxiccore reads).
    pub error: &'a str,
    /// The variant and its fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpp_error: Option<&'a crate::wire::ErrorData>,
}
