use tpp::ActionError;

#[tpp::toxic_service]
trait Builds {
    // A stream must return Result<tpp::ItemStream<T>, E>.
    #[action(stream)]
    async fn build(&self, builder_name: String) -> Result<Vec<u8>, ActionError>;
    #[action(stream, bare)]
    async fn both(&self) -> Result<tpp::ItemStream<u8>, ActionError>;
}

fn main() {}
