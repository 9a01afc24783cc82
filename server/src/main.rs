//! `slipway`: validate, plan, encrypt and decrypt Codeship Pro projects like `jet` did.

mod build_values;
mod cli;
mod cluster;
mod docker;
mod executor;
// The building blocks of issue 11; wiring them into the router and the run manager is the next step.
#[allow(dead_code)]
mod forge;
mod fsutil;
mod generators;
// Mirrors and checkouts for repository projects (issue 11); wired into the run manager next.
#[allow(dead_code)]
mod git;
mod gitinfo;
mod http;
mod keyfile;
mod logging;
mod lsp;
mod names;
mod notify;
mod project;
mod run_log;
mod runs;
mod signals;
mod store;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
