//! Parses arbitrary payloads as requests and responses: never a panic, and
//! whatever parses exposes a body that is valid JSON text.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tpp_rpc::{Request, Response};

fuzz_target!(|data: &[u8]| {
    let payload = Bytes::copy_from_slice(data);
    if let Ok(request) = Request::parse(payload.clone()) {
        let body = request.body_json();
        assert!(request.body_raw().is_ok(), "body is JSON: {body:?}");
        let _ = request.token();
        let _ = request.action();
        let _ = request.body::<serde_json_value::Value>();
    }
    if let Ok(response) = Response::parse(payload) {
        let _ = response.error_message();
        let _ = response.action_result::<serde_json_value::Value>("a");
        let _ = response.body_is_null();
    }
});

/// serde_json through tpp's re-export, so the fuzz crate needs no extra dependency.
mod serde_json_value {
    pub use tpp_rpc::__private::serde_json::Value;
}
