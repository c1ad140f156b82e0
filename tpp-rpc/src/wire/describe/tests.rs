use super::*;

#[test]
fn only_a_true_tpp_describe_asks_for_the_description() {
    for yes in [
        r#"{"tpp_describe": true}"#,
        r#" {"a": 1, "tpp_describe": true}"#,
    ] {
        assert!(asks_description(yes), "{yes}");
    }
    for no in [
        "null",
        "{}",
        "[]",
        r#"{"tpp_describe": false}"#,
        r#"{"tpp_describe": 1}"#,
        r#""tpp_describe""#,
        "{",
    ] {
        assert!(!asks_description(no), "{no}");
    }
}
