use tpp_rpc::ActionError;

#[tpp_rpc::toxic_service]
trait Repos {
    fn repo_add(&self, name: String) -> Result<(), ActionError>;
}

fn main() {}
