//! `#[derive(ToxicError)]`: `code()` from `#[toxic(code = N)]`, `message()` from `Display`,
//! `data()`/`from_data()` for the variant and its fields (`data.rs`), and `from_parts()` for
//! the variants that can be rebuilt from a code and a message alone.

mod data;

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, Type};

use crate::attrs::{ContainerArgs, Errors, VariantArgs};

/// How one variant (or the struct) is handled.
struct Case {
    /// The pattern matching it (`Self::NotFound { .. }` or `Self { .. }`).
    pattern: TokenStream,
    /// What it does.
    kind: CaseKind,
}

/// One variant's entry in the service description: code, name, the `#[error("...")]` text
/// and the schema of its fields. A generic type's
/// fields are described as any JSON: a probe needs concrete types.
fn describe(
    container: &ContainerArgs,
    code: i64,
    input: &DeriveInput,
    name: &syn::Ident,
    attrs: &[syn::Attribute],
    fields: &Fields,
) -> TokenStream {
    let krate = &container.krate;
    let build = quote!(#krate::describe::build);
    let name = crate::naming::unraw(name);
    let message = error_text(attrs).unwrap_or_default();
    let generic = !input.generics.params.is_empty();
    let schema = |ty: &Type| {
        if generic {
            quote!(#krate::__private::serde_json::json!({}))
        } else {
            quote!((&#krate::__private::Probe::<#ty>::NEW).tpp_schema(__tpp_set))
        }
    };
    let fields = match fields {
        Fields::Unit => quote!(::core::option::Option::None),
        Fields::Unnamed(unnamed) => {
            let items = unnamed.unnamed.iter().map(|f| schema(&f.ty));
            quote!(::core::option::Option::Some(#build::tuple(::std::vec![#(#items),*])))
        }
        Fields::Named(named) => {
            let entries = named.named.iter().map(|f| {
                let key = f
                    .ident
                    .as_ref()
                    .map(crate::naming::unraw)
                    .unwrap_or_default();
                let schema = schema(&f.ty);
                quote!((#key, #schema))
            });
            quote!(::core::option::Option::Some(#build::record(::std::vec![#(#entries),*])))
        }
    };
    quote!(#build::error(#code, #name, #message, #fields))
}

/// The text of `#[error("...")]` (thiserror's), when written as a string first.
fn error_text(attrs: &[syn::Attribute]) -> Option<String> {
    let attr = attrs.iter().find(|a| a.path().is_ident("error"))?;
    let list = attr.meta.require_list().ok()?;
    let mut tokens = list.tokens.clone().into_iter();
    let lit: syn::LitStr = syn::parse2(tokens.next()?.into()).ok()?;
    Some(lit.value())
}

/// The expression rebuilding a variant in `from_parts`.
struct Rebuild {
    expr: TokenStream,
    /// Whether `expr` reads `message`.
    uses_message: bool,
}

enum CaseKind {
    /// A fixed code; `rebuild` rebuilds it from `message`, if possible; `describe` is its
    /// entry in the service description.
    Code {
        code: i64,
        rebuild: Option<Rebuild>,
        describe: TokenStream,
        data: data::VariantData,
    },
    /// `#[toxic(transparent)]`: delegate to the single field of type `inner`.
    Transparent {
        binding: TokenStream,
        ctor: TokenStream,
        inner: Box<Type>,
    },
}

/// Expands the derive.
pub(crate) fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let container = ContainerArgs::parse(&input.attrs, &mut errors);
    let mut cases = Vec::new();

    match &input.data {
        Data::Struct(data) => {
            for field in &data.fields {
                reject_field_attrs(&field.attrs, &mut errors);
            }
            match container.code {
                Some(code) => cases.push(Case {
                    pattern: quote!(Self { .. }),
                    kind: CaseKind::Code {
                        code,
                        rebuild: rebuild(quote!(Self), &data.fields),
                        describe: describe(
                            &container,
                            code,
                            &input,
                            &input.ident,
                            &input.attrs,
                            &data.fields,
                        ),
                        data: data::variant_data(
                            &container.krate,
                            &quote!(Self),
                            &crate::naming::unraw(&input.ident),
                            code,
                            &data.fields,
                            !input.generics.params.is_empty(),
                        ),
                    },
                }),
                None => errors.spanned(
                    &input.ident,
                    "missing #[toxic(code = N)]: the error code (> 0) this type answers with",
                ),
            }
        }
        Data::Enum(data) => {
            for variant in &data.variants {
                let args = VariantArgs::parse(&variant.attrs, &mut errors);
                for field in &variant.fields {
                    reject_field_attrs(&field.attrs, &mut errors);
                }
                let ident = &variant.ident;
                let pattern = quote!(Self::#ident { .. });
                if let Some(span) = args.transparent {
                    if args.code.is_some() {
                        errors.at(
                            span,
                            "`transparent` takes the code from the field; remove `code`",
                        );
                        continue;
                    }
                    let mut fields = variant.fields.iter();
                    let (Some(field), None) = (fields.next(), fields.next()) else {
                        errors.at(span, "`transparent` needs a variant with exactly one field");
                        continue;
                    };
                    let (binding, ctor) = match &field.ident {
                        Some(name) => (
                            quote!(Self::#ident { #name: __tpp_inner }),
                            quote!(Self::#ident { #name: __tpp_inner }),
                        ),
                        None => (
                            quote!(Self::#ident(__tpp_inner)),
                            quote!(Self::#ident(__tpp_inner)),
                        ),
                    };
                    cases.push(Case {
                        pattern,
                        kind: CaseKind::Transparent {
                            binding,
                            ctor,
                            inner: Box::new(field.ty.clone()),
                        },
                    });
                    continue;
                }
                let Some(code) = args.code.or(container.code) else {
                    errors.spanned(
                        ident,
                        format!(
                            "missing #[toxic(code = N)] on variant `{ident}` (or put a default \
                             #[toxic(code = N)] on the enum, or use #[toxic(transparent)])"
                        ),
                    );
                    continue;
                };
                cases.push(Case {
                    pattern,
                    kind: CaseKind::Code {
                        code,
                        rebuild: rebuild(quote!(Self::#ident), &variant.fields),
                        describe: describe(
                            &container,
                            code,
                            &input,
                            ident,
                            &variant.attrs,
                            &variant.fields,
                        ),
                        data: data::variant_data(
                            &container.krate,
                            &quote!(Self::#ident),
                            &crate::naming::unraw(ident),
                            code,
                            &variant.fields,
                            !input.generics.params.is_empty(),
                        ),
                    },
                });
            }
        }
        Data::Union(data) => {
            errors.spanned(
                data.union_token,
                "#[derive(ToxicError)] supports enums and structs, not unions",
            );
        }
    }
    errors.finish()?;

    let krate = &container.krate;
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();

    let code_arms = cases.iter().map(|case| {
        let pattern = &case.pattern;
        match &case.kind {
            CaseKind::Code { code, .. } => quote!(#pattern => #code,),
            CaseKind::Transparent { binding, .. } => {
                quote!(#binding => #krate::ToxicError::code(__tpp_inner),)
            }
        }
    });
    let message_arms = cases.iter().map(|case| {
        let pattern = &case.pattern;
        match &case.kind {
            CaseKind::Code { .. } => {
                quote!(#pattern => ::std::string::ToString::to_string(self),)
            }
            CaseKind::Transparent { binding, .. } => {
                quote!(#binding => #krate::ToxicError::message(__tpp_inner),)
            }
        }
    });
    let rebuilds = cases.iter().filter_map(|case| match &case.kind {
        CaseKind::Code {
            code,
            rebuild: Some(Rebuild { expr, .. }),
            ..
        } => Some(quote! {
            if code == #code {
                return ::core::option::Option::Some(#expr);
            }
        }),
        CaseKind::Code { rebuild: None, .. } => None,
        CaseKind::Transparent { ctor, inner, .. } => Some(quote! {
            if let ::core::option::Option::Some(__tpp_inner) =
                <#inner as #krate::ToxicError>::from_parts(code, message)
            {
                return ::core::option::Option::Some(#ctor);
            }
        }),
    });
    let data_arms = cases.iter().map(|case| match &case.kind {
        CaseKind::Code { data, .. } => data.arm.clone(),
        CaseKind::Transparent { binding, .. } => {
            quote!(#binding => #krate::ToxicError::data(__tpp_inner),)
        }
    });
    let data_rebuilds = cases.iter().filter_map(|case| match &case.kind {
        CaseKind::Code { data, .. } => data.rebuild.clone(),
        CaseKind::Transparent { ctor, inner, .. } => Some(quote! {
            if let ::core::option::Option::Some(__tpp_inner) =
                <#inner as #krate::ToxicError>::from_data(__tpp_code, __tpp_message, __tpp_data)
            {
                return ::core::option::Option::Some(#ctor);
            }
        }),
    });
    let describes = cases.iter().map(|case| match &case.kind {
        CaseKind::Code { describe, .. } => {
            quote!(::std::vec::Vec::push(&mut __tpp_variants, #describe);)
        }
        CaseKind::Transparent { inner, .. } => quote! {
            ::core::iter::Extend::extend(
                &mut __tpp_variants,
                <#inner as #krate::ToxicError>::describe_variants(__tpp_set),
            );
        },
    });
    let uses_message = cases.iter().any(|case| match &case.kind {
        CaseKind::Code { rebuild, .. } => rebuild.as_ref().is_some_and(|r| r.uses_message),
        CaseKind::Transparent { .. } => true,
    });
    let uses_code = cases.iter().any(|case| match &case.kind {
        CaseKind::Code { rebuild, .. } => rebuild.is_some(),
        CaseKind::Transparent { .. } => true,
    });
    let message_param = if uses_message {
        quote!(message)
    } else {
        quote!(_message)
    };
    let code_param = if uses_code {
        quote!(code)
    } else {
        quote!(_code)
    };
    // `match self {}` is not exhaustive for a reference to an empty enum.
    let scrutinee = if cases.is_empty() {
        quote!(*self)
    } else {
        quote!(self)
    };

    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #krate::ToxicError for #ident #ty_generics #where_clause {
            fn code(&self) -> i64 {
                match #scrutinee {
                    #(#code_arms)*
                }
            }

            fn message(&self) -> ::std::string::String {
                match #scrutinee {
                    #(#message_arms)*
                }
            }

            fn data(&self) -> ::core::option::Option<#krate::ErrorData> {
                #[allow(unused_imports)]
                use #krate::__private::{LacksFieldOut as _, ViaFieldOut as _};
                match #scrutinee {
                    #(#data_arms)*
                }
            }

            fn from_data(
                __tpp_code: i64,
                __tpp_message: &str,
                __tpp_data: &#krate::ErrorData,
            ) -> ::core::option::Option<Self> {
                #[allow(unused_imports)]
                use #krate::__private::{LacksFieldIn as _, ViaFieldIn as _};
                let _ = (__tpp_code, __tpp_message, __tpp_data);
                #(#data_rebuilds)*
                ::core::option::Option::None
            }

            fn from_parts(#code_param: i64, #message_param: &str) -> ::core::option::Option<Self> {
                #(#rebuilds)*
                ::core::option::Option::None
            }

            fn describe_variants(
                __tpp_set: &mut #krate::__private::SchemaSet,
            ) -> ::std::vec::Vec<#krate::ErrorDescription> {
                #[allow(unused_imports)]
                use #krate::__private::{LacksJsonSchema as _, ViaJsonSchema as _};
                let _ = &__tpp_set;
                #[allow(unused_mut)]
                let mut __tpp_variants = ::std::vec::Vec::new();
                #(#describes)*
                __tpp_variants
            }
        }
    })
}

/// The expression rebuilding a variant (or struct) from `message`, when it is a unit, or has
/// exactly one field that is a `String` (any path ending in `String`) or is named `message`.
fn rebuild(ctor: TokenStream, fields: &Fields) -> Option<Rebuild> {
    let fixed = |expr| {
        Some(Rebuild {
            expr,
            uses_message: false,
        })
    };
    match fields {
        Fields::Unit => fixed(ctor),
        Fields::Named(named) if named.named.is_empty() => fixed(quote!(#ctor {})),
        Fields::Unnamed(unnamed) if unnamed.unnamed.is_empty() => fixed(quote!(#ctor())),
        _ => {
            let mut iter = fields.iter();
            let (Some(field), None) = (iter.next(), iter.next()) else {
                return None;
            };
            let is_string = matches!(&field.ty, Type::Path(p) if p.qself.is_none()
                && p.path.segments.last().is_some_and(|s| s.ident == "String" && s.arguments.is_none()));
            let is_message = field.ident.as_ref().is_some_and(|i| i == "message");
            if !(is_string || is_message) {
                return None;
            }
            let value = quote!(::core::convert::From::from(message));
            let expr = match &field.ident {
                Some(name) => quote!(#ctor { #name: #value }),
                None => quote!(#ctor(#value)),
            };
            Some(Rebuild {
                expr,
                uses_message: true,
            })
        }
    }
}

/// `#[toxic]` is not meaningful on fields.
fn reject_field_attrs(attrs: &[syn::Attribute], errors: &mut Errors) {
    for attr in attrs.iter().filter(|a| a.path().is_ident("toxic")) {
        errors.spanned(
            attr,
            "#[toxic] is not supported on fields; put it on the type or the variant",
        );
    }
}
