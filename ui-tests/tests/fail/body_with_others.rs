use serde::Deserialize;
use tpp::ActionError;

#[derive(Deserialize, serde::Serialize)]
struct Query {
    repo_url: String,
}

#[tpp::toxic_service]
trait Repos {
    async fn builders(&self, #[body] query: Query, branch: String) -> Result<(), ActionError>;
    async fn two_bodies(&self, #[body] a: Query, #[body] b: Query) -> Result<(), ActionError>;
    // A context parameter beside #[body] is fine.
    async fn fine(&self, #[body] query: Query, ctx: &tpp::Context) -> Result<(), ActionError>;
}

fn main() {}
