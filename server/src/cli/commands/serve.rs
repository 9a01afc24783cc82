//! `slipway serve`

use crate::http;
use crate::runs::{Manager, Project};
use crate::store::Store;
use anyhow::{Context, Result, bail};
use clap::Args;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Where to listen. The default is loopback only; use port 0 for any free port.
    #[arg(long, default_value = "127.0.0.1:7878", env = "SLIPWAY_ADDR")]
    pub addr: SocketAddr,
    /// A project the server may run: NAME=PATH (a git work tree with the Codeship files). Repeatable.
    #[arg(long = "project", value_name = "NAME=PATH", value_parser = parse_pair)]
    pub projects: Vec<(String, PathBuf)>,
    /// The key file of a project: NAME=PATH [default: PATH/codeship.aes]. Stays on the server.
    #[arg(long = "key", value_name = "NAME=PATH", value_parser = parse_pair)]
    pub keys: Vec<(String, PathBuf)>,
    /// Where the database and the API token live [default: $XDG_DATA_HOME/slipway or ~/.local/share/slipway].
    #[arg(long, env = "SLIPWAY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Runs at once; more wait in a queue (which survives restarts).
    #[arg(long, default_value_t = 2)]
    pub max_concurrent_runs: usize,
    /// Append every request (method, URI, headers, body) to this file as JSON lines.
    #[arg(long)]
    pub request_log: Option<PathBuf>,
    /// Registry and prefix for the cache images of `cached: true` services.
    #[arg(long, env = "SLIPWAY_CACHE_REGISTRY")]
    pub cache_registry: Option<String>,
}

fn parse_pair(s: &str) -> Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((n, p)) if !n.is_empty() && !p.is_empty() => Ok((n.to_string(), PathBuf::from(p))),
        _ => Err(format!("`{s}` is not NAME=PATH")),
    }
}

fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(x).join("slipway");
    }
    PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| ".".into())).join(".local/share/slipway")
}

/// The API token: `SLIPWAY_TOKEN`, else the one in the data dir, else a new one (printed once).
fn token(data_dir: &Path) -> Result<String> {
    if let Ok(t) = std::env::var("SLIPWAY_TOKEN")
        && !t.trim().is_empty()
    {
        return Ok(t.trim().to_string());
    }
    let path = data_dir.join("token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        return Ok(t.trim().to_string());
    }
    let mut b = [0u8; 24];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let t: String = b.iter().map(|x| format!("{x:02x}")).collect();
    crate::fsutil::write_new(&path, t.as_bytes(), true)?;
    println!("API token (stored owner-only in {}; shown once): {t}", path.display());
    Ok(t)
}

pub fn run(args: ServeArgs) -> Result<ExitCode> {
    let data_dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    std::fs::create_dir_all(&data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    let mut projects = Vec::new();
    for (name, dir) in &args.projects {
        let dir = dir.canonicalize().with_context(|| format!("project `{name}`: {} does not exist", dir.display()))?;
        if projects.iter().any(|p: &Project| &p.name == name) {
            bail!("project `{name}` is registered twice");
        }
        let key = args.keys.iter().find(|(n, _)| n == name).map(|(_, p)| p.clone());
        projects.push(Project { name: name.clone(), dir, key });
    }
    if let Some((n, _)) = args.keys.iter().find(|(n, _)| !projects.iter().any(|p| &p.name == n)) {
        bail!("--key {n}=… names no registered project");
    }
    let token = token(&data_dir)?;
    let store = Arc::new(Store::open(&data_dir.join("slipway.sqlite"))?);
    let rt =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    rt.block_on(async move {
        let manager = Manager::new(store, projects, args.max_concurrent_runs, args.cache_registry.clone());
        manager.recover().await?;
        tokio::spawn(manager.clone().schedule());
        let api = http::api::Api { manager, token: Arc::new(token) };
        http::serve(args.addr, http::Config { request_log: args.request_log, api: Some(api) }).await
    })?;
    Ok(ExitCode::SUCCESS)
}
