use tpp_rpc::ActionError;

#[tpp_rpc::toxic_service]
trait Repos {
    #[action(name = "")]
    async fn empty(&self) -> Result<(), ActionError>;
    #[action(name = "repo add")]
    async fn space(&self) -> Result<(), ActionError>;
    #[action(name = "repo\tadd")]
    async fn tab(&self) -> Result<(), ActionError>;
}

fn main() {}
