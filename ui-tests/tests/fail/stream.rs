use tpp_rpc::ActionError;

#[tpp_rpc::toxic_service]
trait Builds {
    // A stream must return Result<tpp_rpc::ItemStream<T>, E>.
    #[action(stream)]
    async fn build(&self, builder_name: String) -> Result<Vec<u8>, ActionError>;
    #[action(stream, bare)]
    async fn both(&self) -> Result<tpp_rpc::ItemStream<u8>, ActionError>;
}

fn main() {}
