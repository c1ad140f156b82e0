#[tpp::toxic_service]
struct Repos;

fn main() {}
