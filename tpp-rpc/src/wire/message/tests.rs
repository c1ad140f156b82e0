//! Requests and responses, parsed and written.

use super::*;
use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

fn req(s: &str) -> Result<Request, BadData> {
    Request::parse(Bytes::copy_from_slice(s.as_bytes()))
}

#[test]
fn parses_the_envelope_and_keeps_the_body_raw() {
    let r =
        req(r#"{"token":"t","action":"a","body":{"x": 1.0, "y": [1, 2]},"user_id":"u1"}"#).unwrap();
    assert_eq!(r.token(), Some("t"));
    assert_eq!(r.action(), Some("a"));
    assert_eq!(r.body_json(), r#"{"x": 1.0, "y": [1, 2]}"#);
    assert_eq!(r.extra("user_id"), Some(&Value::from("u1")));
}

#[test]
fn classifies_missing_and_odd_fields() {
    let r = req(r#"{"token":"","action":null}"#).unwrap();
    assert_eq!(r.token_field(), TokenField::Missing);
    assert_eq!(r.action_field(), ActionField::Missing);
    assert_eq!(r.body_json(), "null");
    let r = req(r#"{"token":false,"action":0}"#).unwrap();
    assert_eq!(r.token_field(), TokenField::Missing);
    assert_eq!(r.action_field(), ActionField::Missing);
    let r = req(r#"{"token":5,"action":[1]}"#).unwrap();
    assert_eq!(r.token_field(), TokenField::NotAString);
    assert_eq!(r.action_field(), ActionField::NotAString);
    let r = req(r#"{"token":"a\"b"}"#).unwrap();
    assert_eq!(r.token(), Some("a\"b"));
}

#[test]
fn reads_the_callers_budget() {
    let budget = |s: &str| req(s).unwrap().deadline_field();
    assert_eq!(budget(r#"{"token":"t"}"#), DeadlineField::Absent);
    assert_eq!(budget(r#"{"tpp_deadline_ms":null}"#), DeadlineField::Absent);
    assert_eq!(
        budget(r#"{"tpp_deadline_ms":250}"#),
        DeadlineField::Millis(250)
    );
    assert_eq!(
        budget(r#"{"tpp_deadline_ms": 2.9 }"#),
        DeadlineField::Millis(2)
    );
    assert_eq!(
        budget(r#"{"tpp_deadline_ms":-0.5}"#),
        DeadlineField::Millis(-1)
    );
    assert_eq!(budget(r#"{"tpp_deadline_ms":0}"#), DeadlineField::Millis(0));
    assert_eq!(
        budget(r#"{"tpp_deadline_ms":1e30}"#),
        DeadlineField::Millis(i64::MAX)
    );
    let huge = r#"{"tpp_deadline_ms":123456789012345678901234567890}"#;
    assert_eq!(budget(huge), DeadlineField::Millis(i64::MAX));
    assert_eq!(
        budget(r#"{"tpp_deadline_ms":"100"}"#),
        DeadlineField::Invalid
    );
    assert_eq!(budget(r#"{"tpp_deadline_ms":[1]}"#), DeadlineField::Invalid);
    assert_eq!(budget(r#"{"tpp_deadline_ms":NaN}"#), DeadlineField::Invalid);
    // The framework's own field: not an extra, not among the other reserved ones.
    let r = req(r#"{"tpp_deadline_ms":5,"tpp_request_id":"r"}"#).unwrap();
    assert!(r.extras().is_empty());
    assert_eq!(r.reserved("tpp_deadline_ms"), None);
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
    // An extra field is only located, but one too deep to build is refused.
    let deep = format!("{{\"x\":{nested},\"y\":[1]}}");
    assert!(req(&deep).is_err());
}

#[test]
fn extras_are_built_on_first_read_with_the_last_repeated_key_winning() {
    for text in [
        // The fast scan's way, then the full scan's (an escaped key), then
        // more members than are noted by position, then Python's literals.
        r#"{"token":"t","a":1,"tpp_request_id":"r","a":{"b":[2]},"body":null}"#,
        r#"{"token":"t","a":1,"tpp_request_id":"r","a":{"b":[2]},"c":3}"#,
        r#"{"token":"t","a":1,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"a":{"b":[2]},"tpp_request_id":"r"}"#,
        r#"{"token":"t","a":1,"n":NaN,"tpp_request_id":"r","a":{"b":[2]}}"#,
    ] {
        let r = req(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(r.extra("a"), Some(&serde_json::json!({"b": [2]})), "{text}");
        assert_eq!(
            r.reserved("tpp_request_id"),
            Some(&Value::from("r")),
            "{text}"
        );
        assert!(r.extra("tpp_request_id").is_none() && r.extra("token").is_none());
        assert!(r.reserved("a").is_none(), "{text}");
    }
    let r = req(r#"{"token":"t","c":3,"n":NaN}"#).unwrap();
    assert_eq!(r.extra("c"), Some(&Value::from(3)));
    assert_eq!(r.extra("n"), Some(&Value::Null));
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
    // The hand-written prefixes give the bytes serde_json gives.
    for action in ["echo", "a\"b\\c\n", "é\u{1}"] {
        let value = serde_json::json!({"x": [1, 2.5, "é"]});
        let mut fast = b"xx".to_vec();
        append_result(&mut fast, action, &value).unwrap();
        #[derive(Serialize)]
        struct Whole<'a> {
            code: i64,
            body: ActionResult<'a, Value>,
        }
        let whole = Whole {
            code: 0,
            body: ActionResult {
                action,
                value: &value,
            },
        };
        let slow = serde_json::to_vec(&whole).unwrap();
        assert_eq!(fast[2..], slow[..]);
        write_response(
            &mut fast,
            0,
            &ActionResult {
                action,
                value: &value,
            },
        )
        .unwrap();
        assert_eq!(fast, slow);
    }
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

#[test]
fn an_error_answer_gives_its_message_and_its_variant() {
    let parts = |payload: &'static [u8]| {
        Response::parse(Bytes::from_static(payload))
            .unwrap()
            .error_parts()
    };
    let (message, data) = parts(
        br#"{"code": 7, "body": {"error": "locked", "tpp_error": {"variant": "Locked", "fields": {"id": 1}}}}"#,
    );
    assert_eq!(message, "locked");
    let data = data.unwrap();
    assert_eq!(data.variant, "Locked");
    assert_eq!(data.named("id"), Some(&serde_json::json!(1)));
    assert_eq!(data.named("by"), Some(&Value::Null));
    assert_eq!(data.positional(0), None);
    let (_, unit) =
        parts(br#"{"code": 8, "body": {"error": "full", "tpp_error": {"variant": "Full"}}}"#);
    assert_eq!(unit.unwrap().fields, None);
    // Without it, or with one of another shape: the message alone.
    for payload in [
        &br#"{"code": 8, "body": {"error": "full"}}"#[..],
        br#"{"code": 8, "body": {"error": "full", "tpp_error": 5}}"#,
        br#"{"code": 8, "body": {"error": "full", "tpp_error": {"fields": []}}}"#,
        br#"{"code": 8, "body": "full"}"#,
    ] {
        assert_eq!(parts(payload), ("full".to_owned(), None));
    }
    let written = {
        let data = crate::wire::ErrorData::new("NotFound", Some(serde_json::json!(["x"])));
        let mut out = Vec::new();
        let body = ServiceErrorBody {
            error: "not found",
            tpp_error: Some(&data),
        };
        write_response(&mut out, 4, &body).unwrap();
        String::from_utf8(out).unwrap()
    };
    assert_eq!(
        written,
        r#"{"code":4,"body":{"error":"not found","tpp_error":{"variant":"NotFound","fields":["x"]}}}"#
    );
}

#[test]
fn a_body_integer_beyond_64_bits_is_refused_by_value_and_kept_by_exact_types() {
    let big = "1267650600228229401496703205376";
    let long_string = "y".repeat(100_000);
    for text in [
        // The fast scan, the full scan (an escaped key), a large body.
        format!(r#"{{"token":"t","body":{{"a":[{big}]}}}}"#),
        format!(r#"{{"token":"t","\u0062ody":{{"a":[{big}]}}}}"#),
        format!(r#"{{"token":"t","body":{{"s":"{long_string}","a":[{big}]}}}}"#),
    ] {
        let r = req(&text).unwrap();
        let error = r.body::<Value>().unwrap_err().to_string();
        assert!(error.contains("more than 64 bits"), "{error}");
        #[derive(serde::Deserialize)]
        struct Exact {
            a: Vec<i128>,
        }
        assert_eq!(r.body::<Exact>().unwrap().a, [1i128 << 100]);
        #[derive(serde::Deserialize)]
        struct Float {
            a: Vec<f64>,
        }
        assert_eq!(r.body::<Float>().unwrap().a, [2f64.powi(100)]);
    }
    // Long numbers that fit, and floats, stay on the fast path's results.
    let r = req(r#"{"token":"t","body":[18446744073709551615,-9223372036854775808,0.5]}"#).unwrap();
    assert_eq!(
        r.body::<Value>().unwrap(),
        serde_json::json!([18446744073709551615u64, -9223372036854775808i64, 0.5])
    );
}
