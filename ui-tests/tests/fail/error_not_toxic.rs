#[derive(Debug)]
struct PlainError;

#[tpp_rpc::toxic_service]
trait Repos {
    async fn repo_add(&self) -> Result<(), PlainError>;
}

fn main() {}
