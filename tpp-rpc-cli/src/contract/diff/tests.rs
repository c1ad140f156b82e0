use serde_json::json;

use super::*;

/// One edit of a description, and what the diff must say about it.
type Edit = Box<dyn FnOnce(&mut Value)>;

fn base() -> Value {
    json!({"tpp_describe": 1, "services": [{"name": "Repos", "actions": [
        {"name": "repo-add", "method": "repo_add", "kind": "unary",
         "params": [
            {"name": "name", "required": true, "schema": {"type": "string"}},
            {"name": "parallel", "required": false, "default": 1,
             "schema": {"type": "integer", "format": "uint16", "minimum": 0}},
            {"name": "tags", "required": false, "default": null,
             "schema": {"type": ["array", "null"], "items": {"type": "string"}}}],
         "result": {"$ref": "#/$defs/Repo"},
         "errors": [{"code": 4, "variant": "NotFound"}, {"code": 7, "variant": "Locked"}]},
        {"name": "watch", "method": "watch", "kind": "stream",
         "params": [], "result": {"type": "integer"}}],
      "$defs": {"Repo": {"type": "object", "properties": {"name": {"type": "string"}},
                          "required": ["name"]}}}]})
}

/// The changes between `base()` and `base()` edited by `edit`.
fn changes(edit: impl FnOnce(&mut Value)) -> Vec<Change> {
    let old: Description = serde_json::from_value(base()).unwrap();
    let mut new = base();
    edit(&mut new);
    let new: Description = serde_json::from_value(new).unwrap();
    diff(&old, &new)
}

fn one(edit: impl FnOnce(&mut Value)) -> (bool, String) {
    let found = changes(edit);
    assert_eq!(found.len(), 1, "{found:?}");
    (found[0].breaking, found[0].what.clone())
}

fn actions(d: &mut Value) -> &mut Vec<Value> {
    d["services"][0]["actions"].as_array_mut().unwrap()
}

fn params(d: &mut Value) -> &mut Vec<Value> {
    d["services"][0]["actions"][0]["params"]
        .as_array_mut()
        .unwrap()
}

#[test]
fn no_change() {
    assert!(changes(|_| {}).is_empty());
    // Docs and descriptions are not the contract.
    assert!(changes(|d| {
        d["services"][0]["actions"][0]["doc"] = json!("new words");
        d["services"][0]["$defs"]["Repo"]["description"] = json!("A repository.");
    })
    .is_empty());
}

#[test]
fn breaking_changes() {
    let cases: Vec<(&str, Edit)> = vec![
        (
            "action removed",
            Box::new(|d| {
                actions(d).remove(1);
            }),
        ),
        (
            "renamed to repo-create",
            Box::new(|d| {
                d["services"][0]["actions"][0]["name"] = json!("repo-create");
            }),
        ),
        (
            "parameter \"owner\" added as required",
            Box::new(|d| {
                params(d)
                    .push(json!({"name": "owner", "required": true, "schema": {"type": "string"}}));
            }),
        ),
        (
            "parameter \"tags\" removed",
            Box::new(|d| {
                params(d).remove(2);
            }),
        ),
        (
            "parameter \"parallel\" is now required",
            Box::new(|d| {
                params(d)[1] = json!({"name": "parallel", "required": true,
                                 "schema": {"type": "integer", "format": "uint16", "minimum": 0}});
            }),
        ),
        (
            "parameter \"parallel\"'s type narrowed",
            Box::new(|d| {
                params(d)[1]["schema"]["format"] = json!("uint8");
                params(d)[1]["schema"]["maximum"] = json!(255);
            }),
        ),
        (
            "parameter \"name\"'s type changed",
            Box::new(|d| {
                params(d)[0]["schema"] = json!({"type": "integer"});
            }),
        ),
        (
            "result's type changed",
            Box::new(|d| {
                d["services"][0]["$defs"]["Repo"]["properties"]["name"] =
                    json!({"type": "integer"});
            }),
        ),
        (
            "result's type widened",
            Box::new(|d| {
                d["services"][0]["actions"][1]["result"] = json!({"type": ["integer", "null"]});
            }),
        ),
        (
            "error NotFound (code 4) removed",
            Box::new(|d| {
                d["services"][0]["actions"][0]["errors"]
                    .as_array_mut()
                    .unwrap()
                    .remove(0);
            }),
        ),
        (
            "error Locked's type changed",
            Box::new(|d| {
                d["services"][0]["actions"][0]["errors"][1]["fields"] =
                    json!({"type": "object", "properties": {"id": {"type": "string"}}});
            }),
        ),
        (
            "error Locked renumbered from code 7 to 9",
            Box::new(|d| {
                d["services"][0]["actions"][0]["errors"][1]["code"] = json!(9);
            }),
        ),
        (
            "answers as unary instead of stream",
            Box::new(|d| {
                d["services"][0]["actions"][1]["kind"] = json!("unary");
            }),
        ),
        (
            "answers as stream instead of unary",
            Box::new(|d| {
                d["services"][0]["actions"][0]["kind"] = json!("stream");
            }),
        ),
        (
            "unknown body keys now Refuse",
            Box::new(|d| {
                d["services"][0]["unknown_keys"] = json!("refuse");
            }),
        ),
    ];
    for (expected, edit) in cases {
        let (breaks, what) = one(edit);
        assert!(breaks, "{what}");
        assert!(what.contains(expected), "{what:?} should say {expected:?}");
    }
}

#[test]
fn compatible_changes() {
    let cases: Vec<(&str, Edit)> = vec![
        (
            "action added",
            Box::new(|d| {
                actions(d).push(json!({"name": "ping", "method": "ping", "kind": "unary",
                                   "result": {"type": "string"}}));
            }),
        ),
        (
            "optional parameter \"branch\" added",
            Box::new(|d| {
                params(d).push(json!({"name": "branch", "required": false, "default": null,
                                  "schema": {"type": ["string", "null"]}}));
            }),
        ),
        (
            "parameter \"name\" is now optional",
            Box::new(|d| {
                params(d)[0]["required"] = json!(false);
            }),
        ),
        (
            "parameter \"parallel\"'s type widened",
            Box::new(|d| {
                params(d)[1]["schema"]["format"] = json!("uint32");
            }),
        ),
        (
            "parameter \"name\"'s type widened",
            Box::new(|d| {
                params(d)[0]["schema"] = json!({"anyOf": [{"type": "string"}, {"type": "null"}]});
            }),
        ),
        (
            "default changed from 1 to 2",
            Box::new(|d| {
                params(d)[1]["default"] = json!(2);
            }),
        ),
        (
            "result's type narrowed",
            Box::new(|d| {
                let repo = &mut d["services"][0]["$defs"]["Repo"];
                repo["properties"]["url"] = json!({"type": "string"});
                repo["required"] = json!(["name", "url"]);
            }),
        ),
        (
            "error Gone (code 9) added",
            Box::new(|d| {
                d["services"][0]["actions"][0]["errors"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"code": 9, "variant": "Gone"}));
            }),
        ),
    ];
    for (expected, edit) in cases {
        let (breaks, what) = one(edit);
        assert!(!breaks, "{what}");
        assert!(what.contains(expected), "{what:?} should say {expected:?}");
    }
}
