// #[async_trait(?Send)] cannot serve; #[async_trait] above #[toxic_service] runs first.
use tpp::ActionError;

#[tpp::toxic_service]
#[tpp::async_trait(?Send)]
pub trait NotSend {
    async fn get(&self, key: String) -> Result<String, ActionError>;
}

#[tpp::async_trait]
#[tpp::toxic_service]
pub trait Above {
    async fn get(&self, key: String) -> Result<String, ActionError>;
}

fn main() {}
