//! Caller identity and middleware over real sockets: map authenticators name
//! callers in the `Context`, per-action authorization in a layer, and layers
//! that see every response code (stream items included), time requests and
//! refuse before the handler, for generated services and low-level handlers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tpp_rpc::auth::{Identity, UserHashes, UserTokens};
use tpp_rpc::server::{ConcurrencyLimit, Layer, Next};
use tpp_rpc::{
    ActionError, BcryptToken, BoxFuture, ClientError, Connection, Context, Error, Server,
};
use tpp_tests::*;

#[tpp_rpc::toxic_service]
trait Ops {
    /// Who is calling.
    async fn whoami(&self, ctx: &Context) -> Result<Option<String>, ActionError>;
    /// Only `ci` may deploy.
    async fn deploy(&self, target: String) -> Result<String, ActionError>;
    /// Fails with code 4.
    async fn broken(&self) -> Result<(), ActionError>;
    /// `n` numbers, then code 6 when `fail`.
    #[action(stream)]
    async fn count(&self, n: u64, fail: bool) -> Result<tpp_rpc::ItemStream<u64>, ActionError>;
}

struct OpsImpl {
    deploys: AtomicUsize,
}

impl Ops for OpsImpl {
    async fn whoami(&self, ctx: &Context) -> Result<Option<String>, ActionError> {
        Ok(ctx.identity().map(|id| id.name().to_owned()))
    }

    async fn deploy(&self, target: String) -> Result<String, ActionError> {
        self.deploys.fetch_add(1, Ordering::SeqCst);
        Ok(format!("deployed {target}"))
    }

    async fn broken(&self) -> Result<(), ActionError> {
        Err(ActionError::new(4, "broken on purpose"))
    }

    async fn count(&self, n: u64, fail: bool) -> Result<tpp_rpc::ItemStream<u64>, ActionError> {
        let items = (0..n)
            .map(Ok)
            .chain(fail.then(|| Err(ActionError::new(6, "stopped"))));
        Ok(tpp_rpc::ItemStream::new(futures_util::stream::iter(items)))
    }
}

fn ops() -> OpsServer<OpsImpl> {
    OpsServer::new(OpsImpl {
        deploys: AtomicUsize::new(0),
    })
}

/// Per-action authorization: the few lines the guide shows.
struct OnlyCiDeploys;

impl Layer for OnlyCiDeploys {
    fn call<'a>(
        &'a self,
        conn: &'a mut Connection,
        next: Next<'a>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let caller = conn.context().identity().map(Identity::name);
            if conn.action() == "deploy" && caller != Some("ci") {
                return conn.refuse(4, "deploy is for ci only").await;
            }
            next.run(conn).await
        })
    }
}

/// Everything one request showed a layer.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    action: String,
    identity: Option<String>,
    codes: Vec<i64>,
    ran_next: bool,
    elapsed: Duration,
}

/// Records what each request showed it; refuses actions named `forbidden-*`.
#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
    codes: Arc<Mutex<Vec<(String, i64)>>>,
}

impl Layer for Recorder {
    fn call<'a>(
        &'a self,
        conn: &'a mut Connection,
        next: Next<'a>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let started = Instant::now();
            let action = conn.action().to_owned();
            let identity = conn.context().identity().map(|i| i.name().to_owned());
            let refuse = action.starts_with("forbidden");
            let result = match refuse {
                true => conn.refuse(7, "refused by the layer").await,
                false => next.run(conn).await,
            };
            let codes = self
                .codes
                .lock()
                .unwrap()
                .drain(..)
                .map(|(_, c)| c)
                .collect();
            self.seen.lock().unwrap().push(Seen {
                action,
                identity,
                codes,
                ran_next: !refuse,
                elapsed: started.elapsed(),
            });
            result
        })
    }

    fn on_response(&self, ctx: &Context, code: i64) {
        self.codes
            .lock()
            .unwrap()
            .push((ctx.action().to_owned(), code));
    }
}

impl Recorder {
    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

#[tokio::test]
async fn user_tokens_name_the_caller_and_a_layer_authorizes_per_action() {
    let users = UserTokens::new()
        .user("ci", "tok-ci")
        .user("web", "tok-web");
    let server = start(Server::builder().auth(users).layer(OnlyCiDeploys), ops()).await;
    let ci = OpsClient::new(client(server.port()).with_token("tok-ci"));
    let web = OpsClient::new(client(server.port()).with_token("tok-web"));
    assert_eq!(within(ci.whoami()).await.unwrap().as_deref(), Some("ci"));
    assert_eq!(within(web.whoami()).await.unwrap().as_deref(), Some("web"));
    assert_eq!(within(ci.deploy("prod")).await.unwrap(), "deployed prod");
    let refused = within(web.deploy("prod")).await.unwrap_err();
    assert_eq!(refused.code(), Some(4), "{refused}");
    assert!(
        refused.to_string().contains("deploy is for ci only"),
        "{refused}"
    );
    // An unknown token is still refused by the server, before any layer.
    let nobody = client(server.port()).with_token("tok-nobody");
    let err = within(nobody.request2server::<_, Value>("whoami", &json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.server_code(), Some(3), "{err}");
    server.stop().await;
}

#[tokio::test]
async fn bcrypt_user_hashes_name_the_caller() {
    let users = UserHashes::new()
        .user("master", &BcryptToken::hash("tok-master", 4).unwrap())
        .unwrap()
        .identity(
            Identity::new("slave-1").with_data(vec!["build"]),
            &BcryptToken::hash("tok-slave", 4).unwrap(),
        )
        .unwrap();
    struct Roles;
    impl tpp_rpc::Handler for Roles {
        async fn handle(&self, conn: &mut Connection) -> Result<(), Error> {
            let who = conn.context().identity().cloned();
            let roles = who.as_ref().and_then(|i| i.data::<Vec<&str>>()).cloned();
            let name = who.map(|i| i.name().to_owned());
            conn.send_result(&json!({"name": name, "roles": roles}))
                .await
        }
    }
    let server = start(Server::builder().auth(users), Roles).await;
    for _ in 0..2 {
        let slave = client(server.port()).with_token("tok-slave");
        let got: Value = within(slave.request2server("roles", &())).await.unwrap();
        assert_eq!(got, json!({"name": "slave-1", "roles": ["build"]}));
    }
    let master = client(server.port()).with_token("tok-master");
    let got: Value = within(master.request2server("roles", &())).await.unwrap();
    assert_eq!(got, json!({"name": "master", "roles": null}));
    let wrong = client(server.port()).with_token("tok-wrong");
    let err = within(wrong.request2server::<_, Value>("roles", &()))
        .await
        .unwrap_err();
    assert_eq!(err.server_code(), Some(3));
    server.stop().await;
}

#[tokio::test]
async fn a_layer_sees_every_code_and_timing_and_can_refuse_before_the_handler() {
    let recorder = Recorder::default();
    let users = UserTokens::new().user("ci", TOKEN);
    let server = start(Server::builder().auth(users).layer(recorder.clone()), ops()).await;
    let c = OpsClient::new(client(server.port()));
    within(c.whoami()).await.unwrap();
    let err = within(c.broken()).await.unwrap_err();
    assert_eq!(err.code(), Some(4));
    let items = all_items(within(c.count(3, false)).await.unwrap()).await;
    assert_eq!(items, [0, 1, 2]);
    let mut failing = within(c.count(2, true)).await.unwrap();
    use futures_util::StreamExt;
    let mut got = Vec::new();
    while let Some(item) = within(failing.next()).await {
        got.push(item.map_err(|e| e.code()));
    }
    assert_eq!(got, [Ok(0), Ok(1), Err(Some(6))]);
    let raw = client(server.port());
    let err = within(raw.request2server::<_, Value>("forbidden-thing", &()))
        .await
        .unwrap_err();
    assert_eq!(err.server_code(), Some(7));
    let seen = recorder.take();
    let summary: Vec<(&str, Vec<i64>, bool)> = seen
        .iter()
        .map(|s| (s.action.as_str(), s.codes.clone(), s.ran_next))
        .collect();
    assert_eq!(
        summary,
        [
            ("whoami", vec![0], true),
            ("broken", vec![4], true),
            ("count", vec![0, 0, 0], true),
            ("count", vec![0, 0, 6], true),
            ("forbidden-thing", vec![7], false),
        ]
    );
    assert!(seen.iter().all(|s| s.identity.as_deref() == Some("ci")));
    assert!(seen.iter().all(|s| s.elapsed > Duration::ZERO));
    server.stop().await;
}

/// A low-level handler goes through the same layers; refusing stops it.
#[tokio::test]
async fn low_level_handlers_go_through_layers_in_order() {
    struct Tag(&'static str, Arc<Mutex<Vec<&'static str>>>);
    impl Layer for Tag {
        fn call<'a>(
            &'a self,
            conn: &'a mut Connection,
            next: Next<'a>,
        ) -> BoxFuture<'a, Result<(), Error>> {
            Box::pin(async move {
                self.1.lock().unwrap().push(self.0);
                next.run(conn).await
            })
        }
    }
    let order = Arc::new(Mutex::new(Vec::new()));
    let recorder = Recorder::default();
    let server = start(
        Server::builder()
            .token(TOKEN)
            .layer(Tag("outer", order.clone()))
            .layer(recorder.clone())
            .layer(Tag("inner", order.clone())),
        TestService,
    )
    .await;
    let c = client(server.port());
    let _: Value = within(c.request2server("echo", &1)).await.unwrap();
    let err = within(c.request2server::<_, Value>("fail", &1))
        .await
        .unwrap_err();
    assert_eq!(err.server_code(), Some(5));
    let err = within(c.request2server::<_, Value>("forbidden", &1))
        .await
        .unwrap_err();
    assert_eq!(err.server_code(), Some(7));
    // The recorder refused "forbidden": the inner layer never saw it.
    assert_eq!(
        *order.lock().unwrap(),
        ["outer", "inner", "outer", "inner", "outer"]
    );
    let codes: Vec<Vec<i64>> = recorder.take().into_iter().map(|s| s.codes).collect();
    assert_eq!(codes, [vec![0], vec![5], vec![7]]);
    server.stop().await;
}

#[tokio::test]
async fn concurrency_limit_refuses_when_full() {
    let server = start(
        Server::builder()
            .token(TOKEN)
            // The hanging call is dropped after this, its permit with it.
            .handler_timeout(Duration::from_secs(1))
            .layer(ConcurrencyLimit::new(1).refuse_when_full(1, "Too busy")),
        TestService,
    )
    .await;
    // One request holds the only permit...
    let holder = client(server.port());
    let hanging = tokio::spawn(async move {
        let _ = holder.request2server::<_, Value>("hang", &()).await;
    });
    // ...so the next ones are refused at once, until it times out.
    let c = client(server.port());
    let mut refused = None;
    for _ in 0..200 {
        match within(c.request2server::<_, Value>("echo", &1)).await {
            Err(ClientError::Server { code, message, .. }) => {
                refused = Some((code, message));
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    assert_eq!(refused, Some((1, "Too busy".to_owned())));
    within(hanging).await.unwrap();
    let mut served = false;
    for _ in 0..200 {
        if within(c.request2server::<_, Value>("echo", &1))
            .await
            .is_ok()
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(served, "the permit came back once the holder was dropped");
    server.stop().await;
}
