use tpp_rpc::ActionError;

#[tpp_rpc::toxic_service(rename = "kebab-case", rename_all = "kebab_case")]
trait Repos {
    #[action(nme = "x", bare)]
    async fn repo_add(&self, #[param(dflt = "1")] n: u32) -> Result<(), ActionError>;
    #[action(streaming)]
    async fn repo_list(&self, #[serde(default)] n: u32) -> Result<(), ActionError>;
}

fn main() {}
