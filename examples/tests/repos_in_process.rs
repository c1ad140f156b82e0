//! Testing a service the recommended way: the `repos` example's service and
//! its generated client in one process, through the real server pipeline
//! (token, layers, limits, keep-alive) over in-memory connections, with no
//! socket to bind.

#[path = "../repos.rs"]
#[allow(dead_code)]
mod repos;

use tpp_rpc::{CallError, Client, Server};

use repos::{MemoryRepos, ReposClient, ReposError, ReposServer};

const TOKEN: &str = "s3cret";

fn client() -> ReposClient {
    let server = Server::builder()
        .token(TOKEN)
        .in_process(ReposServer::new(MemoryRepos::default()));
    ReposClient::new(
        Client::builder_in_process(&server.expect("server"))
            .token(TOKEN)
            .build()
            .expect("client"),
    )
}

#[tokio::test]
async fn repositories_are_added_listed_and_removed() {
    let client = client().with_field("user_id", "ana");
    let repo = client
        .repo_add("tpp", "https://example.invalid/tpp.git")
        .branch("main")
        .await
        .unwrap();
    assert_eq!(
        (repo.branch.as_str(), repo.owner.as_deref()),
        ("main", Some("ana"))
    );
    let listed = client.repo_list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(client.repo_remove("tpp").await.unwrap(), "ok");
    assert!(client.repo_list().await.unwrap().is_empty());
}

#[tokio::test]
async fn errors_keep_their_code_in_process() {
    let client = client();
    client
        .repo_add("tpp", "https://example.invalid/tpp.git")
        .await
        .unwrap();
    match client
        .repo_add("tpp", "https://example.invalid/tpp.git")
        .await
    {
        Err(CallError::Service(ReposError::AlreadyExists)) => {}
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
}
