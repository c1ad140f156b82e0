//! A request's extra and reserved top-level members: the envelope scan only
//! notes where they are, and they are built into `Value`s the first time
//! something reads them, which is after the token was accepted. So a
//! request refused for its token never costs a tree, however large and
//! nested its extras.

use std::ops::Range;
use std::sync::OnceLock;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::Deserializer;
use serde_json::{Map, Value};

use crate::wire::fields::{DEADLINE_FIELD, KEEP_ALIVE_FIELD, RESERVED_PREFIX};
use crate::wire::json;

/// Members noted by position; more (or one whose key has escapes) and the
/// payload is read again when they are first asked for. Three covers what
/// tpp's own clients send (a request id and a traceparent), and keeps the
/// request small: it is moved from the parse to the handler's context.
const NOTED: usize = 3;

/// One kind of top-level members (extras, or reserved `tpp_*` ones).
#[derive(Debug, Clone, Default)]
pub(crate) struct Members {
    /// Key (without quotes) and value, as positions in the payload.
    noted: [(u32, u32, u32, u32); NOTED],
    len: u8,
    /// Some were not noted: read the payload again to build them.
    overflow: bool,
    built: OnceLock<Map<String, Value>>,
}

impl PartialEq for Members {
    fn eq(&self, other: &Self) -> bool {
        self.overflow == other.overflow && self.noted() == other.noted()
    }
}

impl Members {
    fn noted(&self) -> &[(u32, u32, u32, u32)] {
        &self.noted[..usize::from(self.len)]
    }

    /// Notes a member whose key has no escapes. A repeated key: the last
    /// one wins when they are built, as serde_json's map does.
    pub(super) fn note(&mut self, key: Range<usize>, value: Range<usize>) {
        let narrow =
            |r: &Range<usize>| Some((u32::try_from(r.start).ok()?, u32::try_from(r.end).ok()?));
        match (narrow(&key), narrow(&value)) {
            (Some(k), Some(v)) if usize::from(self.len) < NOTED => {
                self.noted[usize::from(self.len)] = (k.0, k.1, v.0, v.1);
                self.len += 1;
            }
            _ => self.overflow = true,
        }
    }

    /// A member that could not be noted (a key with escapes).
    pub(super) fn note_unplaced(&mut self) {
        self.overflow = true;
    }

    /// The members, built on first use from `payload`; `reserved` says
    /// which kind these are.
    pub(super) fn get(&self, payload: &str, reserved: bool) -> &Map<String, Value> {
        self.built.get_or_init(|| {
            if self.len == 0 && !self.overflow {
                return Map::new();
            }
            if self.overflow {
                return collect(payload, reserved, None);
            }
            let mut map = Map::new();
            for &(ks, ke, vs, ve) in self.noted() {
                let text = |s: u32, e: u32| payload.get(s as usize..e as usize).unwrap_or("null");
                map.insert(text(ks, ke).to_owned(), json::value_lenient(text(vs, ve)));
            }
            map
        })
    }
}

impl Members {
    /// The member `key` alone, built now (the others are not).
    pub(super) fn one(&self, payload: &str, reserved: bool, key: &str) -> Option<Value> {
        if let Some(built) = self.built.get() {
            return built.get(key).cloned();
        }
        if self.overflow {
            return collect(payload, reserved, Some(key)).remove(key);
        }
        let text = |s: u32, e: u32| payload.get(s as usize..e as usize).unwrap_or("null");
        let &(_, _, vs, ve) = self
            .noted()
            .iter()
            .rev()
            .find(|(ks, ke, _, _)| text(*ks, *ke) == key)?;
        Some(json::value_lenient(text(vs, ve)))
    }
}

/// Every member of one kind in `payload` (or only `only`), by one more pass
/// over it (the rest skipped without being built).
#[cold]
fn collect(payload: &str, reserved: bool, only: Option<&str>) -> Map<String, Value> {
    let sanitized = json::replace_literals(payload);
    let text = sanitized.as_deref().unwrap_or(payload);
    let literals = json::Literals {
        original: payload,
        sanitized: text,
        lenient: true,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    de.deserialize_map(Collect {
        reserved,
        only,
        literals,
    })
    .unwrap_or_default()
}

struct Collect<'a> {
    reserved: bool,
    only: Option<&'a str>,
    literals: json::Literals<'a>,
}

impl<'de> Visitor<'de> for Collect<'de> {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let is_reserved = key.starts_with(RESERVED_PREFIX);
            let wanted = !matches!(
                key.as_str(),
                "token" | "action" | "body" | KEEP_ALIVE_FIELD | DEADLINE_FIELD
            ) && is_reserved == self.reserved
                && self.only.is_none_or(|only| only == key);
            if wanted {
                let value = map.next_value_seed(json::Seed {
                    seed: std::marker::PhantomData::<Value>,
                    literals: self.literals,
                })?;
                out.insert(key, value);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}
