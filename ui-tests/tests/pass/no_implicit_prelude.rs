//! Generated code only uses absolute paths: it compiles without the prelude.
#![no_implicit_prelude]
#![deny(warnings)]

use ::std::option::Option;
use ::std::result::Result;
use ::std::string::String;
use ::std::vec::Vec;

#[derive(::serde::Serialize, ::serde::Deserialize)]
struct Query {
    repo_url: String,
}

#[derive(::std::fmt::Debug, ::thiserror::Error, ::tpp_rpc::ToxicError)]
enum Error {
    #[error("{0}")]
    #[toxic(code = 4)]
    NotFound(String),
    #[error("gone")]
    #[toxic(code = 5)]
    Gone,
    #[error(transparent)]
    #[toxic(transparent)]
    Other(::tpp_rpc::ActionError),
}

#[::tpp_rpc::toxic_service(rename_all = "kebab-case")]
trait Repos {
    /// Adds.
    async fn repo_add(&self, repo_name: String, branch: Option<String>) -> Result<u32, Error>;
    #[action(bare)]
    async fn raw(&self, #[body] query: Query) -> Result<Vec<String>, Error>;
    async fn ctx(&self, ctx: &::tpp_rpc::Context, #[param(default = "1")] n: u32)
        -> Result<u32, Error>;
    async fn with_body(&self) -> Result<(), Error> {
        Result::Ok(())
    }
}

struct Impl;

impl Repos for Impl {
    async fn repo_add(&self, _repo_name: String, _branch: Option<String>) -> Result<u32, Error> {
        Result::Err(Error::Gone)
    }
    async fn raw(&self, query: Query) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        out.push(query.repo_url);
        Result::Ok(out)
    }
    async fn ctx(&self, _ctx: &::tpp_rpc::Context, n: u32) -> Result<u32, Error> {
        Result::Ok(n)
    }
}

fn main() {
    let _server = ReposServer::new(Impl);
    let _ = REPOS_ACTIONS;
    let _ = Error::NotFound(String::new());
    let _ = Error::Other(::tpp_rpc::ActionError::new(9, "x"));
}
