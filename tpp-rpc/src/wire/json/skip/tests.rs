//! The validator against serde_json: it never accepts what serde_json refuses,
//! and accepts every valid document it is given (up to its depth).

use proptest::prelude::*;
use serde_json::value::RawValue;

use super::{skip_string, skip_ws, Step, Walk};

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

/// The string at `b[i]` read a byte at a time, as serde_json reads it: the
/// plain definition the fast scan must agree with.
fn skip_string_bytewise(b: &[u8], i: usize) -> Option<(usize, bool)> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let mut at = i + 1;
    let mut escaped = false;
    loop {
        match *b.get(at)? {
            b'"' => return Some((at + 1, escaped)),
            b'\\' => {
                escaped = true;
                at += match *b.get(at + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => 2,
                    b'u' if b.get(at + 2..at + 6)?.iter().all(u8::is_ascii_hexdigit) => 6,
                    _ => return None,
                };
            }
            0..=0x1f => return None,
            _ => at += 1,
        }
    }
}

/// Bytes a string is made of, the ones that end a plain run often.
fn string_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => b'a'..=b'z',
        1 => any::<u8>(),
        1 => Just(b'"'),
        1 => Just(b'\\'),
        1 => 0u8..0x20,
        1 => prop::sample::select(b"ubfnrt/0123456789abcdefABCDEFgG".to_vec()),
    ]
}

/// A string's bytes: mostly long plain runs, so that whole blocks are crossed.
fn string_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((string_byte(), 0usize..150), 0..12).prop_map(|runs| {
        let mut bytes = vec![b'"'];
        for (byte, plain) in runs {
            bytes.extend((0..plain).map(|i| b'a' + (i % 26) as u8));
            bytes.push(byte);
        }
        bytes
    })
}

#[test]
fn a_long_string_in_pieces_is_read_once_to_its_end() {
    let text = format!("[\"{}\\n{}\",1]", "ab".repeat(40_000), "c".repeat(70_000));
    let b = text.as_bytes();
    let closing_quote = b.len() - 4;
    let mut walk = Walk::at(0);
    for cut in (2..=closing_quote).step_by(4093) {
        assert_eq!(walk.resume(&b[..cut], false), Step::More);
        // Stopped at the string's start, knowing that it is valid up to
        // the cut: the next resume goes on from there.
        assert_eq!(walk.position(), 1);
        assert_eq!(walk.string.map(|(upto, _)| upto), Some(cut));
    }
    assert_eq!(walk.resume(b, true), Step::Ended(b.len()));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn the_fast_string_scan_equals_the_bytewise_one(bytes in string_bytes()) {
        prop_assert_eq!(skip_string(&bytes, 0), skip_string_bytewise(&bytes, 0), "{:?}", bytes);
    }

    #[test]
    fn a_string_in_pieces_ends_as_the_whole(
        bytes in string_bytes(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        // In an array, so that the walk has a value to end after the string.
        let mut b = vec![b'['];
        b.extend(&bytes);
        b.push(b']');
        let whole = Walk::at(0).resume(&b, true);
        let expected = match skip_string_bytewise(&b, 1) {
            Some((end, _)) if b.get(end) == Some(&b']') => Step::Ended(end + 1),
            _ => Step::Invalid,
        };
        prop_assert_eq!(whole, expected);
        let mut walk = Walk::at(0);
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (b.len() + 1)).collect();
        cuts.sort_unstable();
        for cut in cuts {
            if walk.resume(&b[..cut], false) != Step::More {
                break;
            }
        }
        prop_assert_eq!(walk.resume(&b, true), whole);
    }
}
