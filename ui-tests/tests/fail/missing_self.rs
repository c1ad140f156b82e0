use tpp_rpc::ActionError;

#[tpp_rpc::toxic_service]
trait Repos {
    async fn no_receiver(name: String) -> Result<(), ActionError>;
    async fn nothing() -> Result<(), ActionError>;
    async fn by_value(self) -> Result<(), ActionError>;
    async fn mutable(&mut self) -> Result<(), ActionError>;
}

fn main() {}
