//! Finds the Python reference (toxicbuild-core) once, at build time, so that the interop tests
//! are marked `ignored` with the reason when it is absent, instead of passing without running.
//!
//! The interpreter is `$TPP_PYTHON`, else `.venv/bin/python` at the workspace root. When it
//! imports `toxiccore`, the tests are built with `--cfg tpp_python`. With
//! `TPP_REQUIRE_PYTHON=1` (as in CI) a missing reference is a build error.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(tpp_python)");
    println!("cargo::rerun-if-env-changed=TPP_PYTHON");
    println!("cargo::rerun-if-env-changed=TPP_REQUIRE_PYTHON");
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    if venv.exists() {
        println!("cargo::rerun-if-changed={}", venv.display());
    }
    let candidates = [
        std::env::var_os("TPP_PYTHON").map(PathBuf::from),
        Some(venv),
    ];
    let found = candidates.into_iter().flatten().find(|python| {
        Command::new(python)
            .args(["-c", "import toxiccore"])
            .output()
            .is_ok_and(|out| out.status.success())
    });
    match found {
        Some(python) => {
            println!("cargo::rustc-cfg=tpp_python");
            println!("cargo::rustc-env=TPP_PYTHON_FOUND={}", python.display());
        }
        None if std::env::var("TPP_REQUIRE_PYTHON").is_ok_and(|v| v == "1") => panic!(
            "TPP_REQUIRE_PYTHON=1 but no Python with toxicbuild-core: set TPP_PYTHON, or create \
             .venv (python3 -m venv .venv && .venv/bin/pip install toxicbuild-core)"
        ),
        None => println!(
            "cargo::warning=no Python with toxicbuild-core: the interop tests are ignored (set \
             TPP_PYTHON, or create .venv and rebuild)"
        ),
    }
}
