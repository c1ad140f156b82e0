//! The error a service method returns, as both sides read it: a code, a
//! message, and the variant with its fields.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The body key carrying an error's variant and fields beside its message:
/// `{"error": "job 1 is locked by ann", "tpp_error": {"variant": "Locked", "fields": {"id": 1, "by": "ann"}}}`.
/// toxiccore readers keep reading `body["error"]` and never see it.
pub const ERROR_DATA_KEY: &str = "tpp_error";

/// An error answer's variant and fields, sent as the body's `tpp_error` so that a client
/// rebuilds exactly the value the server returned (`ToxicError::from_data`).
///
/// `fields` is an object for named fields (`{"id": 1, "by": "ann"}`), an array for a tuple
/// variant (`["job 1"]`, one item for a newtype variant too), and absent for a unit variant:
/// the shapes the service description's `errors[].fields` schemas describe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorData {
    /// The variant's name (the type's name for a struct error).
    pub variant: String,
    /// The variant's fields, absent for a unit variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Value>,
}

impl ErrorData {
    /// The data of `variant` with `fields`.
    pub fn new(variant: impl Into<String>, fields: Option<Value>) -> Self {
        Self {
            variant: variant.into(),
            fields,
        }
    }

    /// The named field `name` (`null` when the fields hold no such key), for a struct variant.
    pub fn named(&self, name: &str) -> Option<&Value> {
        match &self.fields {
            Some(Value::Object(fields)) => Some(fields.get(name).unwrap_or(&Value::Null)),
            _ => None,
        }
    }

    /// The tuple field at `index`, for a tuple variant.
    pub fn positional(&self, index: usize) -> Option<&Value> {
        match &self.fields {
            Some(Value::Array(fields)) => fields.get(index),
            _ => None,
        }
    }
}

/// An error a service method returns: a code (> 0), a message and, for a derived type, the
/// variant with its fields, sent as
/// `{"code": code, "body": {"error": message, "tpp_error": {"variant": …, "fields": …}}}`.
///
/// Derive it with `#[derive(tpp_rpc::ToxicError)]` and `#[toxic(code = N)]` on each
/// variant, or implement it by hand (`code` and `message` suffice; the rest has defaults).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a TPP service error: it does not implement `tpp_rpc::ToxicError`",
    label = "the error type of an action must implement `tpp_rpc::ToxicError`",
    note = "derive it with `#[derive(tpp_rpc::ToxicError)]` and `#[toxic(code = N)]` on each variant, or use `tpp_rpc::ActionError`"
)]
pub trait ToxicError {
    /// The response code; values below 1 are sent as 1.
    fn code(&self) -> i64;
    /// The message sent to the client.
    fn message(&self) -> String;
    /// The variant and its fields, sent beside the message as `tpp_error`; `None` sends the
    /// message alone (a field that cannot be serialized does the same).
    fn data(&self) -> Option<ErrorData> {
        None
    }
    /// Client side: rebuilds the error from an answer's variant and fields, when this type
    /// has a variant of that name and code whose fields decode.
    fn from_data(code: i64, message: &str, data: &ErrorData) -> Option<Self>
    where
        Self: Sized,
    {
        let _ = (code, message, data);
        None
    }
    /// Client side: rebuilds the error from a server's code and message alone (an answer
    /// without `tpp_error`, from an older or a hand-written server), when this type knows
    /// the code.
    fn from_parts(code: i64, message: &str) -> Option<Self>
    where
        Self: Sized,
    {
        let _ = (code, message);
        None
    }
    /// Client side: [`from_data`](Self::from_data) when the answer carried the variant,
    /// else (or when that fails) [`from_parts`](Self::from_parts).
    fn from_answer(code: i64, message: &str, data: Option<&ErrorData>) -> Option<Self>
    where
        Self: Sized,
    {
        data.and_then(|data| Self::from_data(code, message, data))
            .or_else(|| Self::from_parts(code, message))
    }
    /// Every variant this type may answer (code, name, message, fields' schema), for the
    /// service description; `#[derive(ToxicError)]` lists them.
    fn describe_variants(
        set: &mut crate::wire::describe::SchemaSet,
    ) -> Vec<crate::wire::describe::ErrorDescription>
    where
        Self: Sized,
    {
        let _ = set;
        Vec::new()
    }
}

/// A ready-made service error: any code, any message, and the variant's data when it was
/// made from another error ([`ActionError::from_error`]) or received with one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionError {
    /// The response code (> 0).
    pub code: i64,
    /// The message.
    pub message: String,
    /// The variant and its fields, when known.
    pub data: Option<Box<ErrorData>>,
}

impl ActionError {
    /// An error with `code` and `message`.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// `error`'s code, message and data (a stream's typed error keeps its fields this way).
    pub fn from_error(error: &(impl ToxicError + ?Sized)) -> Self {
        Self {
            code: error.code(),
            message: error.message(),
            data: error.data().map(Box::new),
        }
    }
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

impl std::error::Error for ActionError {}

impl ToxicError for ActionError {
    fn code(&self) -> i64 {
        self.code
    }

    fn message(&self) -> String {
        self.message.clone()
    }

    fn data(&self) -> Option<ErrorData> {
        self.data.as_deref().cloned()
    }

    fn from_parts(code: i64, message: &str) -> Option<Self> {
        Some(Self::new(code, message))
    }

    /// Any answer, its data kept. (`from_data` stays `None`: an `ActionError` has no
    /// variants of its own, so a transparent `Other(ActionError)` beside named variants takes
    /// only what they do not.)
    fn from_answer(code: i64, message: &str, data: Option<&ErrorData>) -> Option<Self> {
        Some(Self {
            data: data.cloned().map(Box::new),
            ..Self::new(code, message)
        })
    }
}

impl ToxicError for std::convert::Infallible {
    fn code(&self) -> i64 {
        match *self {}
    }

    fn message(&self) -> String {
        match *self {}
    }
}
