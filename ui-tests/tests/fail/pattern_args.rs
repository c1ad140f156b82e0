use tpp_rpc::ActionError;

#[tpp_rpc::toxic_service]
trait Repos {
    async fn tuple(&self, (a, b): (u32, u32)) -> Result<(), ActionError>;
    async fn wildcard(&self, _: u32) -> Result<(), ActionError>;
}

fn main() {}
