//! The fast path against the full scan: whenever it answers, it answers the same.

use proptest::prelude::*;

use super::super::envelope::Fields;
use super::EnvelopeScan;

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
        r#"{"token":"t","action":"a","tpp_deadline_ms":250}"#,
        r#"{"tpp_deadline_ms":-5,"tpp_deadline_ms":0}"#,
        r#"{"tpp_deadline_ms":99999999999999999999999}"#,
        r#"{"tpp_deadline_ms":-99999999999999999999999}"#,
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
        r#"{"tpp_deadline_ms":2.5}"#,
        r#"{"tpp_deadline_ms":"100"}"#,
        r#"{"tpp_deadline_ms":null}"#,
        r#"{"tpp_deadline_ms":-}"#,
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

/// An envelope of `entries`, with `space` around its `:` and before it,
/// ended by `close`.
fn envelope(entries: &[(&str, &str)], space: &str, close: &str) -> String {
    let body: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{k}{space}:{space}{v}"))
        .collect();
    format!("{space}{{{}{close}", body.join(","))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn answers_as_the_full_scan(
        entries in prop::collection::vec((key(), value()), 0..6),
        space in prop::sample::select(vec!["", " ", "\n\t"]),
        close in prop::sample::select(vec!["}", "}", "", ",}", "} 1"]),
    ) {
        let text = envelope(&entries, space, close);
        agree(&text);
    }
}

/// The scan of `text` fed in pieces cut at `cuts` (as a frame decoder feeds
/// it while the bytes arrive), then whole.
fn in_pieces(text: &str, cuts: &[usize]) -> Option<Fields> {
    let b = text.as_bytes();
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (b.len() + 1)).collect();
    cuts.sort_unstable();
    let mut scan = EnvelopeScan::new();
    for cut in cuts {
        scan.advance(&b[..cut], false);
    }
    scan.advance(b, true);
    scan.finish()
}

#[test]
fn a_scan_in_pieces_reads_what_a_whole_scan_reads() {
    let body = format!(
        r#"{{"steps":[{}],"pad":"{}"}}"#,
        vec![r#"{"id":12,"ok":true,"t":1.5e3,"s":"a\"b\u00e9","n":null}"#; 20].join(","),
        "x".repeat(300)
    );
    let texts = [
        format!(r#"{{"action":"echo","body":{body},"token":"t","tpp_keep_alive":true}}"#),
        format!(r#" {{ "token" : "t" , "body" : {body} , "user_id" : [1, {{"a": 2}}] }} "#),
        format!(r#"{{"token":"t","body":{body},"action":"a","action":"b"}}"#),
        format!(r#"{{"token":"t","body":[{body},NaN]}}"#),
        format!(r#"{{"token":"t","body":{body}}} x"#),
        format!(r#"{{"token":"t","body":{body},}}"#),
        format!(r#"{{"tok\u0065n":"t","body":{body}}}"#),
    ];
    for text in &texts {
        let whole = Fields::scan_fast(text);
        for cut in 0..=text.len() {
            assert_eq!(in_pieces(text, &[cut]), whole, "{text:?} cut at {cut}");
        }
        let many: Vec<usize> = (0..text.len()).step_by(7).collect();
        assert_eq!(in_pieces(text, &many), whole, "{text:?} cut every 7 bytes");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn scans_in_pieces_read_what_whole_scans_read(
        entries in prop::collection::vec((key(), value()), 0..6),
        space in prop::sample::select(vec!["", " ", "\n\t"]),
        close in prop::sample::select(vec!["}", "}", "", ",}", "} 1", " "]),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
    ) {
        let text = envelope(&entries, space, close);
        prop_assert_eq!(in_pieces(&text, &cuts), Fields::scan_fast(&text), "{:?}", text);
    }
}
