//! `tpp gen python` end to end: the catalog service (`tpp_tests::contract`) on 127.0.0.1:0
//! over TCP and TLS, the module generated from the running server by the `tpp` binary,
//! checked against the committed copy, `mypy --strict` on it, and a Python script that
//! calls every action through it (`tests/python/catalog_client_test.py`).
//!
//! It needs Python with toxicbuild-core (`$TPP_PYTHON` or `.venv`, found when `tpp-tests` is
//! built) and mypy in that Python. Without them it says so and returns; with
//! `TPP_REQUIRE_PYTHON=1` (CI) it fails instead.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use tpp_rpc::Server;
use tpp_tests::contract::{CatalogServer, MemCatalog};
use tpp_tests::{found_python, python_script, start, temp_dir, RefServer, Running, TestCert};
use tpp_tests::{REF_TOKEN, WAIT};

const TOKEN: &str = "tok";

fn required() -> bool {
    std::env::var("TPP_REQUIRE_PYTHON").is_ok_and(|v| v == "1")
}

/// The Python to use, or None (the test is skipped) when there is none and none is required.
fn python(test: &str) -> Option<PathBuf> {
    let found = found_python();
    if found.is_none() {
        assert!(
            !required(),
            "{test}: TPP_REQUIRE_PYTHON=1 but no Python with toxicbuild-core"
        );
        eprintln!("{test}: skipped, no Python with toxicbuild-core (set TPP_PYTHON)");
    }
    found
}

/// A command bounded by [`WAIT`] (×3 for mypy's first run), its output captured.
fn run(cmd: &mut Command) -> Output {
    cmd.timeout(WAIT * 3).output().expect("run a command")
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The committed module for the catalog service.
fn committed() -> PathBuf {
    python_script("catalog_client.py")
}

/// The module parses as Python 3.9 (mypy no longer targets 3.9, `ast` still does), then
/// passes `mypy --strict` for the oldest version mypy knows.
fn type_check(python: &Path, module: &Path) {
    let parse = "import ast, sys; ast.parse(open(sys.argv[1]).read(), feature_version=(3, 9))";
    let out = run(Command::new(python).args(["-c", parse]).arg(module));
    assert!(out.status.success(), "not Python 3.9:\n{}", text(&out));
    let version = run(Command::new(python).args(["-m", "mypy", "--version"]));
    if !version.status.success() {
        assert!(
            !required(),
            "TPP_REQUIRE_PYTHON=1 but mypy is missing: pip install mypy"
        );
        eprintln!("mypy is not installed: the type check is skipped");
        return;
    }
    let out = run(Command::new(python)
        .args([
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--python-version",
            "3.10",
        ])
        .arg(module));
    assert!(
        out.status.success(),
        "mypy --strict failed:\n{}",
        text(&out)
    );
}

#[test]
fn generated_python_client_against_real_servers() {
    let Some(python) = python("generated_python_client_against_real_servers") else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let cert = TestCert::new();
    let (tcp, tls, reference) = runtime.block_on(async {
        let catalog = || CatalogServer::new(MemCatalog::default());
        let tcp = start(Server::builder().token(TOKEN), catalog()).await;
        let tls_builder = Server::builder()
            .token(TOKEN)
            .tls_pem_files(&cert.cert, &cert.key);
        let tls = start(tls_builder, catalog()).await;
        let reference = RefServer::start(&python, None).await;
        (tcp, tls, reference)
    });

    let dir = temp_dir("gen-python");
    let module = dir.join("catalog_client.py");
    let out = run(Command::new(env!("CARGO_BIN_EXE_tpp"))
        .env("TPP_TOKEN", TOKEN)
        .args(["gen", "python", &format!("127.0.0.1:{}", tcp.port()), "-o"])
        .arg(&module));
    assert!(
        out.status.success(),
        "tpp gen python failed:\n{}",
        text(&out)
    );
    let generated = std::fs::read_to_string(&module).expect("the module is written");
    let committed_text = std::fs::read_to_string(committed()).unwrap_or_default();
    assert!(
        generated == committed_text,
        "tests/python/catalog_client.py is not what `tpp gen python` writes now: regenerate it \
         (the generated copy is {})",
        module.display()
    );

    type_check(&python, &module);

    let out = run(Command::new(&python)
        .arg(python_script("catalog_client_test.py"))
        .arg(&dir)
        .args([tcp.port().to_string(), tls.port().to_string()])
        .arg(&cert.cert)
        .arg(TOKEN)
        .arg(reference.port().to_string())
        .arg(REF_TOKEN));
    assert!(
        out.status.success()
            && String::from_utf8_lossy(&out.stdout)
                .trim_end()
                .ends_with("ok"),
        "catalog_client_test.py failed:\n{}",
        text(&out)
    );

    for running in [tcp, tls] {
        stop(&runtime, running);
    }
    drop(reference);
    let _ = std::fs::remove_dir_all(&dir);
}

fn stop(runtime: &tokio::runtime::Runtime, running: Running) {
    running.shutdown.shutdown();
    let _ = runtime.block_on(async { tokio::time::timeout(WAIT, running.task).await });
}
