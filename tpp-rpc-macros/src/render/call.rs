//! Rendering of the call builders: for each action, `<Trait><Method>Call`, what the client
//! method returns. It holds the parameters (required ones given to the method, optional ones
//! set with one setter each) and per-call timeouts, and it is `IntoFuture`: awaiting it sends
//! the request and answers `Result<T, tpp_rpc::CallError<E>>`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Ident, Type};

use crate::attrs::ActionKind;
use crate::model::{Action, Service};
use crate::naming::unraw;

use super::shared::{call_ident, client_ident, error_type, serde_crate_str, setter_arg, CallParam};

/// The call builder of one action, with its setters and `IntoFuture`.
pub(crate) fn render_call(svc: &Service, action: &Action) -> TokenStream {
    let krate = &svc.krate;
    let private = quote!(#krate::__private);
    let serde = quote!(#private::serde);
    let serde_crate = serde_crate_str(svc);
    let vis = &svc.vis;
    let client = client_ident(svc);
    let call = call_ident(svc, action);
    let method = &action.method;
    let wire = &action.wire_name;
    let cfgs: Vec<_> = svc.cfgs.iter().chain(&action.cfgs).collect();
    let lints: Vec<_> = svc.lints.iter().chain(&action.lints).collect();
    let params = CallParam::of(action);
    let err = error_type(svc, action);
    let item = &action.wire_ty;
    let is_stream = action.kind.is_stream();

    let fields = params.iter().map(|p| {
        let (ident, ty) = (p.ident, p.ty);
        if p.optional {
            quote!(#ident: ::core::option::Option<#ty>)
        } else {
            quote!(#ident: #ty)
        }
    });
    let setters = params.iter().filter(|p| p.optional).map(|p| {
        let ident = p.ident;
        let arg = setter_arg(svc, p.ty);
        let value = if p.into_string {
            quote!(::core::convert::Into::into(#ident))
        } else {
            quote!(#ident)
        };
        let doc = format!(
            "Sets the optional parameter `{}` (body key `{}`); left unset, it is not sent.",
            unraw(ident),
            p.key.unwrap_or_default()
        );
        quote! {
            #[doc = #doc]
            pub fn #ident(mut self, #ident: #arg) -> Self {
                self.#ident = ::core::option::Option::Some(#value);
                self
            }
        }
    });
    let item_timeout_setter = is_stream.then(|| {
        quote! {
            /// Bounds the wait for each item of this stream (default: the client's
            /// `item_timeout`, none unless set).
            pub fn item_timeout(mut self, timeout: ::core::time::Duration) -> Self {
                self.__tpp_item_timeout = ::core::option::Option::Some(timeout);
                self
            }
        }
    });

    // The body: `#[body]`'s value, or an object of the keys (generic over the parameters'
    // types, so that a type that is not serde is reported once, at the type).
    let (args, args_ty) = match params.iter().find(|p| p.key.is_none()) {
        Some(body) => {
            let (ident, ty) = (body.ident, body.ty);
            (quote!(let __tpp_args = self.#ident;), quote!(#ty))
        }
        None => {
            let generics: Vec<Ident> = (0..params.len())
                .map(|i| format_ident!("__TppA{}", i))
                .collect();
            let fields = params.iter().zip(&generics).map(|(p, generic)| {
                let ident = p.ident;
                let key = p.key.unwrap_or_default();
                if p.optional {
                    quote! {
                        #[serde(rename = #key, skip_serializing_if = "::core::option::Option::is_none")]
                        #ident: ::core::option::Option<#generic>
                    }
                } else {
                    quote!(#[serde(rename = #key)] #ident: #generic)
                }
            });
            let idents: Vec<&Ident> = params.iter().map(|p| p.ident).collect();
            let tys: Vec<&Type> = params.iter().map(|p| p.ty).collect();
            (
                quote! {
                    #[derive(#serde::Serialize)]
                    #[serde(crate = #serde_crate)]
                    struct __TppArgs<#(#generics),*> {
                        #(#fields),*
                    }
                    let __tpp_args = __TppArgs { #(#idents: self.#idents),* };
                },
                quote!(__TppArgs<#(#tys),*>),
            )
        }
    };

    let items = quote!(#krate::CallStream<#item, #err>);
    let output = match action.kind {
        ActionKind::Stream => items.clone(),
        ActionKind::AckStream => {
            let ack = &action.ack_ty;
            quote!((#ack, #items))
        }
        ActionKind::Unary | ActionKind::Bare => quote!(#item),
    };
    let error = quote!(|e| (&#private::Probe::<#err>::NEW).call_error(e));
    let decode_items = quote!(|r| (&#private::Probe::<#item>::NEW).decode_body(r, #wire));
    let item_timeout = quote! {
        match self.__tpp_item_timeout {
            ::core::option::Option::Some(timeout) => ::core::option::Option::Some(timeout),
            ::core::option::Option::None => __tpp_client.item_timeout(),
        }
    };
    // Only an idempotent action is ever sent again (once, after a lost connection).
    let request = match action.policy.idempotent {
        true => quote!(request_idempotent),
        false => quote!(request),
    };
    let send = match action.kind {
        ActionKind::Unary | ActionKind::Bare => {
            let decode = if action.kind == ActionKind::Bare {
                quote!(decode_body)
            } else {
                quote!(decode_result)
            };
            quote! {
                let __tpp_response = __tpp_client.#request(#wire, __tpp_body).await.map_err(#error)?;
                (&#private::Probe::<#item>::NEW).#decode(&__tpp_response, #wire).map_err(#error)
            }
        }
        ActionKind::Stream => quote! {
            let __tpp_stream = __tpp_client
                .request_stream(#wire, __tpp_body, #item_timeout)
                .await
                .map_err(#error)?;
            ::core::result::Result::Ok(#private::typed_items(__tpp_stream, #decode_items, #error))
        },
        ActionKind::AckStream => {
            let ack = &action.ack_ty;
            quote! {
                let (__tpp_ack, __tpp_stream) = #private::request_stream_ack(
                    __tpp_client,
                    #wire,
                    __tpp_body,
                    #item_timeout,
                    |r| (&#private::Probe::<#ack>::NEW).decode_result(r, #wire),
                )
                .await
                .map_err(#error)?;
                ::core::result::Result::Ok((
                    __tpp_ack,
                    #private::typed_items(__tpp_stream, #decode_items, #error),
                ))
            }
        }
    };

    let doc = format!(
        "The call of [`{client}::{method}`]: set optional parameters and per-call timeouts, \
         then `.await` it."
    );
    let future = quote! {
        ::core::pin::Pin<
            #private::Box<
                dyn ::core::future::Future<Output = ::core::result::Result<#output, #krate::CallError<#err>>>
                    + ::core::marker::Send
                    + '__tpp,
            >,
        >
    };
    quote! {
        #(#cfgs)*
        #(#lints)*
        #[doc = #doc]
        #[must_use = "a call does nothing until it is awaited"]
        #vis struct #call<'__tpp> {
            __tpp_client: &'__tpp #client,
            __tpp_timeout: ::core::option::Option<::core::time::Duration>,
            #[allow(dead_code)]
            __tpp_item_timeout: ::core::option::Option<::core::time::Duration>,
            #(#fields,)*
        }

        #(#cfgs)*
        #(#lints)*
        impl<'__tpp> #call<'__tpp> {
            #(#setters)*

            /// Bounds this call (connecting, sending and the answer; a stream's
            /// acknowledgement, not its items), instead of the client's timeout.
            pub fn timeout(mut self, timeout: ::core::time::Duration) -> Self {
                self.__tpp_timeout = ::core::option::Option::Some(timeout);
                self
            }

            #item_timeout_setter
        }

        #(#cfgs)*
        #(#lints)*
        impl<'__tpp> ::core::future::IntoFuture for #call<'__tpp> {
            type Output = ::core::result::Result<#output, #krate::CallError<#err>>;
            type IntoFuture = #future;

            fn into_future(self) -> Self::IntoFuture {
                #private::Box::pin(async move {
                    #[allow(unused_imports)]
                    use #private::{
                        LacksDeserialize as _, LacksSerialize as _, LacksToxicError as _,
                        ViaDeserialize as _, ViaSerialize as _, ViaToxicError as _,
                    };
                    #args
                    let __tpp_owned;
                    let __tpp_client: &#krate::Client = match self.__tpp_timeout {
                        ::core::option::Option::Some(timeout) => {
                            __tpp_owned = self.__tpp_client.inner.with_timeout(timeout);
                            &__tpp_owned
                        }
                        ::core::option::Option::None => &self.__tpp_client.inner,
                    };
                    let __tpp_body = (&#private::Probe::<#args_ty>::NEW).encode(&__tpp_args);
                    #send
                })
            }
        }
    }
}
