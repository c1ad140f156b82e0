//! The error a service method returns, as both sides read it: a code and a
//! message.

use std::fmt;

/// An error a service method returns: a code (> 0) and a message, sent as
/// `{"code": code, "body": {"error": message}}`.
///
/// Derive it with `#[derive(tpp_rpc::ToxicError)]` and `#[toxic(code = N)]` on
/// each variant, or implement it by hand.
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
    /// Client side: rebuilds the error from a server's code and message, when
    /// this type knows the code.
    fn from_parts(code: i64, message: &str) -> Option<Self>
    where
        Self: Sized,
    {
        let _ = (code, message);
        None
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

/// A ready-made service error: any code, any message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionError {
    /// The response code (> 0).
    pub code: i64,
    /// The message.
    pub message: String,
}

impl ActionError {
    /// An error with `code` and `message`.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
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

    fn from_parts(code: i64, message: &str) -> Option<Self> {
        Some(Self::new(code, message))
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
