//! `tpp`: what grpcurl is to gRPC, for the ToxicBuild Poor's Protocol.
//!
//! - `tpp call HOST:PORT ACTION [BODY]`: send a request, print the result;
//! - `tpp funcs HOST:PORT`: a service's actions (its `list-funcs`);
//! - `tpp describe HOST:PORT`: a service's full description (types, errors) as JSON;
//! - `tpp diff OLD NEW`: breaking changes between two descriptions;
//! - `tpp gen python SOURCE`: a typed Python client module from a description;
//! - `tpp hash-token`: the bcrypt hash a server stores;
//! - `tpp completions SHELL`: a completion script.
//!
//! Exit statuses are listed in `tpp --help` and in [`failure`].

mod args;
mod body;
mod call;
mod contract;
mod failure;
mod funclist;
mod funcs;
mod hash;
mod output;
mod session;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::args::{Cli, Command};
use crate::failure::Failure;

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Other(format!("cannot start the async runtime: {e}")))
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Call(args) => call::run(args, &runtime()?),
        Command::Funcs(args) => funcs::run(args, &runtime()?),
        Command::Describe(args) => contract::run_describe(args, &runtime()?),
        Command::Diff(args) => contract::diff::run(args, &runtime()?),
        Command::Gen(args) => contract::run_gen(args, &runtime()?),
        Command::HashToken(args) => hash::run(args),
        Command::Completions(args) => {
            let mut out = std::io::stdout().lock();
            clap_complete::generate(args.shell, &mut Cli::command(), "tpp", &mut out);
            std::io::Write::flush(&mut out).map_err(Failure::output)
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
