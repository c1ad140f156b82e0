//! Requests and responses as Python's `json` writes them: NaN, ±Infinity, big integers.

use super::*;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

const BIG: &str = "-1267650600228229401496703205376"; // -2**100

fn req(s: &str) -> Result<Request, BadData> {
    Request::parse(Bytes::copy_from_slice(s.as_bytes()))
}

#[test]
fn the_envelope_reads_what_json_loads_reads() {
    let text = format!(
        r#"{{"user_id": NaN, "body": {{"x": NaN, "y": [Infinity, -Infinity, {BIG}]}}, "action": "echo", "token": "t"}}"#
    );
    let r = req(&text).unwrap();
    assert_eq!(r.token(), Some("t"));
    assert_eq!(r.action(), Some("echo"));
    let body = format!(r#"{{"x": NaN, "y": [Infinity, -Infinity, {BIG}]}}"#);
    assert_eq!(r.body_json(), body);
    assert_eq!(r.body_raw().unwrap().get(), body);
    // `Value` has no NaN: serde_json's own mapping of a non-finite float.
    assert_eq!(r.extra("user_id"), Some(&Value::Null));
    #[derive(Deserialize)]
    struct Typed {
        x: f64,
        y: Vec<f64>,
    }
    let typed: Typed = r.body().unwrap();
    assert!(typed.x.is_nan());
    assert_eq!(typed.y[..2], [f64::INFINITY, f64::NEG_INFINITY]);
    // Big integers alone never needed the second pass.
    let r = req(&format!(r#"{{"token": "t", "body": {BIG}}}"#)).unwrap();
    assert_eq!(r.body_json(), BIG);
    assert_eq!(r.body::<i128>().unwrap(), -(1 << 100));
}

#[test]
fn literals_in_token_and_action_are_not_strings() {
    let r = req(r#"{"token": NaN, "action": -Infinity, "body": "NaN"}"#).unwrap();
    assert_eq!(r.token_field(), TokenField::NotAString);
    assert_eq!(r.action_field(), ActionField::NotAString);
    assert_eq!(r.body::<String>().unwrap(), "NaN");
    let r = req(r#"{"token": "NaN", "action": "Infinity", "body": NaN}"#).unwrap();
    assert_eq!(r.token(), Some("NaN"));
    assert_eq!(r.action(), Some("Infinity"));
    assert_eq!(r.body_json(), "NaN");
}

#[test]
fn still_refuses_what_python_refuses() {
    for bad in [
        r#"{"token": nan}"#,
        r#"{"token": NaNa}"#,
        r#"{"token": "t", "body": [NaN,]}"#,
        r#"{"token": "t", "body": Infinity} x"#,
        r#"{"token": +Infinity}"#,
        "NaN",
    ] {
        assert!(req(bad).is_err(), "{bad}");
    }
}

#[test]
fn responses_keep_the_literals() {
    let text = format!(r#"{{"code": 0, "body": {{"echo": {{"x": NaN, "n": {BIG}}}}}}}"#);
    let r = Response::parse(Bytes::from(text)).unwrap();
    assert_eq!(r.code(), 0);
    assert_eq!(
        r.body_json(),
        format!(r#"{{"echo": {{"x": NaN, "n": {BIG}}}}}"#)
    );
    #[derive(Deserialize)]
    struct Echo {
        x: f64,
        n: i128,
    }
    let echo: Echo = r.action_result("echo").unwrap().unwrap();
    assert!(echo.x.is_nan());
    assert_eq!(echo.n, -(1 << 100));
    let raw: Box<RawValue> = r.action_result("echo").unwrap().unwrap();
    assert_eq!(raw.get(), format!(r#"{{"x": NaN, "n": {BIG}}}"#));
    let r = Response::parse(Bytes::from_static(br#"{"code": NaN, "body": null}"#));
    assert!(matches!(r, Err(BadResponse::BadCode(code)) if code == "NaN"));
    assert!(Response::parse(Bytes::from_static(br#"{"code": 0, "body": nan}"#)).is_err());
}
