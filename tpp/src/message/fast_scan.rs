//! The envelope scan's fast path: the same fields as [`Fields::scan`],
//! found by [`crate::json::skip`] (strings crossed 32 bytes at a time)
//! instead of serde_json's deserializer.
//!
//! It takes only what it can read exactly as serde_json would: a top-level
//! object whose keys have no escapes, whose `token` and `action` are
//! strings without escapes or `null`, and whose values are valid JSON no
//! deeper than [`crate::json::skip::MAX_DEPTH`]. Anything else (an error,
//! Python's literals, an escaped key, a number as a token…) returns `None`
//! and [`Fields::scan`] reads the payload again, so its results and its
//! error messages stay the answer for those.

use serde_json::Value;

use super::envelope::Fields;
use super::request::{Field, KEEP_ALIVE_FIELD, RESERVED_PREFIX};
use crate::json::skip::{skip_string, skip_value, skip_ws};

impl Fields {
    /// The envelope of `text`, when the fast path can read it.
    pub(super) fn scan_fast(text: &str) -> Option<Fields> {
        let b = text.as_bytes();
        let mut fields = Fields::none();
        let mut i = skip_ws(b, 0);
        if b.get(i) != Some(&b'{') {
            return None;
        }
        i = skip_ws(b, i + 1);
        // `{}` is refused by the full scan, with its message.
        loop {
            let (key_end, escaped) = skip_string(b, i)?;
            if escaped {
                return None;
            }
            let key = text.get(i + 1..key_end - 1)?;
            i = skip_ws(b, key_end);
            if b.get(i) != Some(&b':') {
                return None;
            }
            let start = skip_ws(b, i + 1);
            let end = skip_value(b, start)?;
            let value = text.get(start..end)?;
            // A repeated key: the last one wins, as in the full scan.
            match key {
                "token" => fields.token = string_field(b, start, end)?,
                "action" => fields.action = string_field(b, start, end)?,
                "body" => fields.body = Some(start..end),
                // The full scan reads other values (a number may be out
                // of range for it): left to it.
                KEEP_ALIVE_FIELD => {
                    fields.keep_alive = match value {
                        "true" => true,
                        "false" => false,
                        _ => return None,
                    }
                }
                k if k.starts_with(RESERVED_PREFIX) => {
                    fields.reserved.insert(k.to_owned(), extra(value)?);
                }
                k => {
                    fields.extras.insert(k.to_owned(), extra(value)?);
                }
            }
            i = skip_ws(b, end);
            match b.get(i)? {
                b',' => i = skip_ws(b, i + 1),
                b'}' => break,
                _ => return None,
            }
        }
        (skip_ws(b, i + 1) == b.len()).then_some(fields)
    }
}

/// A `token` or `action` value the fast path classifies itself: `null`, or
/// a string without escapes (empty: missing, as Python's `not token`).
fn string_field(b: &[u8], start: usize, end: usize) -> Option<Field> {
    match b.get(start..end)? {
        b"null" | b"\"\"" => Some(Field::Missing),
        [b'"', inner @ .., b'"'] if !inner.contains(&b'\\') => Some(Field::At(start + 1..end - 1)),
        _ => None,
    }
}

/// An extra field's value, already checked: serde_json builds it (these are
/// small; a failure, such as its nesting limit, goes to the full scan).
fn extra(value: &str) -> Option<Value> {
    serde_json::from_str(value).ok()
}

#[cfg(test)]
mod tests;
