//! The `<Trait>Server<T>` dispatch type and its `tpp_rpc::Handler` and `tpp_rpc::Service`
//! implementations; each action's dispatch arm is in `server/arm.rs`.

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::{ParamDefault, Role, Service, LIST_FUNCS};
use crate::naming::unraw;

use super::shared::{actions_ident, client_ident, server_ident};

mod arm;
mod policy;
use arm::render_arm;
use policy::{render_policy, PolicyParts};

/// The `<Trait>Server<T>` type and its `Handler`/`Service` implementations.
pub(crate) fn render_server(svc: &Service) -> TokenStream {
    let krate = &svc.krate;
    let trait_ident = &svc.ident;
    let server = server_ident(svc);
    let const_ident = actions_ident(svc);
    let client = client_ident(svc);
    let vis = &svc.vis;
    let cfgs = &svc.cfgs;

    let arms = svc.actions.iter().map(|action| render_arm(svc, action));
    let list_funcs_arm = (!svc.has_list_funcs).then(|| {
        quote! {
            #LIST_FUNCS => #krate::service::answer_list_funcs_or_description(
                conn,
                &[#const_ident],
                || #krate::Description::new(::std::vec![
                    ::core::clone::Clone::clone(#client::description()),
                ]),
            )
            .await,
        }
    });

    let uses_named = svc.actions.iter().any(|a| a.body_param().is_none());
    let uses_body = svc.actions.iter().any(|a| a.body_param().is_some());
    let params_helper = uses_named.then(|| {
        quote! {
            fn __tpp_params<P>(
                action: &str,
                body: &str,
                wide: bool,
                decode: fn(&str, bool) -> ::core::result::Result<P, #krate::json::Error>,
            ) -> ::core::result::Result<P, ::std::string::String> {
                let body = body.trim();
                let body = if body == "null" { "{}" } else { body };
                let decode = |text: &str| decode(text, wide);
                if !body.starts_with('{') {
                    return ::core::result::Result::Err(::std::format!(
                        "Bad parameters for action {}: the body must be a JSON object \
                         whose keys are the parameters",
                        action,
                    ));
                }
                // tpp's reader: Python's NaN and big integers, and the failing key named.
                decode(body).map_err(|error| match error.path() {
                    ::core::option::Option::Some(path) => ::std::format!(
                        "Bad parameters for action {}: parameter `{}`: {}",
                        action,
                        path,
                        error.inner(),
                    ),
                    ::core::option::Option::None => {
                        ::std::format!("Bad parameters for action {}: {}", action, error)
                    }
                })
            }
        }
    });
    let body_helper = uses_body.then(|| {
        quote! {
                    fn __tpp_body<P>(
                        action: &str,
                        body: &str,
                        wide: bool,
                        decode: fn(&str, bool) -> ::core::result::Result<P, #krate::json::Error>,
                    ) -> ::core::result::Result<P, ::std::string::String> {
        let decode = |text: &str| decode(text, wide);
        match decode(body) {
                            ::core::result::Result::Ok(value) => ::core::result::Result::Ok(value),
                            ::core::result::Result::Err(error) => {
                                // An absent body arrives as null; let a type with all-default fields
                                // take it as an empty object.
                                if body.trim() == "null" {
                                    if let ::core::result::Result::Ok(value) = decode("{}") {
                                        return ::core::result::Result::Ok(value);
                                    }
                                }
                                ::core::result::Result::Err(::std::format!(
                                    "Bad parameters for action {}: {}",
                                    action,
                                    error
                                ))
                            }
                        }
                    }
                }
    });

    let default_checks = svc.actions.iter().flat_map(|action| {
        let cfgs = &action.cfgs;
        let private = quote!(#krate::__private);
        action.named_params().filter_map(move |p| {
            let Role::Named {
                default: Some(ParamDefault::Json(json)),
                ..
            } = &p.role
            else {
                return None;
            };
            let ty = &p.ty;
            let message = format!(
                "invalid #[param(default = {json:?})] for parameter `{}` of action \"{}\"",
                unraw(&p.ident),
                action.wire_name
            );
            Some(quote! {
                #(#cfgs)*
                if let ::core::result::Result::Err(error) =
                    (&#private::Probe::<#ty>::NEW).decode_str(#json)
                {
                    ::std::panic!("{}: {}", #message, error);
                }
            })
        })
    });

    let doc = format!(
        "Serves any implementation of [`{trait_ident}`]: give it to the server wherever a \
         `Handler` is accepted, or add it to a `Router`.\n\nIt answers every action of \
         [`{const_ident}`]{}, and code 1 `Action X does not exist` for any other.",
        if svc.has_list_funcs {
            ""
        } else {
            " plus the generated `list-funcs`"
        }
    );

    let lints = &svc.lints;
    let private = quote!(#krate::__private);
    let policy = render_policy(svc);
    let PolicyParts {
        permits,
        action_timeout,
        policies,
    } = policy;
    quote! {
        #(#cfgs)*
        #(#lints)*
        #[doc = #doc]
        #vis struct #server<T: ?::core::marker::Sized> {
            inner: ::std::sync::Arc<T>,
            /// One semaphore per action with `#[action(concurrency = N)]`, shared by clones.
            permits: ::std::sync::Arc<[#private::Semaphore]>,
        }

        #(#cfgs)*
        #(#lints)*
        #[allow(dead_code)]
        impl<T> #server<T> {
            /// Wraps a service implementation.
            ///
            /// # Panics
            ///
            /// If a `#[param(default = "...")]` does not deserialize as its parameter's type
            /// (the message names the action and the parameter), so that no request ever
            /// meets it. Defaults of types the macro recognizes are checked at compile time.
            pub fn new(service: T) -> Self {
                Self::from_arc(::std::sync::Arc::new(service))
            }
        }

        #(#cfgs)*
        #(#lints)*
        #[allow(dead_code)]
        impl<T: ?::core::marker::Sized> #server<T> {
            /// Every action this server answers, besides the generated `list-funcs`.
            pub const ACTIONS: &'static [#krate::ActionInfo] = #const_ident;

            /// Wraps a service implementation that is shared with other code (with
            /// `#[toxic_service(dyn)]`, also an `Arc<dyn Trait>`).
            ///
            /// # Panics
            ///
            /// As [`new`](Self::new), for an invalid `#[param(default)]`.
            pub fn from_arc(service: ::std::sync::Arc<T>) -> Self {
                #[allow(unused_imports)]
                use #private::{LacksDeserialize as _, ViaDeserialize as _};
                #(#default_checks)*
                Self {
                    inner: service,
                    permits: <::std::sync::Arc<[#private::Semaphore]> as ::core::convert::From<
                        ::std::vec::Vec<#private::Semaphore>,
                    >>::from(::std::vec![#(#permits),*]),
                }
            }

            /// Wraps a boxed service implementation (with `#[toxic_service(dyn)]`, also a
            /// `Box<dyn Trait>`).
            pub fn from_box(service: ::std::boxed::Box<T>) -> Self {
                Self::from_arc(<::std::sync::Arc<T> as ::core::convert::From<::std::boxed::Box<T>>>::from(service))
            }

            /// This service's description (the same as the client's
            /// `description()`).
            pub fn description() -> &'static #krate::ServiceDescription {
                #client::description()
            }

            /// The wrapped service implementation.
            pub fn inner(&self) -> &::std::sync::Arc<T> {
                &self.inner
            }
        }

        #(#cfgs)*
        #(#lints)*
        impl<T: ?::core::marker::Sized> ::core::convert::From<::std::sync::Arc<T>> for #server<T> {
            fn from(service: ::std::sync::Arc<T>) -> Self {
                Self::from_arc(service)
            }
        }

        #(#cfgs)*
        #(#lints)*
        impl<T: ?::core::marker::Sized> ::core::convert::From<::std::boxed::Box<T>> for #server<T> {
            fn from(service: ::std::boxed::Box<T>) -> Self {
                Self::from_box(service)
            }
        }

        #(#cfgs)*
        #(#lints)*
        impl<T: ?::core::marker::Sized> ::core::clone::Clone for #server<T> {
            fn clone(&self) -> Self {
                Self {
                    inner: ::core::clone::Clone::clone(&self.inner),
                    permits: ::core::clone::Clone::clone(&self.permits),
                }
            }
        }

        #(#cfgs)*
        #(#lints)*
        impl<T: #trait_ident + ?::core::marker::Sized> #krate::Handler for #server<T> {
            async fn handle(
                &self,
                conn: &mut #krate::Connection,
            ) -> ::core::result::Result<(), #krate::Error> {
                #[allow(unused_imports)]
                use #private::{
                    LacksDeserialize as _, LacksSerialize as _, LacksSerializeItems as _,
                    LacksToxicError as _, ViaDeserialize as _, ViaSerialize as _,
                    ViaSerializeItems as _, ViaToxicError as _,
                };
                #params_helper
                #body_helper
                match conn.action() {
                    #(#arms)*
                    #list_funcs_arm
                    _ => #krate::service::answer_unknown_action(conn).await,
                }
            }

            fn has_action(&self, action: &str) -> ::core::option::Option<bool> {
                ::core::option::Option::Some(
                    action == #LIST_FUNCS
                        || ::core::iter::Iterator::any(
                            &mut #const_ident.iter(),
                            |info| info.name == action,
                        ),
                )
            }

            #action_timeout
        }

        #(#cfgs)*
        #(#lints)*
        impl<T: #trait_ident + ?::core::marker::Sized> #krate::Service for #server<T> {
            fn actions(&self) -> &'static [#krate::ActionInfo] {
                #const_ident
            }

            fn description(&self) -> #krate::ServiceDescription {
                ::core::clone::Clone::clone(#client::description())
            }

            #policies
        }
    }
}
