//! The `<TRAIT>_ACTIONS` constant: every action's wire name, method, doc, kind and parameters
//! at compile time (what `list-funcs` answers).

use proc_macro2::TokenStream;
use quote::quote;

use crate::attrs::ActionKind;
use crate::model::{type_string, Role, Service};
use crate::naming::unraw;

use super::shared::actions_ident;

/// The `<TRAIT>_ACTIONS: &[ActionInfo]` constant.
pub(crate) fn render_actions(svc: &Service) -> TokenStream {
    let krate = &svc.krate;
    let trait_ident = &svc.ident;
    let const_ident = actions_ident(svc);
    let vis = &svc.vis;
    let cfgs = &svc.cfgs;
    let entries = svc.actions.iter().map(|action| {
        let name = &action.wire_name;
        let method = unraw(&action.method);
        let doc = &action.doc;
        let cfgs = &action.cfgs;
        let kind = match action.kind {
            ActionKind::Unary => quote!(Unary),
            ActionKind::Bare => quote!(Bare),
            // `tpp_rpc::ActionKind` has no separate kind for an acknowledged stream.
            ActionKind::Stream | ActionKind::AckStream => quote!(Stream),
        };
        let params = action
            .params
            .iter()
            .filter(|p| matches!(p.role, Role::Named { .. }))
            .map(|p| {
                let Role::Named { key, .. } = &p.role else {
                    unreachable!()
                };
                let required = p.required();
                let default = match p.announced_default() {
                    Some(json) => quote!(::core::option::Option::Some(#json)),
                    None => quote!(::core::option::Option::None),
                };
                let ty = type_string(&p.ty);
                quote! {
                    #krate::ParamInfo {
                        name: #key,
                        required: #required,
                        default: #default,
                        ty: #ty,
                    }
                }
            });
        quote! {
            #(#cfgs)*
            #krate::ActionInfo {
                name: #name,
                method: #method,
                doc: #doc,
                params: &[#(#params),*],
                kind: #krate::ActionKind::#kind,
            }
        }
    });
    let doc = format!(
        "The actions of [`{trait_ident}`], as served by its server and announced by \
         `list-funcs` (which is not in this list)."
    );
    quote! {
        #(#cfgs)*
        #[doc = #doc]
        #vis const #const_ident: &[#krate::ActionInfo] = &[#(#entries),*];
    }
}
