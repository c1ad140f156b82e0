//! Rendering of the typed client: `<Trait>Client`, a wrapper of `tpp_rpc::Client` with one method
//! per action. Each method takes the required parameters and returns the action's call builder
//! (`call.rs`), which is awaited.

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::{Action, Service, LIST_FUNCS};
use crate::naming::unraw;

use super::shared::{call_ident, client_ident, setter_arg, CallParam};

/// The `<Trait>Client` type.
pub(crate) fn render_client(svc: &Service) -> TokenStream {
    let krate = &svc.krate;
    let trait_ident = &svc.ident;
    let client = client_ident(svc);
    let vis = &svc.vis;
    let cfgs = &svc.cfgs;
    let lints = &svc.lints;
    let serde_json = quote!(#krate::__private::serde_json);

    let methods = svc.actions.iter().map(|action| render_method(svc, action));
    let list_funcs = (!svc.has_list_funcs
        && !svc.actions.iter().any(|a| unraw(&a.method) == "list_funcs"))
    .then(|| {
        quote! {
            /// Calls the generated `list-funcs` action: every action with its doc and
            /// parameters, as toxicbuild's hole answers it.
            pub async fn list_funcs(
                &self,
            ) -> ::core::result::Result<#krate::FuncList, #krate::ClientError> {
                self.inner
                    .request2server::<_, #krate::FuncList>(#LIST_FUNCS, &#serde_json::json!({}))
                    .await
            }
        }
    });

    let doc = format!(
        "A typed client of [`{trait_ident}`]: one method per action, taking the required \
         parameters; optional ones and per-call timeouts are set on the call it returns, which \
         is then awaited. Wraps a `tpp_rpc::Client` (address, TLS, token, timeouts and extra \
         request fields are set there)."
    );
    quote! {
        #(#cfgs)*
        #(#lints)*
        #[doc = #doc]
        #[derive(::core::clone::Clone)]
        #vis struct #client {
            inner: #krate::Client,
        }

        #(#cfgs)*
        #(#lints)*
        #[allow(dead_code)]
        impl #client {
            /// Wraps a connected-on-demand `tpp_rpc::Client`.
            pub fn new(client: #krate::Client) -> Self {
                Self { inner: client }
            }

            /// The wrapped `tpp_rpc::Client`.
            pub fn inner(&self) -> &#krate::Client {
                &self.inner
            }

            /// Unwraps the `tpp_rpc::Client`.
            pub fn into_inner(self) -> #krate::Client {
                self.inner
            }

            /// A copy of this client with another call timeout: connecting, sending and the
            /// answer (a stream's acknowledgement; not a stream's items).
            pub fn with_timeout(&self, timeout: ::core::time::Duration) -> Self {
                Self { inner: self.inner.with_timeout(timeout) }
            }

            /// A copy of this client with another wait limit for each item of a stream
            /// (`None`: wait as long as the server keeps the stream open).
            pub fn with_item_timeout(
                &self,
                timeout: ::core::option::Option<::core::time::Duration>,
            ) -> Self {
                Self { inner: self.inner.with_item_timeout(timeout) }
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
        #(#lints)*
        impl ::core::convert::From<#krate::Client> for #client {
            fn from(client: #krate::Client) -> Self {
                Self::new(client)
            }
        }

    }
}

/// One client method: required parameters in, the call builder out.
fn render_method(svc: &Service, action: &Action) -> TokenStream {
    let method = &action.method;
    let docs = &action.docs;
    let cfgs = &action.cfgs;
    let lints = &action.lints;
    let call = call_ident(svc, action);
    let params = CallParam::of(action);
    let separator = (!docs.is_empty()).then(|| quote!(#[doc = ""]));
    let optional: Vec<String> = params
        .iter()
        .filter(|p| p.optional)
        .map(|p| format!("`{}`", unraw(p.ident)))
        .collect();
    let call_doc = if optional.is_empty() {
        format!(
            "Calls the `{}` action: `.await` the returned [`{call}`] (after `.timeout(d)` to \
             bound this call alone).",
            action.wire_name
        )
    } else {
        format!(
            "Calls the `{}` action: `.await` the returned [`{call}`], after setting any of the \
             optional parameters {} on it (left out, the server's default applies).",
            action.wire_name,
            optional.join(", ")
        )
    };
    let inputs = params.iter().filter(|p| !p.optional).map(|p| {
        let ident = &p.ident;
        let ty = setter_arg(svc, p.ty);
        quote!(#ident: #ty)
    });
    let fields = params.iter().map(|p| {
        let ident = &p.ident;
        if p.optional {
            quote!(#ident: ::core::option::Option::None)
        } else if p.into_string {
            quote!(#ident: ::core::convert::Into::into(#ident))
        } else {
            quote!(#ident)
        }
    });
    quote! {
        #(#cfgs)*
        #(#docs)*
        #separator
        #[doc = #call_doc]
        #(#lints)*
        #[allow(clippy::too_many_arguments)]
        pub fn #method(&self, #(#inputs),*) -> #call<'_> {
            #call {
                __tpp_client: self,
                __tpp_timeout: ::core::option::Option::None,
                __tpp_item_timeout: ::core::option::Option::None,
                #(#fields),*
            }
        }
    }
}
