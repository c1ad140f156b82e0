//! One action, validated from one trait method: its signature, receiver, wire name,
//! parameters and result types, each checked by its own function. Every check reports all its
//! errors and says whether the method is still usable.

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, Ident, Pat, ReturnType, Signature, TraitItemFn, Type};

use crate::attrs::{ActionArgs, ActionKind, Errors, ParamArgs, ServiceArgs};
use crate::naming::unraw;

use super::syntax::{ack_stream_args, cfgs, doc_text, generic_arg_of, lints, result_args};
use super::{Action, Param, Role, CLIENT_RESERVED};

/// What the result type says travels on the wire.
struct Output {
    /// The full return type as written.
    output: Type,
    /// `T`, or the item type of a stream.
    wire_ty: Type,
    /// `A` of an acknowledged stream.
    ack_ty: Option<Type>,
    /// `E` of `Result<T, E>`, when written.
    err_ty: Option<Type>,
}

impl Action {
    /// Validates one method. Returns the action and the span to blame for its name.
    pub(super) fn from_method(
        args: &ServiceArgs,
        method: &TraitItemFn,
        errors: &mut Errors,
    ) -> Option<(Action, Span)> {
        let mut attrs = method.attrs.clone();
        let action_args = ActionArgs::take(&mut attrs, errors);
        let kind = action_args.kind(errors);
        let policy = action_args.policy.policy(kind, errors);
        let sig = &method.sig;
        let ident = &sig.ident;

        if sig.asyncness.is_none() && rewritten_by_async_trait(sig) {
            // Every other check would fail on async-trait's output; one error says why.
            errors.spanned(
                fn_head(sig),
                "this method was already rewritten by `#[async_trait]`, which runs first when \
                 written above `#[toxic_service]`: remove it from the trait and write \
                 `#[toxic_service(dyn)]` (or put `#[async_trait]` under `#[toxic_service]`)",
            );
            return None;
        }
        let mut ok = check_signature(sig, errors);
        let receiver = receiver(sig, errors);
        let (wire_name, name_span) = wire_name(args, &action_args, ident, errors, &mut ok);
        let params = params(sig, &wire_name, errors, &mut ok);
        ok &= body_is_alone(&params, errors);
        ok &= keys_are_unique(&params, errors);
        let output = output(sig, kind, errors);

        if CLIENT_RESERVED.contains(&unraw(ident).as_str()) {
            errors.spanned(
                ident,
                format!(
                    "`{ident}` is a method of the generated client; rename the method and keep \
                     the wire name with #[action(name = \"{wire_name}\")]"
                ),
            );
            ok = false;
        }

        let (receiver, output) = (receiver?, output?);
        if !ok {
            return None;
        }
        let docs: Vec<Attribute> = attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .cloned()
            .collect();
        let action = Action {
            method: ident.clone(),
            wire_name,
            doc: doc_text(&attrs),
            docs,
            cfgs: cfgs(&attrs),
            lints: lints(&attrs),
            attrs,
            receiver,
            params,
            output: output.output,
            wire_ty: output.wire_ty,
            ack_ty: output.ack_ty,
            err_ty: output.err_ty,
            kind,
            policy,
            default_body: method.default.clone(),
            span: sig.span(),
        };
        Some((action, name_span))
    }
}

/// `fn name`: a short place to blame for errors about the whole method.
fn fn_head(sig: &Signature) -> TokenStream {
    let (fn_token, ident) = (&sig.fn_token, &sig.ident);
    quote!(#fn_token #ident)
}

/// The signature's qualifiers and generics: `async fn`, nothing else.
fn check_signature(sig: &Signature, errors: &mut Errors) -> bool {
    let mut ok = true;
    if sig.asyncness.is_none() {
        errors.spanned(
            fn_head(sig),
            "action methods must be `async fn`: write `async fn` here",
        );
        ok = false;
    }
    if let Some(constness) = &sig.constness {
        errors.spanned(constness, "action methods cannot be `const`");
        ok = false;
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.spanned(unsafety, "action methods cannot be `unsafe`");
        ok = false;
    }
    if let Some(abi) = &sig.abi {
        errors.spanned(abi, "action methods cannot have an ABI");
        ok = false;
    }
    if let Some(variadic) = &sig.variadic {
        errors.spanned(variadic, "action methods cannot be variadic");
        ok = false;
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        let blame: &dyn ToTokens = if sig.generics.params.is_empty() {
            &sig.generics.where_clause
        } else {
            &sig.generics
        };
        errors.spanned(
            blame,
            "action methods cannot be generic: every parameter needs one concrete type \
             to be deserialized from the request",
        );
        ok = false;
    }
    ok
}

/// The method's `&self`, or `None` (reported) when the first parameter is anything else.
fn receiver(sig: &Signature, errors: &mut Errors) -> Option<syn::Receiver> {
    match sig.inputs.first() {
        Some(FnArg::Receiver(receiver))
            if receiver
                .reference
                .as_ref()
                .is_some_and(|(_, lt)| lt.is_none())
                && receiver.mutability.is_none()
                && receiver.colon_token.is_none() =>
        {
            Some(receiver.clone())
        }
        Some(FnArg::Receiver(receiver)) => {
            errors.spanned(
                receiver,
                "action methods must take `&self` (the service is shared by every connection)",
            );
            None
        }
        Some(first @ FnArg::Typed(_)) => {
            errors.spanned(
                first,
                "action methods must take `&self` as their first parameter",
            );
            None
        }
        None => {
            errors.spanned(
                fn_head(sig),
                "action methods must take `&self` as their first parameter",
            );
            None
        }
    }
}

/// The name on the wire (`#[action(name)]` or the renamed method) and the span to blame.
fn wire_name(
    args: &ServiceArgs,
    action_args: &ActionArgs,
    ident: &Ident,
    errors: &mut Errors,
    ok: &mut bool,
) -> (String, Span) {
    let (wire_name, name_span) = match &action_args.name {
        Some(lit) => (lit.value(), lit.span()),
        None => (args.rename_all.apply(&unraw(ident)), ident.span()),
    };
    if wire_name.is_empty() {
        errors.at(name_span, "an action name cannot be empty");
        *ok = false;
    } else if wire_name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        errors.at(
            name_span,
            format!(
                "invalid action name {wire_name:?}: action names cannot contain \
                 whitespace or control characters"
            ),
        );
        *ok = false;
    }
    (wire_name, name_span)
}

/// The parameters after the receiver, each classified; the unusable ones are reported and
/// left out.
fn params(sig: &Signature, wire_name: &str, errors: &mut Errors, ok: &mut bool) -> Vec<Param> {
    let skip = usize::from(matches!(sig.inputs.first(), Some(FnArg::Receiver(_))));
    let mut params = Vec::new();
    for input in sig.inputs.iter().skip(skip) {
        let FnArg::Typed(typed) = input else {
            // A second receiver: rustc reports it.
            continue;
        };
        let mut param_attrs = typed.attrs.clone();
        let param_args = ParamArgs::take(&mut param_attrs, errors);
        let param_ident = match &*typed.pat {
            Pat::Ident(pat)
                if pat.by_ref.is_none() && pat.mutability.is_none() && pat.subpat.is_none() =>
            {
                pat.ident.clone()
            }
            other => {
                errors.spanned(
                    other,
                    "pattern arguments are not supported in action methods: use a plain \
                     identifier, it names the body key",
                );
                *ok = false;
                continue;
            }
        };
        let ty = (*typed.ty).clone();
        match Param::new(param_ident, ty, param_args, wire_name, errors) {
            Some(param) => params.push(param),
            None => *ok = false,
        }
    }
    params
}

/// `#[body]` takes the whole body, so it must be the only body parameter.
fn body_is_alone(params: &[Param], errors: &mut Errors) -> bool {
    let body_params: Vec<&Param> = params
        .iter()
        .filter(|p| matches!(p.role, Role::Body))
        .collect();
    let named: Vec<String> = params
        .iter()
        .filter(|p| !matches!(p.role, Role::Context))
        .map(|p| format!("`{}`", p.ident))
        .collect();
    if body_params.is_empty() || named.len() <= 1 {
        return true;
    }
    for body in &body_params {
        let this = format!("`{}`", body.ident);
        let others: Vec<&str> = named
            .iter()
            .filter(|n| **n != this)
            .map(String::as_str)
            .collect();
        errors.spanned(
            &body.ident,
            format!(
                "#[body] takes the whole body, so it must be the only body \
                 parameter; this method also has {}",
                others.join(", ")
            ),
        );
    }
    false
}

/// Body keys must be unique (after `#[param(rename)]`).
fn keys_are_unique(params: &[Param], errors: &mut Errors) -> bool {
    let mut ok = true;
    let mut keys: HashMap<&str, &Ident> = HashMap::new();
    for param in params {
        if let Role::Named { key, .. } = &param.role {
            if let Some(other) = keys.insert(key.as_str(), &param.ident) {
                errors.spanned(
                    &param.ident,
                    format!("duplicate body key \"{key}\" (also used by `{other}`)"),
                );
                ok = false;
            }
        }
    }
    ok
}

/// The result: `Result<T, E>`, with `T` read according to the action's kind.
fn output(sig: &Signature, kind: ActionKind, errors: &mut Errors) -> Option<Output> {
    let ty = match &sig.output {
        ReturnType::Default => {
            errors.spanned(
                sig,
                "action methods must return `Result<T, E>` (E: tpp_rpc::ToxicError)",
            );
            return None;
        }
        ReturnType::Type(_, ty) => ty,
    };
    let Some((ok_ty, err_ty)) = result_args(ty) else {
        errors.spanned(
            ty,
            "action methods must return `Result<T, E>` where E implements \
             tpp_rpc::ToxicError (T is the answer, E the error code and message)",
        );
        return None;
    };
    let (wire_ty, ack_ty) = wire_types(ok_ty, kind, errors)?;
    Some(Output {
        output: (**ty).clone(),
        wire_ty,
        ack_ty,
        err_ty,
    })
}

/// What travels for `T`: `T` itself; a stream's `ItemStream<Item>` sends `Item`s; an
/// acknowledged stream's `(Ack, ItemStream<Item>)` sends `Ack`, then `Item`s.
fn wire_types(ok_ty: Type, kind: ActionKind, errors: &mut Errors) -> Option<(Type, Option<Type>)> {
    match kind {
        ActionKind::Stream => {
            if let Some(item) = generic_arg_of(&ok_ty, "ItemStream") {
                return Some((item.clone(), None));
            }
            let hint = if ack_stream_args(&ok_ty).is_some() {
                "; to send an acknowledgement first, write `#[action(stream, ack)]`"
            } else {
                ""
            };
            errors.spanned(
                &ok_ty,
                format!(
                    "streaming actions return `Result<tpp_rpc::ItemStream<T>, E>`: the \
                     items are sent one response each, then the connection closes{hint}"
                ),
            );
            None
        }
        ActionKind::AckStream => {
            if let Some((ack, item)) = ack_stream_args(&ok_ty) {
                return Some((item.clone(), Some(ack.clone())));
            }
            errors.spanned(
                &ok_ty,
                "acknowledged streams return `Result<(A, tpp_rpc::ItemStream<T>), E>`: `A` \
                 is sent first as {\"<action>\": ack}, then each item as one response, \
                 then the connection closes",
            );
            None
        }
        _ => Some((ok_ty, None)),
    }
}

/// Whether a method is `#[async_trait]`'s rewrite of an `async fn`: a `'async_trait` lifetime
/// parameter and a `Pin<...>` result.
fn rewritten_by_async_trait(sig: &syn::Signature) -> bool {
    let has_lifetime = sig
        .generics
        .lifetimes()
        .any(|l| l.lifetime.ident == "async_trait");
    let ReturnType::Type(_, ty) = &sig.output else {
        return false;
    };
    let Type::Path(path) = &**ty else {
        return false;
    };
    has_lifetime && path.path.segments.last().is_some_and(|s| s.ident == "Pin")
}
