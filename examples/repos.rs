//! A typed service from one trait: a small toxicbuild "hole" for repositories.
//!
//! ```text
//! cargo run --example repos
//! cargo run --example repos -- --describe > repos.json   # the service's description
//! ```
//!
//! `#[tpp_rpc::toxic_service]` turns the `Repos` trait into a server (`ReposServer`, served like
//! any handler) and a typed client (`ReposClient`). Actions are kebab-case on the wire
//! (`repo_add` answers `repo-add`), errors carry codes, and `list-funcs` describes every
//! action. The server and the client run in this one process; each exchange is printed.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tpp_rpc::{CallError, Client, Context, Server};

/// A repository, as the hole answers it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Repo {
    /// Its name.
    pub name: String,
    /// Where it is cloned from.
    pub url: String,
    /// The branch that triggers builds.
    pub branch: String,
    /// Who added it (the request's `user_id`).
    pub owner: Option<String>,
}

/// The errors of the service: each has a TPP code, and its `Display` is the message.
#[derive(Debug, thiserror::Error, tpp_rpc::ToxicError)]
pub enum ReposError {
    /// Code 4; rebuilt on the client from the message.
    #[error("{0}")]
    #[toxic(code = 4)]
    NotFound(String),
    /// Code 5.
    #[error("repository already exists")]
    #[toxic(code = 5)]
    AlreadyExists,
}

/// The repository service.
#[tpp_rpc::toxic_service(rename_all = "kebab-case")]
pub trait Repos {
    /// Adds a repository. `branch` defaults to "master".
    async fn repo_add(
        &self,
        ctx: &Context,
        repo_name: String,
        repo_url: String,
        #[param(default = "\"master\"")] branch: String,
    ) -> Result<Repo, ReposError>;

    /// Shows one repository.
    async fn repo_get(&self, repo_name: String) -> Result<Repo, ReposError>;

    /// Lists the repositories, optionally only those on `branch`.
    async fn repo_list(&self, branch: Option<String>) -> Result<Vec<Repo>, ReposError>;

    /// Removes a repository.
    async fn repo_remove(&self, repo_name: String) -> Result<String, ReposError>;
}

/// The implementation: repositories in memory.
#[derive(Default)]
pub struct MemoryRepos {
    repos: Mutex<BTreeMap<String, Repo>>,
}

impl Repos for MemoryRepos {
    async fn repo_add(
        &self,
        ctx: &Context,
        repo_name: String,
        repo_url: String,
        branch: String,
    ) -> Result<Repo, ReposError> {
        let owner = ctx
            .extra("user_id")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let mut repos = self.repos.lock().expect("not poisoned");
        if repos.contains_key(&repo_name) {
            return Err(ReposError::AlreadyExists);
        }
        let repo = Repo {
            name: repo_name.clone(),
            url: repo_url,
            branch,
            owner,
        };
        repos.insert(repo_name, repo.clone());
        Ok(repo)
    }

    async fn repo_get(&self, repo_name: String) -> Result<Repo, ReposError> {
        let repos = self.repos.lock().expect("not poisoned");
        repos
            .get(&repo_name)
            .cloned()
            .ok_or_else(|| ReposError::NotFound(format!("repository {repo_name} not found")))
    }

    async fn repo_list(&self, branch: Option<String>) -> Result<Vec<Repo>, ReposError> {
        let repos = self.repos.lock().expect("not poisoned");
        Ok(repos
            .values()
            .filter(|r| branch.as_ref().is_none_or(|b| &r.branch == b))
            .cloned()
            .collect())
    }

    async fn repo_remove(&self, repo_name: String) -> Result<String, ReposError> {
        let mut repos = self.repos.lock().expect("not poisoned");
        match repos.remove(&repo_name) {
            Some(_) => Ok("ok".to_owned()),
            None => Err(ReposError::NotFound(format!(
                "repository {repo_name} not found"
            ))),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `--describe`: print the description (what `tpp describe` asks a running server for),
    // the input of `tpp gen python` (see `examples/python/`).
    if std::env::args().nth(1).as_deref() == Some("--describe") {
        let description = tpp_rpc::Description::new(vec![ReposClient::description().clone()]);
        println!("{}", serde_json::to_string_pretty(&description)?);
        return Ok(());
    }
    let server = Server::builder()
        .token("s3cret")
        .bind("127.0.0.1:0")
        .await?;
    let addr = server.local_addr();
    let shutdown = server.shutdown_handle();
    let serving = tokio::spawn(server.serve(ReposServer::new(MemoryRepos::default())));
    println!("repos service listening on {addr}");
    println!(
        "actions: {}\n",
        REPOS_ACTIONS
            .iter()
            .map(|a| a.name)
            .collect::<Vec<_>>()
            .join(", ")
    );

    // The token is set once; `user_id` travels beside it in every request, as in the hole.
    let client = ReposClient::new(
        Client::builder("127.0.0.1", addr.port())
            .token("s3cret")
            .timeout(Duration::from_secs(5))
            .build()?,
    )
    .with_field("user_id", "ana");

    println!("-> repo-add {{repo_name: \"tpp\", repo_url: \"https://example.invalid/tpp.git\", branch: \"main\"}}");
    // Required parameters are positional (`&str` for `String`); optional ones are setters.
    let repo = client
        .repo_add("tpp", "https://example.invalid/tpp.git")
        .branch("main")
        .await?;
    println!("<- {}\n", serde_json::to_string(&repo)?);

    println!("-> repo-add {{repo_name: \"tpp\", ...}} (again)");
    match client
        .repo_add("tpp", "https://example.invalid/tpp.git")
        .await
    {
        Ok(repo) => println!("<- unexpected success: {repo:?}\n"),
        Err(error) => println!("<- error: {error}\n"),
    }

    println!("-> repo-list {{}} (branch: not set, not sent)");
    let repos = client.repo_list().await?;
    println!(
        "<- {} repositories: {}\n",
        repos.len(),
        serde_json::to_string(&repos)?
    );

    println!("-> repo-get {{repo_name: \"nope\"}}");
    match client.repo_get("nope").await {
        Ok(repo) => println!("<- unexpected success: {repo:?}\n"),
        // The service's own error, decoded from the code and message.
        Err(CallError::Service(ReposError::NotFound(message))) => {
            println!("<- ReposError::NotFound (code 4): {message}\n")
        }
        Err(error) => println!("<- {error}\n"),
    }

    println!("-> list-funcs {{}}");
    let funcs = client.list_funcs().await?;
    println!("<- {}\n", serde_json::to_string_pretty(&funcs)?);

    println!("-> repo-remove {{repo_name: \"tpp\"}}");
    println!("<- {}", client.repo_remove("tpp").await?);

    shutdown.shutdown();
    serving.await??;
    Ok(())
}
