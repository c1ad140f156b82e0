//! Compile-pass and compile-fail tests of `#[toxic_service]` and `#[derive(ToxicError)]`,
//! run with trybuild by `tests/ui.rs`.
//!
//! - `tests/pass/*.rs`: every supported form; each file is built with `#![deny(warnings)]`
//!   and its `main` run (checks on the generated constants, some over a real socket).
//! - `tests/fail/*.rs`: every promised compile error, with its `.stderr` snapshot. Refresh
//!   the snapshots with `TRYBUILD=overwrite cargo test -p ui-tests` and review the diff.
//!
//! This crate's own code below is checked by `cargo clippy --workspace -- -D warnings` (CI):
//! the code generated for a service raises no clippy warning, and a lint attribute written on
//! a method reaches the generated items.

/// A service whose code clippy checks (see the crate docs).
pub mod linted {
    use tpp_rpc::ActionError;

    /// Many parameters: `too_many_arguments` would fire on the client's method.
    #[tpp_rpc::toxic_service(rename_all = "kebab-case")]
    pub trait Wide {
        /// Eight parameters, some optional.
        #[allow(clippy::too_many_arguments)]
        async fn configure(
            &self,
            a: u8,
            b: u8,
            c: u8,
            d: u8,
            e: u8,
            f: String,
            g: Option<String>,
            #[param(default = "1")] h: u32,
        ) -> Result<u32, ActionError>;

        /// A stream.
        #[action(stream)]
        async fn watch(
            &self,
            prefix: Option<String>,
        ) -> Result<tpp_rpc::ItemStream<String>, ActionError>;
    }

    /// Calls both through the generated client.
    pub async fn call(client: &WideClient) -> Result<u32, tpp_rpc::CallError<ActionError>> {
        use tpp_rpc::StreamExt;
        let mut items = client.watch().prefix("p").await?;
        while let Some(item) = items.next().await {
            item?;
        }
        client.configure(1, 2, 3, 4, 5, "f").g("g").h(2).await
    }
}
