use serde_json::{json, Map, Value};

use super::{identifier, Schemas, Ty};
use tpp_rpc::Description;

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

/// The module for one action whose errors are `errors` (each `(code, variant, fields)`).
fn module_with_errors(errors: Value) -> String {
    let description: Description = serde_json::from_value(json!({
        "tpp_describe": 1,
        "services": [{"name": "Jobs", "actions": [{"name": "run", "method": "run", "kind": "unary",
            "params": [], "result": {"type": "null"}, "errors": errors}]}]
    }))
    .unwrap();
    super::generate(&description)
}

#[test]
fn error_classes_carry_typed_fields() {
    let record = |props: Value, required: Value| {
        json!({"type": "object", "properties": props, "required": required,
               "additionalProperties": false})
    };
    let tuple = |items: Value| json!({"type": "array", "prefixItems": items});
    let module = module_with_errors(json!([
        {"code": 4, "variant": "Bad", "fields": record(
            json!({"code": {"type": "integer"}, "message": {"type": "string"},
                   "since": {"type": ["integer", "null"]}}),
            json!(["message", "code", "since"]))},
        {"code": 5, "variant": "Refused", "fields": record(
            json!({"message": {"type": "string"}}), json!(["message"]))},
        {"code": 6, "variant": "Moved", "fields": tuple(json!([{"type": "string"}, {"type": "integer"}]))},
        {"code": 7, "variant": "Gone"},
        {"code": 8, "variant": "Empty", "fields": record(json!({}), json!([]))},
    ]));
    // Names an exception already has get a `_`; declaration order; Optional read leniently.
    assert!(module.contains(
        "    message_: str\n    code_: int\n    since: Optional[int]\n\n    def _take(self, fields: Any) -> None:\n        obj = _as_obj(fields)\n        self.message_ = _as_str(_field(obj, \"message\"))\n        self.code_ = _as_int(_field(obj, \"code\"))\n        self.since = _opt(obj.get(\"since\"), _as_int)\n"
    ), "{module}");
    // Built from a message alone as the Rust client's from_parts does: a unit, or one string.
    let from_message = |class: &str| {
        let start = module.find(&format!("class {class}(JobsError)")).unwrap();
        let rest = &module[start..];
        let end = rest[1..].find("\nclass ").map_or(rest.len(), |e| e + 1);
        rest[..end]
            .lines()
            .find_map(|l| l.trim().strip_prefix("_from_message = "))
            .map(str::to_owned)
    };
    assert_eq!(from_message("Bad"), None);
    assert_eq!(
        from_message("Refused").as_deref(),
        Some("\"field:message\"")
    );
    assert_eq!(from_message("Moved"), None);
    assert_eq!(from_message("Gone").as_deref(), Some("\"unit\""));
    assert_eq!(from_message("Empty").as_deref(), Some("\"unit\""));
    assert!(
        module.contains("    field0: str\n    field1: int\n"),
        "{module}"
    );
    assert!(module.contains("        self.field1 = _as_int(_item(fields, 1))\n"));
    assert!(
        module.contains("errors: List[Type[_ServiceError]] = [Bad, Refused, Moved, Gone, Empty]")
    );
}
