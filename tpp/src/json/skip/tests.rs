//! The validator against serde_json: it never accepts what serde_json refuses,
//! and accepts every valid document it is given (up to its depth).

use proptest::prelude::*;
use serde_json::value::RawValue;

use super::{skip_value, skip_ws};

/// Whether the validator takes `text` as one whole value.
fn ours(text: &str) -> bool {
    let b = text.as_bytes();
    skip_value(b, 0).is_some_and(|end| skip_ws(b, end) == b.len())
}

fn serde_json_takes(text: &str) -> bool {
    serde_json::from_str::<&RawValue>(text).is_ok()
}

#[test]
fn agrees_with_serde_json_on_edge_cases() {
    let valid = [
        "0",
        "-0",
        "1.5e+3",
        "-12.25E-2",
        "1e5",
        "123456789012345678901234567890",
        "true",
        "false",
        "null",
        "\"\"",
        "\"a\\\"b\\\\c\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\"",
        "[]",
        "{}",
        " [ 1 , 2 ] ",
        "{\"a\":{\"b\":[{}]}}",
        "\"é😀\"",
        "\"\\ud800\"",
        "[[[[]]]]",
        "{\"a\" : 1 ,\"b\":\"x\"}",
    ];
    for text in valid {
        assert!(serde_json_takes(text), "{text}");
        assert!(ours(text), "{text}");
    }
    let invalid = [
        "",
        "-",
        "01",
        "1.",
        ".5",
        "+1",
        "1e",
        "1e+",
        "--1",
        "tru",
        "nul",
        "True",
        "NaN",
        "Infinity",
        "-Infinity",
        "\"",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\u12g4\"",
        "\"a\nb\"",
        "\"\u{1}\"",
        "[1,]",
        "[,1]",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{1:2}",
        "[1 2]",
        "{\"a\":1 \"b\":2}",
        "[",
        "]",
        "{",
        "}",
        "[}",
        "{]",
        "1 2",
        "[1]]",
        "\"abc",
        "{'a':1}",
        "[1,2",
        "truex",
        "nullnull",
    ];
    for text in invalid {
        assert!(!serde_json_takes(text), "{text}");
        assert!(!ours(text), "{text}");
    }
}

#[test]
fn leaves_deep_nesting_to_serde_json() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    // The innermost `[]` is empty: 65 levels hold 64 open containers.
    assert!(ours(&deep(65)));
    assert!(!ours(&deep(66)));
    assert!(serde_json_takes(&deep(66)));
}

#[test]
fn crosses_long_strings_at_every_offset() {
    for len in 0..70 {
        let plain = "x".repeat(len);
        assert!(ours(&format!("\"{plain}\"")));
        for at in 0..len {
            for special in ["\\n", "\\\"", "\u{1f}", "\"", "\\q"] {
                let mut text = plain.clone();
                text.replace_range(at..at + 1, special);
                let text = format!("[\"{text}\"]");
                assert_eq!(ours(&text), serde_json_takes(&text), "{text:?}");
            }
        }
    }
}

/// Pieces of JSON, good and bad, to glue into documents.
fn piece() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        " ",
        "\n",
        "\"k\"",
        "\"a\\nb\"",
        "\"\\u00e9\"",
        "\"\\u0\"",
        "\"\\",
        "\"",
        "0",
        "-1",
        "1.5",
        "2e10",
        "01",
        "1.",
        "-",
        "true",
        "false",
        "null",
        "nul",
        "NaN",
        "\"é\"",
        "x",
        "\u{1}",
        "\t",
    ])
}

fn any_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_accepts_what_serde_json_refuses(pieces in prop::collection::vec(piece(), 0..16)) {
        let text: String = pieces.concat();
        if ours(&text) {
            prop_assert!(serde_json_takes(&text), "{:?}", text);
        }
    }

    #[test]
    fn accepts_what_serde_json_writes(value in any_value(), pretty in any::<bool>()) {
        let text = match pretty {
            true => serde_json::to_string_pretty(&value).unwrap(),
            false => serde_json::to_string(&value).unwrap(),
        };
        prop_assert!(ours(&text), "{:?}", text);
    }
}
