//! The service model: what `#[toxic_service]` understood of the trait, after validation.
//!
//! [`Service::from_trait`] checks every rule the macro promises and reports all violations
//! together; rendering (`render.rs`) only ever sees a valid model. Each action is validated in
//! `model/action.rs`, each parameter in `model/param.rs`.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::{Attribute, Block, Ident, ItemTrait, Path, TraitItem, Type, Visibility};

pub(crate) use crate::attrs::ParamDefault;
use crate::attrs::{ActionKind, Errors, ServiceArgs};

mod action;
mod param;
mod syntax;
pub(crate) use syntax::{cfgs, lints, option_inner, type_string};

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
    /// The trait's doc comment, trimmed (for the description).
    pub doc: String,
    /// `#[toxic_service(strict)]`: body keys that name no parameter are refused.
    pub strict: bool,
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
    /// `timeout`, `concurrency`, `idempotent` from `#[action(...)]`.
    pub policy: crate::attrs::Policy,
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
        /// `#[param(default ...)]`: what is used when the key is absent.
        default: Option<ParamDefault>,
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

    /// The default announced by list-funcs: the explicit one (the type's `Default` when the
    /// macro knows it), else `null` for `Option`s.
    pub(crate) fn announced_default(&self) -> Option<String> {
        match &self.role {
            Role::Named {
                default: Some(ParamDefault::Json(json)),
                ..
            } => Some(json.clone()),
            Role::Named {
                default: Some(ParamDefault::OfType),
                ..
            } => crate::defaults::type_default_json(&self.ty),
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
            doc: syntax::doc_text(&item.attrs),
            strict: args.strict,
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

#[cfg(test)]
mod tests;
