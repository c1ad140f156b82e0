// `#[param(default ...)]` takes three forms; any other is refused with the list of them, and
// a literal is checked against the type like JSON text is.
use tpp_rpc::ActionError;

#[derive(serde::Serialize, serde::Deserialize)]
struct NoDefault {
    n: u32,
}

#[tpp_rpc::toxic_service]
trait Settings {
    async fn path(&self, #[param(default = main)] branch: String) -> Result<(), ActionError>;
    async fn array(&self, #[param(default = [1, 2])] ns: Vec<u32>) -> Result<(), ActionError>;
    async fn character(&self, #[param(default = 'c')] c: char) -> Result<(), ActionError>;
    async fn too_big(&self, #[param(default = 300)] n: u8) -> Result<(), ActionError>;
    async fn not_bool(&self, #[param(default = 1)] on: bool) -> Result<(), ActionError>;
}

#[tpp_rpc::toxic_service]
trait NeedsDefault {
    async fn no_default(&self, #[param(default)] v: NoDefault) -> Result<(), ActionError>;
}

fn main() {}
