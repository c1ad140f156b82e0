//! Reading types and attributes as written: `Result<T, E>`, `Option<T>`,
//! stream types, the context parameter, docs, lints and cfgs to carry over.

use quote::ToTokens;
use syn::{Attribute, GenericArgument, PathArguments, Type};

/// `T` and `E` of a type that is syntactically `Result<T, E>` (any path ending in `Result`;
/// `Result<T>` aliases are accepted, then `E` is unknown).
pub(super) fn result_args(ty: &Type) -> Option<(Type, Option<Type>)> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let types: Vec<&Type> = args
        .args
        .iter()
        .filter_map(|arg| match arg {
            GenericArgument::Type(ty) => Some(ty),
            _ => None,
        })
        .collect();
    match types.as_slice() {
        [ok] => Some(((*ok).clone(), None)),
        [ok, err] => Some(((*ok).clone(), Some((*err).clone()))),
        _ => None,
    }
}

/// `T` of a type that is syntactically `Option<T>` (any path ending in `Option`).
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    generic_arg_of(ty, "Option")
}

/// `T` of a type that is syntactically `<name><T>` (any path ending in `name`).
pub(super) fn generic_arg_of<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}

/// `A` and `T` of a type that is syntactically `(A, ItemStream<T>)` (any path ending in
/// `ItemStream`).
pub(super) fn ack_stream_args(ty: &Type) -> Option<(&Type, &Type)> {
    let Type::Tuple(tuple) = ty else { return None };
    let mut elems = tuple.elems.iter();
    let (Some(ack), Some(items), None) = (elems.next(), elems.next(), elems.next()) else {
        return None;
    };
    Some((ack, generic_arg_of(items, "ItemStream")?))
}

/// A shared reference to a path ending in `Context` (`&tpp_rpc::Context`, `&Context`).
pub(super) fn is_context_type(ty: &Type) -> bool {
    let Type::Reference(reference) = ty else {
        return false;
    };
    if reference.mutability.is_some() {
        return false;
    }
    let Type::Path(path) = &*reference.elem else {
        return false;
    };
    path.qself.is_none()
        && path
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "Context" && s.arguments.is_none())
}

/// The lint attributes (`allow`, `expect`, `warn`, `deny`, `forbid`) among `attrs`.
pub(crate) fn lints(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs
        .iter()
        .filter(|a| {
            ["allow", "expect", "warn", "deny", "forbid"]
                .iter()
                .any(|lint| a.path().is_ident(lint))
        })
        .cloned()
        .collect()
}

/// The `#[cfg(...)]` attributes among `attrs`.
pub(crate) fn cfgs(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .cloned()
        .collect()
}

/// The text of the `#[doc = "..."]` attributes: common indentation removed, lines trimmed at
/// the end, blank lines at both ends dropped, joined with `\n`.
pub(crate) fn doc_text(attrs: &[Attribute]) -> String {
    let mut lines: Vec<String> = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("doc")) {
        if let syn::Meta::NameValue(nv) = &attr.meta {
            if let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
            {
                lines.extend(
                    s.value()
                        .split('\n')
                        .map(|l| l.trim_end_matches('\r').to_owned()),
                );
            }
        }
    }
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let lines: Vec<&str> = lines
        .iter()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect();
    let start = lines
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(lines.len());
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(start, |i| i + 1);
    lines[start..end].join("\n")
}

/// A compact rendering of a type for `ParamInfo::ty` (`Option<String>`, `Vec<u8>`).
pub(crate) fn type_string(ty: &Type) -> String {
    let raw = ty.to_token_stream().to_string();
    let mut out = String::with_capacity(raw.len());
    let tokens: Vec<&str> = raw.split(' ').collect();
    for (i, token) in tokens.iter().enumerate() {
        let prev = if i == 0 { "" } else { tokens[i - 1] };
        let glue = i == 0
            || matches!(*token, "<" | ">" | "," | "::" | ")" | "]" | ";")
            || matches!(prev, "<" | "::" | "&" | "(" | "[" | "'");
        if !glue {
            out.push(' ');
        }
        out.push_str(token);
    }
    out
}
