//! A repository service: kebab-case actions, an exact name, a #[body] parameter, an optional
//! parameter, doc comments, a thiserror enum deriving ToxicError.
#![deny(warnings, missing_docs)]

use serde::{Deserialize, Serialize};

/// A repository.
#[derive(Debug, Serialize, Deserialize)]
pub struct Repo {
    /// Its name.
    pub name: String,
    /// Its url.
    pub url: String,
}

/// The list_builders query.
#[derive(Debug, Serialize, Deserialize)]
pub struct BuildersQuery {
    /// The repository.
    pub repo_url: String,
}

/// What can go wrong.
#[derive(Debug, thiserror::Error, tpp_rpc::ToxicError)]
pub enum ReposError {
    /// Not found.
    #[error("{0}")]
    #[toxic(code = 4)]
    NotFound(String),
}

/// The hole, in small.
#[tpp_rpc::toxic_service(rename_all = "kebab-case")]
pub trait Repos {
    /// Adds a repository.
    async fn repo_add(
        &self,
        repo_name: String,
        repo_url: String,
        branch: Option<String>,
    ) -> Result<Repo, ReposError>;

    /// Lists the builders of a repository.
    #[action(name = "list_builders")]
    async fn builders(&self, #[body] query: BuildersQuery) -> Result<Vec<String>, ReposError>;
}

struct Hole;

impl Repos for Hole {
    async fn repo_add(
        &self,
        repo_name: String,
        repo_url: String,
        _branch: Option<String>,
    ) -> Result<Repo, ReposError> {
        Ok(Repo {
            name: repo_name,
            url: repo_url,
        })
    }

    async fn builders(&self, query: BuildersQuery) -> Result<Vec<String>, ReposError> {
        Err(ReposError::NotFound(query.repo_url))
    }
}

fn assert_handler<H: tpp_rpc::Handler + tpp_rpc::Service + Clone>(_: &H) {}

fn main() {
    let server = ReposServer::new(Hole);
    assert_handler(&server);
    let names: Vec<&str> = REPOS_ACTIONS.iter().map(|a| a.name).collect();
    assert_eq!(names, ["repo-add", "list_builders"]);
    assert_eq!(ReposServer::<Hole>::ACTIONS.len(), 2);
    let repo_add = &REPOS_ACTIONS[0];
    assert_eq!(repo_add.doc, "Adds a repository.");
    assert_eq!(repo_add.method, "repo_add");
    let params: Vec<(&str, bool)> = repo_add
        .params
        .iter()
        .map(|p| (p.name, p.required))
        .collect();
    assert_eq!(
        params,
        [("repo_name", true), ("repo_url", true), ("branch", false)]
    );
    assert_eq!(repo_add.params[2].default, Some("null"));
    assert_eq!(repo_add.params[2].ty, "Option<String>");
    assert!(REPOS_ACTIONS[1].params.is_empty());
    assert_eq!(tpp_rpc::Service::actions(&server).len(), 2);

    // The client takes the required parameters (`&str` for a `String`), optional ones are
    // set on the call, and the service's error comes back typed.
    let client = ReposClient::new(tpp_rpc::Client::builder("127.0.0.1", 1).build().unwrap());
    let _call = async {
        let _: Result<Repo, tpp_rpc::CallError<ReposError>> = client.repo_add("a", "b").await;
        let _: Result<Repo, tpp_rpc::CallError<ReposError>> =
            client.repo_add("a", String::from("b")).branch("main").await;
        let _: Result<Vec<String>, tpp_rpc::CallError<ReposError>> = client
            .builders(BuildersQuery {
                repo_url: "b".into(),
            })
            .await;
    };
}
