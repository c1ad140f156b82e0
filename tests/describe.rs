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
        assert_eq!(plain["repo-get"]["doc"], "Shows a repository.");
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
