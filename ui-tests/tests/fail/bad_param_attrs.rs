use tpp_rpc::ActionError;

#[tpp_rpc::toxic_service]
trait Repos {
    async fn bad_default(&self, #[param(default = "not json")] n: u32) -> Result<(), ActionError>;
    async fn body_and_param(
        &self,
        #[body]
        #[param(rename = "x")]
        n: u32,
    ) -> Result<(), ActionError>;
    async fn same_key(&self, a: u32, #[param(rename = "a")] b: u32) -> Result<(), ActionError>;
}

fn main() {}
