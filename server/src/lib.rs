//! Slipway's CLI and server as a library: the `slipway` binary (`main.rs`) calls [`run_cli`];
//! tests build the server with [`app::App`] and send it requests without starting the binary.
//! `config`, `forge`, `git` and `gitinfo` are public for their own tests (`tests/forge.rs`, `git_mirror.rs`, …).

pub mod app;
mod build_values;
mod cli;
mod cluster;
pub mod config;
mod docker;
mod executor;
pub mod forge;
mod fsutil;
mod generators;
pub mod git;
pub mod gitinfo;
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

/// Parse the command line and run the command; the exit code is the process's.
pub fn run_cli() -> std::process::ExitCode {
    cli::main()
}
