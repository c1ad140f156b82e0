use tpp_rpc::ActionError;

#[tpp_rpc::toxic_service]
trait Repos {
    async fn nothing(&self);
    async fn plain(&self) -> u32;
    async fn option(&self) -> Option<ActionError>;
}

fn main() {}
