//! The `tpp` binary, driven as a user drives it, against real servers on
//! 127.0.0.1:0: a tpp server (plain and TLS) run in this process, and the
//! Python reference (toxiccore's `ToxicServer`, `tests/python/ref_server.py`)
//! run as a subprocess.
//!
//! Every command runs under a timeout (killed past [`WAIT`]). Python tests say
//! they skip when Python with toxiccore is missing, unless
//! `TPP_REQUIRE_PYTHON=1`, where they fail.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;
use serde::Deserialize;
use serde_json::{json, Value};
use tpp_rpc::service::{answer_list_funcs, answer_unknown_action};
use tpp_rpc::{ActionInfo, ActionKind, Connection, Handler, ParamInfo, Server};
use tpp_tests::{
    python_test, reference_python, start, RefServer, Running, TestCert, REF_TOKEN, WAIT,
};

const TOKEN: &str = "s3cret-ç";

// ---------------------------------------------------------------------------
// The tpp test service
// ---------------------------------------------------------------------------

static ACTIONS: &[ActionInfo] = &[
    ActionInfo {
        name: "echo",
        method: "echo",
        doc: "Returns the body it was sent.",
        params: &[],
        kind: ActionKind::Unary,
    },
    ActionInfo {
        name: "greet",
        method: "greet",
        doc: " Greets someone.\n\n    :param name: who to greet.\n    :param times: how often. ",
        params: &[
            ParamInfo {
                name: "name",
                required: true,
                default: None,
                ty: "String",
            },
            ParamInfo {
                name: "times",
                required: false,
                default: Some("1"),
                ty: "u32",
            },
        ],
        kind: ActionKind::Unary,
    },
    ActionInfo {
        name: "build",
        method: "build",
        doc: "Streams one message per step.",
        params: &[ParamInfo {
            name: "steps",
            required: true,
            default: None,
            ty: "u32",
        }],
        kind: ActionKind::Stream,
    },
];

/// Actions: see [`ACTIONS`], plus `whoami` (the `user_id` field), `fail`
/// (code 5), `odd-code` (code 200), `bare` (a body without the action's
/// key), `slow` (sleeps `seconds`), `build-fail` (2 items, then code 5),
/// `hang` (one item, then silence) and `list-funcs`.
struct TestService;

#[derive(Deserialize)]
struct Greet {
    name: String,
    #[serde(default = "one")]
    times: usize,
}

fn one() -> usize {
    1
}

#[derive(Deserialize)]
struct Steps {
    steps: u32,
}

#[derive(Deserialize)]
struct Seconds {
    seconds: f64,
}

impl Handler for TestService {
    async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
        match conn.action() {
            "echo" => {
                let request = conn.request().clone();
                conn.send_result(request.body_raw()?).await
            }
            "greet" => {
                let g: Greet = conn.body()?;
                let text = vec![format!("Hello, {}!", g.name); g.times].join(" ");
                conn.send_result(&text).await
            }
            "whoami" => {
                let user = conn.context().extra("user_id").cloned();
                conn.send_result(&json!({ "user_id": user })).await
            }
            "fail" => conn.send_error(5, "boom").await,
            "odd-code" => conn.send_error(200, "odd code").await,
            "bare" => conn.send_response(0, &json!([1, 2, 3])).await,
            "slow" => {
                let s: Seconds = conn.body()?;
                tokio::time::sleep(Duration::from_secs_f64(s.seconds)).await;
                conn.send_result("done").await
            }
            "build" | "build-fail" => {
                let s: Steps = conn.body()?;
                for i in 0..s.steps {
                    conn.send_response(0, &json!({ "step": i, "output": "passo ✔" }))
                        .await?;
                }
                if conn.action() == "build-fail" {
                    conn.send_error(5, "step failed").await?;
                }
                Ok(())
            }
            "hang" => {
                conn.send_response(0, &json!({ "step": 0 })).await?;
                tokio::time::sleep(Duration::from_secs(15)).await;
                Ok(())
            }
            tpp_rpc::service::LIST_FUNCS => answer_list_funcs(conn, &[ACTIONS]).await,
            _ => answer_unknown_action(conn).await,
        }
    }
}

/// A tpp server on its own runtime, so the test thread can run the binary
/// synchronously. Stopped (bounded) when dropped.
struct TppServer {
    runtime: tokio::runtime::Runtime,
    running: Option<Running>,
}

impl TppServer {
    fn start(builder: tpp_rpc::ServerBuilder) -> TppServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let running = runtime.block_on(start(builder, TestService));
        TppServer {
            runtime,
            running: Some(running),
        }
    }

    /// A builder whose shutdown does not wait for `slow` and `hang`.
    fn builder() -> tpp_rpc::ServerBuilder {
        Server::builder().shutdown_grace(Duration::from_millis(500))
    }

    fn plain() -> TppServer {
        Self::start(Self::builder().token(TOKEN))
    }

    fn tls(cert: &TestCert) -> TppServer {
        Self::start(
            Self::builder()
                .token(TOKEN)
                .tls_pem_files(&cert.cert, &cert.key),
        )
    }

    fn addr(&self) -> String {
        match &self.running {
            Some(r) => format!("127.0.0.1:{}", r.port()),
            None => unreachable!("the server runs until dropped"),
        }
    }
}

impl Drop for TppServer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown.shutdown();
            let _ = self
                .runtime
                .block_on(async { tokio::time::timeout(WAIT, running.task).await });
        }
    }
}

/// The binary, with a clean environment and a kill timeout.
fn tpp() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tpp"));
    cmd.timeout(WAIT)
        .env_remove("TPP_TOKEN")
        .env_remove("NO_COLOR")
        .env_remove("RUST_BACKTRACE");
    cmd
}

fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn json_of(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {:?}", stdout_of(output)))
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    port
}

// ---------------------------------------------------------------------------
// call: success
// ---------------------------------------------------------------------------

#[test]
fn call_prints_the_result_as_pretty_json() {
    let server = TppServer::plain();
    let out = tpp()
        .args([
            "call",
            &server.addr(),
            "echo",
            r#"{"b": [1, 2.0], "a": "é"}"#,
        ])
        .args(["--token", TOKEN])
        .assert()
        .success()
        .stderr("")
        .get_output()
        .clone();
    // Piped: no color; key order and number text as the server sent them.
    assert_eq!(
        stdout_of(&out),
        "{\n  \"b\": [\n    1,\n    2.0\n  ],\n  \"a\": \"é\"\n}\n"
    );
}

#[test]
fn call_builds_the_body_from_key_value_pairs() {
    let server = TppServer::plain();
    let out = tpp()
        .args([
            "call",
            &server.addr(),
            "echo",
            "name=ana",
            "n:=5",
            "ok:=true",
            "s:=\"5\"",
            "l:=[1]",
        ])
        .args(["--token", TOKEN])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(
        json_of(&out),
        json!({"name": "ana", "n": 5, "ok": true, "s": "5", "l": [1]})
    );
    // KEY=VALUE is always a string, as in HTTPie: a commit id stays a commit id.
    tpp()
        .args([
            "call",
            &server.addr(),
            "echo",
            "named_tree=1234e5",
            "n=7",
            "z=007",
        ])
        .args(["--token", TOKEN, "--compact"])
        .assert()
        .success()
        .stdout("{\"named_tree\":\"1234e5\",\"n\":\"7\",\"z\":\"007\"}\n");
    // Python's literals and big integers go out and come back as written.
    tpp()
        .args(["call", &server.addr(), "echo", "x:=NaN", "y:=-Infinity"])
        .args([
            "big:=-1267650600228229401496703205376",
            "--token",
            TOKEN,
            "-c",
        ])
        .assert()
        .success()
        .stdout("{\"x\":NaN,\"y\":-Infinity,\"big\":-1267650600228229401496703205376}\n");
    tpp()
        .args([
            "call",
            &server.addr(),
            "greet",
            "name=ana",
            "times:=2",
            "--token",
            TOKEN,
        ])
        .assert()
        .success()
        .stdout("\"Hello, ana! Hello, ana!\"\n");
}

#[test]
fn call_reads_the_body_from_stdin_and_files() {
    let server = TppServer::plain();
    tpp()
        .args(["call", &server.addr(), "greet", "-", "--token", TOKEN])
        .write_stdin("{\"name\": \"stdin\"}\n")
        .assert()
        .success()
        .stdout("\"Hello, stdin!\"\n");
    let dir = tpp_tests::temp_dir("cli-body");
    let file = dir.join("body.json");
    std::fs::write(&file, r#"{"name": "file"}"#).expect("write body");
    tpp()
        .args(["call", &server.addr(), "greet"])
        .arg(format!("@{}", file.display()))
        .args(["--token", TOKEN])
        .assert()
        .success()
        .stdout("\"Hello, file!\"\n");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn call_without_body_sends_an_empty_object() {
    let server = TppServer::plain();
    tpp()
        .args(["call", &server.addr(), "echo", "--token", TOKEN])
        .assert()
        .success()
        .stdout("{}\n");
}

#[test]
fn call_sends_extra_fields() {
    let server = TppServer::plain();
    let out = tpp()
        .args(["call", &server.addr(), "whoami", "--field", "user_id=5f2a"])
        .args(["--token", TOKEN, "--compact"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(stdout_of(&out), "{\"user_id\":\"5f2a\"}\n");
}

#[test]
fn call_raw_prints_the_whole_body() {
    let server = TppServer::plain();
    tpp()
        .args([
            "call",
            &server.addr(),
            "greet",
            "name=x",
            "--raw",
            "-c",
            "--token",
            TOKEN,
        ])
        .assert()
        .success()
        .stdout("{\"greet\":\"Hello, x!\"}\n");
    tpp()
        .args([
            "call",
            &server.addr(),
            "bare",
            "--raw",
            "-c",
            "--token",
            TOKEN,
        ])
        .assert()
        .success()
        .stdout("[1,2,3]\n");
}

#[test]
fn call_colors_only_when_asked_or_on_a_terminal() {
    let server = TppServer::plain();
    tpp()
        .args([
            "call",
            &server.addr(),
            "echo",
            "k:=1",
            "--color",
            "always",
            "--token",
            TOKEN,
        ])
        .assert()
        .success()
        .stdout(contains("\x1b[1;34m\"k\"\x1b[0m").and(contains("\x1b[36m1\x1b[0m")));
    tpp()
        .args(["call", &server.addr(), "echo", "k:=1", "--token", TOKEN])
        .env("NO_COLOR", "1")
        .assert()
        .success()
        .stdout(contains("\x1b").not());
}

#[test]
fn token_comes_from_the_environment_or_a_file() {
    let server = TppServer::plain();
    tpp()
        .args(["call", &server.addr(), "greet", "name=env"])
        .env("TPP_TOKEN", TOKEN)
        .assert()
        .success()
        .stdout("\"Hello, env!\"\n");
    let dir = tpp_tests::temp_dir("cli-token");
    let file = dir.join("token");
    std::fs::write(&file, format!("{TOKEN}\n")).expect("write token");
    tpp()
        .args(["call", &server.addr(), "greet", "name=file", "--token-file"])
        .arg(&file)
        // --token-file wins over the environment.
        .env("TPP_TOKEN", "wrong")
        .assert()
        .success()
        .stdout("\"Hello, file!\"\n");
    // --token wins over the environment too.
    tpp()
        .args([
            "call",
            &server.addr(),
            "greet",
            "name=arg",
            "--token",
            TOKEN,
        ])
        .env("TPP_TOKEN", "wrong")
        .assert()
        .success();
    tpp()
        .args([
            "call",
            &server.addr(),
            "echo",
            "--token-file",
            "/nonexistent/token",
        ])
        .assert()
        .code(2)
        .stderr(contains("cannot read the token file /nonexistent/token"));
    let _ = std::fs::remove_dir_all(dir);
}

// ---------------------------------------------------------------------------
// call: error responses
// ---------------------------------------------------------------------------

#[test]
fn error_responses_exit_with_10_plus_the_code() {
    let server = TppServer::plain();
    tpp()
        .args(["call", &server.addr(), "fail", "--token", TOKEN])
        .assert()
        .code(15)
        .stdout("")
        .stderr("error 5: boom\n");
    tpp()
        .args(["call", &server.addr(), "nope", "--token", TOKEN])
        .assert()
        .code(11)
        .stderr("error 1: Action nope does not exist\n");
    tpp()
        .args(["call", &server.addr(), "echo", "--token", "wrong"])
        .assert()
        .code(13)
        .stderr("error 3: Bad auth token\n");
    tpp()
        .args(["call", &server.addr(), "echo"])
        .assert()
        .code(12)
        .stderr(contains("error 2: No auth token").and(contains("TPP_TOKEN")));
    tpp()
        .args(["call", &server.addr(), "odd-code", "--token", TOKEN])
        .assert()
        .code(1)
        .stderr("error 200: odd code\n");
    // A handler that cannot read its body answers code 1.
    tpp()
        .args(["call", &server.addr(), "greet", "nom=x", "--token", TOKEN])
        .assert()
        .code(11)
        .stderr(contains("error 1:"));
}

#[test]
fn a_result_without_the_action_key_points_to_raw() {
    let server = TppServer::plain();
    tpp()
        .args(["call", &server.addr(), "bare", "--token", TOKEN])
        .assert()
        .code(4)
        .stderr(contains("no \"bare\" key").and(contains("--raw")));
}

// ---------------------------------------------------------------------------
// call --stream
// ---------------------------------------------------------------------------

#[test]
fn stream_prints_one_json_line_per_message() {
    let server = TppServer::plain();
    let out = tpp()
        .args([
            "call",
            &server.addr(),
            "build",
            "steps:=3",
            "--stream",
            "--token",
            TOKEN,
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(
        stdout_of(&out),
        "{\"output\":\"passo ✔\",\"step\":0}\n\
         {\"output\":\"passo ✔\",\"step\":1}\n\
         {\"output\":\"passo ✔\",\"step\":2}\n"
    );
}

#[test]
fn stream_error_keeps_what_came_before() {
    let server = TppServer::plain();
    let out = tpp()
        .args([
            "call",
            &server.addr(),
            "build-fail",
            "steps:=2",
            "--stream",
            "--token",
            TOKEN,
        ])
        .assert()
        .code(15)
        .stderr("error 5: step failed\n")
        .get_output()
        .clone();
    assert_eq!(stdout_of(&out).lines().count(), 2);
}

/// A unary action read as a stream ends as soon as the server answers: a tpp
/// server closes after a unary response unless the client asked for
/// keep-alive (the CLI does not), as the reference does. The server's idle
/// timeout is far beyond the test's bound, so only that close can end it.
#[test]
fn stream_on_a_unary_action_returns_at_once() {
    let server = TppServer::start(
        TppServer::builder()
            .token(TOKEN)
            .idle_timeout(Duration::from_secs(600)),
    );
    tpp()
        .args(["call", &server.addr(), "greet", "name=Ana", "--stream"])
        .args(["--token", TOKEN])
        .timeout(Duration::from_secs(10))
        .assert()
        .success()
        .stdout("{\"greet\":\"Hello, Ana!\"}\n");
}

#[test]
fn stream_idle_timeout() {
    let server = TppServer::plain();
    let started = Instant::now();
    tpp()
        .args([
            "call",
            &server.addr(),
            "hang",
            "--stream",
            "--idle-timeout",
            "300ms",
        ])
        .args(["--token", TOKEN])
        .assert()
        .code(3)
        .stdout("{\"step\":0}\n")
        .stderr(contains("timed out after 0.3s").and(contains("--idle-timeout")));
    assert!(started.elapsed() < Duration::from_secs(10));
}

// ---------------------------------------------------------------------------
// Connection failures and bad arguments
// ---------------------------------------------------------------------------

#[test]
fn cannot_connect_exits_3() {
    let port = closed_port();
    tpp()
        .args([
            "call",
            &format!("127.0.0.1:{port}"),
            "echo",
            "--token",
            TOKEN,
        ])
        .assert()
        .code(3)
        .stderr(format!(
            "error: cannot connect to 127.0.0.1:{port}: Connection refused\n"
        ));
}

#[test]
fn timeout_exits_3() {
    let server = TppServer::plain();
    let started = Instant::now();
    tpp()
        .args([
            "call",
            &server.addr(),
            "slow",
            "seconds:=10",
            "--timeout",
            "300ms",
        ])
        .args(["--token", TOKEN])
        .assert()
        .code(3)
        .stderr(contains("timed out after 0.3s").and(contains("--timeout")));
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[test]
fn bad_arguments_exit_2_with_a_clear_message() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["call", "127.0.0.1:1", "echo", "{\"a\": }"],
            "not valid JSON: expected value at line 1 column 7",
        ),
        (&["call", "127.0.0.1:1", "echo", "hello"], "not valid JSON"),
        (
            &["call", "127.0.0.1:1", "echo", "a=1", "a=2"],
            "key \"a\" given twice",
        ),
        (
            &["call", "127.0.0.1:1", "echo", "a=1", "{}"],
            "expected KEY=VALUE",
        ),
        (
            &["call", "127.0.0.1:1", "echo", "--field", "token=x"],
            "--field token",
        ),
        (&["call", "nohost", "echo"], "expected HOST:PORT"),
        (&["call", "h:99999", "echo"], "not a port number"),
        (
            &["call", "h:1", "echo", "--timeout", "soon"],
            "not a duration",
        ),
        (
            &["call", "h:1", "echo", "--ca", "/nonexistent/ca.pem"],
            "/nonexistent/ca.pem",
        ),
        (
            &["call", "h:1", "echo", "--token", "a", "--token-file", "f"],
            "cannot be used with",
        ),
        (
            &["call", "h:1", "echo", "--insecure", "--ca", "f"],
            "cannot be used with",
        ),
        (&["call", "h:1"], "<ACTION>"),
        (&["hash-token", "--cost", "3", "x"], "3 is not in 4..=31"),
        (&["completions", "tcsh"], "invalid value 'tcsh'"),
        (&["frobnicate"], "unrecognized subcommand"),
    ];
    for (args, message) in cases {
        tpp()
            .args(*args)
            .assert()
            .code(2)
            .stdout("")
            .stderr(contains(*message).and(contains("panicked").not()));
    }
    tpp()
        .args(["call", "127.0.0.1:1", "echo", "-"])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(contains("standard input"));
}

// ---------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------

#[test]
fn tls_with_insecure_and_with_ca() {
    let cert = TestCert::new();
    let server = TppServer::tls(&cert);
    tpp()
        .args([
            "call",
            &server.addr(),
            "greet",
            "name=tls",
            "--insecure",
            "--token",
            TOKEN,
        ])
        .assert()
        .success()
        .stdout("\"Hello, tls!\"\n");
    tpp()
        .args(["call", &server.addr(), "greet", "name=ca", "--ca"])
        .arg(&cert.cert)
        .args(["--token", TOKEN])
        .assert()
        .success()
        .stdout("\"Hello, ca!\"\n");
    // By name: the certificate is for localhost too.
    let localhost = server.addr().replace("127.0.0.1", "localhost");
    tpp()
        .args(["call", &localhost, "greet", "name=name", "--ca"])
        .arg(&cert.cert)
        .args(["--token", TOKEN])
        .assert()
        .success();
}

#[test]
fn a_pinned_certificate_authenticates_a_self_signed_server() {
    // CA:TRUE, as `openssl req -x509` makes by default: --ca cannot take it.
    let cert = TestCert::self_signed_ca();
    let server = TppServer::tls(&cert);
    tpp()
        .args(["call", &server.addr(), "echo", "--ca"])
        .arg(&cert.cert)
        .args(["--token", TOKEN])
        .assert()
        .code(3)
        .stderr(contains("is a CA certificate").and(contains("--pin FILE")));
    tpp()
        .args(["call", &server.addr(), "greet", "name=pin", "--pin"])
        .arg(&cert.cert)
        .args(["--token", TOKEN])
        .assert()
        .success()
        .stdout("\"Hello, pin!\"\n");
    let other = TestCert::new();
    tpp()
        .args(["call", &server.addr(), "echo", "--pin"])
        .arg(&other.cert)
        .args(["--token", TOKEN])
        .assert()
        .code(3)
        .stderr(contains("is not the pinned certificate").and(contains("--pin FILE")));
    tpp()
        .args(["call", &server.addr(), "echo", "--insecure", "--pin"])
        .arg(&cert.cert)
        .assert()
        .code(2);
}

#[test]
fn untrusted_or_misnamed_certificates_are_explained() {
    let cert = TestCert::new();
    let other = TestCert::new();
    let server = TppServer::tls(&cert);
    tpp()
        .args(["call", &server.addr(), "echo", "--ca"])
        .arg(&other.cert)
        .args(["--token", TOKEN])
        .assert()
        .code(3)
        .stderr(
            contains("certificate of")
                .and(contains("not signed by a trusted authority"))
                .and(contains("--insecure"))
                .and(contains("--ca")),
        );
    tpp()
        .args(["call", &server.addr(), "echo", "--ca"])
        .arg(&cert.cert)
        .args(["--server-name", "wrong.example", "--token", TOKEN])
        .assert()
        .code(3)
        .stderr(contains("not valid for the name \"wrong.example\""));
}

#[test]
fn tls_mismatch_is_explained() {
    let cert = TestCert::new();
    let tls_server = TppServer::tls(&cert);
    // Plain client, TLS server.
    tpp()
        .args([
            "call",
            &tls_server.addr(),
            "echo",
            "--token",
            TOKEN,
            "--timeout",
            "5s",
        ])
        .assert()
        .code(predicate::in_iter([3, 4]))
        .stderr(contains("add --tls"));
    // TLS client, plain server.
    let plain_server = TppServer::plain();
    tpp()
        .args([
            "call",
            &plain_server.addr(),
            "echo",
            "--insecure",
            "--token",
            TOKEN,
        ])
        .args(["--timeout", "5s"])
        .assert()
        .code(3)
        .stderr(contains("drop --tls"));
}

// ---------------------------------------------------------------------------
// funcs
// ---------------------------------------------------------------------------

#[test]
fn funcs_prints_a_table() {
    let server = TppServer::plain();
    tpp()
        .args(["funcs", &server.addr(), "--token", TOKEN])
        .assert()
        .success()
        .stdout(
            "\
ACTION  PARAMETERS       DESCRIPTION
echo    -                Returns the body it was sent.
greet   name, [times=1]  Greets someone.
build   steps            Streams one message per step.
",
        );
}

#[test]
fn call_on_a_streaming_action_without_stream_says_to_use_it() {
    let server = TppServer::plain();
    // Items keep coming after the first: certainly a stream.
    tpp()
        .args([
            "call",
            &server.addr(),
            "build",
            "steps:=3",
            "--token",
            TOKEN,
        ])
        .assert()
        .code(4)
        .stdout("")
        .stderr(contains("build answers with a stream").and(contains("use --stream")));
    // One item, then nothing within a second: maybe a stream; the hint says so.
    tpp()
        .args(["call", &server.addr(), "hang", "--token", TOKEN])
        .assert()
        .code(4)
        .stderr(
            contains("no \"hang\" key")
                .and(contains("if hang is a streaming action, use --stream")),
        );
}

python_test! {
#[test]
fn funcs_says_when_a_server_has_no_list_funcs() {
    let py = reference_python("funcs_says_when_a_server_has_no_list_funcs");
    // toxiccore's servers (as toxicbuild's build server) have no list-funcs.
    let server = RefServer::start_blocking(&py, None);
    let addr = server.addr().to_string();
    tpp()
        .args(["funcs", &addr, "--token", REF_TOKEN])
        .assert()
        .code(11)
        .stderr(
            contains("error 1: Action list-funcs does not exist")
                .and(contains(format!("{addr} offers no list-funcs")))
                .and(contains(format!("tpp call {addr} ACTION"))),
        );
}
}

#[test]
fn funcs_long_and_json() {
    let server = TppServer::plain();
    tpp()
        .args(["funcs", &server.addr(), "--long", "--token", TOKEN])
        .assert()
        .success()
        .stdout(contains(
            "greet(name, [times=1])\n    Greets someone.\n\n    :param name: who to greet.\n",
        ));
    let out = tpp()
        .args(["funcs", &server.addr(), "--json", "--token", TOKEN])
        .assert()
        .success()
        .get_output()
        .clone();
    let v = json_of(&out);
    assert_eq!(
        v["greet"]["parameters"],
        json!([{"name": "name", "required": true}, {"name": "times", "required": false, "default": 1}])
    );
    tpp().args(["funcs", &server.addr()]).assert().code(12);
}

// ---------------------------------------------------------------------------
// hash-token, completions, help
// ---------------------------------------------------------------------------

fn hash_of(args: &[&str], stdin: Option<&str>) -> String {
    let mut cmd = tpp();
    cmd.arg("hash-token").args(args);
    if let Some(input) = stdin {
        cmd.write_stdin(input);
    }
    let out = cmd.assert().success().get_output().clone();
    let text = stdout_of(&out);
    let hash = text.trim_end().to_owned();
    assert_eq!(text, format!("{hash}\n"));
    hash
}

#[test]
fn hash_token_makes_a_hash_a_tpp_server_accepts() {
    let hash = hash_of(&["--cost", "4", TOKEN], None);
    assert!(hash.starts_with("$2b$04$") && hash.len() == 60, "{hash}");
    let from_stdin = hash_of(&["--cost", "4"], Some(&format!("{TOKEN}\n")));
    assert!(from_stdin.starts_with("$2b$04$"));
    assert_ne!(hash, from_stdin, "salted");
    let server = TppServer::start(TppServer::builder().token_hash(&from_stdin));
    tpp()
        .args([
            "call",
            &server.addr(),
            "greet",
            "name=hash",
            "--token",
            TOKEN,
        ])
        .assert()
        .success()
        .stdout("\"Hello, hash!\"\n");
    tpp()
        .args(["call", &server.addr(), "echo", "--token", "s3cret-c"])
        .assert()
        .code(13);
}

#[test]
fn hash_token_defaults_to_cost_12_and_refuses_bad_tokens() {
    let hash = hash_of(&["tok"], None);
    assert!(hash.starts_with("$2b$12$"), "{hash}");
    tpp()
        .args(["hash-token"])
        .write_stdin("\n")
        .assert()
        .code(2)
        .stderr("error: the token is empty\n");
    tpp()
        .args(["hash-token", &"x".repeat(73)])
        .assert()
        .code(2)
        .stderr(contains("73 bytes"));
}

#[test]
fn completions_for_each_shell() {
    for (shell, marker) in [
        ("bash", "_tpp()"),
        ("zsh", "#compdef tpp"),
        ("fish", "complete -c tpp"),
    ] {
        tpp()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(contains(marker).and(contains("hash-token")));
    }
}

#[test]
fn every_subcommand_has_examples_in_its_help() {
    for sub in [
        &[][..],
        &["call"],
        &["funcs"],
        &["hash-token"],
        &["completions"],
    ] {
        tpp()
            .args(sub)
            .arg("--help")
            .assert()
            .success()
            .stdout(contains("Examples:\n  tpp "));
    }
    tpp()
        .arg("--help")
        .assert()
        .stdout(contains("10+N").and(contains("Exit status")));
    tpp()
        .arg("--version")
        .assert()
        .success()
        .stdout(format!("tpp {}\n", env!("CARGO_PKG_VERSION")));
}

// ---------------------------------------------------------------------------
// Against the Python reference (toxiccore)
// ---------------------------------------------------------------------------

python_test! {
#[test]
fn python_server_call_fields_and_errors() {
    let py = reference_python("python_server_call_fields_and_errors");
    let server = RefServer::start_blocking(&py, None);
    let addr = server.addr().to_string();
    let out = tpp()
        .args([
            "call",
            &addr,
            "echo",
            "name=ana",
            "n:=123456789012345678901234567890",
        ])
        .env("TPP_TOKEN", REF_TOKEN)
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(
        stdout_of(&out),
        "{\n  \"name\": \"ana\",\n  \"n\": 123456789012345678901234567890\n}\n"
    );
    tpp()
        .args([
            "call",
            &addr,
            "whoami",
            "-F",
            "user_id=u-1",
            "--token",
            REF_TOKEN,
        ])
        .assert()
        .success()
        .stdout("\"u-1\"\n");
    tpp()
        .args([
            "call",
            &addr,
            "error",
            "code:=7",
            "message=nope ç",
            "--token",
            REF_TOKEN,
        ])
        .assert()
        .code(17)
        .stderr("error 7: nope ç\n");
    tpp()
        .args([
            "call",
            &addr,
            "bare-error",
            "code:=2",
            "message=bare",
            "--token",
            REF_TOKEN,
        ])
        .assert()
        .code(12)
        .stderr(contains("error 2: bare"));
    tpp()
        .args([
            "call",
            &addr,
            "string-code",
            "code:=4",
            "message=str",
            "--token",
            REF_TOKEN,
        ])
        .assert()
        .code(14)
        .stderr("error 4: str\n");
    tpp()
        .args(["call", &addr, "nope", "--token", REF_TOKEN])
        .assert()
        .code(11)
        .stderr("error 1: Action nope does not exist\n");
    tpp()
        .args(["call", &addr, "echo", "--token", "wrong"])
        .assert()
        .code(13)
        .stderr("error 3: Bad auth token\n");
    tpp()
        .args(["call", &addr, "no-key", "--token", REF_TOKEN])
        .assert()
        .code(4)
        .stderr(contains("--raw"));
    tpp()
        .args([
            "call", &addr, "no-code", "--raw", "-c", "--token", REF_TOKEN,
        ])
        .assert()
        .success()
        .stdout("{\"no-code\":\"fine\"}\n");
    tpp()
        .args(["call", &addr, "close", "--token", REF_TOKEN])
        .assert()
        .code(3)
        .stderr(contains("closed the connection without answering"));
}
}

python_test! {
#[test]
fn python_server_streams() {
    let py = reference_python("python_server_streams");
    let server = RefServer::start_blocking(&py, None);
    let addr = server.addr().to_string();
    let out = tpp()
        .args([
            "call", &addr, "build", "steps:=3", "--stream", "--token", REF_TOKEN,
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    let lines: Vec<Value> = stdout_of(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["step"], 2);
    // Python's \u escapes print as the characters.
    assert!(
        stdout_of(&out).contains("passo 0 ✔ 构建 🚀"),
        "{}",
        stdout_of(&out)
    );
    // A null body ends the stream although the server keeps the connection.
    let started = Instant::now();
    tpp()
        .args([
            "call",
            &addr,
            "build-null",
            "steps:=2",
            "--stream",
            "--token",
            REF_TOKEN,
        ])
        .assert()
        .success();
    assert!(started.elapsed() < Duration::from_secs(10));
    let out = tpp()
        .args([
            "call",
            &addr,
            "build-error",
            "steps:=2",
            "--stream",
            "--token",
            REF_TOKEN,
        ])
        .assert()
        .code(15)
        .stderr("error 5: step failed\n")
        .get_output()
        .clone();
    assert_eq!(stdout_of(&out).lines().count(), 2);
}
}

python_test! {
#[test]
fn python_server_tls_and_timeout() {
    let py = reference_python("python_server_tls_and_timeout");
    let cert = TestCert::new();
    let server = RefServer::start_blocking(&py, Some(&cert));
    let addr = server.addr().to_string();
    tpp()
        .args([
            "call",
            &addr,
            "echo",
            "via=insecure",
            "-k",
            "-c",
            "--token",
            REF_TOKEN,
        ])
        .assert()
        .success()
        .stdout("{\"via\":\"insecure\"}\n");
    tpp()
        .args(["call", &addr, "echo", "via=ca", "-c", "--ca"])
        .arg(&cert.cert)
        .args(["--token", REF_TOKEN])
        .assert()
        .success()
        .stdout("{\"via\":\"ca\"}\n");
    tpp()
        .args(["call", &addr, "echo", "--tls", "--ca"])
        .arg(&TestCert::new().cert)
        .args(["--token", REF_TOKEN])
        .assert()
        .code(3)
        .stderr(contains("not signed by a trusted authority"));
    tpp()
        .args([
            "call",
            &addr,
            "sleep",
            "seconds:=10",
            "-k",
            "--timeout",
            "0.5",
        ])
        .args(["--token", REF_TOKEN])
        .assert()
        .code(3)
        .stderr(contains("timed out after 0.5s"));
}
}

python_test! {
#[test]
fn hash_token_verifies_with_python_bcrypt() {
    let py = reference_python("hash_token_verifies_with_python_bcrypt");
    let default_cost = hash_of(&[TOKEN], None);
    let from_stdin = hash_of(&["--cost", "5"], Some(&format!("{TOKEN}\r\n")));
    let check = r#"
import sys, bcrypt
from toxiccore.utils import compare_bcrypt_string
token, hashes = sys.argv[1], sys.argv[2:]
for h in hashes:
    assert bcrypt.checkpw(token.encode(), h.encode()), h
    assert compare_bcrypt_string(token, h), h
    assert not bcrypt.checkpw(b"wrong", h.encode()), h
print("ok")
"#;
    Command::new(&py)
        .args(["-c", check, TOKEN, &default_cost, &from_stdin])
        .timeout(WAIT)
        .assert()
        .success()
        .stdout("ok\n");
    assert!(default_cost.starts_with("$2b$12$"));
    assert!(from_stdin.starts_with("$2b$05$"));
}
}
