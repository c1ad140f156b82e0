//! Server and client in one process: the quickest way to see TPP work.
//!
//! ```text
//! cargo run --example echo
//! ```
//!
//! Starts a low-level echo server on a free port, calls it with the tpp
//! client (a success, an error, a bad token) and prints each exchange.

use serde_json::json;
use tpp_rpc::{Client, ClientError, Connection, Handler, Server};

/// The same handler as `echo_server`: `echo` returns its body, `hello`
/// greets, anything else is an unknown action.
struct Echo;

impl Handler for Echo {
    async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
        match conn.action() {
            // Pass the body through untouched (numbers keep their exact text).
            "echo" => {
                // A cheap clone (the frame is shared), so the body can stay
                // borrowed while the connection sends.
                let request = conn.request().clone();
                conn.send_result(request.body_raw()?).await
            }
            "hello" => {
                #[derive(serde::Deserialize)]
                struct Hello {
                    name: String,
                }
                let Hello { name } = conn.body()?;
                conn.send_result(&format!("Hello, {name}!")).await
            }
            _ => tpp_rpc::service::answer_unknown_action(conn).await,
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::builder()
        .token("s3cret")
        .bind("127.0.0.1:0")
        .await?;
    let addr = server.local_addr();
    let shutdown = server.shutdown_handle();
    let serving = tokio::spawn(server.serve(Echo));
    println!("server listening on {addr}\n");

    let client = Client::builder("127.0.0.1", addr.port())
        .token("s3cret")
        .timeout(std::time::Duration::from_secs(5))
        .build()?;

    let body = json!({"msg": "olá", "n": 1.0});
    println!("-> echo {body}");
    let echoed: serde_json::Value = client.request2server("echo", &body).await?;
    println!("<- {echoed}\n");

    println!("-> hello {{\"name\": \"Ana\"}}");
    let greeting: String = client
        .request2server("hello", &json!({"name": "Ana"}))
        .await?;
    println!("<- {greeting:?}\n");

    println!("-> nope {{}}");
    match client
        .request2server::<_, serde_json::Value>("nope", &json!({}))
        .await
    {
        Err(ClientError::Server { code, message, .. }) => println!("<- error {code}: {message}\n"),
        other => println!("<- unexpected: {other:?}\n"),
    }

    println!("-> echo with a wrong token");
    let intruder = client.with_token("guess");
    match intruder
        .request2server::<_, serde_json::Value>("echo", &body)
        .await
    {
        Err(e) => println!("<- {e}\n"),
        Ok(v) => println!("<- unexpected success: {v}\n"),
    }

    shutdown.shutdown();
    serving.await??;
    println!("server stopped");
    Ok(())
}
