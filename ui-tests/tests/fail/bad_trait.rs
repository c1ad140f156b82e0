use tpp_rpc::ActionError;

#[tpp_rpc::toxic_service]
trait Generic<T> {
    const LIMIT: u32;
    type Item;
    async fn get(&self) -> Result<(), ActionError>;
}

fn main() {}
