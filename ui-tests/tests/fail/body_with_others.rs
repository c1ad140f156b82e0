use serde::Deserialize;
use tpp_rpc::ActionError;

#[derive(Deserialize, serde::Serialize)]
struct Query {
    repo_url: String,
}

#[tpp_rpc::toxic_service]
trait Repos {
    async fn builders(&self, #[body] query: Query, branch: String) -> Result<(), ActionError>;
    async fn two_bodies(&self, #[body] a: Query, #[body] b: Query) -> Result<(), ActionError>;
    // A context parameter beside #[body] is fine.
    async fn fine(&self, #[body] query: Query, ctx: &tpp_rpc::Context) -> Result<(), ActionError>;
}

fn main() {}
