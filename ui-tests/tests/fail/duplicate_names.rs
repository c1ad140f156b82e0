use tpp_rpc::ActionError;

#[tpp_rpc::toxic_service(rename_all = "kebab-case")]
trait Repos {
    async fn repo_add(&self) -> Result<(), ActionError>;
    // Same wire name through an explicit name.
    #[action(name = "repo-add")]
    async fn add_repo(&self) -> Result<(), ActionError>;
    // Same wire name through rename_all.
    async fn repo_list(&self) -> Result<(), ActionError>;
    #[action(name = "repo-list")]
    async fn list(&self) -> Result<(), ActionError>;
}

#[tpp_rpc::toxic_service(rename_all = "lowercase")]
trait Builds {
    #[action(name = "build_now")]
    async fn build(&self) -> Result<(), ActionError>;
    async fn build_now(&self) -> Result<(), ActionError>;
}

fn main() {}
