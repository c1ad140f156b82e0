// An implementation of a dyn-mode trait written without #[tpp::async_trait].
use tpp::ActionError;

#[tpp::toxic_service(dyn)]
pub trait Store {
    async fn get(&self, key: String) -> Result<String, ActionError>;
}

struct Memory;

impl Store for Memory {
    async fn get(&self, key: String) -> Result<String, ActionError> {
        Ok(key)
    }
}

fn main() {
    let _ = StoreServer::new(Memory);
}
