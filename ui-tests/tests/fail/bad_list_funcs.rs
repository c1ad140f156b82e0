use tpp_rpc::ActionError;

#[tpp_rpc::toxic_service(list_funcs = "no")]
trait A {
    async fn a(&self) -> Result<(), ActionError>;
}

#[tpp_rpc::toxic_service(list_funcs = false, list_funcs = false)]
trait B {
    async fn b(&self) -> Result<(), ActionError>;
}

fn main() {}
