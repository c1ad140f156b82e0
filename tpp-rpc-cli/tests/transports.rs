//! `tpp call`, `tpp funcs` and `tpp describe` over the other transports, driven
//! as a user drives them against the catalog service (`tpp_tests::contract`):
//! on a Unix socket (`unix:PATH`, in a temporary directory) and on a server
//! that requires client certificates (`--cert`/`--key`: a good certificate
//! is accepted; none, one from another CA and an expired one are refused
//! with an error saying why).
//!
//! Every command runs under a timeout (killed past [`WAIT`]).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;
use serde_json::{json, Value};
use tpp_rpc::tls::ClientAuth;
use tpp_rpc::Server;
use tpp_tests::contract::{CatalogClient, CatalogServer, MemCatalog};
use tpp_tests::pki::Pki;
use tpp_tests::{temp_dir, WAIT};

const TOKEN: &str = "tok";

/// The catalog on its own runtime (so the test thread can run the binary
/// synchronously), listening where `target` says; stopped, bounded, on drop.
struct Catalog {
    runtime: tokio::runtime::Runtime,
    shutdown: tpp_rpc::ShutdownHandle,
    task: Option<tokio::task::JoinHandle<Result<(), tpp_rpc::ServerError>>>,
    /// The CLI's name for the server: `unix:PATH` or `127.0.0.1:PORT`.
    target: String,
}

impl Catalog {
    fn start(bind: impl FnOnce() -> BindTo) -> Catalog {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let (server, target) = runtime.block_on(async {
            let builder = Server::builder().token(TOKEN);
            match bind() {
                BindTo::Unix(path) => {
                    let server = builder.bind_unix(&path).await.expect("bind_unix");
                    (server, format!("unix:{}", path.display()))
                }
                BindTo::MutualTls { cert, key, ca } => {
                    let server = builder
                        .tls_pem_files(cert, key)
                        .client_auth(ClientAuth::required_pem_file(ca).expect("CA"))
                        .bind("127.0.0.1:0")
                        .await
                        .expect("bind");
                    let target = format!("127.0.0.1:{}", server.local_addr().port());
                    (server, target)
                }
            }
        });
        let shutdown = server.shutdown_handle();
        let task = runtime.spawn(server.serve(CatalogServer::new(MemCatalog::default())));
        Catalog {
            runtime,
            shutdown,
            task: Some(task),
            target,
        }
    }
}

impl Drop for Catalog {
    fn drop(&mut self) {
        self.shutdown.shutdown();
        if let Some(task) = self.task.take() {
            let _ = self
                .runtime
                .block_on(async { tokio::time::timeout(WAIT, task).await });
        }
    }
}

enum BindTo {
    Unix(PathBuf),
    MutualTls {
        cert: PathBuf,
        key: PathBuf,
        ca: PathBuf,
    },
}

/// The binary, with the token in its environment and a kill timeout.
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

/// Adds a repository, reads it back, streams `count`, lists the actions
/// and fetches the description, each with `tls` arguments added.
fn call_funcs_and_describe(target: &str, tls: &[&str]) {
    let added = stdout_json(
        tpp()
            .args(["call", target, "repo-add", "name=tpp", "url=u", "-c"])
            .args(tls),
    );
    assert_eq!(added["name"], "tpp");
    let got = stdout_json(
        tpp()
            .args(["call", target, "repo-get", "name=tpp", "-c"])
            .args(tls),
    );
    assert_eq!(got, added);
    tpp()
        .args(["call", target, "count", "n=3", "--stream"])
        .args(tls)
        .assert()
        .success()
        .stdout("1\n2\n3\n");
    tpp()
        .args(["funcs", target, "--color", "never"])
        .args(tls)
        .assert()
        .success()
        .stdout(contains("repo-add").and(contains("Adds a repository.")));
    let described = stdout_json(tpp().args(["describe", target]).args(tls));
    assert_eq!(
        described,
        json!({"tpp_describe": 1, "services": [CatalogClient::description()]})
    );
}

#[test]
fn call_funcs_and_describe_over_a_unix_socket() {
    let dir = temp_dir("cli-unix");
    let path = dir.join("catalog.sock");
    let server = Catalog::start(|| BindTo::Unix(path.clone()));
    assert_eq!(server.target, format!("unix:{}", path.display()));
    call_funcs_and_describe(&server.target, &[]);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_relative_unix_socket_path_is_taken_from_the_working_directory() {
    let dir = temp_dir("cli-unix-rel");
    let server = Catalog::start(|| BindTo::Unix(dir.join("rel.sock")));
    tpp()
        .current_dir(&dir)
        .args(["call", "unix:rel.sock", "repo-list", "-c"])
        .assert()
        .success()
        .stdout("[]\n");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_unix_socket_exits_3_naming_the_path() {
    let dir = temp_dir("cli-unix-missing");
    let path = dir.join("nobody.sock");
    let target = format!("unix:{}", path.display());
    for args in [
        vec!["call", &target, "repo-list"],
        vec!["funcs", &target],
        vec!["describe", &target],
    ] {
        tpp()
            .args(&args)
            .assert()
            .code(3)
            .stdout("")
            .stderr(contains(&target));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A server requiring certificates issued by its CA, and that CA.
fn mutual_tls_server(pki: &Pki) -> Catalog {
    let (cert, key) = pki.issue("localhost", &["localhost"], false);
    let ca = pki.ca.clone();
    Catalog::start(move || BindTo::MutualTls { cert, key, ca })
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temporary path")
}

#[test]
fn call_funcs_and_describe_with_a_client_certificate() {
    let pki = Pki::new("cli-mtls");
    let server = mutual_tls_server(&pki);
    let (cert, key) = pki.issue("deployer", &[], false);
    let tls = [
        "--ca",
        path_str(&pki.ca),
        "--server-name",
        "localhost",
        "--cert",
        path_str(&cert),
        "--key",
        path_str(&key),
    ];
    call_funcs_and_describe(&server.target, &tls);
}

/// `tpp call` with `client` (cert, key), or none, against a server
/// requiring certificates: its exit code and stderr.
fn refused_call(server: &Catalog, ca: &Path, client: Option<(&Path, &Path)>) -> (i32, String) {
    let mut cmd = tpp();
    cmd.args(["call", &server.target, "repo-list"]).args([
        "--ca",
        path_str(ca),
        "--server-name",
        "localhost",
    ]);
    if let Some((cert, key)) = client {
        cmd.args(["--cert", path_str(cert), "--key", path_str(key)]);
    }
    let out = cmd.assert().failure().stdout("").get_output().clone();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn no_client_certificate_is_refused_with_a_clear_error() {
    let pki = Pki::new("cli-mtls-none");
    let server = mutual_tls_server(&pki);
    let (code, stderr) = refused_call(&server, &pki.ca, None);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("failed: received fatal alert: CertificateRequired"),
        "{stderr}"
    );
}

#[test]
fn a_client_certificate_from_another_ca_is_refused_with_a_clear_error() {
    let pki = Pki::new("cli-mtls-ca");
    let server = mutual_tls_server(&pki);
    let other = Pki::new("cli-mtls-other");
    let (cert, key) = other.issue("intruder", &[], false);
    let (code, stderr) = refused_call(&server, &pki.ca, Some((&cert, &key)));
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("failed: received fatal alert: UnknownCA"),
        "{stderr}"
    );
}

#[test]
fn an_expired_client_certificate_is_refused_with_a_clear_error() {
    let pki = Pki::new("cli-mtls-expired");
    let server = mutual_tls_server(&pki);
    let (cert, key) = pki.issue("old", &[], true);
    let (code, stderr) = refused_call(&server, &pki.ca, Some((&cert, &key)));
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("failed: received fatal alert: CertificateExpired"),
        "{stderr}"
    );
}

#[test]
fn an_unreadable_client_certificate_is_a_usage_error_naming_the_file() {
    let pki = Pki::new("cli-mtls-files");
    let server = mutual_tls_server(&pki);
    let missing = pki.dir.join("missing.pem");
    let (_, key) = pki.issue("someone", &[], false);
    let out = tpp()
        .args(["call", &server.target, "repo-list"])
        .args(["--ca", path_str(&pki.ca), "--server-name", "localhost"])
        .args(["--cert", path_str(&missing), "--key", path_str(&key)])
        .assert()
        .failure()
        .stdout("")
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("missing.pem"), "{stderr}");
}
