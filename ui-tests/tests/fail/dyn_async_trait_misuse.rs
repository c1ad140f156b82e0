// #[async_trait(?Send)] cannot serve; #[async_trait] above #[toxic_service] runs first.
use tpp_rpc::ActionError;

#[tpp_rpc::toxic_service]
#[tpp_rpc::async_trait(?Send)]
pub trait NotSend {
    async fn get(&self, key: String) -> Result<String, ActionError>;
}

#[tpp_rpc::async_trait]
#[tpp_rpc::toxic_service]
pub trait Above {
    async fn get(&self, key: String) -> Result<String, ActionError>;
}

fn main() {}
