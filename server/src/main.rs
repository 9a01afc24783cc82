//! `slipway`: validate, plan, encrypt and decrypt Codeship Pro projects like `jet` did.

mod cli;
mod docker;
mod executor;
mod fsutil;
mod gitinfo;
mod http;
mod keyfile;
mod lsp;
mod project;
mod runs;
mod signals;
mod store;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
