use tpp::ActionError;

#[tpp::toxic_service]
trait Repos {
    fn repo_add(&self, name: String) -> Result<(), ActionError>;
}

fn main() {}
