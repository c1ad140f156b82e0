//! A service that uses every kind of type a description covers: structs, a unit-only enum,
//! options, vectors, maps, defaults, typed errors of each variant shape and a stream. The
//! description, `tpp describe`/`diff`/`call` and the generated Python client are tested on it.

use std::collections::BTreeMap;
use std::sync::Mutex;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tpp_rpc::ItemStream;

/// A repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Repo {
    /// Its unique name.
    pub name: String,
    /// Where it is cloned from.
    pub url: String,
    /// How many builds may run at once.
    pub parallel: u32,
    /// The branches built.
    pub branches: Vec<String>,
    /// Free-form labels.
    pub labels: BTreeMap<String, String>,
    /// The numeric id, once saved.
    pub id: Option<u64>,
    /// Whether it builds now.
    pub state: State,
}

/// A repository's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Nothing runs.
    Idle,
    /// A build runs.
    Running,
}

/// What the catalog answers when it refuses.
#[derive(Debug, Clone, PartialEq, thiserror::Error, tpp_rpc::ToxicError)]
pub enum CatalogError {
    /// No such repository.
    #[error("repository {0} not found")]
    #[toxic(code = 4)]
    NotFound(String),
    /// Someone else holds it.
    #[error("repository {id} is locked by {by}")]
    #[toxic(code = 7)]
    Locked {
        /// The repository's id.
        id: u64,
        /// Who holds the lock.
        by: String,
    },
    /// Nothing can be changed.
    #[error("the catalog is read-only")]
    #[toxic(code = 8)]
    ReadOnly,
    /// It moved: its new name and shard.
    #[error("repository moved to {0} on shard {1}")]
    #[toxic(code = 9)]
    Moved(String, u32),
}

/// A catalog of repositories.
#[tpp_rpc::toxic_service(rename_all = "kebab-case")]
pub trait Catalog {
    /// Adds a repository.
    async fn repo_add(
        &self,
        name: String,
        url: String,
        #[param(default = "1")] parallel: u32,
        branches: Option<Vec<String>>,
        labels: Option<BTreeMap<String, String>>,
    ) -> Result<Repo, CatalogError>;

    /// Shows a repository (`moved` has moved: the `Moved` error).
    async fn repo_get(&self, name: String) -> Result<Repo, CatalogError>;

    /// Lists the repositories, or those in one state.
    async fn repo_list(&self, state: Option<State>) -> Result<Vec<Repo>, CatalogError>;

    /// Locks a repository: refused with `Locked` when `by` is not "me".
    async fn repo_lock(&self, id: u64, by: String) -> Result<bool, CatalogError>;

    /// Refuses everything: the read-only error.
    async fn repo_remove(&self, name: String) -> Result<(), CatalogError>;

    /// Counts from 1 to `n`, one answer each.
    #[action(stream)]
    async fn count(&self, n: u32) -> Result<ItemStream<u32>, CatalogError>;
}

/// The in-memory catalog.
#[derive(Default)]
pub struct MemCatalog {
    repos: Mutex<BTreeMap<String, Repo>>,
}

impl Catalog for MemCatalog {
    async fn repo_add(
        &self,
        name: String,
        url: String,
        parallel: u32,
        branches: Option<Vec<String>>,
        labels: Option<BTreeMap<String, String>>,
    ) -> Result<Repo, CatalogError> {
        let mut repos = self.repos.lock().unwrap_or_else(|e| e.into_inner());
        let repo = Repo {
            id: Some(repos.len() as u64 + 1),
            name: name.clone(),
            url,
            parallel,
            branches: branches.unwrap_or_default(),
            labels: labels.unwrap_or_default(),
            state: State::Idle,
        };
        repos.insert(name, repo.clone());
        Ok(repo)
    }

    async fn repo_get(&self, name: String) -> Result<Repo, CatalogError> {
        if name == "moved" {
            return Err(CatalogError::Moved("tpp".into(), 2));
        }
        let repos = self.repos.lock().unwrap_or_else(|e| e.into_inner());
        repos
            .get(&name)
            .cloned()
            .ok_or(CatalogError::NotFound(name))
    }

    async fn repo_list(&self, state: Option<State>) -> Result<Vec<Repo>, CatalogError> {
        let repos = self.repos.lock().unwrap_or_else(|e| e.into_inner());
        Ok(repos
            .values()
            .filter(|r| state.is_none_or(|s| r.state == s))
            .cloned()
            .collect())
    }

    async fn repo_lock(&self, id: u64, by: String) -> Result<bool, CatalogError> {
        if by == "me" {
            Ok(true)
        } else {
            Err(CatalogError::Locked { id, by })
        }
    }

    async fn repo_remove(&self, _name: String) -> Result<(), CatalogError> {
        Err(CatalogError::ReadOnly)
    }

    async fn count(&self, n: u32) -> Result<ItemStream<u32>, CatalogError> {
        Ok(ItemStream::iter(1..=n))
    }
}
