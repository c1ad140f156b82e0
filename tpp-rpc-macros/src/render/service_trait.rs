//! The trait as users implement it: helper attributes removed, `Send + Sync + 'static` added,
//! and each `async fn` rewritten to return a `Send` future (or left to `async-trait` in the dyn
//! mode).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use crate::model::{Action, Service};

use super::shared::server_ident;

/// The trait as users implement it, with helper attributes removed and
/// `Send + Sync + 'static` added as supertraits. Natively, `async fn m(..) -> R` becomes
/// `fn m(..) -> impl Future<Output = R> + Send`; in the dyn mode the methods stay `async fn`
/// and the runtime's `async_trait` makes them return boxed futures, so the trait is
/// dyn-compatible.
pub(crate) fn render_trait(svc: &Service) -> TokenStream {
    let Service {
        attrs,
        vis,
        ident,
        supertraits,
        krate,
        ..
    } = svc;
    let methods = svc.actions.iter().map(|action| {
        let Action {
            method,
            attrs,
            receiver,
            params,
            output,
            default_body,
            ..
        } = action;
        let params = params.iter().map(|p| {
            let (ident, ty) = (&p.ident, &p.ty);
            quote!(#ident: #ty)
        });
        if svc.dyn_mode {
            let body = match default_body {
                Some(block) => quote!(#block),
                None => quote!(;),
            };
            return quote_spanned! {action.span=>
                #(#attrs)*
                async fn #method(#receiver, #(#params),*) -> #output
                #body
            };
        }
        let body = match default_body {
            Some(block) => quote!({ async move #block }),
            None => quote!(;),
        };
        quote_spanned! {action.span=>
            #(#attrs)*
            fn #method(#receiver, #(#params),*)
                -> impl ::core::future::Future<Output = #output> + ::core::marker::Send
            #body
        }
    });
    let dyn_attrs = svc.dyn_mode.then(|| {
        let server = server_ident(svc);
        let krate_name = quote!(#krate).to_string().replace(' ', "");
        let note = format!(
            "a `Box<dyn {ident}>` or an `Arc<dyn {ident}>` is served with `{server}::from_box` \
             or `{server}::from_arc` (not `{server}::new`); an implementation of `{ident}` is \
             written with `#[{}::async_trait]` on its `impl` block",
            krate_name.trim_start_matches("::")
        );
        quote! {
            #[#krate::async_trait]
            #[diagnostic::on_unimplemented(note = #note)]
        }
    });
    quote! {
        #(#attrs)*
        #dyn_attrs
        #vis trait #ident: ::core::marker::Send + ::core::marker::Sync + 'static
            #(+ #supertraits)*
        {
            #(#methods)*
        }
    }
}
