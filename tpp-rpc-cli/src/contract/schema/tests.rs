use serde_json::json;

use super::*;

fn defs() -> Map<String, Value> {
    json!({
        "Repo": {"type": "object", "properties": {
            "name": {"type": "string"},
            "parallel": {"type": "integer", "format": "uint32", "minimum": 0},
            "state": {"$ref": "#/$defs/State"}},
          "required": ["name", "parallel"]},
        "State": {"oneOf": [{"type": "string", "const": "idle"},
                            {"type": "string", "const": "running"}]}
    })
    .as_object()
    .unwrap()
    .clone()
}

fn run(schema: Value, value: Value) -> Result<(), String> {
    let defs = defs();
    check(&schema, &value, &Defs(&defs), "p")
}

#[test]
fn names_the_parameter_and_what_was_expected() {
    assert_eq!(
        run(json!({"type": "string"}), json!(3)),
        Err("p: expected a string, got 3".into())
    );
    assert_eq!(
        run(json!({"type": ["string", "null"]}), json!(true)),
        Err("p: expected a string or null, got true".into())
    );
    assert!(run(json!({"type": ["string", "null"]}), json!(null)).is_ok());
    assert_eq!(
        run(
            json!({"type": "integer", "format": "uint32", "minimum": 0}),
            json!(-1)
        ),
        Err("p: expected a non-negative integer from 0 to 4294967295, got -1".into())
    );
    assert_eq!(
        run(
            json!({"type": "integer", "format": "uint8", "minimum": 0}),
            json!(300)
        ),
        Err("p: expected a non-negative integer from 0 to 255, got 300".into())
    );
    assert_eq!(
        run(json!({"type": "integer"}), json!(1.5)),
        Err("p: expected an integer, got 1.5".into())
    );
}

#[test]
fn follows_refs_arrays_maps_and_options() {
    let repo = json!({"$ref": "#/$defs/Repo"});
    assert!(run(
        repo.clone(),
        json!({"name": "a", "parallel": 2, "state": "idle"})
    )
    .is_ok());
    assert_eq!(
        run(repo.clone(), json!({"name": "a"})),
        Err("p: missing key \"parallel\"".into())
    );
    assert_eq!(
        run(
            repo.clone(),
            json!({"name": "a", "parallel": 1, "state": "gone"})
        ),
        Err("p.state: expected one of \"idle\", \"running\", got \"gone\"".into())
    );
    let list = json!({"type": "array", "items": {"type": "string"}});
    assert_eq!(
        run(list, json!(["a", 2])),
        Err("p[1]: expected a string, got 2".into())
    );
    let map = json!({"type": "object", "additionalProperties": {"type": "integer"}});
    assert_eq!(
        run(map, json!({"a": 1, "b": "x"})),
        Err("p.b: expected an integer, got \"x\"".into())
    );
    let option = json!({"anyOf": [{"$ref": "#/$defs/Repo"}, {"type": "null"}]});
    assert!(run(option.clone(), json!(null)).is_ok());
    assert_eq!(
        run(option, json!({"name": 5, "parallel": 1})),
        Err("p.name: expected a string, got 5".into())
    );
    let strict = json!({"type": "object", "properties": {}, "additionalProperties": false});
    assert_eq!(
        run(strict, json!({"x": 1})),
        Err("p: unexpected key \"x\"".into())
    );
    let tuple = json!({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}],
                       "minItems": 2, "maxItems": 2});
    assert!(run(tuple.clone(), json!(["a", 1])).is_ok());
    assert_eq!(
        run(tuple, json!(["a"])),
        Err("p: expected an array of exactly 2 items, got 1".into())
    );
}

#[test]
fn any_json_accepts_everything() {
    for value in [
        json!(null),
        json!(1),
        json!("x"),
        json!([1]),
        json!({"a": 1}),
    ] {
        assert!(run(json!({}), value.clone()).is_ok());
        assert!(run(json!(true), value.clone()).is_ok());
        assert!(run(json!({"$comment": "any JSON"}), value).is_ok());
    }
    assert!(run(json!(false), json!(1)).is_err());
}

#[test]
fn a_recursive_schema_ends() {
    let mut defs = Map::new();
    defs.insert(
        "Node".into(),
        json!({"type": "object", "properties": {"next": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]}}}),
    );
    let mut value = json!(null);
    for _ in 0..200 {
        value = json!({ "next": value });
    }
    assert!(check(&json!({"$ref": "#/$defs/Node"}), &value, &Defs(&defs), "p").is_ok());
    assert!(!expected(&json!({"$ref": "#/$defs/Node"}), &Defs(&defs)).is_empty());
}
