//! Rendering of the server side: the rewritten trait, the `<TRAIT>_ACTIONS` constant, the
//! `<Trait>Server<T>` dispatch type (`tpp_rpc::Handler` + `tpp_rpc::Service`) and the static
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

/// The `<Trait>Server<T>` type and its `Handler`/`Service` implementations.
pub(crate) fn render_server(svc: &Service) -> TokenStream {
    let krate = &svc.krate;
    let trait_ident = &svc.ident;
    let server = server_ident(svc);
    let const_ident = actions_ident(svc);
    let vis = &svc.vis;
    let cfgs = &svc.cfgs;

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
                default: Some(json),
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
    quote! {
        #(#cfgs)*
        #(#lints)*
        #[doc = #doc]
        #vis struct #server<T: ?::core::marker::Sized> {
            inner: ::std::sync::Arc<T>,
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
                Self { inner: service }
            }

            /// Wraps a boxed service implementation (with `#[toxic_service(dyn)]`, also a
            /// `Box<dyn Trait>`).
            pub fn from_box(service: ::std::boxed::Box<T>) -> Self {
                Self::from_arc(<::std::sync::Arc<T> as ::core::convert::From<::std::boxed::Box<T>>>::from(service))
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
                Self { inner: ::core::clone::Clone::clone(&self.inner) }
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
        }

        #(#cfgs)*
        #(#lints)*
        impl<T: #trait_ident + ?::core::marker::Sized> #krate::Service for #server<T> {
            fn actions(&self) -> &'static [#krate::ActionInfo] {
                #const_ident
            }
        }
    }
}

/// One `"wire-name" => { ... }` arm of the dispatch.
///
/// Every use of the user's types goes through a `Probe` (see `tpp_rpc::__private`), so that a
/// type lacking serde or `ToxicError` is reported once, by `render_assertions`, not here.
fn render_arm(svc: &Service, action: &Action) -> TokenStream {
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
        let parse = quote! {
            #[derive(#serde::Deserialize)]
            #[serde(crate = #serde_crate, deny_unknown_fields, expecting = #expecting)]
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
                        default: Some(json),
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
    let err = crate::call::error_type(svc, action);

    quote! {
        #(#cfgs)*
        #(#lints)*
        #wire => {
            #parse
            let __tpp_result = <T as #trait_ident>::#method(&*self.inner, #(#args),*).await;
            match __tpp_result {
                ::core::result::Result::Ok(value) => #send_ok,
                ::core::result::Result::Err(error) => {
                    let (code, message) = (&#private::Probe::<#err>::NEW).error_parts(error);
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
    let lints = &svc.lints;
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
        // A path to a trait method, spanned at `E`: one error there when `E` is not a
        // ToxicError, without notes about generated helpers.
        let err = match &action.err_ty {
            Some(err) => {
                quote_spanned!(err.span()=> let _ = <#err as #krate::ToxicError>::code;)
            }
            None => {
                let err = crate::call::error_type(svc, action);
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
