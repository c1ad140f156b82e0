//! The service under test: a `#[toxic_service]` echo, the path a real tpp
//! service takes (generated dispatch, typed body, `send_result`).

use serde_json::value::RawValue;
use serde_json::Value;
use tpp_rpc::ActionError;

/// Two echoes of the request's body, answered as `{"code":0,"body":{"<action>": body}}`.
#[tpp_rpc::toxic_service]
pub trait Bench {
    /// Returns the body's JSON text untouched (`Box<RawValue>`): validated
    /// and copied, no tree built. The same work as the floor's echo, and the
    /// same answer byte for byte.
    async fn echo(&self, #[body] body: Box<RawValue>) -> Result<Box<RawValue>, ActionError>;

    /// Deserializes the body into a `serde_json::Value` and serializes it
    /// back: what a typed action pays for its parameters and its result.
    async fn echo_value(&self, #[body] body: Value) -> Result<Value, ActionError>;

    /// Returns its `text` parameter: one long string deserialized and
    /// written back escaped (the body `{"text": "…"}` of `load --text`).
    async fn echo_text(&self, text: String) -> Result<String, ActionError>;
}

/// The implementation: nothing but the echo.
pub struct EchoImpl;

impl Bench for EchoImpl {
    async fn echo(&self, body: Box<RawValue>) -> Result<Box<RawValue>, ActionError> {
        Ok(body)
    }

    async fn echo_value(&self, body: Value) -> Result<Value, ActionError> {
        Ok(body)
    }

    async fn echo_text(&self, text: String) -> Result<String, ActionError> {
        Ok(text)
    }
}

/// The same echoes in the dyn mode (`#[toxic_service(dyn)]`): a dyn-compatible trait whose
/// methods return one boxed future per call. The bench serves it from an `Arc<dyn BenchDyn>`,
/// so each request also goes through the vtable.
#[tpp_rpc::toxic_service(dyn)]
pub trait BenchDyn {
    /// As [`Bench::echo`].
    async fn echo(&self, #[body] body: Box<RawValue>) -> Result<Box<RawValue>, ActionError>;

    /// As [`Bench::echo_value`].
    async fn echo_value(&self, #[body] body: Value) -> Result<Value, ActionError>;
}

#[tpp_rpc::async_trait]
impl BenchDyn for EchoImpl {
    async fn echo(&self, body: Box<RawValue>) -> Result<Box<RawValue>, ActionError> {
        Ok(body)
    }

    async fn echo_value(&self, body: Value) -> Result<Value, ActionError> {
        Ok(body)
    }
}
