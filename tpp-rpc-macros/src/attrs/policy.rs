//! An action's policy arguments in `#[action(...)]`: `timeout = "5s"`, `concurrency = 4`,
//! `idempotent`.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::{Lit, LitInt, LitStr};

use super::{once, Errors};
use crate::attrs::ActionKind;

/// What an action declares about how it may be called.
#[derive(Default, Clone, Copy)]
pub(crate) struct Policy {
    /// The action's own time limit, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// At most this many calls at once per server.
    pub concurrency: Option<u64>,
    /// Safe to run twice: the client sends it again once after a lost connection.
    pub idempotent: bool,
}

/// The policy arguments as written, with their spans (for conflicts).
#[derive(Default)]
pub(crate) struct PolicyArgs {
    timeout: Option<(u64, Span)>,
    concurrency: Option<(u64, Span)>,
    idempotent: Option<Span>,
}

/// The forms of a timeout, for the errors about it.
const TIMEOUT_FORMS: &str = "a duration with its unit: `timeout = \"250ms\"`, `\"5s\"`, `\"2m\"` \
     or `\"1h\"`";

impl PolicyArgs {
    /// Parses `meta` when it is a policy argument; `false` when it is not one.
    pub(crate) fn parse(&mut self, meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> bool {
        let path = &meta.path;
        if path.is_ident("timeout") {
            let value = meta.value().and_then(|v| v.parse::<Lit>());
            match errors.ok(value) {
                Some(Lit::Str(lit)) => {
                    if let Some(ms) = timeout_ms(&lit, errors) {
                        if once(self.timeout.is_some(), meta, errors) {
                            self.timeout = Some((ms, lit.span()));
                        }
                    }
                }
                Some(other) => errors.spanned(
                    other,
                    format!("`timeout` takes {TIMEOUT_FORMS} (a string, so the unit is written)"),
                ),
                None => {}
            }
        } else if path.is_ident("concurrency") {
            let value = meta.value().and_then(|v| v.parse::<Lit>());
            match errors.ok(value) {
                Some(Lit::Int(lit)) => {
                    if let Some(n) = concurrency(&lit, errors) {
                        if once(self.concurrency.is_some(), meta, errors) {
                            self.concurrency = Some((n, lit.span()));
                        }
                    }
                }
                Some(other) => errors.spanned(
                    other,
                    "`concurrency` takes a whole number of calls at least 1, e.g. \
                     `concurrency = 4`",
                ),
                None => {}
            }
        } else if path.is_ident("idempotent") {
            if !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
                errors.spanned(
                    path,
                    "`idempotent` takes no value: write `#[action(idempotent)]`",
                );
                let _ = super::skip_value(meta);
            } else if once(self.idempotent.is_some(), meta, errors) {
                self.idempotent = Some(path.segments[0].ident.span());
            }
        } else {
            return false;
        }
        true
    }

    /// The policy, checked against the action's kind.
    pub(crate) fn policy(&self, kind: ActionKind, errors: &mut Errors) -> Policy {
        if let (Some(span), true) = (self.idempotent, kind.is_stream()) {
            errors.at(
                span,
                "`idempotent` only applies to unary actions: a stream is never sent again \
                 (its items may already have been read)",
            );
        }
        Policy {
            timeout_ms: self.timeout.map(|(ms, _)| ms),
            concurrency: self.concurrency.map(|(n, _)| n),
            idempotent: self.idempotent.is_some(),
        }
    }
}

/// `"250ms"`, `"5s"`, `"2m"`, `"1h"` (whole numbers) in milliseconds.
fn timeout_ms(lit: &LitStr, errors: &mut Errors) -> Option<u64> {
    let text = lit.value();
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let per_unit: u64 = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => {
            errors.spanned(
                lit,
                format!("invalid timeout {text:?}: expected {TIMEOUT_FORMS}"),
            );
            return None;
        }
    };
    let Some(ms) = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(per_unit))
    else {
        errors.spanned(
            lit,
            format!("invalid timeout {text:?}: expected {TIMEOUT_FORMS}"),
        );
        return None;
    };
    if ms == 0 {
        errors.spanned(
            lit,
            "a timeout of zero would fail every call: give the time the action may take",
        );
        return None;
    }
    Some(ms)
}

/// A concurrency of at least 1.
fn concurrency(lit: &LitInt, errors: &mut Errors) -> Option<u64> {
    match lit.base10_parse::<u64>() {
        Ok(0) => {
            errors.spanned(
                lit,
                "a concurrency of 0 would never run the action: give at least 1",
            );
            None
        }
        Ok(n) if n <= u64::from(u32::MAX) => Some(n),
        _ => {
            errors.spanned(
                lit,
                "`concurrency` takes a whole number of calls from 1 to 4294967295",
            );
            None
        }
    }
}
