use tpp::ActionError;

struct NotSerde;

#[tpp::toxic_service]
trait Repos {
    async fn result(&self) -> Result<NotSerde, ActionError>;
}

fn main() {}
