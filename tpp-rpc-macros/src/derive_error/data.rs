//! The variant and fields of a derived error as data: `data()` on the server, `from_data()`
//! on the client. Fields go through probes, so a field that is not serde (an `io::Error`
//! source) still compiles: that variant then travels as its message alone.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Fields, Type};

/// What one variant (or the struct) contributes to `data()` and `from_data()`.
pub(super) struct VariantData {
    /// The arm of `data()`'s `match self`.
    pub(super) arm: TokenStream,
    /// The statement of `from_data()` rebuilding it, if it can be.
    pub(super) rebuild: Option<TokenStream>,
}

/// `ctor` is `Self::Variant` (or `Self`), `name` the variant's name on the wire. A generic
/// type's fields need concrete types for the probes: its variants send no data.
pub(super) fn variant_data(
    krate: &syn::Path,
    ctor: &TokenStream,
    name: &str,
    code: i64,
    fields: &Fields,
    generic: bool,
) -> VariantData {
    let private = quote!(#krate::__private);
    let bindings: Vec<_> = (0..fields.len())
        .map(|i| format_ident!("__tpp_f{i}"))
        .collect();
    let values: Vec<_> = (0..fields.len())
        .map(|i| format_ident!("__tpp_v{i}"))
        .collect();
    let types: Vec<&Type> = fields.iter().map(|f| &f.ty).collect();
    let keys: Vec<String> = fields
        .iter()
        .map(|f| {
            f.ident
                .as_ref()
                .map(crate::naming::unraw)
                .unwrap_or_default()
        })
        .collect();
    let idents: Vec<_> = fields.iter().filter_map(|f| f.ident.as_ref()).collect();
    let pattern = match fields {
        Fields::Unit => quote!(#ctor),
        Fields::Named(_) => quote!(#ctor { #(#idents: #bindings),* }),
        Fields::Unnamed(_) => quote!(#ctor(#(#bindings),*)),
    };
    if generic {
        return VariantData {
            arm: quote!(#ctor { .. } => ::core::option::Option::None,),
            rebuild: None,
        };
    }

    // data(): every field serialized, or no data at all.
    let data = match fields {
        Fields::Unit => {
            quote!(::core::option::Option::Some(#private::error_data(#name, ::core::option::Option::None)))
        }
        _ => {
            let shape = match fields {
                Fields::Named(_) => {
                    quote!(#private::error_record(#name, ::std::vec![#((#keys, #values)),*]))
                }
                _ => quote!(#private::error_tuple(#name, ::std::vec![#(#values),*])),
            };
            quote! {
                match (#((&#private::Probe::<#types>::NEW).field_out(#bindings),)*) {
                    (#(::core::option::Option::Some(#values),)*) => ::core::option::Option::Some(#shape),
                    #[allow(unreachable_patterns)]
                    _ => ::core::option::Option::None,
                }
            }
        }
    };
    let arm = quote!(#pattern => #data,);

    // from_data(): the same variant and code, every field decoding.
    let reads = fields.iter().enumerate().map(|(i, f)| match &f.ident {
        Some(_) => {
            let key = &keys[i];
            quote!(__tpp_data.named(#key))
        }
        None => quote!(__tpp_data.positional(#i)),
    });
    let build = match fields {
        Fields::Unit => quote!(#ctor),
        Fields::Named(_) => quote!(#ctor { #(#idents: #values),* }),
        Fields::Unnamed(_) => quote!(#ctor(#(#values),*)),
    };
    let body = if fields.is_empty() {
        quote!(return ::core::option::Option::Some(#build);)
    } else {
        quote! {
            if let (#(::core::option::Option::Some(#values),)*) =
                (#((&#private::Probe::<#types>::NEW).field_in(#reads),)*)
            {
                return ::core::option::Option::Some(#build);
            }
        }
    };
    let rebuild = quote! {
        if __tpp_code == #code && __tpp_data.variant == #name {
            #body
        }
    };
    VariantData {
        arm,
        rebuild: Some(rebuild),
    }
}
