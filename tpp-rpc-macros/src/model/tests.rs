use super::syntax::{ack_stream_args, doc_text, is_context_type, result_args};
use super::*;

#[test]
fn doc_text_is_dedented_and_trimmed() {
    let item: syn::ItemFn = syn::parse_quote! {
        /// Adds a repository.
        ///
        ///   Indented line.
        #[doc = ""]
        fn f() {}
    };
    assert_eq!(
        doc_text(&item.attrs),
        "Adds a repository.\n\n  Indented line."
    );
    let item: syn::ItemFn = syn::parse_quote! { fn f() {} };
    assert_eq!(doc_text(&item.attrs), "");
}

#[test]
fn type_strings_are_compact() {
    let ty: Type = syn::parse_quote!(Option<Vec<String>>);
    assert_eq!(type_string(&ty), "Option<Vec<String>>");
    let ty: Type = syn::parse_quote!(std::collections::HashMap<String, u32>);
    assert_eq!(type_string(&ty), "std::collections::HashMap<String, u32>");
    let ty: Type = syn::parse_quote!(&'static str);
    assert_eq!(type_string(&ty), "&'static str");
    let ty: Type = syn::parse_quote!([u8; 4]);
    assert_eq!(type_string(&ty), "[u8; 4]");
    let ty: Type = syn::parse_quote!((u8, String));
    assert_eq!(type_string(&ty), "(u8, String)");
}

#[test]
fn option_and_result_detection() {
    let ty: Type = syn::parse_quote!(::core::option::Option<u32>);
    assert!(option_inner(&ty).is_some());
    let ty: Type = syn::parse_quote!(Vec<Option<u32>>);
    assert!(option_inner(&ty).is_none());
    let ty: Type = syn::parse_quote!(Result<Repo, tpp_rpc::ActionError>);
    assert!(result_args(&ty).is_some_and(|(_, e)| e.is_some()));
    let ty: Type = syn::parse_quote!(io::Result<Repo>);
    assert!(result_args(&ty).is_some_and(|(_, e)| e.is_none()));
    let ty: Type = syn::parse_quote!(Repo);
    assert!(result_args(&ty).is_none());
    let ty: Type = syn::parse_quote!(&tpp_rpc::Context);
    assert!(is_context_type(&ty));
    let ty: Type = syn::parse_quote!((String, tpp_rpc::ItemStream<u32>));
    assert!(ack_stream_args(&ty).is_some());
    let ty: Type = syn::parse_quote!((String, Vec<u32>));
    assert!(ack_stream_args(&ty).is_none());
    let ty: Type = syn::parse_quote!((String, ItemStream<u32>, u8));
    assert!(ack_stream_args(&ty).is_none());
    let ty: Type = syn::parse_quote!(&mut Context);
    assert!(!is_context_type(&ty));
}
