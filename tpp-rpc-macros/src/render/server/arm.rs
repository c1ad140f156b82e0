//! One action's dispatch arm: parameters decoded from the body, the method called, its
//! answer (or stream) written.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::Ident;

use crate::attrs::ActionKind;
use crate::model::{Action, ParamDefault, Role, Service};

use super::super::shared::{error_type, serde_crate_str};

/// One `"wire-name" => { ... }` arm of the dispatch.
///
/// Every use of the user's types goes through a `Probe` (see `tpp_rpc::__private`), so that a
/// type lacking serde or `ToxicError` is reported once, by `render_assertions`, not here.
pub(super) fn render_arm(svc: &Service, action: &Action) -> TokenStream {
    let krate = &svc.krate;
    let private = quote!(#krate::__private);
    let trait_ident = &svc.ident;
    let serde = quote!(#private::serde);
    let serde_crate = serde_crate_str(svc);
    let wire = &action.wire_name;
    let method = &action.method;
    let cfgs = &action.cfgs;
    let lints = &action.lints;

    let (parse, args): (TokenStream, Vec<TokenStream>) = if let Some(body) = action.body_param() {
        let ty = &body.ty;
        let parse = quote! {
            let __tpp_value: #ty = match __tpp_body::<#ty>(
                #wire,
                conn.body_json(),
                conn.body_may_be_wide(),
                |text, wide| (&#private::Probe::<#ty>::NEW).decode_body_str(text, wide),
            ) {
                ::core::result::Result::Ok(value) => value,
                ::core::result::Result::Err(message) => return conn.send_error(1, &message).await,
            };
        };
        let args = action
            .params
            .iter()
            .map(|p| match p.role {
                Role::Context => quote!(conn.context()),
                _ => quote!(__tpp_value),
            })
            .collect();
        (parse, args)
    } else {
        // Generic over the parameters' types: the derive itself never names a user type.
        let named: Vec<&crate::model::Param> = action.named_params().collect();
        let generics: Vec<Ident> = (0..named.len())
            .map(|i| format_ident!("__TppP{}", i))
            .collect();
        let mut instances = Vec::new();
        let fields = named.iter().zip(&generics).map(|(p, generic)| {
            let Role::Named {
                key,
                optional,
                default,
            } = &p.role
            else {
                unreachable!()
            };
            let ident = &p.ident;
            let ty = &p.ty;
            match (default, optional) {
                // Absent (or null): the default, filled in after parsing.
                (Some(_), _) => {
                    instances.push(quote!(#ty));
                    quote! {
                        #[serde(rename = #key, default)]
                        #ident: ::core::option::Option<#generic>
                    }
                }
                (None, true) => {
                    instances.push(quote!(#ty));
                    quote!(#[serde(rename = #key, default)] #ident: #generic)
                }
                (None, false) => {
                    instances.push(quote!(#ty));
                    quote!(#[serde(rename = #key)] #ident: #generic)
                }
            }
        });
        let fields: Vec<TokenStream> = fields.collect();
        let expecting = format!("an object with the parameters of action {wire}");
        let params_ty = quote!(__TppParams<#(#instances),*>);
        // Unknown keys are ignored unless the service is `strict`: a newer client's new
        // optional parameter reaches a replica not yet upgraded harmlessly.
        let strict = svc.strict.then(|| quote!(deny_unknown_fields,));
        let parse = quote! {
            #[derive(#serde::Deserialize)]
            #[serde(crate = #serde_crate, #strict expecting = #expecting)]
            struct __TppParams<#(#generics),*> {
                #(#fields),*
            }
            let __tpp_params: #params_ty = match __tpp_params(
                #wire,
                conn.body_json(),
                conn.body_may_be_wide(),
                |text, wide| (&#private::Probe::<#params_ty>::NEW).decode_body_str(text, wide),
            ) {
                ::core::result::Result::Ok(params) => params,
                ::core::result::Result::Err(message) => return conn.send_error(1, &message).await,
            };
        };
        let args = action
            .params
            .iter()
            .map(|p| {
                let ident = &p.ident;
                match &p.role {
                    Role::Context => quote!(conn.context()),
                    Role::Named {
                        default: Some(ParamDefault::OfType),
                        ..
                    } => {
                        let ty = &p.ty;
                        quote! {
                            match __tpp_params.#ident {
                                ::core::option::Option::Some(value) => value,
                                ::core::option::Option::None => {
                                    #[allow(unused_imports)]
                                    use #private::{LacksDefault as _, ViaDefault as _};
                                    match (&#private::Probe::<#ty>::NEW).default_value() {
                                        ::core::option::Option::Some(value) => value,
                                        ::core::option::Option::None => {
                                            return conn.send_error(1, "no default").await
                                        }
                                    }
                                }
                            }
                        }
                    }
                    Role::Named {
                        default: Some(ParamDefault::Json(json)),
                        ..
                    } => {
                        let ty = &p.ty;
                        // Checked by `new`: this default deserializes.
                        quote! {
                            match __tpp_params.#ident {
                                ::core::option::Option::Some(value) => value,
                                ::core::option::Option::None => {
                                    match (&#private::Probe::<#ty>::NEW).decode_str(#json) {
                                        ::core::result::Result::Ok(value) => value,
                                        ::core::result::Result::Err(error) => {
                                            return conn.send_error(1, &::std::string::ToString::to_string(&error)).await
                                        }
                                    }
                                }
                            }
                        }
                    }
                    _ => quote!(__tpp_params.#ident),
                }
            })
            .collect();
        (parse, args)
    };

    // Every argument is computed first (its errors answered at once); then the method runs,
    // a unary one watched so that it is dropped when its client leaves.
    let unary = !action.kind.is_stream();
    let mut bindings = Vec::new();
    let mut call_args = Vec::new();
    for (i, (param, arg)) in action.params.iter().zip(args).enumerate() {
        match (&param.role, unary) {
            (Role::Context, true) => call_args.push(quote!(__tpp_ctx)),
            (Role::Context, false) => call_args.push(quote!(conn.context())),
            _ => {
                let binding = format_ident!("__tpp_arg{}", i);
                bindings.push(quote!(let #binding = #arg;));
                call_args.push(quote!(#binding));
            }
        }
    }
    let permit = action.policy.concurrency.map(|_| {
        let index = svc
            .actions
            .iter()
            .take_while(|a| !std::ptr::eq(*a, action))
            .filter(|a| a.policy.concurrency.is_some())
            .count();
        quote!(let __tpp_permit = #private::permit(&self.permits, #index).await;)
    });
    let run = if unary {
        quote! {
            #(#bindings)*
            let __tpp_outcome = {
                let (__tpp_ctx, __tpp_watch) = conn.watch_client();
                __tpp_watch
                    .run(async {
                        #permit
                        <T as #trait_ident>::#method(&*self.inner, #(#call_args),*).await
                    })
                    .await
            };
            let __tpp_result = match __tpp_outcome {
                ::core::option::Option::Some(result) => result,
                // The client left: its work was dropped, nobody reads an answer.
                ::core::option::Option::None => return ::core::result::Result::Ok(()),
            };
        }
    } else {
        quote! {
            #(#bindings)*
            #permit
            let __tpp_result = <T as #trait_ident>::#method(&*self.inner, #(#call_args),*).await;
        }
    };

    let send_ok = match action.kind {
        ActionKind::Bare => {
            let ok = &action.wire_ty;
            quote!(conn.send_response(0, (&#private::Probe::<#ok>::NEW).encode(&value)).await)
        }
        ActionKind::Unary => {
            let ok = &action.wire_ty;
            quote!(conn.send_result((&#private::Probe::<#ok>::NEW).encode(&value)).await)
        }
        ActionKind::Stream => {
            let item = &action.wire_ty;
            quote! {
                #krate::stream::send_stream::<_, ()>(
                    conn,
                    ::core::option::Option::None,
                    (&#private::Probe::<#item>::NEW).encode_items(value),
                )
                .await
            }
        }
        ActionKind::AckStream => {
            let item = &action.wire_ty;
            let ack = &action.ack_ty;
            quote! {{
                let (__tpp_ack, __tpp_items) = value;
                #krate::stream::send_stream(
                    conn,
                    ::core::option::Option::Some(&(&#private::Probe::<#ack>::NEW).encode(&__tpp_ack)),
                    (&#private::Probe::<#item>::NEW).encode_items(__tpp_items),
                )
                .await
            }}
        }
    };
    // A stream's error is its only answer; the connection closes after it, as after a
    // stream.
    let close_on_error = action.kind.is_stream().then(|| quote!(conn.close();));
    let err = error_type(svc, action);

    quote! {
        #(#cfgs)*
        #(#lints)*
        #wire => {
            #parse
            #run
            match __tpp_result {
                ::core::result::Result::Ok(value) => #send_ok,
                ::core::result::Result::Err(error) => {
                    let __tpp_error = (&#private::Probe::<#err>::NEW).error_answer(error);
                    #close_on_error
                    #private::send_service_error(conn, &__tpp_error).await
                }
            }
        }
    }
}
