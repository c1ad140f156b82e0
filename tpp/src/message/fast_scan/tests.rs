//! The fast path against the full scan: whenever it answers, it answers the same.

use proptest::prelude::*;

use super::super::envelope::Fields;

/// Both scans of `text`; panics when the fast one answers differently.
fn agree(text: &str) -> bool {
    let full = Fields::scan(text, None);
    match Fields::scan_fast(text) {
        Some(fast) => {
            let full = full.unwrap_or_else(|e| panic!("fast took {text:?}, full refused: {e}"));
            assert_eq!(fast, full, "{text:?}");
            true
        }
        None => false,
    }
}

#[test]
fn reads_the_common_envelopes_itself() {
    for text in [
        r#"{"token":"t","action":"a","body":{"x": 1.0, "y": [1, 2]},"user_id":"u1"}"#,
        r#"{"action":"echo","body":{"text":"abc"},"token":"benchT0ken","tpp_keep_alive":true}"#,
        r#" { "token" : "t" , "body" : null } "#,
        r#"{"token":"","action":null}"#,
        r#"{"token":"a","token":"b","body":1,"body":[2]}"#,
        r#"{"x":{"deep":[[[{"a":"\n\u00e9"}]]]},"tpp_request_id":"r1","tpp_keep_alive":false}"#,
        r#"{"tpp_keep_alive":false,"body":"NaN"}"#,
        r#"{"body":"é😀 \"quoted\" \\ / \u0001"}"#,
    ] {
        assert!(agree(text), "not taken: {text}");
    }
}

#[test]
fn leaves_the_rest_to_the_full_scan() {
    for text in [
        "",
        "{}",
        "[]",
        "\"\"",
        "0",
        "null",
        "{",
        "{} x",
        "nope",
        r#"{"token":5}"#,
        r#"{"token":"a\"b"}"#,
        r#"{"tok\u0065n":"t"}"#,
        r#"{"body":NaN}"#,
        r#"{"body":[1,]}"#,
        r#"{"token":"t",}"#,
        r#"{"token":"t" "action":"a"}"#,
        r#"{"action":[1]}"#,
        r#"{"token":false}"#,
        "{\"body\":\"a\u{1}b\"}",
    ] {
        assert!(!agree(text), "taken: {text}");
    }
    let nested = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert!(!agree(&format!("{{\"token\":\"t\",\"body\":{nested}}}")));
}

fn key() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "\"token\"",
        "\"action\"",
        "\"body\"",
        "\"tpp_keep_alive\"",
        "\"tpp_request_id\"",
        "\"user_id\"",
        "\"tok\\u0065n\"",
        "\"\"",
    ])
}

fn value() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "\"t\"",
        "\"\"",
        "null",
        "true",
        "false",
        "0",
        "1.5",
        "[]",
        "{}",
        "[1,{\"a\":[null]}]",
        "\"a\\nb\"",
        "NaN",
        "\"é\"",
        "{\"x\":",
        "1e999",
        "-0",
        "[1,]",
        "01",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn answers_as_the_full_scan(
        entries in prop::collection::vec((key(), value()), 0..6),
        space in prop::sample::select(vec!["", " ", "\n\t"]),
        close in prop::sample::select(vec!["}", "}", "", ",}", "} 1"]),
    ) {
        let body: Vec<String> = entries
            .iter()
            .map(|(k, v)| format!("{k}{space}:{space}{v}"))
            .collect();
        let text = format!("{space}{{{}{close}", body.join(","));
        agree(&text);
    }
}
