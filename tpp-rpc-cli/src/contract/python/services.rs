//! The exceptions and the client class of one service.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::Value;
use tpp_rpc::describe::{
    ActionDescription, ErrorDescription, Kind, ParamDescription, ServiceDescription,
};

use super::{doc_text, identifier, literal, ErrorClasses, Schemas, Ty};

/// A fresh class name: `name`, else `{prefix}{name}` when another class has it.
fn fresh(taken: &mut BTreeSet<String>, prefix: &str, name: &str) -> String {
    let mut id = identifier(name);
    if taken.contains(&id) {
        id = identifier(&format!("{prefix}{name}"));
    }
    while !taken.insert(id.clone()) {
        id.push('_');
    }
    id
}

pub(super) fn service(
    out: &mut String,
    schemas: &Schemas<'_>,
    service: &ServiceDescription,
    taken: &mut BTreeSet<String>,
) {
    let prefix = if service.name.is_empty() {
        "Service"
    } else {
        service.name.as_str()
    };
    let base = fresh(taken, "", &format!("{prefix}Error"));
    let _ = writeln!(out, "\n\nclass {base}(_ServiceError):");
    let _ = writeln!(
        out,
        "    \"\"\"An error answer from {prefix}: `code` (> 0) and `message`; `body` is the \
         whole answer's body. A subclass per variant carries its fields as attributes.\"\"\""
    );
    let mut classes = ErrorClasses::new();
    for action in &service.actions {
        for error in &action.errors {
            let key = (error.code, error.variant.clone());
            if classes.contains_key(&key) {
                continue;
            }
            let class = fresh(taken, prefix, &error.variant);
            variant_class(out, schemas, &base, &class, error);
            classes.insert(key, class);
        }
    }
    let client = fresh(taken, "", &format!("{prefix}Client"));
    let _ = writeln!(out, "\n\nclass {client}(_Client):");
    let doc = if service.doc.is_empty() {
        format!("A client of {prefix}.")
    } else {
        service.doc.clone()
    };
    let _ = writeln!(
        out,
        "    \"\"\"{}\n\n    `{client}(host, port, token, *, use_ssl=False, validate_cert=True, \
         timeout=30.0)`, usable with or without `async with`. Error answers raise `{base}` \
         (a subclass by code when known); transport failures raise `TransportError`.\n    \"\"\"\n",
        doc_text(&doc)
    );
    let _ = writeln!(out, "    _base_error = {base}");
    for action in &service.actions {
        method(out, schemas, action, &classes);
    }
}

/// Attribute names an exception already has.
const EXCEPTION_NAMES: &[&str] = &[
    "code",
    "message",
    "body",
    "args",
    "with_traceback",
    "add_note",
];

/// One field of an error variant: its attribute, how to read it from the fields, its type.
struct ErrorField {
    attr: String,
    /// The key (a struct variant) or None (a tuple variant's position).
    key: Option<String>,
    ty: Ty,
}

fn error_fields(schemas: &Schemas<'_>, fields: Option<&Value>) -> Vec<ErrorField> {
    let attr = |name: &str| {
        let mut id = identifier(name);
        if EXCEPTION_NAMES.contains(&id.as_str()) || id.starts_with('_') {
            id.push('_');
        }
        id
    };
    let Some(fields) = fields else {
        return Vec::new();
    };
    if let Some(items) = fields.get("prefixItems").and_then(Value::as_array) {
        return items
            .iter()
            .enumerate()
            .map(|(i, schema)| ErrorField {
                attr: format!("field{i}"),
                key: None,
                ty: schemas.ty(schema, 0),
            })
            .collect();
    }
    let Some(props) = fields.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    // In declaration order (`required` keeps it; the properties object is sorted).
    let mut names: Vec<&str> = fields
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    names.retain(|n| props.contains_key(*n));
    for name in props.keys() {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    names
        .into_iter()
        .map(|name| ErrorField {
            attr: attr(name),
            key: Some(name.to_owned()),
            ty: schemas.ty(&props[name], 0),
        })
        .collect()
}

/// How an answer without fields builds the variant, as the Rust client's `from_parts`
/// does: a unit variant, or one whose single field is a string (or is named `message`).
fn from_message(error: &ErrorDescription, fields: &[ErrorField]) -> String {
    match fields {
        [] if error
            .fields
            .as_ref()
            .is_none_or(|f| f.get("prefixItems").is_some() || f.get("properties").is_some()) =>
        {
            "unit".to_owned()
        }
        [one]
            if matches!(one.ty, Ty::Str)
                || (one.key.as_deref() == Some("message") && one.ty == Ty::Any) =>
        {
            match &one.key {
                Some(key) => format!("field:{key}"),
                None => "tuple".to_owned(),
            }
        }
        _ => String::new(),
    }
}

/// The exception class of one error variant, its fields as typed attributes.
fn variant_class(
    out: &mut String,
    schemas: &Schemas<'_>,
    base: &str,
    class: &str,
    error: &ErrorDescription,
) {
    let fields = error_fields(schemas, error.fields.as_ref());
    let _ = writeln!(out, "\n\nclass {class}({base}):");
    let doc = if error.message.is_empty() {
        format!("Code {}.", error.code)
    } else {
        format!("Code {}: {}", error.code, error.message)
    };
    let _ = writeln!(out, "    \"\"\"{}\"\"\"\n", doc_text(&doc));
    let _ = writeln!(out, "    _code = {}", error.code);
    let _ = writeln!(out, "    _variant = {}", literal(&error.variant));
    let how = from_message(error, &fields);
    if !how.is_empty() {
        let _ = writeln!(out, "    _from_message = {}", literal(&how));
    }
    if fields.is_empty() {
        return;
    }
    for field in &fields {
        let _ = writeln!(out, "    {}: {}", field.attr, field.ty.hint());
    }
    let _ = writeln!(out, "\n    def _take(self, fields: Any) -> None:");
    let named = fields.iter().any(|f| f.key.is_some());
    if named {
        let _ = writeln!(out, "        obj = _as_obj(fields)");
    }
    for (i, field) in fields.iter().enumerate() {
        let raw = match &field.key {
            Some(key) if matches!(field.ty, Ty::Optional(_) | Ty::Any) => {
                format!("obj.get({})", literal(key))
            }
            Some(key) => format!("_field(obj, {})", literal(key)),
            None => format!("_item(fields, {i})"),
        };
        let _ = writeln!(
            out,
            "        self.{} = {}",
            field.attr,
            field.ty.decode(&raw, 0)
        );
    }
}

/// A parameter's Python signature part and how it enters the body.
struct Param {
    id: String,
    wire: String,
    ty: Ty,
    /// The Python default, or None when required.
    default: Option<String>,
    /// Left out of the body when None.
    omit_none: bool,
}

fn param(schemas: &Schemas<'_>, p: &ParamDescription) -> Param {
    let ty = schemas.ty(&p.schema, 0);
    let scalar = |v: &Value| match (v, &ty) {
        (Value::Bool(true), Ty::Bool | Ty::Any) => Some("True".to_owned()),
        (Value::Bool(false), Ty::Bool | Ty::Any) => Some("False".to_owned()),
        (Value::Number(n), Ty::Int | Ty::Any) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        (Value::Number(n), Ty::Float | Ty::Any) => {
            let text = n.to_string();
            Some(if text.contains(['.', 'e', 'E']) {
                text
            } else {
                format!("{text}.0")
            })
        }
        (Value::String(s), Ty::Str | Ty::Any) => Some(literal(s)),
        (Value::String(s), Ty::Enum(name)) => Some(format!("{name}({})", literal(s))),
        _ => None,
    };
    let (ty, default, omit_none) = match (p.required, p.default.as_ref().and_then(scalar)) {
        (true, _) => (ty, None, false),
        (false, Some(default)) => (ty, Some(default), false),
        // No default, null, or one Python cannot hold safely (a list, an object): the
        // server applies its own.
        (false, None) => (ty.optional(), Some("None".to_owned()), true),
    };
    Param {
        id: identifier(&p.name),
        wire: p.name.clone(),
        ty,
        default,
        omit_none,
    }
}

fn method(
    out: &mut String,
    schemas: &Schemas<'_>,
    action: &ActionDescription,
    classes: &ErrorClasses,
) {
    let mut params: Vec<Param> = action.params.iter().map(|p| param(schemas, p)).collect();
    params.sort_by_key(|p| p.default.is_some());
    let bare_body = action.body.as_ref().map(|schema| schemas.ty(schema, 0));
    let result = schemas.ty(&action.result, 0);
    let stream = action.kind == Kind::Stream;
    let mut signature = String::from("self");
    if let Some(ty) = &bare_body {
        let _ = write!(signature, ", body: {}", ty.hint());
    } else if !params.is_empty() {
        signature.push_str(", *");
        for p in &params {
            let _ = write!(signature, ", {}: {}", p.id, p.ty.hint());
            if let Some(default) = &p.default {
                let _ = write!(signature, " = {default}");
            }
        }
    }
    let returns = if stream {
        format!("AsyncIterator[{}]", result.hint())
    } else {
        result.hint()
    };
    let name = identifier(&action.method);
    let _ = writeln!(out, "\n    async def {name}({signature}) -> {returns}:");
    let doc = if action.doc.is_empty() {
        format!("The `{}` action.", action.name)
    } else {
        action.doc.clone()
    };
    let doc = doc_text(&doc).replace('\n', "\n        ");
    let _ = writeln!(out, "        \"\"\"{doc}\"\"\"");
    let errors: Vec<&str> = action
        .errors
        .iter()
        .filter_map(|e| {
            classes
                .get(&(e.code, e.variant.clone()))
                .map(String::as_str)
        })
        .collect();
    let _ = writeln!(
        out,
        "        errors: List[Type[_ServiceError]] = [{}]",
        errors.join(", ")
    );
    match &bare_body {
        Some(ty) => {
            let _ = writeln!(out, "        payload: Any = {}", ty.encode("body", 0));
        }
        None => {
            let _ = writeln!(out, "        payload: Dict[str, Any] = {{}}");
            for p in &params {
                let key = literal(&p.wire);
                if p.omit_none {
                    let inner = match &p.ty {
                        Ty::Optional(t) => t.encode(&p.id, 0),
                        other => other.encode(&p.id, 0),
                    };
                    let _ = writeln!(
                        out,
                        "        if {} is not None:\n            payload[{key}] = {inner}",
                        p.id
                    );
                } else {
                    let _ = writeln!(out, "        payload[{key}] = {}", p.ty.encode(&p.id, 0));
                }
            }
        }
    }
    let action_name = literal(&action.name);
    if stream {
        let ack = if action.ack.is_some() {
            "True"
        } else {
            "False"
        };
        let _ = writeln!(
            out,
            "        async for item in self._stream({action_name}, payload, errors, {ack}):\n            \
             yield {}",
            result.decode("item", 0)
        );
        return;
    }
    let _ = writeln!(
        out,
        "        body = await self._call({action_name}, payload, errors)"
    );
    let value = if action.kind == Kind::Unary {
        format!("_field(_as_obj(body), {action_name})")
    } else {
        "body".to_owned()
    };
    if result == Ty::Null {
        let _ = writeln!(out, "        {}", result.decode(&value, 0));
    } else {
        let _ = writeln!(out, "        return {}", result.decode(&value, 0));
    }
}
