//! What the server does with `#[action(timeout, concurrency, idempotent)]`: the semaphores of
//! the limited actions, `Handler::action_timeout` and `Service::policies`.

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::Service;

/// The generated pieces of the actions' policies.
pub(crate) struct PolicyParts {
    /// `Semaphore::new(N)`, one per action with a concurrency, in declaration order.
    pub permits: Vec<TokenStream>,
    /// `fn action_timeout`, when an action has a timeout.
    pub action_timeout: Option<TokenStream>,
    /// `fn policies`, when an action declares a policy.
    pub policies: Option<TokenStream>,
}

pub(crate) fn render_policy(svc: &Service) -> PolicyParts {
    let krate = &svc.krate;
    let private = quote!(#krate::__private);
    let permits = svc
        .actions
        .iter()
        .filter_map(|a| a.policy.concurrency)
        .map(|n| {
            // Checked by the attribute's parser: from 1 to u32::MAX.
            let n = n as usize;
            quote!(#private::Semaphore::new(#n))
        })
        .collect();

    let timeouts: Vec<TokenStream> = svc
        .actions
        .iter()
        .filter_map(|a| {
            let ms = a.policy.timeout_ms?;
            let (cfgs, wire) = (&a.cfgs, &a.wire_name);
            Some(quote! {
                #(#cfgs)*
                #wire => ::core::option::Option::Some(::core::time::Duration::from_millis(#ms)),
            })
        })
        .collect();
    let action_timeout = (!timeouts.is_empty()).then(|| {
        quote! {
            fn action_timeout(&self, action: &str) -> ::core::option::Option<::core::time::Duration> {
                match action {
                    #(#timeouts)*
                    _ => ::core::option::Option::None,
                }
            }
        }
    });

    let declared: Vec<TokenStream> = svc
        .actions
        .iter()
        .filter(|a| {
            let p = &a.policy;
            p.timeout_ms.is_some() || p.concurrency.is_some() || p.idempotent
        })
        .map(|a| {
            let (cfgs, wire) = (&a.cfgs, &a.wire_name);
            let p = &a.policy;
            let timeout = match p.timeout_ms {
                Some(ms) => quote! {
                    ::core::option::Option::Some(::core::time::Duration::from_millis(#ms))
                },
                None => quote!(::core::option::Option::None),
            };
            let concurrency = match p.concurrency {
                Some(n) => {
                    let n = n as usize;
                    quote!(::core::option::Option::Some(#n))
                }
                None => quote!(::core::option::Option::None),
            };
            let idempotent = p.idempotent;
            quote! {
                #(#cfgs)*
                (#wire, #krate::ActionPolicy::new(#timeout, #concurrency, #idempotent)),
            }
        })
        .collect();
    let policies = (!declared.is_empty()).then(|| {
        quote! {
            fn policies(&self) -> &'static [(&'static str, #krate::ActionPolicy)] {
                const POLICIES: &[(&str, #krate::ActionPolicy)] = &[#(#declared)*];
                POLICIES
            }
        }
    });
    PolicyParts {
        permits,
        action_timeout,
        policies,
    }
}
