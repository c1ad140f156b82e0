//! Static assertions that point type errors at the user's own parameter and result types.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::model::{ParamDefault, Role, Service};

use super::shared::error_type;

/// A never-called function whose bounds put type errors on the user's own types: a
/// parameter or result that is not `Serialize + DeserializeOwned` is reported at its type.
pub(crate) fn render_assertions(svc: &Service) -> TokenStream {
    let krate = &svc.krate;
    let serde = quote!(#krate::__private::serde);
    let cfgs = &svc.cfgs;
    let lints = &svc.lints;
    let checks = svc.actions.iter().map(|action| {
        let cfgs = &action.cfgs;
        let params = action
            .params
            .iter()
            .filter(|p| !matches!(p.role, Role::Context))
            .map(|p| {
                let ty = &p.ty;
                let of_type = matches!(
                    p.role,
                    Role::Named {
                        default: Some(ParamDefault::OfType),
                        ..
                    }
                );
                // `#[param(default)]`: one error at the type when it has no `Default`.
                let default = of_type.then(|| {
                    quote_spanned!(ty.span()=> let _ = <#ty as ::core::default::Default>::default;)
                });
                quote_spanned!(ty.span()=> __tpp_wire_type::<#ty>(); #default)
            });
        let wire_ty = &action.wire_ty;
        let ok = quote_spanned!(wire_ty.span()=> __tpp_wire_type::<#wire_ty>(););
        let ack = action
            .ack_ty
            .as_ref()
            .map(|ack| quote_spanned!(ack.span()=> __tpp_wire_type::<#ack>();));
        // A path to a trait method, spanned at `E`: one error there when `E` is not a
        // ToxicError, without notes about generated helpers.
        let err = match &action.err_ty {
            Some(err) => {
                quote_spanned!(err.span()=> let _ = <#err as #krate::ToxicError>::code;)
            }
            None => {
                let err = error_type(svc, action);
                let output = &action.output;
                quote_spanned!(output.span()=> let _ = <#err as #krate::ToxicError>::code;)
            }
        };
        quote! {
            #(#cfgs)*
            {
                #(#params)*
                #ok
                #ack
                #err
            }
        }
    });
    quote! {
        #(#cfgs)*
        #(#lints)*
        #[allow(dead_code, clippy::extra_unused_type_parameters)]
        const _: () = {
            fn __tpp_wire_type<T: #serde::Serialize + #serde::de::DeserializeOwned>() {}
            fn __tpp_check() {
                #(#checks)*
            }
        };
    }
}
