//! `tpp call`'s checks before sending, against the action's description: the action exists
//! (else "did you mean"), `KEY=VALUE` strings become the parameter's type, every required
//! parameter is there, no unknown one, and each value matches its schema.

use serde_json::{Map, Value};
use tpp_rpc::{ActionDescription, Description, ServiceDescription};

use super::schema::{check, Defs};

/// The closest of `candidates` to `name`, when close enough to be a likely typo: at most
/// one edit (a swap of two neighbours counts as one), or one in three characters.
pub fn did_you_mean<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(edits, c)| *edits <= 1 || edits * 3 <= c.chars().count())
        .min_by_key(|(edits, _)| *edits)
        .map(|(_, c)| c)
}

/// The action `name` of `description`, or why there is none (with a suggestion).
pub fn find_action<'a>(
    description: &'a Description,
    name: &str,
) -> Result<(&'a ServiceDescription, &'a ActionDescription), String> {
    if let Some(found) = description.action(name) {
        return Ok(found);
    }
    let names = description.actions().map(|(_, a)| a.name.as_str());
    let hint = match did_you_mean(name, names) {
        Some(close) => format!("; did you mean {close:?}?"),
        None => {
            let all: Vec<&str> = description
                .actions()
                .map(|(_, a)| a.name.as_str())
                .collect();
            format!("; its actions: {}", all.join(", "))
        }
    };
    Err(format!("the service has no action {name:?}{hint}"))
}

/// Checks (and converts) `body` for `action`. `string_keys` are the keys given as
/// `KEY=VALUE`: when the parameter's schema takes no string but the text reads as JSON that
/// it takes (`n=5` for a `u32`), the value becomes that JSON. Returns whether `body` changed.
pub fn check_body(
    service: &ServiceDescription,
    action: &ActionDescription,
    body: &mut Value,
    string_keys: &[String],
) -> Result<bool, String> {
    let defs = Defs(&service.defs);
    if let Some(schema) = &action.body {
        return check(schema, body, &defs, "body").map(|()| false);
    }
    if body.is_null() {
        *body = Value::Object(Map::new());
    }
    let Value::Object(object) = body else {
        return Err(format!(
            "{}: the body must be an object of parameters, got {}",
            action.name,
            super::schema::shown(body)
        ));
    };
    let mut changed = false;
    for key in string_keys {
        let (Some(param), Some(Value::String(text))) = (
            action.params.iter().find(|p| &p.name == key),
            object.get(key),
        ) else {
            continue;
        };
        if check(&param.schema, &Value::String(text.clone()), &defs, key).is_ok() {
            continue;
        }
        if let Ok(value) = serde_json::from_str::<Value>(text) {
            if check(&param.schema, &value, &defs, key).is_ok() {
                object.insert(key.clone(), value);
                changed = true;
            }
        }
    }
    for (key, value) in object.iter() {
        match action.params.iter().find(|p| &p.name == key) {
            Some(param) => check(&param.schema, value, &defs, key)?,
            None => {
                let names = action.params.iter().map(|p| p.name.as_str());
                let hint = match did_you_mean(key, names) {
                    Some(close) => format!("; did you mean {close:?}?"),
                    None if action.params.is_empty() => "; it takes none".to_owned(),
                    None => {
                        let all: Vec<&str> =
                            action.params.iter().map(|p| p.name.as_str()).collect();
                        format!("; its parameters: {}", all.join(", "))
                    }
                };
                return Err(format!(
                    "{}: unknown parameter {key:?}{hint} (send it anyway with --no-check)",
                    action.name
                ));
            }
        }
    }
    for param in action.params.iter().filter(|p| p.required) {
        if !object.contains_key(&param.name) {
            return Err(format!(
                "{}: missing parameter {:?} ({})",
                action.name,
                param.name,
                super::schema::expected(&param.schema, &defs)
            ));
        }
    }
    Ok(changed)
}
