//! The service model: what `#[toxic_service]` understood of the trait, after validation.
//!
//! [`Service::from_trait`] checks every rule the macro promises and reports all violations
//! together; rendering (`server.rs`, `client.rs`) only ever sees a valid model.

use std::collections::HashMap;

use proc_macro2::Span;
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::{
    Attribute, Block, FnArg, Ident, ItemTrait, Pat, Path, ReturnType, TraitItem, TraitItemFn, Type,
    Visibility,
};

use crate::attrs::{ActionArgs, ActionKind, Errors, ParamArgs, ServiceArgs};
use crate::naming::unraw;

mod syntax;
use syntax::{ack_stream_args, generic_arg_of, is_context_type, result_args};
pub(crate) use syntax::{cfgs, doc_text, lints, option_inner, type_string};

/// Method names the generated client already defines; an action method may not use them.
const CLIENT_RESERVED: &[&str] = &[
    "new",
    "inner",
    "into_inner",
    "with_timeout",
    "with_item_timeout",
    "with_field",
];

/// Method names of every generated call builder; an optional parameter (which gets a setter
/// there) may not use them.
const CALL_RESERVED: &[&str] = &["timeout", "item_timeout", "into_future"];

/// The wire name of the generated introspection action.
pub(crate) const LIST_FUNCS: &str = "list-funcs";

/// A validated `#[toxic_service]` trait.
pub(crate) struct Service {
    /// The trait's attributes (docs, cfg, ...), re-emitted on the trait.
    pub attrs: Vec<Attribute>,
    /// The trait's `#[cfg]`s, also put on every generated item.
    pub cfgs: Vec<Attribute>,
    /// The trait's lint attributes (`#[allow(...)]`...), also put on every generated item.
    pub lints: Vec<Attribute>,
    /// The trait's visibility, shared by every generated item.
    pub vis: Visibility,
    /// The trait's name.
    pub ident: Ident,
    /// The user's supertraits (`Send + Sync + 'static` are added when rendering).
    pub supertraits: Vec<syn::TypeParamBound>,
    /// The runtime crate's path (`::tpp_rpc` unless `crate = "..."`).
    pub krate: Path,
    /// The actions, in declaration order.
    pub actions: Vec<Action>,
    /// Whether no `list-funcs` is generated: the trait defines its own, or the service
    /// has none (`list_funcs = false`).
    pub has_list_funcs: bool,
    /// `#[toxic_service(dyn)]` (or `#[async_trait]` under it): a dyn-compatible trait whose
    /// methods return boxed futures, through `async-trait`.
    pub dyn_mode: bool,
}

/// One action: a method of the trait.
pub(crate) struct Action {
    /// The method's name.
    pub method: Ident,
    /// The name on the wire.
    pub wire_name: String,
    /// The doc comment, trimmed, lines joined with `\n` (for list-funcs).
    pub doc: String,
    /// The method's remaining attributes (docs, cfg, lints...), re-emitted on the trait.
    pub attrs: Vec<Attribute>,
    /// The method's `#[doc]` attributes, copied onto the client method.
    pub docs: Vec<Attribute>,
    /// The method's `#[cfg]` attributes, copied onto everything generated for it.
    pub cfgs: Vec<Attribute>,
    /// The method's lint attributes, copied onto the client method, its call builder and the
    /// server's dispatch arm.
    pub lints: Vec<Attribute>,
    /// The user's `&self`, re-emitted as written (its hygiene matches the default body's).
    pub receiver: syn::Receiver,
    /// The parameters after `&self`.
    pub params: Vec<Param>,
    /// The full return type as written (`Result<T, E>`).
    pub output: Type,
    /// What travels on the wire: `T`, or the item type of a stream's `ItemStream<T>`.
    pub wire_ty: Type,
    /// `A` of an acknowledged stream's `(A, ItemStream<T>)`.
    pub ack_ty: Option<Type>,
    /// `E` of `Result<T, E>`, when written.
    pub err_ty: Option<Type>,
    /// How the action answers.
    pub kind: ActionKind,
    /// A default body written in the trait, if any.
    pub default_body: Option<Block>,
    /// The method signature's span (for spans on generated code).
    pub span: Span,
}

/// One parameter of an action method.
pub(crate) struct Param {
    /// The parameter's name.
    pub ident: Ident,
    /// The parameter's type.
    pub ty: Type,
    /// Where its value comes from.
    pub role: Role,
}

/// Where a parameter's value comes from.
pub(crate) enum Role {
    /// A key of the body object.
    Named {
        /// The key (the parameter's name, or `#[param(rename)]`).
        key: String,
        /// `Option<T>`: may be absent or null.
        optional: bool,
        /// `#[param(default = "...")]`: JSON text used when the key is absent.
        default: Option<String>,
    },
    /// `#[body]`: the whole body.
    Body,
    /// `ctx: &Context` or `#[context]`: the request context.
    Context,
}

impl Param {
    /// Whether a caller must send this key (list-funcs' `required`).
    pub(crate) fn required(&self) -> bool {
        match &self.role {
            Role::Named {
                optional, default, ..
            } => !optional && default.is_none(),
            Role::Body => true,
            Role::Context => false,
        }
    }

    /// The default announced by list-funcs: the explicit one, else `null` for `Option`s.
    pub(crate) fn announced_default(&self) -> Option<String> {
        match &self.role {
            Role::Named {
                default: Some(default),
                ..
            } => Some(default.clone()),
            Role::Named { optional: true, .. } => Some("null".to_owned()),
            _ => None,
        }
    }
}

impl Action {
    /// The parameters that are keys of the body object.
    pub(crate) fn named_params(&self) -> impl Iterator<Item = &Param> {
        self.params
            .iter()
            .filter(|p| matches!(p.role, Role::Named { .. }))
    }

    /// The `#[body]` parameter, if any.
    pub(crate) fn body_param(&self) -> Option<&Param> {
        self.params.iter().find(|p| matches!(p.role, Role::Body))
    }
}

impl Service {
    /// Validates `item` and builds the model, or returns every error found.
    pub(crate) fn from_trait(args: ServiceArgs, item: &ItemTrait, errors: &mut Errors) -> Service {
        if let Some(unsafety) = &item.unsafety {
            errors.spanned(unsafety, "a #[toxic_service] trait cannot be `unsafe`");
        }
        if let Some(auto) = &item.auto_token {
            errors.spanned(auto, "a #[toxic_service] trait cannot be an auto trait");
        }
        if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
            errors.spanned(
                &item.generics,
                "a #[toxic_service] trait cannot be generic; use concrete types",
            );
        }

        let mut actions = Vec::new();
        let mut seen: HashMap<String, (Ident, Span)> = HashMap::new();
        for trait_item in &item.items {
            let TraitItem::Fn(method) = trait_item else {
                errors.spanned(
                    trait_item,
                    "only `async fn` action methods are allowed in a #[toxic_service] trait",
                );
                continue;
            };
            let Some((action, name_span)) = Action::from_method(&args, method, errors) else {
                continue;
            };
            if let Some((other, _)) = seen.get(&action.wire_name) {
                errors.at(
                    name_span,
                    format!(
                        "duplicate action name \"{}\": method `{}` already answers it",
                        action.wire_name, other
                    ),
                );
                continue;
            }
            seen.insert(action.wire_name.clone(), (action.method.clone(), name_span));
            actions.push(action);
        }

        let has_list_funcs = !args.list_funcs || actions.iter().any(|a| a.wire_name == LIST_FUNCS);
        let mut attrs = item.attrs.clone();
        let async_trait_attr = take_async_trait(&mut attrs, errors);
        Service {
            dyn_mode: args.dyn_mode.is_some() || async_trait_attr,
            attrs,
            cfgs: cfgs(&item.attrs),
            lints: lints(&item.attrs),
            vis: item.vis.clone(),
            ident: item.ident.clone(),
            supertraits: item.supertraits.iter().cloned().collect(),
            krate: args.krate,
            actions,
            has_list_funcs,
        }
    }
}

impl Action {
    /// Validates one method. Returns the action and the span to blame for its name.
    fn from_method(
        args: &ServiceArgs,
        method: &TraitItemFn,
        errors: &mut Errors,
    ) -> Option<(Action, Span)> {
        let mut attrs = method.attrs.clone();
        let action_args = ActionArgs::take(&mut attrs, errors);
        let kind = action_args.kind(errors);
        let sig = &method.sig;
        let ident = &sig.ident;
        let head_for = |tokens: &dyn ToTokens| {
            let fn_token = &sig.fn_token;
            quote!(#fn_token #tokens)
        };
        let mut ok = true;

        if sig.asyncness.is_none() && rewritten_by_async_trait(sig) {
            // Every other check would fail on async-trait's output; one error says why.
            errors.spanned(
                head_for(ident),
                "this method was already rewritten by `#[async_trait]`, which runs first when \
                 written above `#[toxic_service]`: remove it from the trait and write \
                 `#[toxic_service(dyn)]` (or put `#[async_trait]` under `#[toxic_service]`)",
            );
            return None;
        }
        if sig.asyncness.is_none() {
            errors.spanned(
                head_for(ident),
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

        // The receiver.
        let mut inputs = sig.inputs.iter();
        let mut self_receiver = None;
        match inputs.next() {
            Some(FnArg::Receiver(receiver))
                if receiver
                    .reference
                    .as_ref()
                    .is_some_and(|(_, lt)| lt.is_none())
                    && receiver.mutability.is_none()
                    && receiver.colon_token.is_none() =>
            {
                self_receiver = Some(receiver.clone());
            }
            Some(FnArg::Receiver(receiver)) => {
                errors.spanned(
                    receiver,
                    "action methods must take `&self` (the service is shared by every connection)",
                );
                ok = false;
            }
            Some(first @ FnArg::Typed(_)) => {
                errors.spanned(
                    first,
                    "action methods must take `&self` as their first parameter",
                );
                ok = false;
            }
            None => {
                errors.spanned(
                    head_for(ident),
                    "action methods must take `&self` as their first parameter",
                );
                ok = false;
            }
        }
        let inputs: Vec<&FnArg> = if matches!(sig.inputs.first(), Some(FnArg::Receiver(_))) {
            inputs.collect()
        } else {
            sig.inputs.iter().collect()
        };

        // The wire name.
        let (wire_name, name_span) = match &action_args.name {
            Some(lit) => (lit.value(), lit.span()),
            None => (args.rename_all.apply(&unraw(ident)), ident.span()),
        };
        if wire_name.is_empty() {
            errors.at(name_span, "an action name cannot be empty");
            ok = false;
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
            ok = false;
        }
        // The parameters.
        let mut params = Vec::new();
        for input in inputs {
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
                    ok = false;
                    continue;
                }
            };
            let ty = (*typed.ty).clone();
            if let Some(param) = Param::new(param_ident, ty, param_args, &wire_name, errors) {
                params.push(param);
            } else {
                ok = false;
            }
        }

        // #[body] must be the only body parameter.
        let body_params: Vec<&Param> = params
            .iter()
            .filter(|p| matches!(p.role, Role::Body))
            .collect();
        if !body_params.is_empty() {
            let named: Vec<String> = params
                .iter()
                .filter(|p| !matches!(p.role, Role::Context))
                .map(|p| format!("`{}`", p.ident))
                .collect();
            if named.len() > 1 {
                for body in &body_params {
                    errors.spanned(
                        &body.ident,
                        format!(
                            "#[body] takes the whole body, so it must be the only body \
                             parameter; this method also has {}",
                            named
                                .iter()
                                .filter(|n| **n != format!("`{}`", body.ident))
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                }
                ok = false;
            }
        }

        // Body keys must be unique (after #[param(rename)]).
        let mut keys: HashMap<&str, &Ident> = HashMap::new();
        for param in &params {
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

        // The result.
        let (output, ok_ty, err_ty) = match &sig.output {
            ReturnType::Default => {
                errors.spanned(
                    sig,
                    "action methods must return `Result<T, E>` (E: tpp_rpc::ToxicError)",
                );
                ok = false;
                (None, None, None)
            }
            ReturnType::Type(_, ty) => match result_args(ty) {
                Some((ok_ty, err_ty)) => (Some((**ty).clone()), Some(ok_ty), err_ty),
                None => {
                    errors.spanned(
                        ty,
                        "action methods must return `Result<T, E>` where E implements \
                         tpp_rpc::ToxicError (T is the answer, E the error code and message)",
                    );
                    ok = false;
                    (None, None, None)
                }
            },
        };

        // A stream's `T` is `ItemStream<Item>`; an acknowledged stream's is
        // `(Ack, ItemStream<Item>)`.
        let mut ack_ty = None;
        let wire_ty = match (&ok_ty, kind) {
            (Some(ok_ty), ActionKind::Stream) => match generic_arg_of(ok_ty, "ItemStream") {
                Some(item) => Some(item.clone()),
                None => {
                    let hint = if ack_stream_args(ok_ty).is_some() {
                        "; to send an acknowledgement first, write `#[action(stream, ack)]`"
                    } else {
                        ""
                    };
                    errors.spanned(
                        ok_ty,
                        format!(
                            "streaming actions return `Result<tpp_rpc::ItemStream<T>, E>`: the \
                             items are sent one response each, then the connection closes{hint}"
                        ),
                    );
                    ok = false;
                    None
                }
            },
            (Some(ok_ty), ActionKind::AckStream) => match ack_stream_args(ok_ty) {
                Some((ack, item)) => {
                    ack_ty = Some(ack.clone());
                    Some(item.clone())
                }
                None => {
                    errors.spanned(
                        ok_ty,
                        "acknowledged streams return `Result<(A, tpp_rpc::ItemStream<T>), E>`: `A` \
                         is sent first as {\"<action>\": ack}, then each item as one response, \
                         then the connection closes",
                    );
                    ok = false;
                    None
                }
            },
            (ok_ty, _) => ok_ty.clone(),
        };

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

        if !ok {
            return None;
        }
        let docs: Vec<Attribute> = attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .cloned()
            .collect();
        Some((
            Action {
                method: ident.clone(),
                wire_name,
                doc: doc_text(&attrs),
                docs,
                cfgs: cfgs(&attrs),
                lints: lints(&attrs),
                attrs,
                receiver: self_receiver?,
                params,
                output: output?,
                wire_ty: wire_ty?,
                ack_ty,
                err_ty,
                kind,
                default_body: method.default.clone(),
                span: sig.span(),
            },
            name_span,
        ))
    }
}

impl Param {
    /// Classifies one parameter after its attributes were parsed.
    fn new(
        ident: Ident,
        ty: Type,
        args: ParamArgs,
        action: &str,
        errors: &mut Errors,
    ) -> Option<Param> {
        let mut ok = true;
        let is_context = args.context.is_some() || is_context_type(&ty);
        if let (Some(body), true) = (args.body, is_context) {
            errors.at(
                body,
                "a parameter cannot be both #[body] and the request context",
            );
            ok = false;
        }
        if let (Some(span), true) = (args.param_span, args.body.is_some() || is_context) {
            errors.at(
                span,
                "#[param(...)] only applies to parameters that are body keys, \
                 not to #[body] or context parameters",
            );
            ok = false;
        }
        if let (Type::Reference(reference), false) = (&ty, is_context) {
            errors.spanned(
                reference,
                "action parameters must be owned types, deserialized from the request \
                 (e.g. `String` instead of `&str`); only the context is passed by reference",
            );
            ok = false;
        }
        if let (Some((json, span)), false) = (&args.default, is_context || args.body.is_some()) {
            let value: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
            if let Err(why) = crate::defaults::check(&ty, &value) {
                errors.at(
                    *span,
                    format!(
                        "invalid default for parameter `{}` of action \"{action}\": {why}",
                        unraw(&ident)
                    ),
                );
                ok = false;
            }
        }
        let optional = args.default.is_some() || option_inner(&ty).is_some();
        if optional && !is_context && args.body.is_none() {
            let name = unraw(&ident);
            if CALL_RESERVED.contains(&name.as_str()) {
                errors.spanned(
                    &ident,
                    format!(
                        "an optional parameter gets a setter on the call builder, which already \
                         has `{name}()`; rename the parameter and keep the body key with \
                         #[param(rename = \"{name}\")]"
                    ),
                );
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        let role = if is_context {
            Role::Context
        } else if args.body.is_some() {
            Role::Body
        } else {
            Role::Named {
                key: args
                    .rename
                    .as_ref()
                    .map_or_else(|| unraw(&ident), syn::LitStr::value),
                optional: option_inner(&ty).is_some(),
                default: args.default.map(|(json, _)| json),
            }
        };
        Some(Param { ident, ty, role })
    }
}

/// Removes an `#[async_trait]` (any path ending in `async_trait`) written on the trait under
/// `#[toxic_service]`, and tells whether there was one: it asks for the dyn mode, which applies
/// `async-trait` itself. `#[async_trait(?Send)]` is an error: the server needs `Send` futures.
fn take_async_trait(attrs: &mut Vec<Attribute>, errors: &mut Errors) -> bool {
    let mut found = false;
    attrs.retain(|attr| {
        let is_async_trait = attr
            .path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "async_trait");
        if !is_async_trait {
            return true;
        }
        if !matches!(attr.meta, syn::Meta::Path(_)) {
            errors.spanned(
                attr,
                "a #[toxic_service] trait cannot take `#[async_trait(...)]` arguments: the \
                 server runs actions on a multi-threaded runtime, so their futures must be \
                 `Send`; write `#[toxic_service(dyn)]` alone",
            );
        }
        found = true;
        false
    });
    found
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

#[cfg(test)]
mod tests;
