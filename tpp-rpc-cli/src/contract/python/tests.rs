use serde_json::{json, Map, Value};

use super::{identifier, Schemas, Ty};

fn hint(schema: Value) -> String {
    let defs: Map<String, Value> = serde_json::from_value(json!({
        "Repo": {"type": "object", "properties": {"name": {"type": "string"}}},
        "State": {"type": "string", "enum": ["idle", "running"]},
        "Id": {"type": "integer", "format": "uint64"},
    }))
    .unwrap();
    Schemas { defs: &defs }.ty(&schema, 0).hint()
}

#[test]
fn schemas_become_python_types() {
    let cases = [
        (json!({"type": "string"}), "str"),
        (json!({"type": "integer", "format": "uint32"}), "int"),
        (json!({"type": "number"}), "float"),
        (json!({"type": "boolean"}), "bool"),
        (json!({"type": "null"}), "None"),
        (json!({"type": ["integer", "null"]}), "Optional[int]"),
        (
            json!({"type": "array", "items": {"type": "string"}}),
            "List[str]",
        ),
        (
            json!({"type": "object", "additionalProperties": {"$ref": "#/$defs/Repo"}}),
            "Dict[str, Repo]",
        ),
        (json!({"type": "object"}), "Dict[str, Any]"),
        (
            json!({"anyOf": [{"$ref": "#/$defs/State"}, {"type": "null"}]}),
            "Optional[State]",
        ),
        (json!({"$ref": "#/$defs/Id"}), "int"),
        (json!({"$ref": "#/$defs/Missing"}), "Any"),
        (json!({"oneOf": [{"const": "a"}, {"const": "b"}]}), "str"),
        (
            json!({"oneOf": [{"type": "string"}, {"type": "integer"}]}),
            "Any",
        ),
        (json!(true), "Any"),
        (json!({}), "Any"),
        (
            json!({"type": ["array", "null"], "items": {"type": ["string", "null"]}}),
            "Optional[List[Optional[str]]]",
        ),
    ];
    for (schema, expected) in cases {
        assert_eq!(hint(schema.clone()), expected, "{schema}");
    }
}

#[test]
fn values_are_decoded_and_encoded_by_type() {
    let repos = Ty::Dict(Box::new(Ty::List(Box::new(Ty::Class("Repo".into())))));
    assert_eq!(
        repos.decode("v", 0),
        "_as_dict(v, lambda x0: _as_list(x0, Repo.from_json))"
    );
    assert_eq!(
        repos.encode("v", 0),
        "{k0: [x1.to_json() for x1 in x0] for k0, x0 in v.items()}"
    );
    let state = Ty::Optional(Box::new(Ty::Enum("State".into())));
    assert_eq!(
        state.decode("v", 0),
        "_opt(v, lambda x0: _as_enum(State, x0))"
    );
    assert_eq!(state.encode("v", 0), "None if v is None else v.value");
    let plain = Ty::List(Box::new(Ty::Optional(Box::new(Ty::Int))));
    assert_eq!(plain.encode("v", 0), "v");
}

#[test]
fn names_become_identifiers() {
    assert_eq!(identifier("repo_add"), "repo_add");
    assert_eq!(identifier("from"), "from_");
    assert_eq!(identifier("self"), "self_");
    assert_eq!(identifier("repo-name"), "repo_name");
    assert_eq!(identifier("2fa"), "_2fa");
    assert_eq!(identifier(""), "_");
}
