//! `tpp gen python`: a typed asyncio client module, standard library only, from a
//! description. Types come from the JSON Schemas: `$defs` objects become dataclasses,
//! string-only `$defs` enums `str` enums, the rest maps onto `str`/`int`/`float`/`bool`,
//! `List`, `Dict[str, …]`, `Optional` and `Any`. The transport (framing, keep-alive,
//! reconnection, streams) is `python/runtime.py`, copied into every module.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::{Map, Value};
use tpp_rpc::Description;

/// The transport every generated module carries.
const RUNTIME: &str = include_str!("python/runtime.py");

/// A Python type, with how to decode it from JSON and encode it back.
#[derive(Debug, Clone, PartialEq)]
enum Ty {
    Any,
    Str,
    Int,
    Float,
    Bool,
    Null,
    List(Box<Ty>),
    Dict(Box<Ty>),
    Optional(Box<Ty>),
    /// A dataclass made from a `$defs` object.
    Class(String),
    /// A `str` enum made from a `$defs` enum of strings.
    Enum(String),
}

impl Ty {
    fn hint(&self) -> String {
        match self {
            Ty::Any => "Any".into(),
            Ty::Str => "str".into(),
            Ty::Int => "int".into(),
            Ty::Float => "float".into(),
            Ty::Bool => "bool".into(),
            Ty::Null => "None".into(),
            Ty::List(t) => format!("List[{}]", t.hint()),
            Ty::Dict(t) => format!("Dict[str, {}]", t.hint()),
            Ty::Optional(t) => format!("Optional[{}]", t.hint()),
            Ty::Class(n) | Ty::Enum(n) => n.clone(),
        }
    }

    /// A function of one argument that decodes this type (a name or a lambda).
    fn decoder(&self, depth: usize) -> String {
        let x = format!("x{depth}");
        match self {
            Ty::Any => "_as_any".into(),
            Ty::Str => "_as_str".into(),
            Ty::Int => "_as_int".into(),
            Ty::Float => "_as_float".into(),
            Ty::Bool => "_as_bool".into(),
            Ty::Null => "_as_none".into(),
            Ty::Class(n) => format!("{n}.from_json"),
            _ => format!("lambda {x}: {}", self.decode(&x, depth + 1)),
        }
    }

    /// An expression decoding the JSON value `expr`.
    fn decode(&self, expr: &str, depth: usize) -> String {
        match self {
            Ty::List(t) => format!("_as_list({expr}, {})", t.decoder(depth)),
            Ty::Dict(t) => format!("_as_dict({expr}, {})", t.decoder(depth)),
            Ty::Optional(t) => format!("_opt({expr}, {})", t.decoder(depth)),
            Ty::Enum(n) => format!("_as_enum({n}, {expr})"),
            other => format!("{}({expr})", other.decoder(depth)),
        }
    }

    /// Whether values of this type are already JSON as Python holds them.
    fn plain(&self) -> bool {
        match self {
            Ty::Class(_) | Ty::Enum(_) => false,
            Ty::List(t) | Ty::Dict(t) | Ty::Optional(t) => t.plain(),
            _ => true,
        }
    }

    /// An expression encoding the Python value `expr` (a name or attribute) as JSON.
    fn encode(&self, expr: &str, depth: usize) -> String {
        if self.plain() {
            return expr.to_owned();
        }
        let x = format!("x{depth}");
        match self {
            Ty::List(t) => format!("[{} for {x} in {expr}]", t.encode(&x, depth + 1)),
            Ty::Dict(t) => format!(
                "{{k{depth}: {} for k{depth}, {x} in {expr}.items()}}",
                t.encode(&x, depth + 1)
            ),
            Ty::Optional(t) => format!("None if {expr} is None else {}", t.encode(expr, depth)),
            Ty::Class(_) => format!("{expr}.to_json()"),
            Ty::Enum(_) => format!("{expr}.value"),
            _ => expr.to_owned(),
        }
    }

    fn optional(self) -> Ty {
        match self {
            Ty::Optional(_) | Ty::Any | Ty::Null => self,
            other => Ty::Optional(Box::new(other)),
        }
    }
}

/// What each `$defs` entry becomes.
enum Def {
    Class,
    Enum(Vec<(String, String)>),
    Inline,
}

fn classify(schema: &Value) -> Def {
    if schema.get("properties").is_some_and(Value::is_object) {
        return Def::Class;
    }
    let branch = |b: &Value| b.get("const").and_then(Value::as_str).map(str::to_owned);
    let values: Option<Vec<String>> = match (schema.get("oneOf"), schema.get("enum")) {
        (Some(Value::Array(bs)), _) => bs.iter().map(branch).collect(),
        (_, Some(Value::Array(vs))) => vs.iter().map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => None,
    };
    match values {
        Some(values) if !values.is_empty() => Def::Enum(member_names(values)),
        _ => Def::Inline,
    }
}

/// `(member name, wire value)` for each value: upper-case identifiers, unique.
fn member_names(values: Vec<String>) -> Vec<(String, String)> {
    let mut seen = BTreeSet::new();
    values
        .into_iter()
        .map(|value| {
            let mut name = identifier(&value.to_uppercase());
            while !seen.insert(name.clone()) {
                name.push('_');
            }
            (name, value)
        })
        .collect()
}

const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield", "self", "body",
];

/// A Python identifier for `name`: other characters become `_`, keywords get a `_` after.
fn identifier(name: &str) -> String {
    let mut id: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if id.is_empty() || id.starts_with(|c: char| c.is_ascii_digit()) {
        id.insert(0, '_');
    }
    if KEYWORDS.contains(&id.as_str()) {
        id.push('_');
    }
    id
}

/// A Python string literal (JSON's escapes are Python's).
fn literal(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

/// A docstring body: no closing quotes or stray backslashes inside.
fn doc_text(doc: &str) -> String {
    doc.trim()
        .replace('\\', "\\\\")
        .replace("\"\"\"", "\\\"\\\"\\\"")
}

struct Schemas<'a> {
    defs: &'a Map<String, Value>,
}

impl Schemas<'_> {
    fn ty(&self, schema: &Value, depth: usize) -> Ty {
        let Some(map) = schema.as_object() else {
            return Ty::Any;
        };
        if depth > 16 {
            return Ty::Any;
        }
        if let Some(name) = map
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
        {
            return match self.defs.get(name) {
                Some(def) => match classify(def) {
                    Def::Class => Ty::Class(identifier(name)),
                    Def::Enum(_) => Ty::Enum(identifier(name)),
                    Def::Inline => self.ty(def, depth + 1),
                },
                None => Ty::Any,
            };
        }
        if let Some(Value::Array(branches)) = map.get("anyOf").or_else(|| map.get("oneOf")) {
            if branches
                .iter()
                .all(|b| b.get("const").is_some_and(Value::is_string))
            {
                return Ty::Str;
            }
            let null = |b: &&Value| b.get("type").and_then(Value::as_str) == Some("null");
            let others: Vec<&Value> = branches.iter().filter(|b| !null(b)).collect();
            let nullable = others.len() < branches.len();
            return match others.as_slice() {
                [one] if nullable => self.ty(one, depth + 1).optional(),
                [one] => self.ty(one, depth + 1),
                _ => Ty::Any,
            };
        }
        if let Some(Value::Array(all)) = map.get("allOf") {
            if let [one] = all.as_slice() {
                return self.ty(one, depth + 1);
            }
            return Ty::Any;
        }
        if let Some(Value::Array(values)) = map.get("enum") {
            return if values.iter().all(Value::is_string) {
                Ty::Str
            } else {
                Ty::Any
            };
        }
        let types: Vec<&str> = match map.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => return Ty::Any,
        };
        let nullable = types.contains(&"null");
        let main: Vec<&str> = types.iter().copied().filter(|t| *t != "null").collect();
        let ty = match main.as_slice() {
            [] => return Ty::Null,
            ["string"] => Ty::Str,
            ["integer"] => Ty::Int,
            ["number"] => Ty::Float,
            ["boolean"] => Ty::Bool,
            ["array"] => match map.get("items") {
                Some(items @ Value::Object(_)) => Ty::List(Box::new(self.ty(items, depth + 1))),
                _ => Ty::List(Box::new(Ty::Any)),
            },
            ["object"] => match map.get("additionalProperties") {
                Some(values @ Value::Object(_)) if map.get("properties").is_none() => {
                    Ty::Dict(Box::new(self.ty(values, depth + 1)))
                }
                _ => Ty::Dict(Box::new(Ty::Any)),
            },
            _ => Ty::Any,
        };
        if nullable {
            ty.optional()
        } else {
            ty
        }
    }
}

/// The generated module's text for every service in `description`.
pub fn generate(description: &Description) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\"\"\"Typed asyncio clients for {}.\n\nGenerated by `tpp gen python`: do not edit; \
         regenerate instead. Standard library only, Python >= 3.9.\n\"\"\"",
        names(description),
    );
    out.push_str(
        "\nfrom __future__ import annotations\n\nimport asyncio\nimport dataclasses\n\
         import enum\nimport json\nimport ssl\nfrom typing import (\n    Any,\n    \
         AsyncIterator,\n    Callable,\n    Dict,\n    List,\n    Optional,\n    Type,\n    \
         TypeVar,\n)\n\n\n",
    );
    out.push_str(RUNTIME);
    let mut defs = Map::new();
    for service in &description.services {
        for (name, schema) in &service.defs {
            defs.entry(name.clone()).or_insert_with(|| schema.clone());
        }
    }
    let schemas = Schemas { defs: &defs };
    for (name, schema) in &defs {
        match classify(schema) {
            Def::Enum(members) => enum_class(&mut out, name, schema, &members),
            Def::Class => dataclass(&mut out, &schemas, name, schema),
            Def::Inline => {}
        }
    }
    let mut taken: BTreeSet<String> = defs.keys().map(|n| identifier(n)).collect();
    for service in &description.services {
        services::service(&mut out, &schemas, service, &mut taken);
    }
    out
}

fn names(description: &Description) -> String {
    let names: Vec<&str> = description
        .services
        .iter()
        .map(|s| {
            if s.name.is_empty() {
                "a TPP service"
            } else {
                s.name.as_str()
            }
        })
        .collect();
    names.join(", ")
}

fn enum_class(out: &mut String, name: &str, schema: &Value, members: &[(String, String)]) {
    let doc = schema
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or(name);
    let _ = writeln!(out, "\n\nclass {}(str, enum.Enum):", identifier(name));
    let _ = writeln!(out, "    \"\"\"{}\"\"\"\n", doc_text(doc));
    for (member, value) in members {
        let _ = writeln!(out, "    {member} = {}", literal(value));
    }
}

fn dataclass(out: &mut String, schemas: &Schemas<'_>, name: &str, schema: &Value) {
    let empty = Map::new();
    let props = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let required: BTreeSet<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    // Required fields first: a dataclass field without a default cannot follow one with.
    let mut fields: Vec<(String, &str, Ty, bool)> = props
        .iter()
        .map(|(wire, s)| {
            let needed = required.contains(wire.as_str());
            let ty = schemas.ty(s, 0);
            let ty = if needed { ty } else { ty.optional() };
            (identifier(wire), wire.as_str(), ty, needed)
        })
        .collect();
    fields.sort_by_key(|f| !f.3);
    let class = identifier(name);
    let doc = schema
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or(name);
    let _ = writeln!(out, "\n\n@dataclasses.dataclass\nclass {class}:");
    let _ = writeln!(out, "    \"\"\"{}\"\"\"\n", doc_text(doc));
    for (id, _, ty, needed) in &fields {
        let default = if *needed { "" } else { " = None" };
        let _ = writeln!(out, "    {id}: {}{default}", ty.hint());
    }
    let _ = writeln!(out, "\n    def to_json(self) -> Dict[str, Any]:");
    let _ = writeln!(
        out,
        "        \"\"\"This value as the server reads it.\"\"\""
    );
    let _ = writeln!(out, "        return {{");
    for (id, wire, ty, _) in &fields {
        let value = ty.encode(&format!("self.{id}"), 0);
        let _ = writeln!(out, "            {}: {value},", literal(wire));
    }
    let _ = writeln!(out, "        }}");
    let _ = writeln!(
        out,
        "\n    @classmethod\n    def from_json(cls, value: Any) -> {class}:"
    );
    let _ = writeln!(
        out,
        "        \"\"\"Decodes the server's JSON, checking every type.\"\"\""
    );
    let _ = writeln!(out, "        obj = _as_obj(value)\n        return cls(");
    for (id, wire, ty, needed) in &fields {
        let raw = if *needed {
            format!("_field(obj, {})", literal(wire))
        } else {
            format!("obj.get({})", literal(wire))
        };
        let _ = writeln!(out, "            {id}={},", ty.decode(&raw, 0));
    }
    let _ = writeln!(out, "        )");
}

mod services;

/// The error classes' names, by `(code, variant)`, for one service.
type ErrorClasses = BTreeMap<(i64, String), String>;
