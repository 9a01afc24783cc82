//! `slipway serve`

use crate::http;
use anyhow::{Context, Result};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Where to listen. The default is loopback only; use port 0 for any free port.
    #[arg(long, default_value = "127.0.0.1:7878", env = "SLIPWAY_ADDR")]
    pub addr: SocketAddr,
    /// Append every request (method, URI, headers, body) to this file as JSON lines.
    #[arg(long)]
    pub request_log: Option<PathBuf>,
}

pub fn run(args: ServeArgs) -> Result<ExitCode> {
    let rt =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    rt.block_on(http::serve(args.addr, http::Config { request_log: args.request_log }))?;
    Ok(ExitCode::SUCCESS)
}
