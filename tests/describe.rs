//! Service descriptions: built without a server, answered by `list-funcs` when asked (and
//! only then), and by a router for all its services.

use serde_json::{json, Value};
use tpp_rpc::describe::Kind;
use tpp_rpc::{Description, Router, Server};
use tpp_tests::contract::{CatalogClient, CatalogServer, MemCatalog};
use tpp_tests::{frame, raw_exchange, response_json, start, TOKEN};

fn catalog() -> CatalogServer<MemCatalog> {
    CatalogServer::new(MemCatalog::default())
}

#[test]
fn description_without_a_server() {
    let service = CatalogClient::description();
    assert_eq!(service.name, "Catalog");
    assert_eq!(service.doc, "A catalog of repositories.");
    let names: Vec<&str> = service.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "repo-add",
            "repo-get",
            "repo-list",
            "repo-lock",
            "repo-remove",
            "count"
        ]
    );
    let add = &service.actions[0];
    assert_eq!(add.method, "repo_add");
    assert_eq!(add.doc, "Adds a repository.");
    assert_eq!(add.kind, Kind::Unary);
    let params: Vec<(&str, bool, Option<&Value>)> = add
        .params
        .iter()
        .map(|p| (p.name.as_str(), p.required, p.default.as_ref()))
        .collect();
    assert_eq!(
        params,
        [
            ("name", true, None),
            ("url", true, None),
            ("parallel", false, Some(&json!(1))),
            ("branches", false, Some(&Value::Null)),
            ("labels", false, Some(&Value::Null)),
        ]
    );
    assert_eq!(add.params[0].schema, json!({"type": "string"}));
    assert_eq!(add.params[2].schema["type"], "integer");
    assert_eq!(add.params[2].schema["minimum"], 0);
    assert_eq!(add.result, json!({"$ref": "#/$defs/Repo"}));
    let repo = &service.defs["Repo"];
    assert_eq!(repo["type"], "object");
    assert_eq!(repo["properties"]["state"]["$ref"], "#/$defs/State");
    let states: Vec<&Value> = service.defs["State"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["const"])
        .collect();
    assert_eq!(states, [&json!("idle"), &json!("running")]);

    let errors: Vec<(i64, &str, &str)> = add
        .errors
        .iter()
        .map(|e| (e.code, e.variant.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(
        errors,
        [
            (4, "NotFound", "repository {0} not found"),
            (7, "Locked", "repository {id} is locked by {by}"),
            (8, "ReadOnly", "the catalog is read-only"),
            (9, "Moved", "repository moved to {0} on shard {1}"),
        ]
    );
    assert_eq!(
        add.errors[0].fields.as_ref().unwrap()["prefixItems"],
        json!([{"type": "string"}])
    );
    let locked = add.errors[1].fields.as_ref().unwrap();
    assert_eq!(locked["properties"]["by"], json!({"type": "string"}));
    assert_eq!(locked["required"], json!(["id", "by"]));
    assert!(add.errors[2].fields.is_none());

    let count = &service.actions[5];
    assert_eq!(count.kind, Kind::Stream);
    assert_eq!(count.result["type"], "integer");

    // The same value from the server type, and it survives JSON.
    assert_eq!(CatalogServer::<MemCatalog>::description(), service);
    let text = serde_json::to_string(service).unwrap();
    let back: tpp_rpc::ServiceDescription = serde_json::from_str(&text).unwrap();
    assert_eq!(&back, service);
}

async fn list_funcs(port: u16, body: Option<Value>) -> Value {
    let mut request = json!({"token": TOKEN, "action": "list-funcs"});
    if let Some(body) = body {
        request["body"] = body;
    }
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let answer = response_json(&raw_exchange(addr, &frame(&request.to_string())).await);
    assert_eq!(answer["code"], 0, "{answer}");
    answer["body"]["list-funcs"].clone()
}

#[tokio::test]
async fn list_funcs_answers_the_description_only_when_asked() {
    let server = start(Server::builder().token(TOKEN), catalog()).await;

    // Without the key (and with a body toxiccore might send): the list toxicbuild reads.
    for body in [None, Some(json!({})), Some(json!({"tpp_describe": false}))] {
        let plain = list_funcs(server.port(), body).await;
        assert!(plain.get("tpp_describe").is_none(), "{plain}");
        assert_eq!(
            plain["repo-add"]["parameters"][2],
            json!({"name": "parallel", "required": false, "default": 1})
        );
        assert_eq!(
            plain["repo-get"]["doc"],
            "Shows a repository (`moved` has moved: the `Moved` error)."
        );
        assert_eq!(
            plain["repo-get"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["doc", "parameters"]
        );
    }

    let full = list_funcs(server.port(), Some(json!({"tpp_describe": true}))).await;
    assert_eq!(full["tpp_describe"], 1);
    let full: Description = serde_json::from_value(full).unwrap();
    assert_eq!(full.services, [CatalogClient::description().clone()]);
    server.stop().await;
}

#[tpp_rpc::toxic_service]
trait Other {
    /// Pings.
    async fn ping(&self) -> Result<String, tpp_rpc::ActionError>;
}

struct Pong;

impl Other for Pong {
    async fn ping(&self) -> Result<String, tpp_rpc::ActionError> {
        Ok("pong".into())
    }
}

#[tokio::test]
async fn a_router_describes_every_service() {
    let router = Router::new()
        .service(catalog())
        .unwrap()
        .service(OtherServer::new(Pong))
        .unwrap();
    let local = router.description();
    let server = start(Server::builder().token(TOKEN), router).await;
    let full = list_funcs(server.port(), Some(json!({"tpp_describe": true}))).await;
    let full: Description = serde_json::from_value(full).unwrap();
    assert_eq!(full, local);
    let names: Vec<&str> = full.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Catalog", "Other"]);
    let (service, ping) = full.action("ping").unwrap();
    assert_eq!(service.name, "Other");
    assert_eq!(ping.result, json!({"type": "string"}));
    // ActionError lists no variants: any code may come.
    assert!(ping.errors.is_empty());
    server.stop().await;
}

#[derive(Debug, Default, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
struct Window {
    width: u32,
}

#[tpp_rpc::toxic_service]
trait Settings {
    /// Echoes its parameters.
    async fn set(
        &self,
        #[param(default)] retries: u32,
        #[param(default = 10)] limit: u64,
        #[param(default = -1)] offset: i32,
        #[param(default = true)] on: bool,
        #[param(default)] window: Window,
    ) -> Result<Value, tpp_rpc::ActionError>;
}

struct Echo;

impl Settings for Echo {
    async fn set(
        &self,
        retries: u32,
        limit: u64,
        offset: i32,
        on: bool,
        window: Window,
    ) -> Result<Value, tpp_rpc::ActionError> {
        Ok(json!([retries, limit, offset, on, window]))
    }
}

#[tokio::test]
async fn defaults_as_rust_writes_them() {
    let params = &SettingsClient::description().actions[0].params;
    let defaults: Vec<Option<&Value>> = params.iter().map(|p| p.default.as_ref()).collect();
    let expected = [
        json!(0),
        json!(10),
        json!(-1),
        json!(true),
        json!({"width": 0}),
    ];
    assert_eq!(defaults, expected.iter().map(Some).collect::<Vec<_>>());

    let server = start(Server::builder().token(TOKEN), SettingsServer::new(Echo)).await;
    let client = SettingsClient::new(tpp_tests::client(server.port()));
    let all_defaults = tpp_tests::within(client.set()).await.unwrap();
    assert_eq!(all_defaults, json!([0, 10, -1, true, {"width": 0}]));
    let given = tpp_tests::within(client.set().retries(3).window(Window { width: 5 }))
        .await
        .unwrap();
    assert_eq!(given, json!([3, 10, -1, true, {"width": 5}]));
    server.stop().await;
}

/// toxiccore's client sees `list-funcs` as before, and gets the description when it asks.
#[tokio::test]
#[cfg_attr(
    not(tpp_python),
    ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"
)]
async fn python_reads_list_funcs_and_the_description() {
    let python = tpp_tests::reference_python("python_reads_list_funcs_and_the_description");
    let server = start(Server::builder().token(TOKEN), catalog()).await;
    let op = |body: Value| json!({"op": "request2server", "action": "list-funcs", "body": body, "token": TOKEN});
    let spec = json!({
        "host": "127.0.0.1",
        "port": server.port(),
        "timeout": 15,
        "ops": [op(json!({})), op(json!({"tpp_describe": true}))],
    });
    let results = tpp_tests::ref_client(&python, spec).await;
    assert_eq!(results[0]["ok"], true, "{}", results[0]);
    let plain = &results[0]["result"];
    assert_eq!(
        plain["repo-get"],
        json!({"doc": "Shows a repository (`moved` has moved: the `Moved` error).",
            "parameters": [{"name": "name", "required": true}]})
    );
    assert_eq!(results[1]["ok"], true, "{}", results[1]);
    let full: Description = serde_json::from_value(results[1]["result"].clone()).unwrap();
    assert_eq!(full.services, [CatalogClient::description().clone()]);
    server.stop().await;
}

#[test]
fn a_hand_written_service_is_described_from_its_action_list() {
    const PARAMS: &[tpp_rpc::ParamInfo] = &[tpp_rpc::ParamInfo {
        name: "n",
        required: false,
        default: Some("3"),
        ty: "u32",
    }];
    let actions = [tpp_rpc::ActionInfo {
        name: "count",
        method: "count",
        doc: "Counts.",
        params: PARAMS,
        kind: tpp_rpc::ActionKind::Stream,
    }];
    let service = tpp_rpc::service::describe_actions("Counter", &actions);
    assert_eq!(
        serde_json::to_value(&service).unwrap(),
        json!({
            "name": "Counter", "doc": "", "unknown_keys": "ignore",
            "actions": [{"name": "count", "method": "count", "doc": "Counts.", "kind": "stream",
                "params": [{"name": "n", "required": false, "default": 3, "schema": {}}],
                "result": {}, "errors": []}]
        })
    );
}
