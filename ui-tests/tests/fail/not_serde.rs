use tpp_rpc::ActionError;

struct NotSerde;

#[tpp_rpc::toxic_service]
trait Repos {
    async fn param(&self, value: NotSerde) -> Result<(), ActionError>;
}

fn main() {}
