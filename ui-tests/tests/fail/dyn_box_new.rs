// `new` takes the implementation itself; a Box<dyn …> goes through from_box.
use tpp_rpc::ActionError;

#[tpp_rpc::toxic_service(dyn)]
pub trait Store {
    async fn get(&self, key: String) -> Result<String, ActionError>;
}

struct Memory;

#[tpp_rpc::async_trait]
impl Store for Memory {
    async fn get(&self, key: String) -> Result<String, ActionError> {
        Ok(key)
    }
}

fn serve(_: impl tpp_rpc::Handler) {}

fn main() {
    let boxed: Box<dyn Store> = Box::new(Memory);
    serve(StoreServer::new(boxed));
}
