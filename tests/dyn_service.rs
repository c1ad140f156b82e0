//! `#[toxic_service(dyn)]` over real sockets: the same trait generated in the native and the
//! dyn mode answers every request byte for byte alike (parameters, defaults, `#[body]`,
//! context, `bare`, streams with and without acknowledgement, errors, unknown actions,
//! list-funcs); implementations chosen at run time are served from `Arc<dyn …>` and
//! `Box<dyn …>`, through a `Router` too; the Python reference client (toxiccore) calls a dyn
//! server.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use serde_json::{json, Value};
use tpp_rpc::{Handler, Server};
use tpp_tests::*;

/// The same service in both modes: `$mode` is the `#[toxic_service]` argument, `$impl_attr`
/// what the implementation needs (nothing natively, `#[tpp_rpc::async_trait]` in the dyn mode).
macro_rules! hole_service {
    ($($mode:ident)? ; $(#[$impl_attr:meta])*) => {
        use serde::{Deserialize, Serialize};
        use std::sync::atomic::{AtomicU64, Ordering};
        use tpp_rpc::{ActionError, Context, ItemStream};

        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        pub struct Repo {
            pub name: String,
            pub branch: String,
            pub user: Option<String>,
        }

        #[derive(Debug, Serialize, Deserialize)]
        pub struct BuildersQuery {
            pub repo_url: String,
        }

        #[derive(Debug, PartialEq, thiserror::Error, tpp_rpc::ToxicError)]
        pub enum HoleError {
            #[error("{0}")]
            #[toxic(code = 4)]
            NotFound(String),
            #[error("Busy, try later")]
            #[toxic(code = 6)]
            Busy,
        }

        #[tpp_rpc::toxic_service(rename_all = "kebab-case", $($mode)?)]
        pub trait Hole {
            /// Adds a repository.
            async fn repo_add(
                &self,
                ctx: &Context,
                repo_name: String,
                #[param(default = "\"master\"")] branch: String,
            ) -> Result<Repo, HoleError>;
            /// Fails with the given code.
            async fn fail(&self, code: i64) -> Result<(), HoleError>;
            #[action(name = "list_builders", bare)]
            async fn builders(&self, #[body] query: BuildersQuery) -> Result<Value, ActionError>;
            #[action(stream)]
            async fn build(&self, steps: u32) -> Result<ItemStream<Value>, HoleError>;
            #[action(stream, ack)]
            async fn stream(&self, kinds: Vec<String>) -> Result<(String, ItemStream<Value>), ActionError>;
            /// Counts its calls (state behind `&self`).
            async fn count(&self) -> Result<u64, ActionError>;
            /// A default body.
            async fn version(&self) -> Result<String, ActionError> {
                Ok("1.0".to_owned())
            }
        }

        /// The implementation; `name` tells which one answered.
        #[derive(Default)]
        pub struct MyHole {
            pub name: &'static str,
            pub calls: AtomicU64,
        }

        $(#[$impl_attr])*
        impl Hole for MyHole {
            async fn repo_add(
                &self,
                ctx: &Context,
                repo_name: String,
                branch: String,
            ) -> Result<Repo, HoleError> {
                let user = ctx.extra("user_id").and_then(Value::as_str).map(str::to_owned);
                Ok(Repo { name: format!("{}:{repo_name}", self.name), branch, user })
            }

            async fn fail(&self, code: i64) -> Result<(), HoleError> {
                match code {
                    4 => Err(HoleError::NotFound("repo x not found".into())),
                    _ => Err(HoleError::Busy),
                }
            }

            async fn builders(&self, query: BuildersQuery) -> Result<Value, ActionError> {
                Ok(serde_json::json!({"builders": [query.repo_url]}))
            }

            async fn build(&self, steps: u32) -> Result<ItemStream<Value>, HoleError> {
                if steps == 0 {
                    return Err(HoleError::Busy);
                }
                let items = (1..=steps).map(|step| Ok(serde_json::json!({"step": step})));
                Ok(ItemStream::new(futures_util::stream::iter(items)))
            }

            async fn stream(&self, kinds: Vec<String>) -> Result<(String, ItemStream<Value>), ActionError> {
                let items = kinds.into_iter().map(|kind| Ok(serde_json::json!({"event_type": kind})));
                Ok(("ok".to_owned(), ItemStream::new(futures_util::stream::iter(items))))
            }

            async fn count(&self) -> Result<u64, ActionError> {
                Ok(self.calls.fetch_add(1, Ordering::SeqCst) + 1)
            }
        }
    };
}

mod native {
    use serde_json::Value;
    hole_service!(;);
}

mod dynamic {
    use serde_json::Value;
    hole_service!(dyn; #[tpp_rpc::async_trait]);
}

/// Requests covering every feature, valid and not.
fn requests() -> Vec<Value> {
    let request =
        |action: &str, body: Value| json!({"token": TOKEN, "action": action, "body": body});
    vec![
        request("repo-add", json!({"repo_name": "tpp", "branch": "main"})),
        json!({"token": TOKEN, "action": "repo-add", "body": {"repo_name": "tpp"}, "user_id": "42"}),
        request("repo-add", json!({"repo_nmae": "tpp"})),
        request("repo-add", json!([1])),
        request("fail", json!({"code": 4})),
        request("fail", json!({"code": 6})),
        request("list_builders", json!({"repo_url": "https://x/tpp.git"})),
        request("list_builders", json!({"repo": 1})),
        request("build", json!({"steps": 3})),
        request("build", json!({"steps": 0})),
        request(
            "stream",
            json!({"kinds": ["build_started", "build_finished"]}),
        ),
        request("version", json!(null)),
        request("count", json!({})),
        request("nope", json!({})),
        request("list-funcs", json!({})),
    ]
}

/// Every request on a connection of its own; what came back, as received.
async fn answers(handler: impl Handler) -> Vec<String> {
    let server = start(Server::builder().token(TOKEN), handler).await;
    let mut out = Vec::new();
    for request in requests() {
        let bytes = raw_exchange(server.addr, &frame(&request.to_string())).await;
        out.push(String::from_utf8(bytes).expect("UTF-8 answer"));
    }
    server.stop().await;
    out
}

#[tokio::test]
async fn both_modes_answer_alike_byte_for_byte() {
    let native = answers(native::HoleServer::new(native::MyHole::default())).await;
    let store: Arc<dyn dynamic::Hole> = Arc::new(dynamic::MyHole::default());
    let dynamic = answers(dynamic::HoleServer::from_arc(store)).await;
    for ((request, native), dynamic) in requests().iter().zip(&native).zip(&dynamic) {
        assert_eq!(native, dynamic, "for {request}");
    }
    // The answers are the real ones, not two identical failures.
    assert!(native[0].contains(r#""repo-add":{"name":":tpp","branch":"main","user":null}"#));
    assert!(
        native[1].contains(r#""branch":"master","user":"42""#),
        "{}",
        native[1]
    );
    assert!(
        native[2].contains("missing field `repo_name`"),
        "{}",
        native[2]
    );
    assert!(native[4].contains(
        r#"{"code":4,"body":{"error":"repo x not found","tpp_error":{"variant":"NotFound","fields":["repo x not found"]}}}"#
    ));
    assert!(native[6].contains(r#"{"code":0,"body":{"builders":["https://x/tpp.git"]}}"#));
    assert_eq!(native[8].matches(r#""step""#).count(), 3, "{}", native[8]);
    assert!(native[10].contains(r#"{"stream":"ok"}"#), "{}", native[10]);
    assert!(
        native[11].contains(r#"{"version":"1.0"}"#),
        "{}",
        native[11]
    );
    assert!(native[13].contains("Action nope does not exist"));
    assert!(
        native[14].contains(r#""doc":"Adds a repository.""#),
        "{}",
        native[14]
    );
}

/// What a configuration would decide: one implementation or another, behind one type.
fn choose(name: &'static str) -> Arc<dyn dynamic::Hole> {
    Arc::new(dynamic::MyHole {
        name,
        calls: AtomicU64::new(0),
    })
}

fn typed_client(server: &Running) -> dynamic::HoleClient {
    dynamic::HoleClient::new(client(server.port()))
}

#[tokio::test]
async fn an_implementation_chosen_at_run_time_is_served() {
    for name in ["postgres", "memory"] {
        let store = choose(name);
        let server = start(
            Server::builder().token(TOKEN),
            dynamic::HoleServer::from_arc(store.clone()),
        )
        .await;
        let client = typed_client(&server);
        let repo = within(
            client
                .with_field("user_id", "ana")
                .repo_add("tpp")
                .branch("main"),
        )
        .await
        .expect("repo-add");
        assert_eq!(
            repo,
            dynamic::Repo {
                name: format!("{name}:tpp"),
                branch: "main".into(),
                user: Some("ana".into())
            }
        );
        // The server shares the caller's Arc: state is the same object.
        assert_eq!(within(client.count()).await.expect("count"), 1);
        assert_eq!(within(store.count()).await.expect("direct call"), 2);
        let error = within(client.fail(4)).await.expect_err("fail");
        assert_eq!(
            error.service_error(),
            Some(&dynamic::HoleError::NotFound("repo x not found".into()))
        );
        let steps = all_items(within(client.build(2)).await.expect("build")).await;
        assert_eq!(steps, [json!({"step": 1}), json!({"step": 2})]);
        let (ack, events) = within(client.stream(vec!["a".into()]))
            .await
            .expect("stream");
        assert_eq!(ack, "ok");
        assert_eq!(all_items(events).await, [json!({"event_type": "a"})]);
        assert_eq!(within(client.version()).await.expect("version"), "1.0");
        server.stop().await;
    }
}

#[tokio::test]
async fn boxed_implementations_serve_through_a_router() {
    let boxed: Box<dyn dynamic::Hole> = Box::new(dynamic::MyHole {
        name: "boxed",
        calls: AtomicU64::new(0),
    });
    let router = tpp_rpc::Router::new()
        .service(dynamic::HoleServer::from(boxed))
        .expect("one service");
    let server = start(Server::builder().token(TOKEN), router).await;
    let client = typed_client(&server);
    let repo = within(client.repo_add("r").branch("b"))
        .await
        .expect("repo-add");
    assert_eq!(repo.name, "boxed:r");
    let funcs = within(client.list_funcs()).await.expect("list-funcs");
    let branch = &funcs.get("repo-add").expect("repo-add listed").parameters[1];
    assert_eq!(
        (
            branch.name.as_str(),
            branch.required,
            branch.default.clone()
        ),
        ("branch", false, Some(json!("master")))
    );
    server.stop().await;
}

#[tokio::test]
#[cfg_attr(
    not(tpp_python),
    ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"
)]
async fn python_client_calls_a_dyn_server() {
    let python = reference_python("python_client_calls_a_dyn_server");
    let server = start(
        Server::builder().token(TOKEN),
        dynamic::HoleServer::from_arc(choose("py")),
    )
    .await;
    let op = |action: &str, body: Value| json!({"op": "request2server", "action": action, "body": body, "token": TOKEN});
    let spec = json!({
        "host": "127.0.0.1",
        "port": server.port(),
        "timeout": 15,
        "ops": [
            op("repo-add", json!({"repo_name": "a"})),
            op("fail", json!({"code": 4})),
            {"op": "exchange", "message": {"token": TOKEN, "action": "build", "body": {"steps": 2}}},
            {"op": "request2server_stream", "action": "stream", "body": {"kinds": ["x"]}, "token": TOKEN},
        ],
    });
    let results = ref_client(&python, spec).await;
    assert_eq!(
        results[0],
        json!({"ok": true, "result": {"name": "py:a", "branch": "master", "user": null}})
    );
    assert_eq!(results[1]["ok"], false);
    assert_eq!(results[1]["message"], "repo x not found");
    assert_eq!(
        results[2]["responses"],
        json!([{"code": 0, "body": {"step": 1}}, {"code": 0, "body": {"step": 2}}])
    );
    assert_eq!(results[3]["result"], "ok", "{}", results[3]);
    assert_eq!(
        results[3]["responses"],
        json!([{"code": 0, "body": {"event_type": "x"}}])
    );
    server.stop().await;
}
