#[derive(Debug)]
struct PlainError;

#[tpp::toxic_service]
trait Repos {
    async fn repo_add(&self) -> Result<(), PlainError>;
}

fn main() {}
