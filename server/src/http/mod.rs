//! `slipway serve`: the HTTP server: the studio (embedded in the binary) and the run API.

pub mod api;
mod request_log;
mod studio;

use anyhow::{Context, Result};
use axum::Router;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Clone, Default)]
pub struct Config {
    /// Append every request (method, URI, headers, body) here: tests read it to prove that
    /// no request carries a key or plaintext.
    pub request_log: Option<PathBuf>,
    /// The run API, when the server runs pipelines.
    pub api: Option<api::Api>,
}

/// Request bodies: two configuration files of at most 1 MiB each, plus JSON framing.
const MAX_BODY: usize = 3 * 1024 * 1024;

/// The whole application; shared by `serve` and tests.
pub fn app(config: &Config) -> Result<Router> {
    let mut router = studio::router()?;
    if let Some(api) = &config.api {
        router = router.merge(api::router(api.clone()));
    }
    router = router.layer(axum::extract::DefaultBodyLimit::max(MAX_BODY));
    if let Some(path) = &config.request_log {
        router = router
            .layer(axum::middleware::from_fn_with_state(request_log::RequestLog::open(path)?, request_log::record));
    }
    Ok(router.layer(tower_http::compression::CompressionLayer::new()))
}

pub async fn serve(addr: SocketAddr, config: Config) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (is it in use?)"))?;
    let local = listener.local_addr()?;
    println!("Slipway studio: http://{local}/");
    eprintln!("slipway: serving on {local}; press Ctrl-C to stop");
    let app = app(&config)?;
    axum::serve(listener, app).with_graceful_shutdown(shutdown()).await.context("server error")?;
    Ok(())
}

async fn shutdown() {
    crate::signals::terminated().await;
}
