//! Checks a JSON value against the JSON Schema subset that `schemars` emits for Rust types
//! (2020-12): `type`, `enum`, `const`, `anyOf`/`oneOf`/`allOf`, `$ref` into the service's
//! `$defs`, `properties`/`required`/`additionalProperties`, `items`/`prefixItems`/
//! `minItems`/`maxItems`, `minimum`/`maximum` (and the exclusive forms), `minLength`/
//! `maxLength`, and the integer `format`s (`uint8` … `int64`). Keywords outside that subset
//! are not checked (the server still is). Hand-written: the general validators pull in a
//! regex engine, an HTTP client and dozens of crates for keywords schemars never writes.

use serde_json::{Map, Value};

/// Where `$ref`s point: a service's `$defs`.
pub struct Defs<'a>(pub &'a Map<String, Value>);

/// The first reason `value` does not match `schema`, as `path: expected …, got …`, with
/// `path` starting at `at` (a parameter's name).
pub fn check(schema: &Value, value: &Value, defs: &Defs<'_>, at: &str) -> Result<(), String> {
    Checker { defs, depth: 0 }.check(schema, value, at)
}

/// What a schema expects, in words: `a string`, `an integer or null`, `one of "a", "b"`.
pub fn expected(schema: &Value, defs: &Defs<'_>) -> String {
    expected_at(schema, defs, 0)
}

fn expected_at(schema: &Value, defs: &Defs<'_>, depth: usize) -> String {
    let Some(map) = schema.as_object() else {
        return if schema == &Value::Bool(false) {
            "nothing".into()
        } else {
            "any JSON".into()
        };
    };
    if depth > 16 {
        return "a value".into();
    }
    if let Some(target) = map
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| resolve(r, defs))
    {
        return expected_at(target, defs, depth + 1);
    }
    if let Some(values) = enum_values(map) {
        let shown: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        return format!("one of {}", shown.join(", "));
    }
    if let Some(branches) = map
        .get("anyOf")
        .or_else(|| map.get("oneOf"))
        .and_then(Value::as_array)
    {
        let parts: Vec<String> = branches
            .iter()
            .map(|b| expected_at(b, defs, depth + 1))
            .collect();
        return parts.join(" or ");
    }
    match map.get("type") {
        Some(Value::String(t)) => type_words(t, map).into(),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .map(|t| type_words(t, map))
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any JSON".into(),
    }
}

fn type_words(t: &str, map: &Map<String, Value>) -> &'static str {
    match t {
        "string" => "a string",
        "integer" if map.get("minimum").and_then(Value::as_f64) == Some(0.0) => {
            "a non-negative integer"
        }
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "true or false",
        "null" => "null",
        "array" => "an array",
        "object" => "an object",
        _ => "a value",
    }
}

/// A value in words, for `got …`: `3`, `"x"`, `an object`, `an array`.
pub fn shown(value: &Value) -> String {
    match value {
        Value::Object(_) => "an object".into(),
        Value::Array(_) => "an array".into(),
        Value::String(s) if s.chars().count() > 40 => {
            let head: String = s.chars().take(40).collect();
            format!("{:?}…", head)
        }
        other => other.to_string(),
    }
}

/// `#/$defs/Name` in `defs`.
fn resolve<'a>(reference: &str, defs: &Defs<'a>) -> Option<&'a Value> {
    let name = reference.strip_prefix("#/$defs/")?;
    defs.0.get(&name.replace("~1", "/").replace("~0", "~"))
}

/// The allowed values of an `enum`, a `const`, or a `oneOf`/`anyOf` of `const`s.
fn enum_values(map: &Map<String, Value>) -> Option<Vec<&Value>> {
    if let Some(Value::Array(values)) = map.get("enum") {
        return Some(values.iter().collect());
    }
    if let Some(value) = map.get("const") {
        return Some(vec![value]);
    }
    let branches = map.get("oneOf").or_else(|| map.get("anyOf"))?.as_array()?;
    branches
        .iter()
        .map(|b| {
            b.get("const")
                .or_else(|| b.get("enum")?.as_array()?.first())
        })
        .collect()
}

struct Checker<'d, 'a> {
    defs: &'d Defs<'a>,
    depth: usize,
}

impl Checker<'_, '_> {
    fn fail(&self, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        Err(format!(
            "{at}: expected {}, got {}",
            expected(schema, self.defs),
            shown(value)
        ))
    }

    fn check(&mut self, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        let map = match schema {
            Value::Bool(true) => return Ok(()),
            Value::Object(map) => map,
            _ => return self.fail(schema, value, at),
        };
        if self.depth > 64 {
            return Ok(()); // a recursive type this deep: leave the rest to the server
        }
        self.depth += 1;
        let result = self.check_map(schema, map, value, at);
        self.depth -= 1;
        result
    }

    fn check_map(
        &mut self,
        schema: &Value,
        map: &Map<String, Value>,
        value: &Value,
        at: &str,
    ) -> Result<(), String> {
        if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
            if let Some(target) = resolve(reference, self.defs) {
                self.check(target, value, at)?;
            }
        }
        if let Some(values) = map.get("enum").and_then(Value::as_array) {
            if !values.contains(value) {
                return self.fail(schema, value, at);
            }
        }
        if let Some(constant) = map.get("const") {
            if constant != value {
                return self.fail(schema, value, at);
            }
        }
        if let Some(all) = map.get("allOf").and_then(Value::as_array) {
            for branch in all {
                self.check(branch, value, at)?;
            }
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(branches) = map.get(key).and_then(Value::as_array) {
                self.check_branches(schema, branches, value, at)?;
            }
        }
        if let Some(types) = map.get("type") {
            if !type_matches(types, value) {
                return self.fail(schema, value, at);
            }
        }
        match value {
            Value::Number(_) => self.check_number(schema, map, value, at),
            Value::String(s) => {
                let len = s.chars().count() as f64;
                let min = map.get("minLength").and_then(Value::as_f64);
                let max = map.get("maxLength").and_then(Value::as_f64);
                if min.is_some_and(|m| len < m) || max.is_some_and(|m| len > m) {
                    return Err(format!(
                        "{at}: expected a string of {} characters, got {}",
                        length_words(min, max),
                        shown(value)
                    ));
                }
                Ok(())
            }
            Value::Array(items) => self.check_array(map, items, at),
            Value::Object(object) => self.check_object(map, object, at),
            _ => Ok(()),
        }
    }

    /// `anyOf`/`oneOf`: some branch matches (for `oneOf` of disjoint Rust variants, "some"
    /// and "exactly one" agree). With one non-null branch left, its own reason is given.
    fn check_branches(
        &mut self,
        schema: &Value,
        branches: &[Value],
        value: &Value,
        at: &str,
    ) -> Result<(), String> {
        let mut reasons = Vec::new();
        for branch in branches {
            match self.check(branch, value, at) {
                Ok(()) => return Ok(()),
                Err(reason) => reasons.push((branch, reason)),
            }
        }
        let not_null: Vec<&(&Value, String)> = reasons
            .iter()
            .filter(|(b, _)| b.get("type") != Some(&Value::String("null".into())))
            .collect();
        match not_null.as_slice() {
            [(_, reason)] if !value.is_null() => Err(reason.clone()),
            _ => self.fail(schema, value, at),
        }
    }

    fn check_number(
        &self,
        schema: &Value,
        map: &Map<String, Value>,
        value: &Value,
        at: &str,
    ) -> Result<(), String> {
        let Some(n) = value.as_f64() else {
            return Ok(());
        };
        let (mut min, mut max) = (
            map.get("minimum").and_then(Value::as_f64),
            map.get("maximum").and_then(Value::as_f64),
        );
        if let Some((lo, hi)) = map
            .get("format")
            .and_then(Value::as_str)
            .and_then(format_range)
        {
            min = Some(min.map_or(lo, |m| m.max(lo)));
            max = Some(max.map_or(hi, |m| m.min(hi)));
        }
        let too_low = min.is_some_and(|m| n < m)
            || map
                .get("exclusiveMinimum")
                .and_then(Value::as_f64)
                .is_some_and(|m| n <= m);
        let too_high = max.is_some_and(|m| n > m)
            || map
                .get("exclusiveMaximum")
                .and_then(Value::as_f64)
                .is_some_and(|m| n >= m);
        if too_low || too_high {
            let range = match (min, max) {
                (Some(lo), Some(hi)) => format!(" from {lo} to {hi}"),
                (Some(lo), None) => format!(" of at least {lo}"),
                (None, Some(hi)) => format!(" of at most {hi}"),
                (None, None) => String::new(),
            };
            let what = expected(schema, self.defs);
            return Err(format!(
                "{at}: expected {what}{range}, got {}",
                shown(value)
            ));
        }
        Ok(())
    }

    fn check_array(
        &mut self,
        map: &Map<String, Value>,
        items: &[Value],
        at: &str,
    ) -> Result<(), String> {
        let len = items.len() as f64;
        let min = map.get("minItems").and_then(Value::as_f64);
        let max = map.get("maxItems").and_then(Value::as_f64);
        if min.is_some_and(|m| len < m) || max.is_some_and(|m| len > m) {
            return Err(format!(
                "{at}: expected an array of {} items, got {}",
                length_words(min, max),
                items.len()
            ));
        }
        let prefix = map
            .get("prefixItems")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for (i, item) in items.iter().enumerate() {
            let schema = prefix.get(i).or_else(|| map.get("items"));
            if let Some(schema) = schema {
                self.check(schema, item, &format!("{at}[{i}]"))?;
            }
        }
        Ok(())
    }

    fn check_object(
        &mut self,
        map: &Map<String, Value>,
        object: &Map<String, Value>,
        at: &str,
    ) -> Result<(), String> {
        if let Some(required) = map.get("required").and_then(Value::as_array) {
            for key in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(key) {
                    return Err(format!("{at}: missing key {key:?}"));
                }
            }
        }
        let properties = map.get("properties").and_then(Value::as_object);
        for (key, item) in object {
            let path = format!("{at}.{key}");
            match properties.and_then(|p| p.get(key)) {
                Some(schema) => self.check(schema, item, &path)?,
                None => match map.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        return Err(format!("{at}: unexpected key {key:?}"));
                    }
                    Some(schema @ Value::Object(_)) => self.check(schema, item, &path)?,
                    _ => {}
                },
            }
        }
        Ok(())
    }
}

fn length_words(min: Option<f64>, max: Option<f64>) -> String {
    match (min, max) {
        (Some(lo), Some(hi)) if lo == hi => format!("exactly {lo}"),
        (Some(lo), Some(hi)) => format!("{lo} to {hi}"),
        (Some(lo), None) => format!("at least {lo}"),
        (None, Some(hi)) => format!("at most {hi}"),
        (None, None) => "any number of".into(),
    }
}

/// The range of an integer `format` schemars writes.
fn format_range(format: &str) -> Option<(f64, f64)> {
    Some(match format {
        "uint8" => (0.0, u8::MAX as f64),
        "uint16" => (0.0, u16::MAX as f64),
        "uint32" => (0.0, u32::MAX as f64),
        "uint64" | "uint" => (0.0, u64::MAX as f64),
        "int8" => (i8::MIN as f64, i8::MAX as f64),
        "int16" => (i16::MIN as f64, i16::MAX as f64),
        "int32" => (i32::MIN as f64, i32::MAX as f64),
        "int64" | "int" => (i64::MIN as f64, i64::MAX as f64),
        _ => return None,
    })
}

fn type_matches(types: &Value, value: &Value) -> bool {
    let one = |t: &str| match t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        _ => true,
    };
    match types {
        Value::String(t) => one(t),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(one),
        _ => true,
    }
}

#[cfg(test)]
mod tests;
