//! `#[toxic_service]` over real sockets: the generated server and client against each other,
//! against raw frames (the exact JSON on the wire), through a `Router`, and against the
//! Python reference client (`toxiccore`), when it is installed.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tpp_rpc::{
    ActionError, CallError, Client, ClientError, Connection, Context, Handler, ItemStream, Server,
    ToxicError,
};
use tpp_tests::*;

const TOKEN: &str = "s3cret";

// ---------------------------------------------------------------------------------------------
// The service under test: a small toxicbuild hole.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Repo {
    name: String,
    url: String,
    branch: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct BuildersQuery {
    repo_url: String,
    #[serde(default)]
    branch: Option<String>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Builders {
    builders: Vec<String>,
}

/// Codes 1 to 6, as toxicbuild uses them (1 generic, 2 and 3 auth, ...).
#[derive(Debug, PartialEq, tpp_rpc::ToxicError)]
enum HoleError {
    #[toxic(code = 1)]
    Generic(String),
    #[toxic(code = 2)]
    NoUser,
    #[toxic(code = 3)]
    NotEnoughPerms,
    #[toxic(code = 4)]
    NotFound { message: String },
    #[toxic(code = 5)]
    Conflict(String),
    #[toxic(code = 6)]
    Busy,
}

impl fmt::Display for HoleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HoleError::Generic(m) | HoleError::Conflict(m) => f.write_str(m),
            HoleError::NotFound { message } => f.write_str(message),
            HoleError::NoUser => f.write_str("User does not exist"),
            HoleError::NotEnoughPerms => f.write_str("Not enough permissions"),
            HoleError::Busy => f.write_str("Busy, try later"),
        }
    }
}

#[tpp_rpc::toxic_service(rename_all = "kebab-case", strict)]
trait Hole {
    /// Adds a new repository.
    async fn repo_add(
        &self,
        repo_name: String,
        repo_url: String,
        #[param(default = "\"master\"")] branch: String,
        slaves: Option<Vec<String>>,
    ) -> Result<Repo, HoleError>;

    /// Fails with the given code.
    async fn fail(&self, code: i64) -> Result<(), HoleError>;

    /// Who is asking: the request's `user_id` field.
    async fn whoami(&self, ctx: &Context) -> Result<Option<String>, ActionError>;

    /// The builders of a repository, answered as the whole body.
    #[action(name = "list_builders", bare)]
    async fn builders(&self, #[body] query: BuildersQuery) -> Result<Builders, ActionError>;

    /// Waits before answering.
    async fn slow(&self, millis: u64) -> Result<u64, ActionError>;

    /// Counts calls.
    async fn count(&self) -> Result<u64, ActionError>;

    /// Streams `steps` build steps, then fails with code 5 when `fail_at` is reached; refuses
    /// an unknown builder before streaming anything.
    #[action(stream)]
    async fn build(
        &self,
        builder_name: String,
        steps: u32,
        fail_at: Option<u32>,
    ) -> Result<ItemStream<Step>, HoleError>;
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Step {
    builder: String,
    step: u32,
}

#[derive(Default)]
struct MyHole {
    calls: AtomicU64,
}

impl Hole for MyHole {
    async fn repo_add(
        &self,
        repo_name: String,
        repo_url: String,
        branch: String,
        slaves: Option<Vec<String>>,
    ) -> Result<Repo, HoleError> {
        if repo_name.is_empty() {
            return Err(HoleError::Generic("empty name".into()));
        }
        if slaves.is_some_and(|s| s.is_empty()) {
            return Err(HoleError::Conflict("no slaves".into()));
        }
        Ok(Repo {
            name: repo_name,
            url: repo_url,
            branch,
        })
    }

    async fn fail(&self, code: i64) -> Result<(), HoleError> {
        Err(match code {
            1 => HoleError::Generic("generic failure".into()),
            2 => HoleError::NoUser,
            3 => HoleError::NotEnoughPerms,
            4 => HoleError::NotFound {
                message: "repo x not found".into(),
            },
            5 => HoleError::Conflict("already there".into()),
            _ => HoleError::Busy,
        })
    }

    async fn whoami(&self, ctx: &Context) -> Result<Option<String>, ActionError> {
        Ok(ctx
            .extra("user_id")
            .and_then(Value::as_str)
            .map(str::to_owned))
    }

    async fn builders(&self, query: BuildersQuery) -> Result<Builders, ActionError> {
        let branch = query.branch.unwrap_or_else(|| "master".into());
        Ok(Builders {
            builders: vec![
                format!("{}:{branch}:py", query.repo_url),
                format!("{}:{branch}:rs", query.repo_url),
            ],
        })
    }

    async fn slow(&self, millis: u64) -> Result<u64, ActionError> {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        Ok(millis)
    }

    async fn count(&self) -> Result<u64, ActionError> {
        Ok(self.calls.fetch_add(1, Ordering::SeqCst) + 1)
    }

    async fn build(
        &self,
        builder_name: String,
        steps: u32,
        fail_at: Option<u32>,
    ) -> Result<ItemStream<Step>, HoleError> {
        if builder_name != "py" {
            return Err(HoleError::NotFound {
                message: format!("builder {builder_name} not found"),
            });
        }
        let items = (1..=steps).map(move |step| {
            if Some(step) == fail_at {
                Err(ActionError::new(5, format!("step {step} failed")))
            } else {
                Ok(Step {
                    builder: builder_name.clone(),
                    step,
                })
            }
        });
        Ok(ItemStream::new(futures_util::stream::iter(items)))
    }
}

async fn start_hole() -> Running {
    start(
        Server::builder().token(TOKEN),
        HoleServer::new(MyHole::default()),
    )
    .await
}

fn client_for(server: &Running) -> HoleClient {
    HoleClient::new(
        Client::builder("127.0.0.1", server.port())
            .token(TOKEN)
            .timeout(WAIT)
            .build()
            .expect("client"),
    )
}

/// Sends one request frame and returns the response as JSON.
async fn raw_call(server: &Running, request: Value) -> Value {
    let bytes = raw_exchange(server.addr, &frame(&request.to_string())).await;
    response_json(&bytes)
}

fn request(action: &str, body: Value) -> Value {
    json!({"token": TOKEN, "action": action, "body": body})
}

// ---------------------------------------------------------------------------------------------
// Typed client against typed server.

#[tokio::test]
async fn typed_calls_round_trip() {
    let server = start_hole().await;
    let client = client_for(&server);

    // Required parameters positional, `&str` for `String`; optional ones are setters.
    let repo = within(
        client
            .repo_add("tpp", "https://x/tpp.git")
            .branch("dev")
            .slaves(vec!["s1".into()]),
    )
    .await
    .expect("repo-add");
    assert_eq!(
        repo,
        Repo {
            name: "tpp".into(),
            url: "https://x/tpp.git".into(),
            branch: "dev".into(),
        }
    );

    let builders = within(client.builders(BuildersQuery {
        repo_url: "u".into(),
        branch: None,
    }))
    .await
    .expect("list_builders");
    assert_eq!(builders.builders, ["u:master:py", "u:master:rs"]);

    let who = within(client.with_field("user_id", "42").whoami())
        .await
        .expect("whoami");
    assert_eq!(who.as_deref(), Some("42"));
    let nobody = within(client.whoami()).await.expect("whoami");
    assert_eq!(nobody, None);

    server.stop().await;
}

#[tokio::test]
async fn error_codes_1_to_6_survive_the_round_trip() {
    let server = start_hole().await;
    let client = client_for(&server);
    let expected = [
        HoleError::Generic("generic failure".into()),
        HoleError::NoUser,
        HoleError::NotEnoughPerms,
        HoleError::NotFound {
            message: "repo x not found".into(),
        },
        HoleError::Conflict("already there".into()),
        HoleError::Busy,
    ];
    for (code, expected) in (1..=6).zip(expected) {
        let error = within(client.fail(code)).await.expect_err("an error");
        assert_eq!(error.code(), Some(code), "{error}");
        assert_eq!(error.to_string(), expected.message());
        // The service's own error, reached by `match` in one step.
        match error {
            CallError::Service(typed) => assert_eq!(typed, expected),
            CallError::Client(other) => panic!("not decoded: {other:?}"),
        }
    }
    // A client error that is not a server error is given back as is.
    let closed = ClientError::Closed.into_service_error::<HoleError>();
    assert!(matches!(closed, Err(ClientError::Closed)));
    server.stop().await;
}

#[tokio::test]
async fn per_call_timeout_and_concurrent_calls() {
    let server = start_hole().await;
    let client = client_for(&server);
    let error = within(client.with_timeout(Duration::from_millis(100)).slow(1_000))
        .await
        .expect_err("times out");
    assert!(
        matches!(error, CallError::Client(ClientError::Timeout(_))),
        "{error:?}"
    );
    // The same timeout for one call only; the client itself keeps none.
    let error = within(client.slow(1_000).timeout(Duration::from_millis(100)))
        .await
        .expect_err("times out");
    assert!(
        matches!(error, CallError::Client(ClientError::Timeout(d)) if d == Duration::from_millis(100)),
        "{error:?}"
    );
    assert_eq!(within(client.slow(1)).await.expect("no timeout"), 1);

    // Served futures and client futures are Send: run many calls at once.
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.count().await })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(within(task).await.expect("join").expect("count"));
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..=16).collect::<Vec<u64>>());
    server.stop().await;
}

#[tokio::test]
async fn streams_send_items_then_close() {
    let server = start_hole().await;
    let client = client_for(&server);

    let stream = within(client.build("py", 3)).await.expect("stream");
    let steps: Vec<Step> = within(stream.map(|s| s.expect("an item")).collect::<Vec<_>>()).await;
    assert_eq!(steps.iter().map(|s| s.step).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(steps[0].builder, "py");

    // An error item ends the stream with the error.
    let mut stream = within(client.build("py", 5).fail_at(2))
        .await
        .expect("stream");
    let first = within(stream.next()).await.expect("one").expect("item");
    assert_eq!(first.step, 1);
    let error = within(stream.next())
        .await
        .expect("an error")
        .expect_err("step 2 fails");
    assert!(
        matches!(&error, CallError::Service(HoleError::Conflict(m)) if m == "step 2 failed"),
        "{error:?}"
    );
    assert!(within(stream.next()).await.is_none());

    // An error before streaming is the only response.
    let mut stream = within(client.build("rs", 5)).await.expect("stream");
    let error = within(stream.next())
        .await
        .expect("an error")
        .expect_err("unknown builder");
    assert!(
        matches!(
            &error,
            CallError::Service(HoleError::NotFound { message }) if message == "builder rs not found"
        ),
        "{error:?}"
    );
    assert!(within(stream.next()).await.is_none());

    // On the wire: bare items, then the server closes.
    let bytes = raw_exchange(
        server.addr,
        &frame(&request("build", json!({"builder_name": "py", "steps": 2})).to_string()),
    )
    .await;
    let (first, rest) = split_frame(&bytes).expect("a first frame");
    let (second, rest) = split_frame(rest).expect("a second frame");
    assert!(rest.is_empty());
    let first: Value = serde_json::from_slice(first).expect("JSON");
    let second: Value = serde_json::from_slice(second).expect("JSON");
    assert_eq!(
        first,
        json!({"code": 0, "body": {"builder": "py", "step": 1}})
    );
    assert_eq!(
        second,
        json!({"code": 0, "body": {"builder": "py", "step": 2}})
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The exact wire.

#[tokio::test]
async fn results_are_wrapped_in_the_action_name() {
    let server = start_hole().await;
    let response = raw_call(
        &server,
        request("repo-add", json!({"repo_name": "a", "repo_url": "u"})),
    )
    .await;
    assert_eq!(
        response,
        json!({"code": 0, "body": {"repo-add": {"name": "a", "url": "u", "branch": "master"}}})
    );
    server.stop().await;
}

#[tokio::test]
async fn bare_actions_answer_the_result_as_the_body() {
    let server = start_hole().await;
    let response = raw_call(
        &server,
        request("list_builders", json!({"repo_url": "u", "branch": "b"})),
    )
    .await;
    assert_eq!(
        response,
        json!({"code": 0, "body": {"builders": ["u:b:py", "u:b:rs"]}})
    );
    server.stop().await;
}

#[tokio::test]
async fn errors_carry_code_message_and_variant() {
    let server = start_hole().await;
    let response = raw_call(&server, request("fail", json!({"code": 4}))).await;
    assert_eq!(
        response,
        json!({"code": 4, "body": {"error": "repo x not found",
            "tpp_error": {"variant": "NotFound", "fields": {"message": "repo x not found"}}}})
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_parameters_are_code_1_naming_the_key() {
    let server = start_hole().await;
    let cases = [
        // A missing required key.
        (
            json!({"repo_name": "a"}),
            "Bad parameters for action repo-add: missing field `repo_url`",
        ),
        // An unknown key.
        (
            json!({"repo_name": "a", "repo_url": "u", "nmae": 1}),
            "Bad parameters for action repo-add: unknown field `nmae`",
        ),
        // A wrong type.
        (
            json!({"repo_name": 1, "repo_url": "u"}),
            "Bad parameters for action repo-add: parameter `repo_name`: invalid type: integer `1`",
        ),
        // Not an object.
        (
            json!(["a", "u"]),
            "Bad parameters for action repo-add: the body must be a JSON object",
        ),
    ];
    for (body, expected) in cases {
        let response = raw_call(&server, request("repo-add", body.clone())).await;
        assert_eq!(response["code"], 1, "{body}: {response}");
        let message = response["body"]["error"].as_str().expect("error message");
        assert!(
            message.starts_with(expected),
            "{body}: {message:?} should start with {expected:?}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn optional_parameters_may_be_absent_or_null() {
    let server = start_hole().await;
    // `slaves` absent, `branch` absent (its default applies).
    let response = raw_call(
        &server,
        request("repo-add", json!({"repo_name": "a", "repo_url": "u"})),
    )
    .await;
    assert_eq!(response["body"]["repo-add"]["branch"], "master");
    // `slaves` null.
    let response = raw_call(
        &server,
        request(
            "repo-add",
            json!({"repo_name": "a", "repo_url": "u", "slaves": null}),
        ),
    )
    .await;
    assert_eq!(response["code"], 0, "{response}");
    // An absent body counts as {} for an action without required keys.
    let response = raw_call(&server, json!({"token": TOKEN, "action": "count"})).await;
    assert_eq!(response["code"], 0, "{response}");
    server.stop().await;
}

#[tokio::test]
async fn unknown_actions_are_code_1() {
    let server = start_hole().await;
    let response = raw_call(&server, request("repo-ad", json!({}))).await;
    assert_eq!(
        response,
        json!({"code": 1, "body": {"error": "Action repo-ad does not exist"}})
    );
    server.stop().await;
}

#[tokio::test]
async fn list_funcs_is_shaped_like_the_hole() {
    let server = start_hole().await;
    let response = raw_call(&server, request("list-funcs", json!({}))).await;
    assert_eq!(response["code"], 0, "{response}");
    let funcs = &response["body"]["list-funcs"];
    assert_eq!(
        funcs["repo-add"],
        json!({
            "doc": "Adds a new repository.",
            "parameters": [
                {"name": "repo_name", "required": true},
                {"name": "repo_url", "required": true},
                {"name": "branch", "required": false, "default": "master"},
                {"name": "slaves", "required": false, "default": null},
            ]
        })
    );
    assert_eq!(funcs["whoami"]["parameters"], json!([]));
    assert_eq!(funcs["list_builders"]["parameters"], json!([]));
    let mut names: Vec<&str> = funcs
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "build",
            "count",
            "fail",
            "list_builders",
            "repo-add",
            "slow",
            "whoami"
        ]
    );

    // The same through the typed client, and at compile time.
    let client = client_for(&server);
    let typed = within(client.list_funcs()).await.expect("list-funcs");
    assert_eq!(&serde_json::to_value(&typed).expect("JSON"), funcs);
    let repo_add = typed.get("repo-add").expect("repo-add");
    assert_eq!(repo_add.doc, "Adds a new repository.");
    let names: Vec<&str> = repo_add
        .parameters
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["repo_name", "repo_url", "branch", "slaves"]);
    assert_eq!(repo_add.parameters[2].default, Some(json!("master")));
    assert!(!repo_add.parameters[2].required && repo_add.parameters[0].required);
    assert_eq!(HOLE_ACTIONS.len(), 7);
    assert_eq!(HOLE_ACTIONS[6].kind, tpp_rpc::ActionKind::Stream);
    server.stop().await;
}

#[tokio::test]
async fn client_skips_absent_optional_parameters() {
    // A low-level server that answers each request with its own body.
    struct Mirror;
    impl Handler for Mirror {
        async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
            let request = conn.request().clone();
            let body: Value = request.body()?;
            let repo = Repo {
                name: body.to_string(),
                url: String::new(),
                branch: String::new(),
            };
            conn.send_result(&repo).await
        }
    }
    let server = start(Server::builder().token(TOKEN), Mirror).await;
    let client = client_for(&server);
    let repo = within(client.repo_add("a", "u").branch("b"))
        .await
        .expect("mirrored");
    let sent: Value = serde_json::from_str(&repo.name).expect("JSON");
    assert_eq!(
        sent,
        json!({"repo_name": "a", "repo_url": "u", "branch": "b"})
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Several services on one server.

#[tpp_rpc::toxic_service(rename_all = "kebab-case")]
trait Slaves {
    /// Lists the slaves.
    async fn slave_list(&self) -> Result<Vec<String>, ActionError>;
}

struct MySlaves;

impl Slaves for MySlaves {
    async fn slave_list(&self) -> Result<Vec<String>, ActionError> {
        Ok(vec!["s1".into()])
    }
}

#[tokio::test]
async fn a_router_serves_several_services() {
    let router = tpp_rpc::Router::new()
        .service(HoleServer::new(MyHole::default()))
        .expect("hole")
        .service(SlavesServer::new(MySlaves))
        .expect("slaves");
    let server = start(Server::builder().token(TOKEN), router).await;
    let hole = client_for(&server);
    let slaves = SlavesClient::new(hole.inner().clone());
    assert_eq!(within(hole.count()).await.expect("count"), 1);
    assert_eq!(
        within(slaves.slave_list()).await.expect("slave-list"),
        ["s1"]
    );
    let funcs = within(slaves.list_funcs()).await.expect("list-funcs");
    assert!(funcs.get("repo-add").is_some() && funcs.get("slave-list").is_some());
    let response = raw_call(&server, request("nope", json!({}))).await;
    assert_eq!(response["body"]["error"], "Action nope does not exist");
    server.stop().await;

    // A duplicate action name is refused when the router is built.
    let duplicate = tpp_rpc::Router::new()
        .service(SlavesServer::new(MySlaves))
        .expect("first")
        .service(SlavesServer::new(MySlaves))
        .err()
        .expect("duplicate refused");
    assert_eq!(duplicate.name, "slave-list");
}

// ---------------------------------------------------------------------------------------------
// The Python reference client (toxiccore) against the generated server.

#[tokio::test]
#[cfg_attr(
    not(tpp_python),
    ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"
)]
async fn python_client_calls_the_generated_server() {
    let python = reference_python("python_client_calls_the_generated_server");
    let server = start_hole().await;
    let op = |action: &str, body: Value| json!({"op": "request2server", "action": action, "body": body, "token": TOKEN});
    let spec = json!({
        "host": "127.0.0.1",
        "port": server.port(),
        "timeout": 15,
        "ops": [
            op("repo-add", json!({"repo_name": "a", "repo_url": "u"})),
            op("list-funcs", json!({})),
            op("fail", json!({"code": 4})),
            op("repo-add", json!({"repo_name": "a"})),
            {"op": "exchange", "message": request("build", json!({"builder_name": "py", "steps": 2}))},
        ],
    });
    let results = ref_client(&python, spec).await;
    assert_eq!(
        results[0],
        json!({"ok": true, "result": {"name": "a", "url": "u", "branch": "master"}})
    );
    assert_eq!(results[1]["ok"], true);
    assert_eq!(
        results[1]["result"]["repo-add"]["parameters"][0],
        json!({"name": "repo_name", "required": true})
    );
    assert_eq!(results[2]["ok"], false);
    assert_eq!(results[2]["message"], "repo x not found");
    assert_eq!(results[3]["ok"], false);
    assert!(
        results[3]["message"]
            .as_str()
            .is_some_and(|m| m.contains("missing field `repo_url`")),
        "{}",
        results[3]
    );
    // toxicbuild's build loop reads the stream until the server closes.
    assert_eq!(results[4]["ok"], true, "{}", results[4]);
    assert_eq!(
        results[4]["responses"],
        json!([
            {"code": 0, "body": {"builder": "py", "step": 1}},
            {"code": 0, "body": {"builder": "py", "step": 2}},
        ])
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// A #[param(default)] the macro cannot check is checked when the server value is built.

/// A type the macro does not know by name.
#[derive(Debug, Serialize, Deserialize)]
pub struct Point {
    x: i32,
    y: i32,
}

#[tpp_rpc::toxic_service(rename_all = "kebab-case")]
trait Plot {
    /// `at` defaults to a string, which is no `Point`.
    async fn draw(&self, #[param(default = "\"origin\"")] at: Point) -> Result<i32, ActionError>;
}

#[tokio::test]
async fn a_default_of_the_wrong_type_is_refused_when_the_server_is_built() {
    struct Impl;
    impl Plot for Impl {
        async fn draw(&self, at: Point) -> Result<i32, ActionError> {
            Ok(at.x + at.y)
        }
    }
    let built = std::panic::catch_unwind(|| PlotServer::new(Impl));
    let message = match built {
        Ok(_) => panic!("PlotServer::new accepted an invalid default"),
        Err(panic) => panic.downcast_ref::<String>().cloned().unwrap_or_default(),
    };
    assert!(
        message.contains("parameter `at` of action \"draw\""),
        "{message}"
    );
    assert!(message.contains("\"origin\""), "{message}");
}
