// An implementation of a dyn-mode trait written without #[tpp_rpc::async_trait].
use tpp_rpc::ActionError;

#[tpp_rpc::toxic_service(dyn)]
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
