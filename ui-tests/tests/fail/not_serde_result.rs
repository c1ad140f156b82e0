use tpp_rpc::ActionError;

struct NotSerde;

#[tpp_rpc::toxic_service]
trait Repos {
    async fn result(&self) -> Result<NotSerde, ActionError>;
}

fn main() {}
