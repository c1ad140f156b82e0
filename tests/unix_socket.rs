//! Serving over a Unix domain socket: the socket file (permissions, a stale
//! file replaced, a live one or another file left alone, removed at
//! shutdown), the typed client, keep-alive, health and layers over it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tpp_rpc::server::{Layer, Next};
use tpp_rpc::{BoxFuture, Client, Connection, Error, Handler, Server, Transport};
use tpp_tests::{frame, response_json, split_frame, temp_dir, within, TOKEN};

/// `where`: the transport and peer address the handler saw.
struct Where;

impl Handler for Where {
    async fn handle(&self, conn: &mut Connection) -> Result<(), Error> {
        let ctx = conn.context();
        let seen = json!({
            "unix": ctx.transport() == Transport::Unix,
            "peer": ctx.peer_addr().to_string(),
        });
        conn.send_result(&seen).await
    }
}

/// Counts the requests it sees.
struct Counting(Arc<AtomicUsize>);

impl Layer for Counting {
    fn call<'a>(
        &'a self,
        conn: &'a mut Connection,
        next: Next<'a>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        self.0.fetch_add(1, Ordering::Relaxed);
        next.run(conn)
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn a_client_calls_over_a_unix_socket_with_the_mode_set_and_the_file_removed_at_shutdown() {
    let dir = temp_dir("unix");
    let path = dir.join("tpp.sock");
    let seen = Arc::new(AtomicUsize::new(0));
    let server = Server::builder()
        .token(TOKEN)
        .unix_socket_mode(0o600)
        .layer(Counting(seen.clone()))
        .bind_unix(&path)
        .await
        .expect("bind");
    assert_eq!(server.unix_path(), Some(path.as_path()));
    assert_eq!(mode(&path), 0o600);
    let shutdown = server.shutdown_handle();
    let task = tokio::spawn(server.serve(Where));

    let client = Client::builder_unix(&path).token(TOKEN).build().unwrap();
    for _ in 0..3 {
        let answer: Value = within(client.request2server("where", &json!({})))
            .await
            .unwrap();
        assert_eq!(answer, json!({"unix": true, "peer": "0.0.0.0:0"}));
    }
    assert_eq!(
        seen.load(Ordering::Relaxed),
        3,
        "every request went through the layer"
    );
    assert_eq!(
        client.connections_opened(),
        1,
        "the pooled connection was kept and reused"
    );

    shutdown.shutdown();
    within(task).await.unwrap().unwrap();
    assert!(
        !path.exists(),
        "the socket file is removed when the server stops"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn keep_alive_and_the_health_action_work_over_a_unix_socket() {
    let dir = temp_dir("unix-keep");
    let path = dir.join("tpp.sock");
    let server = Server::builder()
        .token(TOKEN)
        .health_check()
        .bind_unix(&path)
        .await
        .unwrap();
    let shutdown = server.shutdown_handle();
    let task = tokio::spawn(server.serve(Where));

    // Two requests on one connection, both answered, the connection kept.
    let mut s = within(UnixStream::connect(&path)).await.unwrap();
    let ask = frame(
        &json!({"token": TOKEN, "action": "where", "body": {}, "tpp_keep_alive": true}).to_string(),
    );
    for _ in 0..2 {
        s.write_all(&ask).await.unwrap();
        let mut got = Vec::new();
        let answer = loop {
            let mut buf = [0u8; 512];
            let n = within(s.read(&mut buf)).await.unwrap();
            assert!(n > 0, "closed before the answer");
            got.extend_from_slice(&buf[..n]);
            if split_frame(&got).is_some() {
                break response_json(&got);
            }
        };
        assert_eq!(answer["code"], 0, "{answer}");
    }

    // The health action, without a token.
    let mut h = within(UnixStream::connect(&path)).await.unwrap();
    h.write_all(&frame(r#"{"action": "healthcheck"}"#))
        .await
        .unwrap();
    let mut got = Vec::new();
    within(h.read_to_end(&mut got)).await.unwrap();
    assert_eq!(
        response_json(&got),
        json!({"code": 0, "body": {"healthcheck": "ok"}})
    );

    shutdown.shutdown();
    within(task).await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_stale_socket_file_is_replaced_but_a_live_socket_or_another_file_is_not() {
    let dir = temp_dir("unix-stale");
    let path = dir.join("tpp.sock");
    // A socket file nobody accepts on, as a crashed server leaves it.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let server = Server::builder()
        .token(TOKEN)
        .bind_unix(&path)
        .await
        .expect("stale file replaced");
    let shutdown = server.shutdown_handle();
    let task = tokio::spawn(server.serve(Where));

    // A second server on the live socket is refused; the first keeps serving.
    let err = Server::builder()
        .token(TOKEN)
        .bind_unix(&path)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("already listening"), "{err}");
    let client = Client::builder_unix(&path).token(TOKEN).build().unwrap();
    let _: Value = within(client.request2server("where", &json!({})))
        .await
        .unwrap();

    shutdown.shutdown();
    within(task).await.unwrap().unwrap();

    // Any other file is left alone.
    let file = dir.join("data.txt");
    std::fs::write(&file, "keep me").unwrap();
    let err = Server::builder()
        .token(TOKEN)
        .bind_unix(&file)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("not a socket"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_client_of_a_missing_socket_gets_a_connect_error_naming_it() {
    let dir = temp_dir("unix-missing");
    let path = dir.join("nobody.sock");
    let client = Client::builder_unix(&path).token(TOKEN).build().unwrap();
    let err = within(client.request2server::<_, Value>("where", &json!({})))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&format!("unix:{}", path.display())), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
