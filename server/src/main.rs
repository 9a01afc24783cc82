//! `slipway`: validate, plan, encrypt and decrypt Codeship Pro projects like `jet` did.

mod build_values;
mod cli;
mod docker;
mod executor;
mod fsutil;
mod gitinfo;
mod http;
mod keyfile;
mod logging;
mod names;
mod project;
mod run_log;
mod runs;
mod signals;
mod store;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
