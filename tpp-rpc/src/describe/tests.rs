use super::*;
use crate::service::{ActionInfo, ActionKind};

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

#[test]
fn a_plain_action_list_becomes_a_description_without_schemas() {
    const PARAMS: &[crate::ParamInfo] = &[crate::ParamInfo {
        name: "n",
        required: false,
        default: Some("3"),
        ty: "u32",
    }];
    let actions = [ActionInfo {
        name: "count",
        method: "count",
        doc: "Counts.",
        params: PARAMS,
        kind: ActionKind::Stream,
    }];
    let service = crate::service::describe_actions("Counter", &actions);
    let text = serde_json::to_value(&service).unwrap();
    assert_eq!(
        text,
        serde_json::json!({
            "name": "Counter", "doc": "", "unknown_keys": "ignore",
            "actions": [{"name": "count", "method": "count", "doc": "Counts.", "kind": "stream",
                "params": [{"name": "n", "required": false, "default": 3, "schema": {}}],
                "result": {}, "errors": []}]
        })
    );
}
