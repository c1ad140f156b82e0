use tpp::ActionError;

struct NotSerde;

#[tpp::toxic_service]
trait Repos {
    async fn param(&self, value: NotSerde) -> Result<(), ActionError>;
}

fn main() {}
