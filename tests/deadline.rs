//! Deadlines and cancellation over real sockets (and in process): the
//! caller's budget (`tpp_deadline_ms`) ends the handler's work and is
//! answered "deadline exceeded"; a spent budget never runs the handler;
//! nested calls get what is left; a client that leaves cancels its unary
//! handler, one that only half-closed gets its answer; the per-action
//! policies (timeout, concurrency, idempotent); and a raw Python client.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tpp_rpc::{ActionError, Client, Connection, Context, Handler, Server};
use tpp_tests::{client, client_builder, frame, response_json, start, within, Running, TOKEN};

/// Slack allowed past a budget for the answer to arrive (timer, scheduling
/// on a busy machine, the write).
const MARGIN: Duration = Duration::from_millis(400);

#[tpp_rpc::toxic_service]
pub trait Slow {
    /// Sleeps `ms`, then marks the work done and answers `ms`.
    async fn sleep(&self, ms: u64) -> Result<u64, ActionError>;
    /// What the handler has left, in milliseconds (`null`: no deadline).
    async fn remaining(&self, ctx: &Context) -> Result<Option<u64>, ActionError>;
    /// Calls `remaining` on the service at `port` and answers what it saw.
    async fn relay(&self, port: u16) -> Result<Option<u64>, ActionError>;
    /// Sleeps `ms` under its own 150 ms limit.
    #[action(timeout = "150ms")]
    async fn bounded(&self, ms: u64) -> Result<u64, ActionError>;
    /// Sleeps 100 ms; at most one at a time.
    #[action(concurrency = 1)]
    async fn one_at_a_time(&self) -> Result<usize, ActionError>;
}

#[derive(Default)]
struct Impl {
    done: AtomicUsize,
    running: AtomicUsize,
    most_at_once: AtomicUsize,
}

impl Slow for Arc<Impl> {
    async fn sleep(&self, ms: u64) -> Result<u64, ActionError> {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        self.done.fetch_add(1, Ordering::SeqCst);
        Ok(ms)
    }
    async fn remaining(&self, ctx: &Context) -> Result<Option<u64>, ActionError> {
        Ok(ctx.remaining().map(|d| d.as_millis() as u64))
    }
    async fn relay(&self, port: u16) -> Result<Option<u64>, ActionError> {
        // A client with a long timeout of its own: the handler's deadline is smaller.
        let next = SlowClient::new(client(port));
        next.remaining()
            .await
            .map_err(|e| ActionError::new(1, e.to_string()))
    }
    async fn bounded(&self, ms: u64) -> Result<u64, ActionError> {
        self.sleep(ms).await
    }
    async fn one_at_a_time(&self) -> Result<usize, ActionError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_at_once.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        Ok(now)
    }
}

async fn serve(builder: tpp_rpc::ServerBuilder) -> (Running, Arc<Impl>) {
    let state = Arc::new(Impl::default());
    let running = start(builder, SlowServer::new(state.clone())).await;
    (running, state)
}

fn plain() -> tpp_rpc::ServerBuilder {
    Server::builder().token(TOKEN)
}

/// One raw request on its own connection; the answer and how long it took.
async fn raw_call(port: u16, message: Value) -> (Value, Duration) {
    let started = Instant::now();
    let mut conn = within(client(port).connect()).await.expect("connect");
    within(conn.write(&message)).await.expect("write");
    let answer = within(conn.read()).await.expect("read").expect("an answer");
    let json: Value = serde_json::from_slice(answer.payload()).expect("JSON");
    (json, started.elapsed())
}

fn sleep_request(ms: u64, budget: Value) -> Value {
    json!({"token": TOKEN, "action": "sleep", "body": {"ms": ms}, "tpp_deadline_ms": budget})
}

#[tokio::test]
async fn a_budget_ends_the_handler_and_is_answered_in_time() {
    let (server, state) = serve(plain()).await;
    let (answer, took) = raw_call(server.port(), sleep_request(1_000, json!(200))).await;
    assert_eq!(answer["code"], 1, "{answer}");
    assert_eq!(answer["body"]["error"], "deadline exceeded", "{answer}");
    assert!(
        took >= Duration::from_millis(190),
        "answered early: {took:?}"
    );
    assert!(
        took < Duration::from_millis(200) + MARGIN,
        "answered late: {took:?}"
    );
    // The handler's future was dropped: its work never completes.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(state.done.load(Ordering::SeqCst), 0);
    // A budget that suffices changes nothing.
    let (answer, _) = raw_call(server.port(), sleep_request(10, json!(5_000))).await;
    assert_eq!(answer["body"]["sleep"], 10, "{answer}");
    assert_eq!(state.done.load(Ordering::SeqCst), 1);
    server.stop().await;
}

#[tokio::test]
async fn a_spent_or_malformed_budget_never_runs_the_handler() {
    let (server, state) = serve(plain()).await;
    for budget in [json!(0), json!(-5), json!(0.4)] {
        let (answer, _) = raw_call(server.port(), sleep_request(1, budget.clone())).await;
        assert_eq!(answer["code"], 1, "{budget}: {answer}");
        assert_eq!(answer["body"]["error"], "deadline exceeded", "{budget}");
    }
    let (answer, _) = raw_call(server.port(), sleep_request(1, json!("100"))).await;
    assert_eq!(answer["code"], 1, "{answer}");
    let error = answer["body"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("tpp_deadline_ms"), "{answer}");
    // No budget at all (null) is no deadline.
    let (answer, _) = raw_call(server.port(), sleep_request(1, Value::Null)).await;
    assert_eq!(answer["code"], 0, "{answer}");
    assert_eq!(
        state.done.load(Ordering::SeqCst),
        1,
        "only the last one ran"
    );
    server.stop().await;
}

/// Accepts [`TOKEN`] after 300 ms, as a slow credential store would.
struct SlowAuth;

const AUTH_TAKES: Duration = Duration::from_millis(300);

impl tpp_rpc::auth::Authenticator for SlowAuth {
    fn check<'a>(&'a self, token: &'a str) -> tpp_rpc::auth::AuthCheck<'a> {
        tpp_rpc::auth::AuthCheck::Pending(Box::pin(async move {
            tokio::time::sleep(AUTH_TAKES).await;
            token == TOKEN
        }))
    }
}

#[tokio::test]
async fn the_budget_runs_from_arrival_so_the_token_check_is_inside_it() {
    let (server, state) = serve(Server::builder().auth(SlowAuth)).await;
    // Spent while the token was checked: the handler never runs.
    let (answer, took) = raw_call(server.port(), sleep_request(1, json!(200))).await;
    assert_eq!(answer["body"]["error"], "deadline exceeded", "{answer}");
    assert!(took < AUTH_TAKES + MARGIN, "answered late: {took:?}");
    // 500 ms from arrival: 300 go to the token check, so a 400 ms handler
    // (done 700 ms after arrival) runs out at 500 ms.
    let (answer, took) = raw_call(server.port(), sleep_request(400, json!(500))).await;
    assert_eq!(answer["body"]["error"], "deadline exceeded", "{answer}");
    assert!(
        took >= Duration::from_millis(490),
        "answered early: {took:?}"
    );
    assert!(
        took < Duration::from_millis(500) + MARGIN,
        "answered late: {took:?}"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(state.done.load(Ordering::SeqCst), 0, "no handler finished");
    // A budget that covers both is served.
    let (answer, _) = raw_call(server.port(), sleep_request(10, json!(5_000))).await;
    assert_eq!(answer["body"]["sleep"], 10, "{answer}");
    server.stop().await;
}

#[tokio::test]
async fn the_server_never_trusts_a_budget_above_its_ceiling() {
    let ceiling = plain().handler_timeout(Duration::from_millis(300));
    let (server, state) = serve(ceiling).await;
    let (answer, took) = raw_call(server.port(), sleep_request(2_000, json!(60_000))).await;
    assert_eq!(
        answer["body"]["error"], "the action took too long",
        "{answer}"
    );
    assert!(took < Duration::from_millis(300) + MARGIN, "{took:?}");
    let ask = json!({"token": TOKEN, "action": "remaining", "tpp_deadline_ms": 60_000});
    let (answer, _) = raw_call(server.port(), ask).await;
    let left = answer["body"]["remaining"].as_u64().expect("a deadline");
    assert!(left <= 300, "{left}");
    assert_eq!(state.done.load(Ordering::SeqCst), 0);
    server.stop().await;
}

#[tokio::test]
async fn the_action_timeout_bounds_it_and_a_smaller_budget_wins() {
    let (server, state) = serve(plain()).await;
    let bounded = |budget: u64| json!({"token": TOKEN, "action": "bounded", "body": {"ms": 2_000}, "tpp_deadline_ms": budget});
    let (answer, took) = raw_call(server.port(), bounded(60_000)).await;
    assert_eq!(
        answer["body"]["error"], "the action took too long",
        "{answer}"
    );
    assert!(took < Duration::from_millis(150) + MARGIN, "{took:?}");
    let (answer, took) = raw_call(server.port(), bounded(50)).await;
    assert_eq!(answer["body"]["error"], "deadline exceeded", "{answer}");
    assert!(took < Duration::from_millis(50) + MARGIN, "{took:?}");
    // Without a budget, the action's own limit.
    let typed = SlowClient::new(client(server.port()));
    let error = within(typed.bounded(2_000)).await.expect_err("too long");
    assert!(error.to_string().contains("took too long"), "{error}");
    assert_eq!(state.done.load(Ordering::SeqCst), 0);
    server.stop().await;
}

#[tokio::test]
async fn clients_send_their_timeout_and_nested_calls_get_what_is_left() {
    let (server, _) = serve(plain()).await;
    let port = server.port();
    let with = |timeout: u64| {
        SlowClient::new(
            client_builder(port)
                .timeout(Duration::from_millis(timeout))
                .build()
                .expect("client"),
        )
    };
    let left = within(with(700).remaining()).await.expect("answer");
    let left = left.expect("the client sent its timeout");
    assert!((300..=700).contains(&left), "{left}");
    // No timeout: nothing is sent, the handler has no deadline.
    let untimed = SlowClient::new(client_builder(port).no_timeout().build().expect("client"));
    assert_eq!(within(untimed.remaining()).await.expect("answer"), None);
    // The handler's client has 20 s of its own; the caller left the handler 600 ms.
    let seen = within(with(600).relay(port)).await.expect("answer");
    let seen = seen.expect("the nested call sent a budget");
    assert!(
        seen <= 600,
        "the nested call got more than was left: {seen}"
    );
    // A client without a timeout inside a handler still sends what is left.
    let ask =
        json!({"token": TOKEN, "action": "relay", "body": {"port": port}, "tpp_deadline_ms": 400});
    let (answer, _) = raw_call(port, ask).await;
    let seen = answer["body"]["relay"].as_u64().expect("a budget");
    assert!(seen <= 400, "{seen}");
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_leaves_cancels_its_unary_handler() {
    let (server, state) = serve(plain()).await;
    let request = frame(&sleep_request(2_500, Value::Null).to_string());
    // One closes its socket (a FIN, then a reset to the server's probe);
    // another resets at once.
    for reset in [false, true] {
        let mut s = within(TcpStream::connect(server.addr))
            .await
            .expect("connect");
        within(s.write_all(&request)).await.expect("write");
        tokio::time::sleep(Duration::from_millis(100)).await;
        if reset {
            tpp_tests::reset_on_drop(&s);
        }
        drop(s);
    }
    // Past the handler's 2.5 s: neither finished its work.
    tokio::time::sleep(Duration::from_millis(3_000)).await;
    assert_eq!(state.done.load(Ordering::SeqCst), 0);
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_half_closes_still_gets_its_answer() {
    let (server, state) = serve(plain()).await;
    let request = frame(&sleep_request(1_500, Value::Null).to_string());
    let mut s = within(TcpStream::connect(server.addr))
        .await
        .expect("connect");
    within(s.write_all(&request)).await.expect("write");
    within(s.shutdown()).await.expect("half-close");
    let mut out = Vec::new();
    within(s.read_to_end(&mut out)).await.expect("read");
    // The server's probes (spaces) may come before the header.
    let text = String::from_utf8_lossy(&out);
    let answer = response_json(text.trim_start().as_bytes());
    assert_eq!(answer["body"]["sleep"], 1_500, "{answer}");
    assert_eq!(state.done.load(Ordering::SeqCst), 1);
    server.stop().await;
}

#[tokio::test]
async fn deadlines_and_cancellation_in_process() {
    let state = Arc::new(Impl::default());
    let server = plain()
        .in_process(SlowServer::new(state.clone()))
        .expect("in-process server");
    let client = Client::builder_in_process(&server)
        .token(TOKEN)
        .build()
        .expect("client");
    let started = Instant::now();
    let mut conn = within(client.connect()).await.expect("connect");
    within(conn.write(&sleep_request(1_000, json!(150))))
        .await
        .expect("write");
    let answer = within(conn.read()).await.expect("read").expect("an answer");
    let answer: Value = serde_json::from_slice(answer.payload()).expect("JSON");
    assert_eq!(answer["body"]["error"], "deadline exceeded", "{answer}");
    assert!(started.elapsed() < Duration::from_millis(150) + MARGIN);
    // A client that goes away: its handler is dropped.
    // (Noticed about a second after it left: see the probe in the guide.)
    let mut conn = within(client.connect()).await.expect("connect");
    within(conn.write(&sleep_request(2_500, Value::Null)))
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(conn);
    tokio::time::sleep(Duration::from_millis(3_000)).await;
    assert_eq!(state.done.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn concurrency_lets_one_call_run_at_a_time_and_the_others_wait() {
    let (server, state) = serve(plain()).await;
    let typed = SlowClient::new(client(server.port()));
    let calls = (0..4).map(|_| {
        let typed = typed.clone();
        tokio::spawn(async move { typed.one_at_a_time().await })
    });
    for call in calls.collect::<Vec<_>>() {
        assert_eq!(within(call).await.expect("task").expect("answer"), 1);
    }
    assert_eq!(state.most_at_once.load(Ordering::SeqCst), 1);
    server.stop().await;
}

#[tpp_rpc::toxic_service]
pub trait Flaky {
    /// Safe to send twice.
    #[action(idempotent)]
    async fn get(&self) -> Result<u64, ActionError>;
    /// Not safe to send twice.
    async fn put(&self) -> Result<u64, ActionError>;
}

/// Closes the connection without answering the first call of each action
/// (as a server that crashed after reading it), answers the second.
#[derive(Default)]
struct DropsFirst {
    get: AtomicUsize,
    put: AtomicUsize,
    answered: AtomicBool,
}

struct DropsFirstHandler(Arc<DropsFirst>);

impl Handler for DropsFirstHandler {
    async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
        let seen = match conn.action() {
            "get" => &self.0.get,
            _ => &self.0.put,
        };
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            conn.close();
            return Ok(());
        }
        self.0.answered.store(true, Ordering::SeqCst);
        conn.send_result(&7u64).await
    }
}

#[tokio::test]
async fn only_an_idempotent_call_is_sent_again_after_a_lost_connection() {
    let state = Arc::new(DropsFirst::default());
    let server = start(plain(), DropsFirstHandler(state.clone())).await;
    let typed = FlakyClient::new(client(server.port()));
    assert_eq!(within(typed.get()).await.expect("sent again, answered"), 7);
    assert_eq!(state.get.load(Ordering::SeqCst), 2);
    let error = within(typed.put()).await.expect_err("not sent again");
    assert!(
        matches!(&error, tpp_rpc::CallError::Client(e) if e.is_connection_lost()),
        "{error:?}"
    );
    assert_eq!(state.put.load(Ordering::SeqCst), 1);
    server.stop().await;
}

#[tokio::test]
#[cfg_attr(
    not(tpp_python),
    ignore = "needs Python with toxicbuild-core: set TPP_PYTHON or create .venv"
)]
async fn a_python_client_budget_is_answered_in_time_without_side_effect() {
    let python = tpp_tests::reference_python(
        "a_python_client_budget_is_answered_in_time_without_side_effect",
    );
    let (server, state) = serve(plain()).await;
    let spec = json!({
        "host": "127.0.0.1",
        "port": server.port(),
        "ops": [{"op": "exchange", "message": sleep_request(2_000, json!(300)), "count": 1}],
    });
    let results = within(tpp_tests::ref_client(&python, spec)).await;
    let result = &results[0];
    // toxiccore raises on a code > 0, with the server's message.
    assert_eq!(result["exc"], "ToxicClientException", "{result}");
    assert_eq!(result["message"], "deadline exceeded", "{result}");
    let took = result["elapsed_ms"].as_f64().expect("elapsed_ms");
    let limit = 300.0 + MARGIN.as_secs_f64() * 1000.0;
    assert!(took < limit, "answered after {took} ms");
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(state.done.load(Ordering::SeqCst), 0);
    server.stop().await;
}
