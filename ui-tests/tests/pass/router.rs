//! Generated servers are `tpp_rpc::Service`s: several on one server through `tpp_rpc::Router`.
#![deny(warnings)]

use tpp_rpc::ActionError;

#[tpp_rpc::toxic_service(rename_all = "kebab-case")]
trait Repos {
    async fn repo_list(&self) -> Result<Vec<String>, ActionError>;
}

#[tpp_rpc::toxic_service(rename_all = "kebab-case")]
trait Slaves {
    async fn slave_list(&self) -> Result<Vec<String>, ActionError>;
}

#[tpp_rpc::toxic_service(rename_all = "kebab-case")]
trait MoreRepos {
    #[action(name = "repo-list")]
    async fn again(&self) -> Result<Vec<String>, ActionError>;
}

struct Impl;

impl Repos for Impl {
    async fn repo_list(&self) -> Result<Vec<String>, ActionError> {
        Ok(vec![])
    }
}

impl Slaves for Impl {
    async fn slave_list(&self) -> Result<Vec<String>, ActionError> {
        Ok(vec![])
    }
}

impl MoreRepos for Impl {
    async fn again(&self) -> Result<Vec<String>, ActionError> {
        Ok(vec![])
    }
}

fn main() {
    let router = tpp_rpc::Router::new()
        .service(ReposServer::new(Impl))
        .unwrap()
        .service(SlavesServer::new(Impl))
        .unwrap();
    let names: Vec<&str> = router.all_actions().map(|a| a.name).collect();
    assert_eq!(names, ["repo-list", "slave-list"]);
    let duplicate = router.service(MoreReposServer::new(Impl)).err().unwrap();
    assert_eq!(duplicate.name, "repo-list");
    assert_eq!((duplicate.first, duplicate.second), ("repo_list", "again"));
}
