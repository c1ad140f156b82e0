use tpp::ActionError;

#[tpp::toxic_service]
trait Repos {
    async fn borrowed(&self, name: &str) -> Result<(), ActionError>;
}

fn main() {}
