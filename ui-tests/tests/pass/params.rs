//! Parameter forms: #[param(default)], #[param(rename)], raw identifiers, Option paths, no
//! parameters, and every `Result` spelling.
#![deny(warnings)]

use tpp_rpc::ActionError;

mod my {
    /// A `Result` alias: recognized by its last segment, `Result`.
    pub type Result<T> = std::result::Result<T, tpp_rpc::ActionError>;
}

#[tpp_rpc::toxic_service(rename_all = "kebab-case")]
trait Params {
    async fn buildset_list(
        &self,
        repo_name: Option<String>,
        #[param(default = "0")] skip: u32,
        #[param(default = "null")] offset: Option<u32>,
        #[param(default = "[\"main\", \"dev\"]")] branches: Vec<String>,
    ) -> Result<u32, ActionError>;
    async fn keywords(
        &self,
        r#type: String,
        #[param(rename = "repo-name")] repo_name: std::option::Option<String>,
    ) -> std::result::Result<String, ActionError>;
    async fn no_params(&self) -> my::Result<()>;
    async fn tuple(
        &self,
        pair: (u8, String),
        list: [u8; 2],
    ) -> core::result::Result<u8, ActionError>;
}

fn main() {
    let p = &PARAMS_ACTIONS[0].params;
    assert_eq!(p[0].name, "repo_name");
    assert!(!p[0].required);
    assert_eq!(p[0].default, Some("null"));
    assert_eq!(
        (p[1].name, p[1].required, p[1].default),
        ("skip", false, Some("0"))
    );
    assert_eq!(p[2].default, Some("null"));
    assert_eq!(p[3].default, Some("[\"main\",\"dev\"]"));
    let k = &PARAMS_ACTIONS[1].params;
    assert_eq!((k[0].name, k[0].required), ("type", true));
    assert_eq!(k[1].name, "repo-name");
    assert!(PARAMS_ACTIONS[2].params.is_empty());
    assert_eq!(PARAMS_ACTIONS[3].params[0].ty, "(u8, String)");
    assert_eq!(PARAMS_ACTIONS[3].params[1].ty, "[u8; 2]");
}
