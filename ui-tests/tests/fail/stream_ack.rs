use tpp_rpc::{ActionError, ItemStream};

#[tpp_rpc::toxic_service]
trait Hole {
    // `ack` needs `stream`.
    #[action(ack)]
    async fn ack_only(&self) -> Result<String, ActionError>;
    // An acknowledgement is always `{"<action>": ack}`: not with `bare`.
    #[action(bare, ack)]
    async fn bare_ack(&self) -> Result<String, ActionError>;
    // With `ack`, the result is `(A, ItemStream<T>)`.
    #[action(stream, ack)]
    async fn no_tuple(&self) -> Result<ItemStream<u32>, ActionError>;
    // A tuple without `ack`: the error suggests it.
    #[action(stream)]
    async fn no_ack(&self) -> Result<(String, ItemStream<u32>), ActionError>;
}

struct NotSerde;

#[tpp_rpc::toxic_service]
trait Typed {
    // The acknowledgement must be Serialize + DeserializeOwned.
    #[action(stream, ack)]
    async fn stream(&self) -> Result<(NotSerde, ItemStream<u32>), ActionError>;
}

fn main() {}
