use tpp_rpc::ActionError;

// Several mistakes: every one is reported, in one compilation.
#[tpp_rpc::toxic_service(rename_all = "kebab-case", unknown = 1)]
trait Repos {
    fn not_async(&self) -> Result<(), ActionError>;
    async fn no_self() -> Result<(), ActionError>;
    async fn generic<T>(&self, t: T) -> Result<(), ActionError>;
    async fn not_result(&self) -> String;
    #[action(name = "")]
    async fn empty(&self) -> Result<(), ActionError>;
    async fn a_b(&self) -> Result<(), ActionError>;
    #[action(name = "a-b")]
    async fn dup(&self) -> Result<(), ActionError>;
}

fn main() {}
