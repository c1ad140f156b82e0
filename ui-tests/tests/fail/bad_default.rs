// A #[param(default)] that cannot be the parameter's type never reaches a request: for types
// the macro recognizes, it is a compile error naming the action and the parameter.
use tpp_rpc::ActionError;

#[tpp_rpc::toxic_service(rename_all = "kebab-case")]
trait Counter {
    async fn count_to(&self, #[param(default = "\"ten\"")] n: u32) -> Result<u32, ActionError>;
    async fn small(&self, #[param(default = "300")] n: u8) -> Result<u8, ActionError>;
    async fn names(&self, #[param(default = "[\"a\", 1]")] names: Vec<String>)
        -> Result<u8, ActionError>;
    async fn flag(&self, #[param(default = "\"yes\"")] on: Option<bool>) -> Result<u8, ActionError>;
}

fn main() {}
