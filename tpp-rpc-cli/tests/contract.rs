//! `tpp describe`, `tpp diff`, `tpp funcs` with types and `tpp call`'s checks, driven as a
//! user drives them, against the catalog service (`tpp_tests::contract`) on 127.0.0.1:0.

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;
use serde_json::{json, Value};
use tpp_rpc::Server;
use tpp_tests::contract::{CatalogClient, CatalogServer, MemCatalog};
use tpp_tests::{start, temp_dir, Running, TestCert, WAIT};

const TOKEN: &str = "tok";

/// The catalog on its own runtime, so the test thread can run the binary synchronously.
struct Catalog {
    runtime: tokio::runtime::Runtime,
    running: Option<Running>,
}

impl Catalog {
    fn start() -> Catalog {
        Catalog::with(Server::builder().token(TOKEN))
    }

    /// The catalog over TLS with `cert`.
    fn tls(cert: &TestCert) -> Catalog {
        Catalog::with(
            Server::builder()
                .token(TOKEN)
                .tls_pem_files(&cert.cert, &cert.key),
        )
    }

    fn with(builder: tpp_rpc::ServerBuilder) -> Catalog {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let server = CatalogServer::new(MemCatalog::default());
        let running = runtime.block_on(start(builder, server));
        Catalog {
            runtime,
            running: Some(running),
        }
    }

    fn addr(&self) -> String {
        let port = self.running.as_ref().map_or(0, Running::port);
        format!("127.0.0.1:{port}")
    }
}

impl Drop for Catalog {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown.shutdown();
            let _ = self
                .runtime
                .block_on(async { tokio::time::timeout(WAIT, running.task).await });
        }
    }
}

fn tpp() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tpp"));
    cmd.timeout(WAIT)
        .env("TPP_TOKEN", TOKEN)
        .env_remove("NO_COLOR")
        .env_remove("RUST_BACKTRACE");
    cmd
}

fn stdout_json(cmd: &mut Command) -> Value {
    let out = cmd.assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).expect("stdout is JSON")
}

#[test]
fn describe_prints_and_writes_the_description() {
    let server = Catalog::start();
    let printed = stdout_json(tpp().args(["describe", &server.addr()]));
    let expected = json!({"tpp_describe": 1, "services": [CatalogClient::description()]});
    assert_eq!(printed, expected);

    let dir = temp_dir("describe");
    let file = dir.join("catalog.json");
    tpp()
        .args(["describe", &server.addr(), "-o"])
        .arg(&file)
        .assert()
        .success()
        .stdout("");
    let written: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(written, expected);
}

#[test]
fn funcs_shows_parameter_types() {
    let server = Catalog::start();
    tpp()
        .args(["funcs", &server.addr(), "--color", "never"])
        .assert()
        .success()
        .stdout(contains(
            "repo-add     name: string, url: string,        Adds a repository.",
        ))
        .stdout(contains("[parallel: integer=1],"))
        .stdout(contains("[branches: [string]?=null]"))
        .stdout(contains("repo-list    [state: State?=null]"));
}

#[test]
fn call_refuses_a_wrong_argument_before_sending() {
    let server = Catalog::start();
    let addr = server.addr();
    tpp()
        .args(["call", &addr, "repo-add", "name:=3", "url=u"])
        .assert()
        .code(2)
        .stderr("error: name: expected a string, got 3\n");
    tpp()
        .args(["call", &addr, "repo-add", "name=a"])
        .assert()
        .code(2)
        .stderr(contains("repo-add: missing parameter \"url\" (a string)"));
    tpp()
        .args(["call", &addr, "repo-add", "name=a", "url=u", "parallel=-2"])
        .assert()
        .code(2)
        .stderr(contains("parallel: expected a non-negative integer"));
    tpp()
        .args(["call", &addr, "repo-add", "name=a", "ulr=u"])
        .assert()
        .code(2)
        .stderr(contains("unknown parameter \"ulr\"; did you mean \"url\"?"));
    tpp()
        .args(["call", &addr, "repo-ad", "name=a"])
        .assert()
        .code(2)
        .stderr("error: the service has no action \"repo-ad\"; did you mean \"repo-add\"?\n");
    tpp()
        .args(["call", &addr, "repo-list", "state=paused"])
        .assert()
        .code(2)
        .stderr(contains(
            "state: expected one of \"idle\", \"running\", got \"paused\"",
        ));
}

#[test]
fn key_value_pairs_take_the_parameters_types() {
    let server = Catalog::start();
    let addr = server.addr();
    // `parallel=4` is sent as the number 4, `name=007` stays the string "007".
    let repo = stdout_json(tpp().args([
        "call",
        &addr,
        "repo-add",
        "name=007",
        "url=u",
        "parallel=4",
        "-c",
    ]));
    assert_eq!(repo["name"], "007");
    assert_eq!(repo["parallel"], 4);
    let items = tpp()
        .args(["call", &addr, "count", "n=3", "--stream"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(String::from_utf8(items).unwrap(), "1\n2\n3\n");
    // --no-check sends the string as typed, and the server refuses it.
    tpp()
        .args(["call", &addr, "repo-lock", "id=1", "by=me", "--no-check"])
        .assert()
        .code(11)
        .stderr(contains("id"));
    let locked = stdout_json(tpp().args(["call", &addr, "repo-lock", "id=1", "by=me"]));
    assert_eq!(locked, json!(true));
}

#[test]
fn call_checks_against_a_description_file() {
    let server = Catalog::start();
    let dir = temp_dir("describe-file");
    let file = dir.join("catalog.json");
    tpp()
        .args(["describe", &server.addr(), "-o"])
        .arg(&file)
        .assert()
        .success();
    // Nothing listens on port 1: the check fails before any connection.
    tpp()
        .args(["call", "127.0.0.1:1", "repo-get", "name:=[1]", "--describe"])
        .arg(&file)
        .assert()
        .code(2)
        .stderr("error: name: expected a string, got an array\n");
    tpp()
        .args(["call", &server.addr(), "repo-get", "name=x", "--describe"])
        .arg(&file)
        .assert()
        .code(14)
        .stderr(contains("repository x not found"));
}

#[test]
fn diff_of_a_server_against_its_saved_description() {
    let server = Catalog::start();
    let dir = temp_dir("diff");
    let old = dir.join("old.json");
    tpp()
        .args(["describe", &server.addr(), "-o"])
        .arg(&old)
        .assert()
        .success();
    tpp()
        .arg("diff")
        .arg(&old)
        .arg(server.addr())
        .assert()
        .success()
        .stdout("no change\n");

    // A new build that adds an optional parameter and drops an error variant.
    let mut new: Value = serde_json::from_slice(&std::fs::read(&old).unwrap()).unwrap();
    let add = &mut new["services"][0]["actions"][0];
    add["params"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "owner", "required": false, "default": null, "schema": {"type": ["string", "null"]}}));
    let new_file = dir.join("new.json");
    std::fs::write(&new_file, new.to_string()).unwrap();
    tpp()
        .arg("diff")
        .arg(&old)
        .arg(&new_file)
        .assert()
        .success()
        .stdout("compatible  repo-add: optional parameter \"owner\" added\n");
    new["services"][0]["actions"][0]["errors"]
        .as_array_mut()
        .unwrap()
        .remove(2);
    std::fs::write(&new_file, new.to_string()).unwrap();
    tpp()
        .arg("diff")
        .arg(&old)
        .arg(&new_file)
        .assert()
        .code(1)
        .stdout(contains(
            "breaking    repo-add: error ReadOnly (code 8) removed",
        ))
        .stderr("error: 1 breaking change\n");
}

#[test]
fn describe_and_diff_over_tls() {
    let cert = TestCert::new();
    let server = Catalog::tls(&cert);
    let expected = json!({"tpp_describe": 1, "services": [CatalogClient::description()]});
    let printed = stdout_json(
        tpp()
            .args(["describe", &server.addr(), "--ca"])
            .arg(&cert.cert),
    );
    assert_eq!(printed, expected);
    let insecure = stdout_json(tpp().args(["describe", &server.addr(), "--insecure"]));
    assert_eq!(insecure, expected);

    let dir = temp_dir("describe-tls");
    let saved = dir.join("catalog.json");
    tpp()
        .args(["describe", &server.addr(), "-o"])
        .arg(&saved)
        .arg("--ca")
        .arg(&cert.cert)
        .assert()
        .success()
        .stdout("");
    tpp()
        .arg("diff")
        .arg(&saved)
        .arg(server.addr())
        .arg("--ca")
        .arg(&cert.cert)
        .assert()
        .success()
        .stdout("no change\n");

    // The saved contract lost an action since: the server adds it, compatibly.
    let mut old: Value = serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
    old["services"][0]["actions"].as_array_mut().unwrap().pop();
    std::fs::write(&saved, old.to_string()).unwrap();
    tpp()
        .arg("diff")
        .arg(&saved)
        .arg(server.addr())
        .arg("--ca")
        .arg(&cert.cert)
        .assert()
        .success()
        .stdout(contains("compatible").and(contains("count")));
    // And the other way round it breaks callers.
    tpp()
        .arg("diff")
        .arg(server.addr())
        .arg(&saved)
        .arg("--ca")
        .arg(&cert.cert)
        .assert()
        .code(1)
        .stdout(contains("breaking").and(contains("count")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn describe_and_diff_with_a_wrong_ca_say_so() {
    let cert = TestCert::new();
    let other = TestCert::new();
    let server = Catalog::tls(&cert);
    let untrusted = || {
        contains("not signed by a trusted authority")
            .and(contains("--ca"))
            .and(contains("--insecure"))
    };
    tpp()
        .args(["describe", &server.addr(), "--ca"])
        .arg(&other.cert)
        .assert()
        .code(3)
        .stdout("")
        .stderr(untrusted());
    let dir = temp_dir("diff-wrong-ca");
    let saved = dir.join("catalog.json");
    std::fs::write(
        &saved,
        json!({"tpp_describe": 1, "services": [CatalogClient::description()]}).to_string(),
    )
    .unwrap();
    tpp()
        .arg("diff")
        .arg(&saved)
        .arg(server.addr())
        .arg("--ca")
        .arg(&other.cert)
        .assert()
        .code(3)
        .stdout("")
        .stderr(untrusted());
    // Without TLS options, the TLS server is named as one.
    tpp()
        .args(["describe", &server.addr()])
        .assert()
        .failure()
        .stderr(contains("--tls"));
    let _ = std::fs::remove_dir_all(&dir);
}
