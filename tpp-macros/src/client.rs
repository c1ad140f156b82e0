//! Rendering of the typed client: `<Trait>Client`, a wrapper of `tpp::Client` with one
//! method per action.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::Ident;

use crate::attrs::ActionKind;
use crate::model::{Action, Role, Service, LIST_FUNCS};
use crate::naming::unraw;
use crate::server::serde_crate_str;

/// `ReposClient` for `Repos`.
pub(crate) fn client_ident(svc: &Service) -> Ident {
    format_ident!("{}Client", svc.ident)
}

/// The `<Trait>Client` type.
pub(crate) fn render_client(svc: &Service) -> TokenStream {
    let krate = &svc.krate;
    let trait_ident = &svc.ident;
    let client = client_ident(svc);
    let vis = &svc.vis;
    let cfgs = &svc.cfgs;
    let serde_json = quote!(#krate::__private::serde_json);

    let methods = svc.actions.iter().map(|action| render_method(svc, action));
    let list_funcs = (!svc.has_list_funcs
        && !svc.actions.iter().any(|a| unraw(&a.method) == "list_funcs"))
    .then(|| {
        let serde = quote!(#krate::__private::serde);
        let serde_crate = serde_crate_str(svc);
        quote! {
            /// Calls the generated `list-funcs` action: per action, its doc and parameters,
            /// as toxicbuild's hole answers it.
            pub async fn list_funcs(
                &self,
            ) -> ::core::result::Result<#serde_json::Value, #krate::ClientError> {
                #[derive(#serde::Serialize)]
                #[serde(crate = #serde_crate)]
                struct __TppArgs {}
                self.inner
                    .request2server::<__TppArgs, #serde_json::Value>(#LIST_FUNCS, &__TppArgs {})
                    .await
            }
        }
    });

    let doc = format!(
        "A typed client of [`{trait_ident}`]: one method per action, with the same parameters. \
         Wraps a `tpp::Client` (address, TLS, token, timeout and extra request fields are set \
         there)."
    );
    quote! {
        #(#cfgs)*
        #[doc = #doc]
        #[derive(::core::clone::Clone)]
        #vis struct #client {
            inner: #krate::Client,
        }

        #(#cfgs)*
        #[allow(dead_code)]
        impl #client {
            /// Wraps a connected-on-demand `tpp::Client`.
            pub fn new(client: #krate::Client) -> Self {
                Self { inner: client }
            }

            /// The wrapped `tpp::Client`.
            pub fn inner(&self) -> &#krate::Client {
                &self.inner
            }

            /// Unwraps the `tpp::Client`.
            pub fn into_inner(self) -> #krate::Client {
                self.inner
            }

            /// A copy of this client whose calls each time out after `timeout`.
            pub fn with_timeout(&self, timeout: ::core::time::Duration) -> Self {
                Self { inner: self.inner.with_timeout(timeout) }
            }

            /// A copy of this client that sends `key: value` at the top level of every
            /// request (beside `token`, `action` and `body`), like the hole's `user_id`.
            pub fn with_field(
                &self,
                key: impl ::core::convert::Into<::std::string::String>,
                value: impl ::core::convert::Into<#serde_json::Value>,
            ) -> Self {
                Self { inner: self.inner.with_field(key, value) }
            }

            #list_funcs

            #(#methods)*
        }

        #(#cfgs)*
        impl ::core::convert::From<#krate::Client> for #client {
            fn from(client: #krate::Client) -> Self {
                Self::new(client)
            }
        }
    }
}

/// One client method.
fn render_method(svc: &Service, action: &Action) -> TokenStream {
    let krate = &svc.krate;
    let serde = quote!(#krate::__private::serde);
    let serde_crate = serde_crate_str(svc);
    let wire = &action.wire_name;
    let method = &action.method;
    let ok_ty = &action.wire_ty;
    let docs = &action.docs;
    let cfgs = &action.cfgs;
    let call_doc = format!("Calls the `{wire}` action.");
    let separator = (!docs.is_empty()).then(|| quote!(#[doc = ""]));
    // Spanned at `T`, so that a `T` that is not `DeserializeOwned` is reported there.
    let ok_span = syn::spanned::Spanned::span(ok_ty);
    let call = match action.kind {
        ActionKind::Bare => Ident::new("request_bare", ok_span),
        ActionKind::Unary => Ident::new("request2server", ok_span),
        ActionKind::Stream => Ident::new("request_stream", ok_span),
        ActionKind::AckStream => Ident::new("request_stream_ack", ok_span),
    };
    // A stream: the items, each decoded into `T`; the client's timeout also bounds the wait
    // for each item (as the Python client's does for each read).
    let items = quote! {
        ::core::pin::Pin<
            #krate::__private::Box<
                dyn #krate::__private::futures_core::Stream<
                    Item = ::core::result::Result<#ok_ty, #krate::ClientError>,
                > + ::core::marker::Send,
            >,
        >
    };
    let output = match (action.kind, &action.ack_ty) {
        (ActionKind::Stream, _) => items,
        (ActionKind::AckStream, Some(ack_ty)) => quote!((#ack_ty, #items)),
        _ => quote!(#ok_ty),
    };
    let finish = |args: TokenStream, args_ty: TokenStream| match (action.kind, &action.ack_ty) {
        (ActionKind::Stream, _) => quote! {
            let __tpp_timeout = self.inner.timeout();
            let __tpp_stream = self.inner.#call::<#args_ty>(#wire, #args, __tpp_timeout).await?;
            ::core::result::Result::Ok(#krate::__private::Box::pin(__tpp_stream.typed::<#ok_ty>()))
        },
        (ActionKind::AckStream, Some(ack_ty)) => quote! {
            let __tpp_timeout = self.inner.timeout();
            let (__tpp_ack, __tpp_stream) = self
                .inner
                .#call::<#args_ty, #ack_ty>(#wire, #args, __tpp_timeout)
                .await?;
            ::core::result::Result::Ok((
                __tpp_ack,
                #krate::__private::Box::pin(__tpp_stream.typed::<#ok_ty>()),
            ))
        },
        _ => quote!(self.inner.#call::<#args_ty, #ok_ty>(#wire, #args).await),
    };

    let inputs = action
        .params
        .iter()
        .filter(|p| !matches!(p.role, Role::Context))
        .map(|p| {
            let (ident, ty) = (&p.ident, &p.ty);
            quote!(#ident: #ty)
        });

    let send = if let Some(body) = action.body_param() {
        let (ident, ty) = (&body.ident, &body.ty);
        finish(quote!(&#ident), quote!(#ty))
    } else {
        let fields = action.named_params().map(|p| {
            let Role::Named { key, optional, .. } = &p.role else {
                unreachable!()
            };
            let (ident, ty) = (&p.ident, &p.ty);
            let skip = optional
                .then(|| quote!(#[serde(skip_serializing_if = "::core::option::Option::is_none")]));
            quote! {
                #[serde(rename = #key)]
                #skip
                #ident: #ty
            }
        });
        let idents = action.named_params().map(|p| &p.ident);
        let send = quote! {
            #[derive(#serde::Serialize)]
            #[serde(crate = #serde_crate)]
            struct __TppArgs {
                #(#fields),*
            }
            let __tpp_args = __TppArgs { #(#idents),* };
        };
        let call = finish(quote!(&__tpp_args), quote!(__TppArgs));
        quote!(#send #call)
    };

    quote! {
        #(#cfgs)*
        #(#docs)*
        #separator
        #[doc = #call_doc]
        pub async fn #method(
            &self,
            #(#inputs),*
        ) -> ::core::result::Result<#output, #krate::ClientError> {
            #send
        }
    }
}
