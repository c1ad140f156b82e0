//! Python's JSON against toxiccore's `BaseToxicClient`: `NaN`, `±Infinity` and
//! `±2**100` sent by Python come back to Python unchanged through a
//! pass-through echo (typed `Box<RawValue>` and a raw handler), a float
//! parameter takes `NaN`, and a parameter that cannot hold such a value is
//! code 1 naming it; so is an integer beyond 64 bits for a `Value`, which
//! would round it.
//!
//! Needs Python with toxiccore (see `tests/interop.rs`).

use std::convert::Infallible;

use serde_json::value::RawValue;
use serde_json::{json, Value};
use tpp_rpc::{Connection, Handler, Server};
use tpp_tests::{ref_client, reference_python, start};

const TOKEN: &str = "py-json-token";

/// A body as Python's `json.dumps` writes it for NaN, ±inf and ±2**100.
const SPECIALS: &str = r#"{"nan": NaN, "inf": Infinity, "ninf": -Infinity, "big": 1267650600228229401496703205376, "nbig": -1267650600228229401496703205376, "nested": [NaN, {"x": 1267650600228229401496703205376, "s": "NaN"}]}"#;

/// What `repr()` of the echoed body must print in Python.
const SPECIALS_REPR: &str = "{'nan': nan, 'inf': inf, 'ninf': -inf, 'big': 1267650600228229401496703205376, 'nbig': -1267650600228229401496703205376, 'nested': [nan, {'x': 1267650600228229401496703205376, 's': 'NaN'}]}";

#[tpp_rpc::toxic_service]
trait PythonJson {
    /// Any JSON, handed back as it came.
    async fn echo_any(&self, #[body] body: Box<RawValue>) -> Result<Box<RawValue>, Infallible>;

    /// Typed parameters that can hold Python's values.
    async fn describe(&self, x: f64, wide: i128) -> Result<String, Infallible>;

    /// A typed parameter that cannot hold NaN or 2**100.
    async fn count(&self, n: i64, label: String) -> Result<i64, Infallible>;

    /// Parameters that would round 2**100 (`Value`) and those that hold it.
    async fn keep(
        &self,
        v: Option<Value>,
        f: Option<f64>,
        exact: Option<i128>,
        raw: Option<Box<RawValue>>,
    ) -> Result<String, Infallible>;

    /// The whole body as a `Value`.
    async fn keep_body(&self, #[body] body: Value) -> Result<Value, Infallible>;
}

struct Impl;

impl PythonJson for Impl {
    async fn echo_any(&self, body: Box<RawValue>) -> Result<Box<RawValue>, Infallible> {
        Ok(body)
    }

    async fn describe(&self, x: f64, wide: i128) -> Result<String, Infallible> {
        Ok(format!("x={x} wide={wide}"))
    }

    async fn count(&self, n: i64, label: String) -> Result<i64, Infallible> {
        Ok(n + label.len() as i64)
    }

    async fn keep(
        &self,
        v: Option<Value>,
        f: Option<f64>,
        exact: Option<i128>,
        raw: Option<Box<RawValue>>,
    ) -> Result<String, Infallible> {
        let raw = raw.map(|r| r.get().to_owned());
        Ok(format!("v={v:?} f={f:?} exact={exact:?} raw={raw:?}"))
    }

    async fn keep_body(&self, body: Value) -> Result<Value, Infallible> {
        Ok(body)
    }
}

/// A low-level handler passing the body through as raw text.
struct RawEcho;

impl Handler for RawEcho {
    async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
        let request = conn.request().clone();
        conn.send_result(request.body_raw()?).await
    }
}

fn spec(port: u16, ops: Vec<Value>) -> Value {
    json!({"host": "127.0.0.1", "port": port, "timeout": 15, "ops": ops})
}

fn call(action: &str, body_json: &str) -> Value {
    json!({"op": "request2server_json", "action": action, "body_json": body_json, "token": TOKEN})
}

#[track_caller]
fn assert_repr(result: &Value, repr: &str, what: &str) {
    assert_eq!(result["ok"], json!(true), "{what}: {result}");
    assert_eq!(result["repr"], json!(repr), "{what}");
}

#[tokio::test]
#[cfg_attr(
    not(tpp_python),
    ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"
)]
async fn python_values_round_trip_through_pass_through_echoes() {
    let python = reference_python("python_values_round_trip_through_pass_through_echoes");
    let typed = start(Server::builder().token(TOKEN), PythonJsonServer::new(Impl)).await;
    let raw = start(Server::builder().token(TOKEN), RawEcho).await;
    for (server, action) in [(&typed, "echo_any"), (&raw, "echo")] {
        let results = ref_client(&python, spec(server.port(), vec![call(action, SPECIALS)])).await;
        assert_repr(&results[0], SPECIALS_REPR, action);
        // The integers are Python ints again, not floats.
        assert_eq!(results[0]["types"]["big"], json!("int"), "{action}");
        assert_eq!(results[0]["types"]["nan"], json!("float"), "{action}");
    }
    typed.stop().await;
    raw.stop().await;
}

#[tokio::test]
#[cfg_attr(
    not(tpp_python),
    ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"
)]
async fn typed_parameters_take_what_they_can_hold_and_name_what_they_cannot() {
    let python = reference_python("typed_parameters_take_what_they_can_hold");
    let server = start(Server::builder().token(TOKEN), PythonJsonServer::new(Impl)).await;
    let ops = vec![
        call(
            "describe",
            r#"{"x": NaN, "wide": -1267650600228229401496703205376}"#,
        ),
        call("describe", r#"{"x": -Infinity, "wide": 7}"#),
        call("count", r#"{"n": NaN, "label": "a"}"#),
        call(
            "count",
            r#"{"n": 1267650600228229401496703205376, "label": "a"}"#,
        ),
        call("count", r#"{"n": 1, "label": Infinity}"#),
        call("count", r#"{"n": 1, "label": "ab"}"#),
    ];
    let results = ref_client(&python, spec(server.port(), ops)).await;
    assert_repr(
        &results[0],
        "'x=NaN wide=-1267650600228229401496703205376'",
        "NaN into f64, -2**100 into i128",
    );
    assert_repr(&results[1], "'x=-inf wide=7'", "-Infinity into f64");
    let refused = [
        (
            &results[2],
            "Bad parameters for action count: parameter `n`: NaN cannot be held by i64",
        ),
        (
            &results[3],
            "Bad parameters for action count: parameter `n`: integer out of range for i64",
        ),
        (
            &results[4],
            "Bad parameters for action count: parameter `label`: Infinity cannot be held by this type",
        ),
    ];
    for (result, message) in refused {
        assert_eq!(result["ok"], json!(false), "{result}");
        assert_eq!(result["exc"], json!("ToxicClientException"), "{result}");
        let got = result["message"].as_str().unwrap_or_default();
        assert!(
            got.starts_with(message),
            "{got:?} should start with {message:?}"
        );
    }
    assert_repr(&results[5], "3", "plain values still work");
    server.stop().await;
}

#[tokio::test]
#[cfg_attr(
    not(tpp_python),
    ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"
)]
async fn our_client_reads_back_what_a_toxiccore_server_echoes() {
    let python = reference_python("our_client_reads_back_what_a_toxiccore_server_echoes");
    let server = tpp_tests::RefServer::start(&python, None).await;
    let client = server.client().build().expect("client");
    let body = RawValue::from_string(SPECIALS.to_owned());
    // serde_json refuses NaN in `from_string`; the reader tpp uses does not.
    assert!(body.is_err());
    let body: Box<RawValue> = tpp_rpc::json::from_str(SPECIALS).expect("Python JSON");
    let echoed: Box<RawValue> = client.request2server("echo", &body).await.expect("echo");
    // Python re-serializes (`json.dumps`), which keeps every value and this spacing.
    assert_eq!(echoed.get(), SPECIALS);
    #[derive(serde::Deserialize)]
    struct Typed {
        nan: f64,
        ninf: f64,
        nbig: i128,
    }
    let typed: Typed = client.request2server("echo", &body).await.expect("typed");
    assert!(typed.nan.is_nan());
    assert_eq!(typed.ninf, f64::NEG_INFINITY);
    assert_eq!(typed.nbig, -(1 << 100));
}

/// An integer beyond 64 bits never reaches a parameter rounded: a `Value`
/// (top level or nested, or the whole body) refuses it naming where it is;
/// `f64` (a float asked for), `i128` and a raw value take it.
#[tokio::test]
#[cfg_attr(
    not(tpp_python),
    ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"
)]
async fn an_integer_a_parameter_cannot_hold_exactly_is_refused_not_rounded() {
    let python = reference_python("an_integer_a_parameter_cannot_hold_exactly");
    let server = start(Server::builder().token(TOKEN), PythonJsonServer::new(Impl)).await;
    let big = "1267650600228229401496703205376"; // 2**100
    let ops = vec![
        call("keep", &format!(r#"{{"v": {big}}}"#)),
        call("keep", &format!(r#"{{"v": {{"a": [1, {big}]}}}}"#)),
        call("keep_body", &format!(r#"{{"a": {big}}}"#)),
        call(
            "keep",
            &format!(r#"{{"f": {big}, "exact": -{big}, "raw": [{big}]}}"#),
        ),
        // Within 64 bits, and floats: as before.
        call(
            "keep",
            r#"{"v": [18446744073709551615, -9223372036854775808, 1.5e300]}"#,
        ),
        call("keep_body", r#"{"a": 18446744073709551615}"#),
    ];
    let results = ref_client(&python, spec(server.port(), ops)).await;
    let refused = [
        (
            &results[0],
            "Bad parameters for action keep: parameter `v`: integer needs more than 64 bits",
        ),
        (
            &results[1],
            "Bad parameters for action keep: parameter `v.a[1]`: integer needs more than 64 bits",
        ),
        (
            &results[2],
            "Bad parameters for action keep_body: at `a`: integer needs more than 64 bits",
        ),
    ];
    for (result, message) in refused {
        assert_eq!(result["ok"], json!(false), "{result}");
        let got = result["message"].as_str().unwrap_or_default();
        assert!(
            got.starts_with(message),
            "{got:?} should start with {message:?}"
        );
    }
    assert_repr(
        &results[3],
        &format!("'v=None f=Some(1.2676506002282294e30) exact=Some(-{big}) raw=Some(\"[{big}]\")'"),
        "f64, i128 and a raw value hold it",
    );
    assert_repr(
        &results[4],
        "'v=Some(Array [Number(18446744073709551615), Number(-9223372036854775808), Number(1.5e+300)]) f=None exact=None raw=None'",
        "64-bit integers and floats",
    );
    assert_repr(
        &results[5],
        "{'a': 18446744073709551615}",
        "a Value body within 64 bits",
    );
    server.stop().await;
}
