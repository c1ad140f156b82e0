#[tpp_rpc::toxic_service]
struct Repos;

fn main() {}
