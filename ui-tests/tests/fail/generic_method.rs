use tpp_rpc::ActionError;

#[tpp_rpc::toxic_service]
trait Repos {
    async fn typed<T: serde::de::DeserializeOwned>(&self, value: T) -> Result<(), ActionError>;
    async fn lifetime<'a>(&'a self) -> Result<(), ActionError>;
    async fn where_clause(&self) -> Result<(), ActionError>
    where
        Self: Sized;
}

fn main() {}
