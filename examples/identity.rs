//! Caller identity and per-action authorization, server and clients in one
//! process.
//!
//! ```text
//! cargo run -p tpp-examples --example identity
//! ```
//!
//! Each component of the deployment has its own token ([`UserTokens`]; use
//! [`tpp_rpc::UserHashes`] for bcrypt hashes as toxicbuild stores them). The
//! server names the caller in the request's `Context`; a layer then decides
//! per action who may call, and the service reads the name too.

use tpp_rpc::auth::{Identity, UserTokens};
use tpp_rpc::server::{Layer, Next};
use tpp_rpc::{ActionError, BoxFuture, Client, Connection, Context, Error, Server};

#[tpp_rpc::toxic_service(rename_all = "kebab-case")]
trait Builds {
    /// Starts a build (master only).
    async fn build_start(&self, ctx: &Context, repo: String) -> Result<String, ActionError>;
    /// Who am I (anyone).
    async fn whoami(&self, ctx: &Context) -> Result<String, ActionError>;
}

struct MyBuilds;

impl Builds for MyBuilds {
    async fn build_start(&self, ctx: &Context, repo: String) -> Result<String, ActionError> {
        let by = ctx.identity().map_or("?", Identity::name);
        Ok(format!("build of {repo} started by {by}"))
    }

    async fn whoami(&self, ctx: &Context) -> Result<String, ActionError> {
        Ok(ctx
            .identity()
            .map_or("anonymous", Identity::name)
            .to_owned())
    }
}

/// Which callers may call which actions; actions not listed are open to all.
struct Authorize(&'static [(&'static str, &'static [&'static str])]);

impl Layer for Authorize {
    fn call<'a>(
        &'a self,
        conn: &'a mut Connection,
        next: Next<'a>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let caller = conn.context().identity().map(Identity::name);
            let rule = self.0.iter().find(|(action, _)| *action == conn.action());
            if let Some((_, allowed)) = rule {
                if !caller.is_some_and(|c| allowed.contains(&c)) {
                    return conn.refuse(4, "not allowed to call this action").await;
                }
            }
            next.run(conn).await
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let users = UserTokens::new()
        .user("master", "token-of-master")
        .user("slave-1", "token-of-slave-1");
    let server = Server::builder()
        .auth(users)
        .layer(Authorize(&[("build-start", &["master"])]))
        .bind("127.0.0.1:0")
        .await?;
    let port = server.local_addr().port();
    tokio::spawn(server.serve(BuildsServer::new(MyBuilds)));

    for token in ["token-of-master", "token-of-slave-1"] {
        let client = BuildsClient::new(Client::builder("127.0.0.1", port).token(token).build()?);
        let me = client.whoami().await?;
        match client.build_start("toxicbuild").await {
            Ok(done) => println!("{me}: {done}"),
            Err(e) => println!("{me}: refused: {e}"),
        }
    }
    Ok(())
}
