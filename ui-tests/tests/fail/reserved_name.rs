use tpp_rpc::ActionError;

#[tpp_rpc::toxic_service]
trait Repos {
    async fn new(&self) -> Result<(), ActionError>;
    async fn with_timeout(&self) -> Result<(), ActionError>;
}

fn main() {}
