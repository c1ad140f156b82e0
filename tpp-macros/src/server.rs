//! Rendering of the server side: the rewritten trait, the `<TRAIT>_ACTIONS` constant, the
//! `<Trait>Server<T>` dispatch type (`tpp::Handler` + `tpp::Service`) and the static
//! assertions that point type errors at the user's parameter types.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::Ident;

use crate::attrs::ActionKind;
use crate::model::{type_string, Action, Role, Service, LIST_FUNCS};
use crate::naming::{screaming_snake_from_pascal, unraw};

/// `ReposServer` for `Repos`.
pub(crate) fn server_ident(svc: &Service) -> Ident {
    format_ident!("{}Server", svc.ident)
}

/// `REPOS_ACTIONS` for `Repos`.
pub(crate) fn actions_ident(svc: &Service) -> Ident {
    format_ident!(
        "{}_ACTIONS",
        screaming_snake_from_pascal(&unraw(&svc.ident))
    )
}

/// `serde(crate = "...")` value: the serde re-exported by the runtime.
pub(crate) fn serde_crate_str(svc: &Service) -> String {
    let krate = &svc.krate;
    quote!(#krate::__private::serde).to_string()
}

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
            // `tpp::ActionKind` has no separate kind for an acknowledged stream.
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

/// The `<Trait>Server<T>` type and its `Handler`/`Service` implementations.
pub(crate) fn render_server(svc: &Service) -> TokenStream {
    let krate = &svc.krate;
    let trait_ident = &svc.ident;
    let server = server_ident(svc);
    let const_ident = actions_ident(svc);
    let vis = &svc.vis;
    let cfgs = &svc.cfgs;
    let serde = quote!(#krate::__private::serde);
    let serde_json = quote!(#krate::__private::serde_json);

    let arms = svc.actions.iter().map(|action| render_arm(svc, action));
    let list_funcs_arm = (!svc.has_list_funcs).then(|| {
        quote! {
            #LIST_FUNCS => #krate::service::answer_list_funcs(conn, &[#const_ident]).await,
        }
    });

    let uses_named = svc.actions.iter().any(|a| a.body_param().is_none());
    let uses_body = svc.actions.iter().any(|a| a.body_param().is_some());
    let params_helper = uses_named.then(|| {
        quote! {
            fn __tpp_params<P: #serde::de::DeserializeOwned>(
                action: &str,
                body: &str,
            ) -> ::core::result::Result<P, ::std::string::String> {
                let body = body.trim();
                let body = if body == "null" { "{}" } else { body };
                if !body.starts_with('{') {
                    return ::core::result::Result::Err(::std::format!(
                        "Bad parameters for action {}: the body must be a JSON object \
                         whose keys are the parameters",
                        action,
                    ));
                }
                // tpp's reader: Python's NaN and big integers, and the failing key named.
                #krate::json::from_str::<P>(body).map_err(|error| match error.path() {
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
            fn __tpp_body<P: #serde::de::DeserializeOwned>(
                action: &str,
                body: &str,
            ) -> ::core::result::Result<P, ::std::string::String> {
                match #krate::json::from_str::<P>(body) {
                    ::core::result::Result::Ok(value) => ::core::result::Result::Ok(value),
                    ::core::result::Result::Err(error) => {
                        // An absent body arrives as null; let a type with all-default fields
                        // take it as an empty object.
                        if body.trim() == "null" {
                            if let ::core::result::Result::Ok(value) =
                                #serde_json::from_str::<P>("{}")
                            {
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

    let error_helper = (!svc.actions.is_empty()).then(|| {
        quote! {
            fn __tpp_error_parts<E: #krate::ToxicError>(
                error: E,
            ) -> (i64, ::std::string::String) {
                let code = #krate::ToxicError::code(&error);
                (if code > 0 { code } else { 1 }, #krate::ToxicError::message(&error))
            }
        }
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

    quote! {
        #(#cfgs)*
        #[doc = #doc]
        #vis struct #server<T: ?::core::marker::Sized> {
            inner: ::std::sync::Arc<T>,
        }

        #(#cfgs)*
        #[allow(dead_code)]
        impl<T> #server<T> {
            /// Wraps a service implementation.
            pub fn new(service: T) -> Self {
                Self { inner: ::std::sync::Arc::new(service) }
            }
        }

        #(#cfgs)*
        #[allow(dead_code)]
        impl<T: ?::core::marker::Sized> #server<T> {
            /// Every action this server answers, besides the generated `list-funcs`.
            pub const ACTIONS: &'static [#krate::ActionInfo] = #const_ident;

            /// Wraps a service implementation that is shared with other code (with
            /// `#[toxic_service(dyn)]`, also an `Arc<dyn Trait>`).
            pub fn from_arc(service: ::std::sync::Arc<T>) -> Self {
                Self { inner: service }
            }

            /// Wraps a boxed service implementation (with `#[toxic_service(dyn)]`, also a
            /// `Box<dyn Trait>`).
            pub fn from_box(service: ::std::boxed::Box<T>) -> Self {
                let inner = <::std::sync::Arc<T> as ::core::convert::From<::std::boxed::Box<T>>>::from(service);
                Self { inner }
            }

            /// The wrapped service implementation.
            pub fn inner(&self) -> &::std::sync::Arc<T> {
                &self.inner
            }
        }

        #(#cfgs)*
        impl<T: ?::core::marker::Sized> ::core::convert::From<::std::sync::Arc<T>> for #server<T> {
            fn from(service: ::std::sync::Arc<T>) -> Self {
                Self::from_arc(service)
            }
        }

        #(#cfgs)*
        impl<T: ?::core::marker::Sized> ::core::convert::From<::std::boxed::Box<T>> for #server<T> {
            fn from(service: ::std::boxed::Box<T>) -> Self {
                Self::from_box(service)
            }
        }

        #(#cfgs)*
        impl<T: ?::core::marker::Sized> ::core::clone::Clone for #server<T> {
            fn clone(&self) -> Self {
                Self { inner: ::core::clone::Clone::clone(&self.inner) }
            }
        }

        #(#cfgs)*
        impl<T: #trait_ident + ?::core::marker::Sized> #krate::Handler for #server<T> {
            async fn handle(
                &self,
                conn: &mut #krate::Connection,
            ) -> ::core::result::Result<(), #krate::Error> {
                #params_helper
                #body_helper
                #error_helper
                match conn.action() {
                    #(#arms)*
                    #list_funcs_arm
                    _ => #krate::service::answer_unknown_action(conn).await,
                }
            }
        }

        #(#cfgs)*
        impl<T: #trait_ident + ?::core::marker::Sized> #krate::Service for #server<T> {
            fn actions(&self) -> &'static [#krate::ActionInfo] {
                #const_ident
            }
        }
    }
}

/// One `"wire-name" => { ... }` arm of the dispatch.
fn render_arm(svc: &Service, action: &Action) -> TokenStream {
    let krate = &svc.krate;
    let trait_ident = &svc.ident;
    let serde = quote!(#krate::__private::serde);
    let serde_json = quote!(#krate::__private::serde_json);
    let serde_crate = serde_crate_str(svc);
    let wire = &action.wire_name;
    let method = &action.method;
    let cfgs = &action.cfgs;

    let (parse, args): (TokenStream, Vec<TokenStream>) = if let Some(body) = action.body_param() {
        let ty = &body.ty;
        let parse = quote! {
            let __tpp_value: #ty = match __tpp_body::<#ty>(#wire, conn.body_json()) {
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
        let mut defaults = Vec::new();
        let fields = action.named_params().map(|p| {
            let Role::Named {
                key,
                optional,
                default,
            } = &p.role
            else {
                unreachable!()
            };
            let (ident, ty) = (&p.ident, &p.ty);
            let default_attr = match default {
                Some(json) => {
                    let fn_ident = format_ident!("__tpp_default_{}", unraw(ident));
                    let fn_name = fn_ident.to_string();
                    let message = format!(
                        "invalid #[param(default)] of parameter `{}` of action \"{}\"",
                        unraw(ident),
                        wire
                    );
                    defaults.push(quote! {
                        fn #fn_ident() -> #ty {
                            match #serde_json::from_str::<#ty>(#json) {
                                ::core::result::Result::Ok(value) => value,
                                ::core::result::Result::Err(error) => {
                                    ::std::panic!("{}: {}", #message, error)
                                }
                            }
                        }
                    });
                    quote!(#[serde(default = #fn_name)])
                }
                None if *optional => quote!(#[serde(default)]),
                None => quote!(),
            };
            quote! {
                #[serde(rename = #key)]
                #default_attr
                #ident: #ty
            }
        });
        let fields: Vec<TokenStream> = fields.collect();
        let expecting = format!("an object with the parameters of action {wire}");
        let parse = quote! {
            #(#defaults)*
            #[derive(#serde::Deserialize)]
            #[serde(crate = #serde_crate, deny_unknown_fields, expecting = #expecting)]
            struct __TppParams {
                #(#fields),*
            }
            let __tpp_params: __TppParams = match __tpp_params(#wire, conn.body_json()) {
                ::core::result::Result::Ok(params) => params,
                ::core::result::Result::Err(message) => return conn.send_error(1, &message).await,
            };
        };
        let args = action
            .params
            .iter()
            .map(|p| {
                let ident = &p.ident;
                match p.role {
                    Role::Context => quote!(conn.context()),
                    _ => quote!(__tpp_params.#ident),
                }
            })
            .collect();
        (parse, args)
    };

    // Spans on the callee only (never on locals, which are hygienic): an unsatisfied bound
    // is reported on the user's type.
    let ok_span = action.ok_ty.span();
    let send_ok = match action.kind {
        ActionKind::Bare => {
            let send = Ident::new("send_response", ok_span);
            quote!(conn.#send(0, &value).await)
        }
        ActionKind::Unary => {
            let send = Ident::new("send_result", ok_span);
            quote!(conn.#send(&value).await)
        }
        ActionKind::Stream => {
            let item = &action.wire_ty;
            quote! {
                #krate::stream::send_stream::<#item, ()>(
                    conn,
                    ::core::option::Option::None,
                    value,
                )
                .await
            }
        }
        ActionKind::AckStream => {
            let item = &action.wire_ty;
            let ack = &action.ack_ty;
            quote! {{
                let (__tpp_ack, __tpp_items) = value;
                #krate::stream::send_stream::<#item, #ack>(
                    conn,
                    ::core::option::Option::Some(&__tpp_ack),
                    __tpp_items,
                )
                .await
            }}
        }
    };
    // A stream's error is its only answer; the connection closes after it, as after a
    // stream.
    let close_on_error = action.kind.is_stream().then(|| quote!(conn.close();));
    // One call needing `E: ToxicError`, spanned at `E`: a missing implementation is one
    // error, on the user's error type.
    let parts = match &action.err_ty {
        Some(err_ty) => {
            let parts = Ident::new("__tpp_error_parts", err_ty.span());
            quote!(#parts::<#err_ty>(error))
        }
        None => quote!(__tpp_error_parts(error)),
    };

    quote! {
        #(#cfgs)*
        #wire => {
            #parse
            let __tpp_result = <T as #trait_ident>::#method(&*self.inner, #(#args),*).await;
            match __tpp_result {
                ::core::result::Result::Ok(value) => #send_ok,
                ::core::result::Result::Err(error) => {
                    let (code, message) = #parts;
                    #close_on_error
                    conn.send_error(code, &message).await
                }
            }
        }
    }
}

/// A never-called function whose bounds put type errors on the user's own types: a
/// parameter or result that is not `Serialize + DeserializeOwned` is reported at its type.
pub(crate) fn render_assertions(svc: &Service) -> TokenStream {
    let krate = &svc.krate;
    let serde = quote!(#krate::__private::serde);
    let cfgs = &svc.cfgs;
    let checks = svc.actions.iter().map(|action| {
        let cfgs = &action.cfgs;
        let params = action
            .params
            .iter()
            .filter(|p| !matches!(p.role, Role::Context))
            .map(|p| {
                let ty = &p.ty;
                quote_spanned!(ty.span()=> __tpp_wire_type::<#ty>();)
            });
        let wire_ty = &action.wire_ty;
        let ok = quote_spanned!(wire_ty.span()=> __tpp_wire_type::<#wire_ty>(););
        let ack = action
            .ack_ty
            .as_ref()
            .map(|ack| quote_spanned!(ack.span()=> __tpp_wire_type::<#ack>();));
        quote! {
            #(#cfgs)*
            {
                #(#params)*
                #ok
                #ack
            }
        }
    });
    quote! {
        #(#cfgs)*
        #[allow(dead_code, clippy::extra_unused_type_parameters)]
        const _: () = {
            fn __tpp_wire_type<T: #serde::Serialize + #serde::de::DeserializeOwned>() {}
            fn __tpp_check() {
                #(#checks)*
            }
        };
    }
}
