#[derive(Debug, thiserror::Error, tpp_rpc::ToxicError)]
enum MissingCode {
    #[error("a")]
    #[toxic(code = 4)]
    A,
    #[error("b")]
    B,
}

#[derive(Debug, thiserror::Error, tpp_rpc::ToxicError)]
enum BadCodes {
    #[error("zero")]
    #[toxic(code = 0)]
    Zero,
    #[error("negative")]
    #[toxic(code = -3)]
    Negative,
    #[error("unknown")]
    #[toxic(code = 4, status = 400)]
    Unknown,
    #[error("two")]
    #[toxic(transparent)]
    Two(String, String),
}

#[derive(Debug, thiserror::Error, tpp_rpc::ToxicError)]
#[error("no code")]
struct NoCode;

fn main() {}
