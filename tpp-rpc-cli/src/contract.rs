//! Service descriptions on the command line: fetched from a server (`list-funcs` with
//! `{"tpp_describe": true}`), read from a file, or made from a plain `list-funcs` answer
//! (a toxiccore server's: names, docs and parameters, every schema `{}`).

pub mod check;
pub mod diff;
pub mod python;
pub mod schema;

use std::path::Path;

use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use tpp_rpc::describe::DESCRIBE_KEY;
use tpp_rpc::Description;

use crate::args::{DescribeArgs, GenArgs, Language};
use crate::failure::Failure;
use crate::funclist::{parse, LIST_FUNCS};
use crate::output::{color_for, write_json, Layout};
use crate::session::{result_json, Session};

/// Where a description came from, and whether it carries schemas.
pub struct Fetched {
    /// The description.
    pub description: Description,
    /// Whether the server (or file) gave a full description, not a plain list.
    pub full: bool,
}

/// Asks `session`'s server for its description: the full one, else (a server that does not
/// know `tpp_describe`, or refuses the body key) the plain list, converted.
pub async fn fetch(session: &Session) -> Result<Fetched, Failure> {
    let ask = RawValue::from_string(format!("{{\"{DESCRIBE_KEY}\": true}}"))
        .map_err(|e| Failure::Other(e.to_string()))?;
    let response = match session.unary(LIST_FUNCS, &ask).await {
        Ok(response) => response,
        // toxiccore passes body keys to the method as arguments: ask again without one.
        Err(Failure::Server { .. }) => {
            let empty = RawValue::from_string("{}".to_owned())
                .map_err(|e| Failure::Other(e.to_string()))?;
            session.unary(LIST_FUNCS, &empty).await?
        }
        Err(other) => return Err(other),
    };
    let json = result_json(&response, LIST_FUNCS, false)?;
    read(&json).map_err(|e| {
        Failure::Protocol(format!(
            "the server answered list-funcs in an unknown shape: {e}"
        ))
    })
}

/// A description from JSON text: a full description, or a plain `list-funcs` answer.
pub fn read(json: &str) -> Result<Fetched, String> {
    let value: Value = tpp_rpc::json::from_str(json).map_err(|e| e.to_string())?;
    if value.get(DESCRIBE_KEY).is_some() {
        let description = serde_json::from_value(value).map_err(|e| e.to_string())?;
        return Ok(Fetched {
            description,
            full: true,
        });
    }
    let funcs = parse(json)?;
    let actions: Vec<Value> = funcs
        .iter()
        .filter(|f| f.name != LIST_FUNCS)
        .map(|f| {
            let params: Vec<Value> = f
                .params
                .iter()
                .map(|p| {
                    let mut param = json!({"name": p.name, "required": p.required, "schema": {}});
                    if let Some(default) = &p.default {
                        param["default"] = default.clone();
                    }
                    param
                })
                .collect();
            json!({"name": f.name, "method": f.name, "doc": f.doc, "kind": "unary",
                   "params": params, "result": {}})
        })
        .collect();
    let description = json!({DESCRIBE_KEY: 1, "services": [
        {"name": "", "unknown_keys": "refuse", "actions": actions}
    ]});
    let description = serde_json::from_value(description).map_err(|e| e.to_string())?;
    Ok(Fetched {
        description,
        full: false,
    })
}

/// A description written by `tpp describe -o FILE` (or a saved `list-funcs` answer).
pub fn load(path: &Path) -> Result<Fetched, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
    read(&text).map_err(|e| {
        Failure::Usage(format!(
            "{} is not a service description: {e}",
            path.display()
        ))
    })
}

/// A short name for a schema's type: `string`, `u32`-like `integer`, `[string]`,
/// `{string: integer}`, `Repo` (a named definition), `string?` (or null).
pub fn short_type(schema: &Value) -> String {
    short_type_at(schema, 0)
}

fn short_type_at(schema: &Value, depth: usize) -> String {
    let Some(map) = schema.as_object() else {
        return "any".into();
    };
    if depth > 8 {
        return "…".into();
    }
    if let Some(name) = map
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
    {
        return name.to_owned();
    }
    if let Some(branches) = map
        .get("anyOf")
        .or_else(|| map.get("oneOf"))
        .and_then(Value::as_array)
    {
        let null = |b: &Value| b.get("type").and_then(Value::as_str) == Some("null");
        let others: Vec<&Value> = branches.iter().filter(|b| !null(b)).collect();
        if let ([one], true) = (others.as_slice(), others.len() < branches.len()) {
            return format!("{}?", short_type_at(one, depth + 1));
        }
        if branches.iter().all(|b| b.get("const").is_some()) {
            let values: Vec<String> = branches.iter().map(|b| b["const"].to_string()).collect();
            return values.join("|");
        }
        let parts: Vec<String> = others.iter().map(|b| short_type_at(b, depth + 1)).collect();
        return parts.join("|");
    }
    if let Some(Value::Array(values)) = map.get("enum") {
        let values: Vec<String> = values.iter().map(Value::to_string).collect();
        return values.join("|");
    }
    let types: Vec<&str> = match map.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return "any".into(),
    };
    let nullable = types.contains(&"null") && types.len() > 1;
    let main: Vec<String> = types
        .iter()
        .filter(|t| **t != "null")
        .map(|t| match *t {
            "array" => match map.get("items") {
                Some(items) => format!("[{}]", short_type_at(items, depth + 1)),
                None => "array".into(),
            },
            "object" => match map.get("additionalProperties") {
                Some(values @ Value::Object(_)) => {
                    format!("{{string: {}}}", short_type_at(values, depth + 1))
                }
                _ => "object".into(),
            },
            other => other.to_owned(),
        })
        .collect();
    let text = if main.is_empty() {
        "null".to_owned()
    } else {
        main.join("|")
    };
    if nullable {
        format!("{text}?")
    } else {
        text
    }
}

/// Runs `tpp describe`.
pub fn run_describe(args: DescribeArgs, runtime: &tokio::runtime::Runtime) -> Result<(), Failure> {
    let session = Session::new(&args.conn, &args.target, Map::new())?;
    let fetched = runtime.block_on(fetch(&session))?;
    let json =
        serde_json::to_string(&fetched.description).map_err(|e| Failure::Other(e.to_string()))?;
    if !fetched.full {
        eprintln!(
            "tpp: {} answers only the plain list-funcs: names, docs and parameters, \
             without types",
            args.target
        );
    }
    match &args.output {
        Some(path) => {
            let mut text = Vec::new();
            write_json(&mut text, &json, Layout::Pretty, false).map_err(Failure::output)?;
            std::fs::write(path, text)
                .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", path.display())))
        }
        None => {
            let stdout = std::io::stdout();
            let color = color_for(args.color, &stdout);
            let mut out = stdout.lock();
            write_json(&mut out, &json, Layout::Pretty, color)
                .and_then(|()| std::io::Write::flush(&mut out))
                .map_err(Failure::output)
        }
    }
}

/// Runs `tpp gen`.
pub fn run_gen(args: GenArgs, runtime: &tokio::runtime::Runtime) -> Result<(), Failure> {
    let description = diff::source(&args.source, &args.conn, runtime)?;
    let text = match args.language {
        Language::Python => python::generate(&description),
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", path.display()))),
        None => {
            let mut out = std::io::stdout().lock();
            std::io::Write::write_all(&mut out, text.as_bytes())
                .and_then(|()| std::io::Write::flush(&mut out))
                .map_err(Failure::output)
        }
    }
}
