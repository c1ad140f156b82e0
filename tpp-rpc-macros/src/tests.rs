//! Expansion tests of `#[toxic_service]` on `proc_macro2` tokens.

use super::*;

/// The repository-service example expands to valid Rust holding the items users rely on.
#[test]
fn repos_example_expands() {
    let args = quote!(rename_all = "kebab-case");
    let input = quote! {
        pub trait Repos {
            /// Adds a repository.
            async fn repo_add(&self, repo_name: String, repo_url: String, branch: Option<String>)
                -> Result<Repo, ReposError>;
            #[action(name = "list_builders")]
            async fn builders(&self, #[body] query: BuildersQuery) -> Result<Vec<String>, ReposError>;
            async fn whoami(&self, ctx: &tpp_rpc::Context) -> Result<String, tpp_rpc::ActionError>;
        }
    };
    let out = expand_service(args, input);
    let file: syn::File = syn::parse2(out.clone()).expect("valid Rust");
    let text = out.to_string();
    for needle in [
        "pub struct ReposServer",
        "pub struct ReposClient",
        "pub const REPOS_ACTIONS",
        "\"repo-add\"",
        "\"list_builders\"",
        "\"list-funcs\"",
        "impl < T : Repos + ? :: core :: marker :: Sized > :: tpp_rpc :: Handler for ReposServer < T >",
        "skip_serializing_if",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert!(!text.contains("compile_error"), "{text}");
    assert!(file.items.len() >= 5);
}

#[test]
fn errors_accumulate() {
    let input = quote! {
        trait Bad {
            fn not_async(&self) -> Result<(), E>;
            async fn no_self(x: u32) -> Result<(), E>;
            async fn not_result(&self) -> u32;
            #[action(nme = "x")]
            async fn unknown_arg(&self) -> Result<(), E>;
        }
    };
    let out = expand_service(quote!(rename = "x"), input).to_string();
    assert_eq!(out.matches("compile_error").count(), 5, "{out}");
    assert!(out.contains("valid arguments are"), "{out}");
}

#[test]
fn ack_streams_expand() {
    let input = quote! {
        trait Hole {
            #[action(stream, ack)]
            async fn stream(&self, kinds: Vec<String>)
                -> Result<(String, tpp_rpc::ItemStream<u32>), tpp_rpc::ActionError>;
        }
    };
    let out = expand_service(quote!(), input);
    syn::parse2::<syn::File>(out.clone()).expect("valid Rust");
    let text = out.to_string();
    assert!(!text.contains("compile_error"), "{text}");
    for needle in [
        ":: tpp_rpc :: stream :: send_stream (conn , :: core :: option :: Option :: Some",
        "Probe :: < String > :: NEW) . encode (& __tpp_ack)",
        "Probe :: < u32 > :: NEW) . encode_items (__tpp_items)",
        ":: tpp_rpc :: __private :: request_stream_ack (__tpp_client , \"stream\"",
        "__tpp_wire_type :: < String > ()",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn ack_misuse_is_reported() {
    let input = quote! {
        trait Hole {
            #[action(ack)]
            async fn a(&self) -> Result<String, E>;
            #[action(bare, ack)]
            async fn b(&self) -> Result<String, E>;
            #[action(stream, ack)]
            async fn c(&self) -> Result<tpp_rpc::ItemStream<u32>, E>;
            #[action(stream)]
            async fn d(&self) -> Result<(String, tpp_rpc::ItemStream<u32>), E>;
        }
    };
    let out = expand_service(quote!(), input).to_string();
    assert_eq!(out.matches("compile_error").count(), 4, "{out}");
    assert!(
        out.contains("`ack` only applies to streaming actions"),
        "{out}"
    );
    assert!(out.contains("`bare` and `ack` cannot be combined"), "{out}");
    assert!(out.contains("acknowledged streams return"), "{out}");
    assert!(out.contains("write `#[action(stream, ack)]`"), "{out}");
}

/// The dyn mode keeps `async fn`s under the runtime's `async_trait`, and its server
/// takes unsized implementations (`dyn Trait`); the native mode boxes nothing.
#[test]
fn dyn_mode_expands() {
    let input = quote! {
        pub trait Store {
            async fn get(&self, ctx: &tpp_rpc::Context, key: String) -> Result<String, E>;
            async fn version(&self) -> Result<u32, E> { Ok(1) }
        }
    };
    let out = expand_service(quote!(dyn, rename_all = "kebab-case"), input.clone());
    syn::parse2::<syn::File>(out.clone()).expect("valid Rust");
    let text = out.to_string();
    assert!(!text.contains("compile_error"), "{text}");
    for needle in [
        "# [:: tpp_rpc :: async_trait] # [diagnostic :: on_unimplemented",
        "async fn get (& self , ctx : & tpp_rpc :: Context , key : String) -> Result < String , E > ;",
        "async fn version (& self ,) -> Result < u32 , E > { Ok (1) }",
        "impl < T : Store + ? :: core :: marker :: Sized > :: tpp_rpc :: Handler for StoreServer < T >",
        "pub fn from_box (service : :: std :: boxed :: Box < T >)",
        ":: core :: convert :: From < :: std :: sync :: Arc < T >> for StoreServer < T >",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert!(!text.contains("impl :: core :: future :: Future"), "{text}");

    let native = expand_service(quote!(), input).to_string();
    assert!(!native.contains("async_trait"), "{native}");
    assert!(!native.contains("on_unimplemented"), "{native}");
    assert!(
        native.contains("impl :: core :: future :: Future"),
        "{native}"
    );
}

/// `#[async_trait]` under `#[toxic_service]` asks for the dyn mode (and is applied once);
/// with arguments (`?Send`) it is refused; above it, the not-async error says why.
#[test]
fn async_trait_on_the_trait() {
    let input = quote! {
        #[async_trait::async_trait]
        trait Store { async fn get(&self) -> Result<String, E>; }
    };
    let text = expand_service(quote!(), input).to_string();
    assert!(!text.contains("compile_error"), "{text}");
    assert_eq!(
        text.matches("# [:: tpp_rpc :: async_trait]").count(),
        1,
        "{text}"
    );
    assert!(!text.contains("async_trait :: async_trait"), "{text}");

    let input = quote! {
        #[async_trait(?Send)]
        trait Store { async fn get(&self) -> Result<String, E>; }
    };
    let text = expand_service(quote!(), input).to_string();
    assert!(text.contains("must be `Send`"), "{text}");

    let input = quote! {
        trait Store {
            fn get<'life0, 'async_trait>(&'life0 self)
                -> ::core::pin::Pin<Box<dyn ::core::future::Future<Output = Result<String, E>> + Send + 'async_trait>>;
        }
    };
    let text = expand_service(quote!(), input).to_string();
    assert!(text.contains("write `#[toxic_service(dyn)]`"), "{text}");
    assert_eq!(text.matches("compile_error").count(), 1, "{text}");
}

#[test]
fn custom_crate_path() {
    let input = quote! {
        trait Svc { async fn ping(&self) -> Result<(), my_rpc::ActionError>; }
    };
    let out = expand_service(quote!(crate = "::my_rpc"), input.clone()).to_string();
    assert!(!out.contains(":: tpp_rpc ::"), "{out}");
    assert!(out.contains(":: my_rpc :: Handler"), "{out}");
    let out = expand_service(quote!(dyn, crate = "::my_rpc"), input).to_string();
    assert!(!out.contains(":: tpp_rpc ::"), "{out}");
    assert!(out.contains("# [:: my_rpc :: async_trait]"), "{out}");
    assert!(out.contains("`#[my_rpc::async_trait]`"), "{out}");
}
