use tpp::ActionError;

#[tpp::toxic_service]
trait Generic<T> {
    const LIMIT: u32;
    type Item;
    async fn get(&self) -> Result<(), ActionError>;
}

fn main() {}
