use tpp_rpc::ActionError;

#[tpp_rpc::toxic_service]
trait Repos {
    async fn borrowed(&self, name: &str) -> Result<(), ActionError>;
}

fn main() {}
