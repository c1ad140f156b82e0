use tpp_rpc::{ActionError, ItemStream};

#[tpp_rpc::toxic_service]
trait Jobs {
    #[action(timeout = 5)]
    async fn number(&self) -> Result<(), ActionError>;
    #[action(timeout = "5")]
    async fn no_unit(&self) -> Result<(), ActionError>;
    #[action(timeout = "5 days")]
    async fn odd_unit(&self) -> Result<(), ActionError>;
    #[action(timeout = "0s")]
    async fn zero(&self) -> Result<(), ActionError>;
    #[action(timeout = "1s", timeout = "2s")]
    async fn twice(&self) -> Result<(), ActionError>;
    #[action(concurrency = 0)]
    async fn never(&self) -> Result<(), ActionError>;
    #[action(concurrency = "4")]
    async fn quoted(&self) -> Result<(), ActionError>;
    #[action(idempotent = true)]
    async fn valued(&self) -> Result<(), ActionError>;
    #[action(stream, idempotent)]
    async fn resent_stream(&self) -> Result<ItemStream<u32>, ActionError>;
}

fn main() {}
