//! `tpp diff OLD NEW`: what changed between two descriptions, and whether callers written
//! against OLD still work against NEW.
//!
//! Parameters are what callers send, so a parameter's type may widen (accept more) but not
//! narrow; results and stream items are what callers read, so they may narrow but not widen.
//! Schemas are compared after resolving `$ref`s and dropping annotations (`description`,
//! `title`, `$comment`, `default`, `examples`).

use serde_json::{Map, Value};
use tpp_rpc::describe::Kind;
use tpp_rpc::{ActionDescription, Description, ServiceDescription};

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Whether existing callers break.
    pub breaking: bool,
    /// What changed and why it matters.
    pub what: String,
}

fn breaking(what: String) -> Change {
    Change {
        breaking: true,
        what,
    }
}

fn compatible(what: String) -> Change {
    Change {
        breaking: false,
        what,
    }
}

/// Every change from `old` to `new`, in the order of `old`'s actions, then the new ones.
pub fn diff(old: &Description, new: &Description) -> Vec<Change> {
    let mut changes = Vec::new();
    for (old_service, old_action) in old.actions() {
        match new.action(&old_action.name) {
            Some((new_service, new_action)) => {
                let sides = Sides {
                    old: old_service,
                    new: new_service,
                };
                sides.action(old_action, new_action, &mut changes);
            }
            None => {
                let renamed = new
                    .actions()
                    .find(|(_, a)| a.method == old_action.method && old.action(&a.name).is_none());
                changes.push(breaking(match renamed {
                    Some((_, a)) => format!(
                        "{}: renamed to {} (callers of the old name get \"does not exist\")",
                        old_action.name, a.name
                    ),
                    None => format!("{}: action removed", old_action.name),
                }));
            }
        }
    }
    for (_, new_action) in new.actions() {
        if old.action(&new_action.name).is_none() {
            let renamed = old
                .actions()
                .any(|(_, a)| a.method == new_action.method && new.action(&a.name).is_none());
            if !renamed {
                changes.push(compatible(format!("{}: action added", new_action.name)));
            }
        }
    }
    for new_service in &new.services {
        let old_service = old.services.iter().find(|s| s.name == new_service.name);
        if let Some(old_service) = old_service {
            if old_service.unknown_keys != new_service.unknown_keys {
                let what = format!(
                    "service {}: unknown body keys now {:?} (were {:?})",
                    new_service.name, new_service.unknown_keys, old_service.unknown_keys
                );
                let strict =
                    serde_json::to_value(new_service.unknown_keys).is_ok_and(|v| v == "refuse");
                changes.push(if strict {
                    breaking(what)
                } else {
                    compatible(what)
                });
            }
        }
    }
    changes
}

struct Sides<'a> {
    old: &'a ServiceDescription,
    new: &'a ServiceDescription,
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Unary => "unary",
        Kind::Bare => "bare",
        Kind::Stream => "stream",
        _ => "unknown",
    }
}

impl Sides<'_> {
    fn action(&self, old: &ActionDescription, new: &ActionDescription, out: &mut Vec<Change>) {
        let name = &old.name;
        if old.kind != new.kind {
            out.push(breaking(format!(
                "{name}: answers as {} instead of {} (callers read the answer another way)",
                kind_name(new.kind),
                kind_name(old.kind)
            )));
        }
        self.params(old, new, out);
        match (&old.body, &new.body) {
            (Some(o), Some(n)) => self.input("body", name, o, n, out),
            (None, None) => {}
            _ => out.push(breaking(format!(
                "{name}: the body changed between named parameters and one value"
            ))),
        }
        self.output("result", name, &old.result, &new.result, out);
        match (&old.ack, &new.ack) {
            (Some(o), Some(n)) => self.output("acknowledgement", name, o, n, out),
            (None, None) => {}
            (Some(_), None) => out.push(breaking(format!("{name}: no acknowledgement any more"))),
            (None, Some(_)) => out.push(breaking(format!(
                "{name}: now sends an acknowledgement before its items"
            ))),
        }
        self.errors(old, new, out);
    }

    fn params(&self, old: &ActionDescription, new: &ActionDescription, out: &mut Vec<Change>) {
        let name = &old.name;
        for p in &old.params {
            match new.params.iter().find(|q| q.name == p.name) {
                None => out.push(breaking(format!(
                    "{name}: parameter {:?} removed (callers still send it)",
                    p.name
                ))),
                Some(q) => {
                    if q.required && !p.required {
                        out.push(breaking(format!(
                            "{name}: parameter {:?} is now required",
                            p.name
                        )));
                    } else if !q.required && p.required {
                        out.push(compatible(format!(
                            "{name}: parameter {:?} is now optional",
                            p.name
                        )));
                    }
                    if p.default != q.default && !q.required && !p.required {
                        out.push(compatible(format!(
                            "{name}: parameter {:?}'s default changed from {} to {}",
                            p.name,
                            shown(p.default.as_ref()),
                            shown(q.default.as_ref())
                        )));
                    }
                    let what = format!("parameter {:?}", p.name);
                    self.input(&what, name, &p.schema, &q.schema, out);
                }
            }
        }
        for q in &new.params {
            if !old.params.iter().any(|p| p.name == q.name) {
                out.push(if q.required {
                    breaking(format!(
                        "{name}: parameter {:?} added as required (old callers do not send it)",
                        q.name
                    ))
                } else {
                    compatible(format!("{name}: optional parameter {:?} added", q.name))
                });
            }
        }
    }

    /// Something callers send: NEW must accept all that OLD accepted.
    fn input(&self, what: &str, action: &str, old: &Value, new: &Value, out: &mut Vec<Change>) {
        let (o, n) = (self.plain_old(old), self.plain_new(new));
        if o == n {
            return;
        }
        out.push(if accepts_all(&n, &o) {
            compatible(format!("{action}: {what}'s type widened"))
        } else if accepts_all(&o, &n) {
            breaking(format!(
                "{action}: {what}'s type narrowed (values callers send may be refused)"
            ))
        } else {
            breaking(format!("{action}: {what}'s type changed"))
        });
    }

    /// Something callers read: OLD must accept all that NEW sends.
    fn output(&self, what: &str, action: &str, old: &Value, new: &Value, out: &mut Vec<Change>) {
        let (o, n) = (self.plain_old(old), self.plain_new(new));
        if o == n {
            return;
        }
        out.push(if accepts_all(&o, &n) {
            compatible(format!("{action}: {what}'s type narrowed"))
        } else if accepts_all(&n, &o) {
            breaking(format!(
                "{action}: {what}'s type widened (callers may read values they do not expect)"
            ))
        } else {
            breaking(format!("{action}: {what}'s type changed"))
        });
    }

    /// Errors callers tell apart by code and variant, and read the fields of.
    fn errors(&self, old: &ActionDescription, new: &ActionDescription, out: &mut Vec<Change>) {
        let name = &old.name;
        for e in &old.errors {
            match new.errors.iter().find(|f| f.variant == e.variant) {
                None if new.errors.iter().any(|f| f.code == e.code) => {}
                None => out.push(breaking(format!(
                    "{name}: error {} (code {}) removed",
                    e.variant, e.code
                ))),
                Some(f) if f.code != e.code => out.push(breaking(format!(
                    "{name}: error {} renumbered from code {} to {}",
                    e.variant, e.code, f.code
                ))),
                Some(f) => {
                    // A client reads the fields: they change as a result does.
                    let none = Value::Null;
                    let (o, n) = (
                        e.fields.as_ref().unwrap_or(&none),
                        f.fields.as_ref().unwrap_or(&none),
                    );
                    let what = format!("error {}", e.variant);
                    self.output(&what, name, o, n, out);
                }
            }
        }
        for f in &new.errors {
            if !old
                .errors
                .iter()
                .any(|e| e.variant == f.variant || e.code == f.code)
            {
                out.push(compatible(format!(
                    "{name}: error {} (code {}) added",
                    f.variant, f.code
                )));
            }
        }
    }

    fn plain_old(&self, schema: &Value) -> Value {
        plain(schema, &self.old.defs, 0)
    }

    fn plain_new(&self, schema: &Value) -> Value {
        plain(schema, &self.new.defs, 0)
    }
}

fn shown(value: Option<&Value>) -> String {
    value.map_or_else(|| "none".to_owned(), Value::to_string)
}

const ANNOTATIONS: &[&str] = &[
    "description",
    "title",
    "$comment",
    "default",
    "examples",
    "$schema",
];

/// The schema with `$ref`s resolved (to a depth), annotations dropped, and `oneOf` read as
/// `anyOf` (schemars' variants never overlap).
fn plain(schema: &Value, defs: &Map<String, Value>, depth: usize) -> Value {
    let Some(map) = schema.as_object() else {
        return schema.clone();
    };
    if depth > 12 {
        return Value::Object(Map::new());
    }
    if let Some(target) = map
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
        .and_then(|name| defs.get(name))
    {
        return plain(target, defs, depth + 1);
    }
    let mut out = Map::new();
    for (key, value) in map {
        if ANNOTATIONS.contains(&key.as_str()) {
            continue;
        }
        let key = if key == "oneOf" {
            "anyOf"
        } else {
            key.as_str()
        };
        let value = match value {
            Value::Object(m) if key == "properties" => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), plain(v, defs, depth + 1)))
                    .collect(),
            ),
            Value::Object(_) => plain(value, defs, depth + 1),
            Value::Array(items) if key != "required" && key != "enum" && key != "type" => {
                Value::Array(items.iter().map(|v| plain(v, defs, depth + 1)).collect())
            }
            other => other.clone(),
        };
        out.insert(key.to_owned(), value);
    }
    Value::Object(out)
}

/// The type names a plain schema allows, or `None` for "any".
fn types(map: &Map<String, Value>) -> Option<Vec<&str>> {
    match map.get("type")? {
        Value::String(t) => Some(vec![t.as_str()]),
        Value::Array(ts) => Some(ts.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

/// Whether every value `narrow` accepts, `wide` accepts too (both plain). Conservative: a
/// `false` may be a false alarm on exotic schemas, never a missed narrowing on what schemars
/// writes for Rust types.
fn accepts_all(wide: &Value, narrow: &Value) -> bool {
    if wide == narrow {
        return true;
    }
    let (Some(w), Some(n)) = (wide.as_object(), narrow.as_object()) else {
        return wide == &Value::Bool(true) || narrow == &Value::Bool(false);
    };
    if w.is_empty() {
        return true;
    }
    if let Some(branches) = n.get("anyOf").and_then(Value::as_array) {
        return branches.iter().all(|b| accepts_all(wide, b));
    }
    if let Some(branches) = w.get("anyOf").and_then(Value::as_array) {
        if branches.iter().any(|b| accepts_all(b, narrow)) {
            return true;
        }
        // `T` in `anyOf [T, null]` written as `type: [t, "null"]` on the other side.
        if let Some(nt) = types(n).filter(|t| t.len() > 1) {
            return nt.iter().all(|t| {
                let mut one = n.clone();
                one.insert("type".into(), Value::String((*t).to_owned()));
                branches
                    .iter()
                    .any(|b| accepts_all(b, &Value::Object(one.clone())))
            });
        }
        return false;
    }
    if let Some(values) = n
        .get("enum")
        .or_else(|| n.get("const").map(|_| &Value::Null))
    {
        let values: Vec<Value> = match n.get("const") {
            Some(c) => vec![c.clone()],
            None => values.as_array().cloned().unwrap_or_default(),
        };
        if let Some(allowed) = w.get("enum").and_then(Value::as_array) {
            return values.iter().all(|v| allowed.contains(v));
        }
        if let Some(c) = w.get("const") {
            return values.iter().all(|v| v == c);
        }
    } else if w.contains_key("enum") || w.contains_key("const") {
        return false;
    }
    match (types(w), types(n)) {
        (Some(wt), Some(nt)) => {
            let covered = nt
                .iter()
                .all(|t| wt.contains(t) || (*t == "integer" && wt.contains(&"number")));
            if !covered {
                return false;
            }
        }
        (Some(_), None) => return false,
        _ => {}
    }
    ranges_cover(w, n) && arrays_cover(w, n) && objects_cover(w, n)
}

fn bound(map: &Map<String, Value>, key: &str) -> Option<f64> {
    map.get(key).and_then(Value::as_f64)
}

fn ranges_cover(w: &Map<String, Value>, n: &Map<String, Value>) -> bool {
    let low_ok = match (bound(w, "minimum"), bound(n, "minimum")) {
        (Some(wl), Some(nl)) => wl <= nl,
        (Some(_), None) => false,
        _ => true,
    };
    let high_ok = match (bound(w, "maximum"), bound(n, "maximum")) {
        (Some(wh), Some(nh)) => wh >= nh,
        (Some(_), None) => false,
        _ => true,
    };
    let format_ok = match (w.get("format"), n.get("format")) {
        (Some(wf), Some(nf)) => wf == nf || format_rank(wf) >= format_rank(nf),
        (Some(_), None) => false,
        _ => true,
    };
    low_ok && high_ok && format_ok
}

/// Integer formats by width, so `uint16` → `uint32` reads as a widening.
fn format_rank(format: &Value) -> (u8, u8) {
    match format.as_str().unwrap_or_default() {
        "uint8" => (0, 1),
        "uint16" => (0, 2),
        "uint32" => (0, 3),
        "uint64" | "uint" => (0, 4),
        "int8" => (1, 1),
        "int16" => (1, 2),
        "int32" => (1, 3),
        "int64" | "int" => (1, 4),
        _ => (2, 0),
    }
}

fn arrays_cover(w: &Map<String, Value>, n: &Map<String, Value>) -> bool {
    match (w.get("items"), n.get("items")) {
        (Some(wi), Some(ni)) => accepts_all(wi, ni),
        (Some(_), None) => false,
        _ => true,
    }
}

fn objects_cover(w: &Map<String, Value>, n: &Map<String, Value>) -> bool {
    let empty = Map::new();
    let wp = w
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let np = n
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let required = |m: &Map<String, Value>| -> Vec<String> {
        m.get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (wr, nr) = (required(w), required(n));
    // A key WIDE requires must be required by NARROW too.
    if !wr.iter().all(|k| nr.contains(k)) {
        return false;
    }
    for (key, ns) in np {
        match wp.get(key) {
            Some(ws) if !accepts_all(ws, ns) => return false,
            Some(_) => {}
            None if w.get("additionalProperties") == Some(&Value::Bool(false)) => return false,
            None => {}
        }
    }
    match (w.get("additionalProperties"), n.get("additionalProperties")) {
        (Some(wa), Some(na)) => accepts_all(wa, na),
        (Some(Value::Bool(false)), None) => false,
        (Some(wa @ Value::Object(_)), None) => wa.as_object().is_some_and(Map::is_empty),
        _ => true,
    }
}

#[cfg(test)]
mod tests;

/// A description from a file, or from a server when `source` is no file but reads as
/// HOST:PORT.
pub fn source(
    source: &str,
    conn: &crate::args::ConnArgs,
    runtime: &tokio::runtime::Runtime,
) -> Result<Description, crate::failure::Failure> {
    let path = std::path::Path::new(source);
    if path.exists() {
        return super::load(path).map(|f| f.description);
    }
    let target: crate::args::Target = source.parse().map_err(|e| {
        crate::failure::Failure::Usage(format!(
            "{source:?} is neither a file nor a server address ({e})"
        ))
    })?;
    let session = crate::session::Session::new(conn, &target, Map::new())?;
    runtime
        .block_on(super::fetch(&session))
        .map(|f| f.description)
}

/// Runs `tpp diff`: one line per change, exit 1 when one breaks callers.
pub fn run(
    args: crate::args::DiffArgs,
    runtime: &tokio::runtime::Runtime,
) -> Result<(), crate::failure::Failure> {
    let old = source(&args.old, &args.conn, runtime)?;
    let new = source(&args.new, &args.conn, runtime)?;
    let changes = diff(&old, &new);
    let mut out = std::io::stdout().lock();
    let lines = changes.iter().map(|c| {
        let tag = if c.breaking {
            "breaking  "
        } else {
            "compatible"
        };
        format!("{tag}  {}", c.what)
    });
    let mut text = lines.collect::<Vec<_>>().join("\n");
    if changes.is_empty() {
        text.push_str("no change");
    }
    std::io::Write::write_all(&mut out, format!("{text}\n").as_bytes())
        .map_err(crate::failure::Failure::output)?;
    let count = changes.iter().filter(|c| c.breaking).count();
    if count > 0 {
        return Err(crate::failure::Failure::Breaking(count));
    }
    Ok(())
}
