//! Compile-pass and compile-fail tests of `#[toxic_service]` and `#[derive(ToxicError)]`,
//! run with trybuild by `tests/ui.rs`.
//!
//! - `tests/pass/*.rs`: every supported form; each file is built with `#![deny(warnings)]`
//!   and its `main` run (checks on the generated constants, some over a real socket).
//! - `tests/fail/*.rs`: every promised compile error, with its `.stderr` snapshot. Refresh
//!   the snapshots with `TRYBUILD=overwrite cargo test -p ui-tests` and review the diff.
