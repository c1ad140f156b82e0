//! Rolling upgrades: one optional parameter added between two versions of a service. During
//! the upgrade, old and new clients meet old and new servers behind a balancer; no call may
//! fail. Unknown body keys are ignored by default; `strict` services refuse them.

use serde_json::json;
use tpp_rpc::Server;
use tpp_tests::{client, frame, raw_exchange, response_json, start, within, TOKEN};

mod v1 {
    /// The first version.
    #[tpp_rpc::toxic_service(rename_all = "kebab-case")]
    pub trait Greeter {
        /// Greets.
        async fn greet(&self, name: String) -> Result<String, tpp_rpc::ActionError>;
    }

    pub struct Impl;

    impl Greeter for Impl {
        async fn greet(&self, name: String) -> Result<String, tpp_rpc::ActionError> {
            Ok(format!("hello, {name}"))
        }
    }
}

mod v2 {
    /// The second version: an optional parameter added.
    #[tpp_rpc::toxic_service(rename_all = "kebab-case")]
    pub trait Greeter {
        /// Greets, loudly when asked.
        async fn greet(
            &self,
            name: String,
            #[param(default = false)] loud: bool,
        ) -> Result<String, tpp_rpc::ActionError>;
    }

    pub struct Impl;

    impl Greeter for Impl {
        async fn greet(&self, name: String, loud: bool) -> Result<String, tpp_rpc::ActionError> {
            let text = format!("hello, {name}");
            Ok(if loud { text.to_uppercase() } else { text })
        }
    }
}

mod strict {
    /// The first version, strict about unknown keys.
    #[tpp_rpc::toxic_service(rename_all = "kebab-case", strict)]
    pub trait Greeter {
        /// Greets.
        async fn greet(&self, name: String) -> Result<String, tpp_rpc::ActionError>;
    }

    pub struct Impl;

    impl Greeter for Impl {
        async fn greet(&self, name: String) -> Result<String, tpp_rpc::ActionError> {
            Ok(format!("hello, {name}"))
        }
    }
}

#[tokio::test]
async fn old_and_new_clients_against_old_and_new_servers() {
    let old_server = start(
        Server::builder().token(TOKEN),
        v1::GreeterServer::new(v1::Impl),
    )
    .await;
    let new_server = start(
        Server::builder().token(TOKEN),
        v2::GreeterServer::new(v2::Impl),
    )
    .await;
    for port in [old_server.port(), new_server.port()] {
        let old_client = v1::GreeterClient::new(client(port));
        let new_client = v2::GreeterClient::new(client(port));
        // An old client never sends `loud`: both servers answer.
        assert_eq!(within(old_client.greet("ana")).await.unwrap(), "hello, ana");
        // A new client without the new parameter: the same.
        assert_eq!(within(new_client.greet("ana")).await.unwrap(), "hello, ana");
        // A new client with it: the new server uses it, the old one ignores it.
        let loud = within(new_client.greet("ana").loud(true)).await.unwrap();
        let expected = if port == new_server.port() {
            "HELLO, ANA"
        } else {
            "hello, ana"
        };
        assert_eq!(loud, expected);
    }
    // And `tpp diff` calls this change compatible: see the CLI's tests.
    let old = v1::GreeterClient::description();
    let new = v2::GreeterClient::description();
    assert_eq!(old.unknown_keys, tpp_rpc::describe::UnknownKeys::Ignore);
    assert_eq!(new.actions[0].params.len(), old.actions[0].params.len() + 1);
    old_server.stop().await;
    new_server.stop().await;
}

#[tokio::test]
async fn a_strict_service_refuses_unknown_keys() {
    let server = start(
        Server::builder().token(TOKEN),
        strict::GreeterServer::new(strict::Impl),
    )
    .await;
    let request = json!({"token": TOKEN, "action": "greet", "body": {"name": "ana", "loud": true}});
    let answer = response_json(&raw_exchange(server.addr, &frame(&request.to_string())).await);
    assert_eq!(answer["code"], 1);
    let message = answer["body"]["error"].as_str().unwrap();
    assert!(
        message.starts_with("Bad parameters for action greet: unknown field `loud`"),
        "{message}"
    );
    assert_eq!(
        strict::GreeterClient::description().unknown_keys,
        tpp_rpc::describe::UnknownKeys::Refuse
    );
    server.stop().await;
}
