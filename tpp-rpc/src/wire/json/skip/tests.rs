//! The validator against serde_json: it never accepts what serde_json refuses,
//! and accepts every valid document it is given (up to its depth).

use proptest::prelude::*;
use serde_json::value::RawValue;

use super::{skip_ws, Step, Walk};

/// The value at `b[i]`, read at once: where it ends, when it is valid.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match Walk::at(i).resume(b, true) {
        Step::Ended(end) => Some(end),
        Step::More | Step::Invalid => None,
    }
}

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

/// A walk fed `text` in pieces cut at `cuts` ends where a walk over the whole ends.
fn in_pieces(text: &str, cuts: &[usize]) -> (Step, Step) {
    let b = text.as_bytes();
    let whole = Walk::at(0).resume(b, true);
    let mut walk = Walk::at(0);
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (b.len() + 1)).collect();
    cuts.sort_unstable();
    for cut in cuts {
        if let Step::Ended(_) | Step::Invalid = walk.resume(&b[..cut], false) {
            // Ended or refused before the end: what the whole walk says too.
            return (whole, walk.resume(b, true));
        }
    }
    (whole, walk.resume(b, true))
}

#[test]
fn a_walk_in_pieces_ends_as_a_walk_over_the_whole() {
    let texts = [
        r#"{"a":[1,2.5e3,-0,true,false,null,"x\"y\u00e9"],"b":{"c":{}},"d":[]}"#,
        r#"[ 123456 , "long string with spaces" , { "k" : "v" } ]"#,
        r#"{"a":1,}"#,
        r#"[1 2]"#,
        r#"{"a":tru}"#,
        r#"[0123]"#,
    ];
    for text in texts {
        for cut in 0..=text.len() {
            for second in [cut, cut + 1, cut + 7] {
                let (whole, pieces) = in_pieces(text, &[cut, second]);
                assert_eq!(whole, pieces, "{text:?} cut at {cut}, {second}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn walks_in_pieces_end_as_whole_ones(
        value in any_value(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), piece()), 0..3),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let mut text = serde_json::to_string(&value).unwrap();
        for (at, piece) in edits {
            let mut at = at.index(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.insert_str(at, piece);
        }
        let (whole, pieces) = in_pieces(&text, &cuts);
        prop_assert_eq!(whole, pieces, "{:?}", text);
    }
}
