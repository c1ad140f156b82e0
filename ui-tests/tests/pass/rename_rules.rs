//! Every rename_all rule, the default (method names as written) and explicit names.
#![deny(warnings)]

use tpp_rpc::ActionError;

#[tpp_rpc::toxic_service]
trait Plain {
    async fn repo_add(&self) -> Result<(), ActionError>;
}

#[tpp_rpc::toxic_service(rename_all = "snake_case")]
trait Snake {
    async fn repo_add(&self) -> Result<(), ActionError>;
}

#[tpp_rpc::toxic_service(rename_all = "kebab-case")]
trait Kebab {
    async fn repo_add_slave(&self) -> Result<(), ActionError>;
    #[action(name = "list_builders")]
    async fn builders(&self) -> Result<(), ActionError>;
}

#[tpp_rpc::toxic_service(rename_all = "camelCase")]
trait Camel {
    async fn repo_add_slave(&self) -> Result<(), ActionError>;
}

#[tpp_rpc::toxic_service(rename_all = "PascalCase")]
trait Pascal {
    async fn repo_add(&self) -> Result<(), ActionError>;
}

#[tpp_rpc::toxic_service(rename_all = "SCREAMING_SNAKE_CASE")]
trait Screaming {
    async fn repo_add(&self) -> Result<(), ActionError>;
}

#[tpp_rpc::toxic_service(rename_all = "SCREAMING-KEBAB-CASE")]
trait ScreamingKebab {
    async fn repo_add(&self) -> Result<(), ActionError>;
}

#[tpp_rpc::toxic_service(rename_all = "lowercase")]
trait Lower {
    async fn repo_add(&self) -> Result<(), ActionError>;
}

#[tpp_rpc::toxic_service(rename_all = "UPPERCASE")]
trait Upper {
    async fn repo_add(&self) -> Result<(), ActionError>;
}

fn names(actions: &[tpp_rpc::ActionInfo]) -> Vec<&'static str> {
    actions.iter().map(|a| a.name).collect()
}

fn main() {
    assert_eq!(names(PLAIN_ACTIONS), ["repo_add"]);
    assert_eq!(names(SNAKE_ACTIONS), ["repo_add"]);
    assert_eq!(names(KEBAB_ACTIONS), ["repo-add-slave", "list_builders"]);
    assert_eq!(names(CAMEL_ACTIONS), ["repoAddSlave"]);
    assert_eq!(names(PASCAL_ACTIONS), ["RepoAdd"]);
    assert_eq!(names(SCREAMING_ACTIONS), ["REPO_ADD"]);
    assert_eq!(names(SCREAMING_KEBAB_ACTIONS), ["REPO-ADD"]);
    assert_eq!(names(LOWER_ACTIONS), ["repo_add"]);
    assert_eq!(names(UPPER_ACTIONS), ["REPO_ADD"]);
}
