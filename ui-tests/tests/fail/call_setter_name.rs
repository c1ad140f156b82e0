// An optional parameter becomes a setter of the call builder, which already has `timeout()`
// and `item_timeout()`.
use tpp_rpc::ActionError;

#[tpp_rpc::toxic_service]
trait Builds {
    async fn build(&self, repo: String, timeout: Option<u32>) -> Result<(), ActionError>;
    async fn other(&self, #[param(default = "5")] item_timeout: u32) -> Result<(), ActionError>;
    // A required parameter is positional: no conflict.
    async fn fine(&self, timeout: u32) -> Result<(), ActionError>;
}

fn main() {}
