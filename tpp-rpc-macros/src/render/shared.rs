//! What every renderer shares: the names of generated items, the runtime paths they use and
//! the parameters as the client sees them. Renderers import this module, never each other.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, ToTokens};
use syn::{Ident, Type};

use crate::model::{option_inner, Action, Role, Service};
use crate::naming::{screaming_snake_from_pascal, unraw, RenameRule};

/// `ReposServer` for `Repos`.
pub(crate) fn server_ident(svc: &Service) -> Ident {
    format_ident!("{}Server", svc.ident)
}

/// `REPOS_ACTIONS` for `Repos`.
pub(crate) fn actions_ident(svc: &Service) -> Ident {
    format_ident!(
        "{}_ACTIONS",
        screaming_snake_from_pascal(&unraw(&svc.ident))
    )
}

/// `serde(crate = "...")` value: the serde re-exported by the runtime.
pub(crate) fn serde_crate_str(svc: &Service) -> String {
    let krate = &svc.krate;
    quote!(#krate::__private::serde).to_string()
}

/// `ReposClient` for `Repos`.
pub(crate) fn client_ident(svc: &Service) -> Ident {
    format_ident!("{}Client", svc.ident)
}

/// `ReposRepoAddCall` for `Repos::repo_add`.
pub(crate) fn call_ident(svc: &Service, action: &Action) -> Ident {
    let method = RenameRule::Pascal.apply(&unraw(&action.method));
    format_ident!("{}{}Call", svc.ident, method)
}

/// A parameter as the client sees it.
pub(crate) struct CallParam<'a> {
    /// The parameter's name: the builder's field, and the setter of an optional one.
    pub ident: &'a Ident,
    /// What the caller gives: the parameter's type, or `T` of an `Option<T>`.
    pub ty: &'a Type,
    /// The body key (`None` for `#[body]`).
    pub key: Option<&'a str>,
    /// `Option<T>` or `#[param(default)]`: set with a setter, left out when unset.
    pub optional: bool,
    /// A `String`, taken as `impl Into<String>` (so `&str` works).
    pub into_string: bool,
}

impl<'a> CallParam<'a> {
    /// The parameters the client sends, in order.
    pub(crate) fn of(action: &'a Action) -> Vec<CallParam<'a>> {
        action
            .params
            .iter()
            .filter_map(|p| {
                let (key, optional, ty) = match &p.role {
                    Role::Context => return None,
                    Role::Body => (None, false, &p.ty),
                    Role::Named {
                        key,
                        optional,
                        default,
                    } => {
                        let ty = if *optional {
                            option_inner(&p.ty).unwrap_or(&p.ty)
                        } else {
                            &p.ty
                        };
                        (Some(key.as_str()), *optional || default.is_some(), ty)
                    }
                };
                Some(CallParam {
                    ident: &p.ident,
                    ty,
                    key,
                    optional,
                    into_string: is_string(ty),
                })
            })
            .collect()
    }
}

/// A path type `String` (or `std::string::String`).
fn is_string(ty: &Type) -> bool {
    let Type::Path(path) = ty else { return false };
    path.qself.is_none()
        && path
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "String" && s.arguments.is_none())
}

/// The argument type of a method or setter taking `ty`: `impl Into<String>` for a `String`.
pub(crate) fn setter_arg(_svc: &Service, ty: &Type) -> TokenStream {
    if is_string(ty) {
        quote!(impl ::core::convert::Into<::std::string::String>)
    } else {
        ty.to_token_stream()
    }
}

/// The error type of an action: `E` of `Result<T, E>`, or the alias's.
pub(crate) fn error_type(svc: &Service, action: &Action) -> TokenStream {
    let krate = &svc.krate;
    match &action.err_ty {
        Some(err) => err.to_token_stream(),
        None => {
            let output = &action.output;
            quote!(<#output as #krate::__private::ResultType>::Err)
        }
    }
}
