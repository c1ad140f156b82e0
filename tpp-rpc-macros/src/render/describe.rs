//! The service description: `<Trait>Client::description()`, built once from the model, with
//! each type's JSON Schema asked of the runtime through a probe (any JSON when it has none).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::Type;

use crate::attrs::ActionKind;
use crate::model::{Action, ParamDefault, Role, Service};
use crate::naming::unraw;

use super::shared::{client_ident, error_type};

/// `impl <Trait>Client { pub fn description() -> &'static ServiceDescription }`.
pub(crate) fn render_description(svc: &Service) -> TokenStream {
    let krate = &svc.krate;
    let private = quote!(#krate::__private);
    let client = client_ident(svc);
    let cfgs = &svc.cfgs;
    let lints = &svc.lints;
    let name = unraw(&svc.ident);
    let doc = &svc.doc;
    let strict = svc.strict;
    let actions = svc.actions.iter().map(|action| render_action(svc, action));
    quote! {
        #(#cfgs)*
        #(#lints)*
        impl #client {
            /// This service's description: every action's wire name, doc, kind, parameters
            /// and errors, with JSON Schemas of their types (what `list-funcs` answers when
            /// asked with `{"tpp_describe": true}`). Built once.
            pub fn description() -> &'static #krate::ServiceDescription {
                static DESCRIPTION: ::std::sync::OnceLock<#krate::ServiceDescription> =
                    ::std::sync::OnceLock::new();
                DESCRIPTION.get_or_init(|| {
                    #[allow(unused_imports)]
                    use #private::{
                        LacksDefault as _, LacksJsonSchema as _, LacksSerialize as _,
                        LacksVariants as _, ViaDefault as _, ViaJsonSchema as _,
                        ViaSerialize as _, ViaVariants as _,
                    };
                    let mut __tpp_set = #private::SchemaSet::new();
                    #[allow(unused_mut)]
                    let mut __tpp_actions = ::std::vec::Vec::new();
                    #(#actions)*
                    #krate::describe::build::service(
                        #name,
                        #doc,
                        #strict,
                        __tpp_actions,
                        __tpp_set.into_defs(),
                    )
                })
            }
        }
    }
}

/// The schema of `ty`, added to the service's set.
fn schema(svc: &Service, ty: &Type) -> TokenStream {
    let private = {
        let krate = &svc.krate;
        quote!(#krate::__private)
    };
    quote_spanned!(ty.span()=> (&#private::Probe::<#ty>::NEW).tpp_schema(&mut __tpp_set))
}

/// One `__tpp_actions.push(...)`, under the action's `#[cfg]`s.
fn render_action(svc: &Service, action: &Action) -> TokenStream {
    let krate = &svc.krate;
    let private = quote!(#krate::__private);
    let cfgs = &action.cfgs;
    let name = &action.wire_name;
    let method = unraw(&action.method);
    let doc = &action.doc;
    let kind = match action.kind {
        ActionKind::Unary => quote!(Unary),
        ActionKind::Bare => quote!(Bare),
        ActionKind::Stream | ActionKind::AckStream => quote!(Stream),
    };
    let params = action.named_params().map(|p| {
        let Role::Named { key, .. } = &p.role else {
            return quote!();
        };
        let required = p.required();
        let schema = schema(svc, &p.ty);
        if let Role::Named {
            default: Some(ParamDefault::OfType),
            ..
        } = &p.role
        {
            let ty = &p.ty;
            return quote! {
                #krate::describe::build::param_value(
                    #key,
                    #required,
                    (&#private::Probe::<#ty>::NEW)
                        .default_value()
                        .and_then(|value| {
                            #private::serde_json::to_value(
                                (&#private::Probe::<#ty>::NEW).encode(&value),
                            )
                            .ok()
                        }),
                    #schema,
                ),
            };
        }
        let default = match p.announced_default() {
            Some(json) => quote!(::core::option::Option::Some(#json)),
            None => quote!(::core::option::Option::None),
        };
        quote!(#krate::describe::build::param(#key, #required, #default, #schema),)
    });
    let body = match action.body_param() {
        Some(p) => {
            let schema = schema(svc, &p.ty);
            quote!(::core::option::Option::Some(#schema))
        }
        None => quote!(::core::option::Option::None),
    };
    let result = schema(svc, &action.wire_ty);
    let ack = match &action.ack_ty {
        Some(ack) => {
            let schema = schema(svc, ack);
            quote!(::core::option::Option::Some(#schema))
        }
        None => quote!(::core::option::Option::None),
    };
    let err = error_type(svc, action);
    let p = &action.policy;
    let option = |v: Option<u64>| match v {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    };
    let (timeout, concurrency, idempotent) =
        (option(p.timeout_ms), option(p.concurrency), p.idempotent);
    quote! {
        #(#cfgs)*
        {
            let __tpp_params = ::std::vec![#(#params)*];
            let __tpp_body = #body;
            let __tpp_result = #result;
            let __tpp_ack = #ack;
            let __tpp_errors = (&#private::Probe::<#err>::NEW).tpp_variants(&mut __tpp_set);
            let mut __tpp_action = #krate::describe::build::action(
                #name,
                #method,
                #doc,
                #krate::describe::Kind::#kind,
                __tpp_params,
                __tpp_body,
                __tpp_result,
                __tpp_ack,
                __tpp_errors,
            );
            __tpp_action.policy =
                #krate::describe::PolicyDescription::new(#timeout, #concurrency, #idempotent);
            __tpp_actions.push(__tpp_action);
        }
    }
}
