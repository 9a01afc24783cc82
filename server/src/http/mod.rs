//! `slipway serve`: the HTTP server: the studio (embedded in the binary) and the run API.

pub mod api;
mod badge;
mod cpu;
mod error;
pub mod hooks;
mod request_log;
mod studio;

use anyhow::{Context, Result};
use axum::Router;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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

/// How long a client may take to send a request's headers; a client that trickles them (or
/// opens connections and sends nothing) is disconnected rather than holding a task for ever.
/// Bodies have their own limit (`error::BODY_READ_TIMEOUT`).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long open requests (event streams, say) may go on after Ctrl-C or SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The whole application; shared by `serve` and tests.
pub fn app(config: &Config) -> Result<Router> {
    let mut router = studio::router()?;
    if let Some(api) = &config.api {
        router = router.merge(api::router(api.clone())).merge(hooks::router(api.manager.clone()));
    }
    // JSON like every other error (axum's own answer has no body), also for the studio's paths.
    router = router.method_not_allowed_fallback(|| async {
        error::ApiError::Rejected(
            axum::http::StatusCode::METHOD_NOT_ALLOWED,
            "this path does not take that method".into(),
        )
    });
    router = router.layer(axum::extract::DefaultBodyLimit::max(MAX_BODY));
    if let Some(path) = &config.request_log {
        // As much as any route takes: webhook deliveries may be larger than API bodies.
        let log = request_log::RequestLog::open(path, MAX_BODY.max(crate::forge::verify::DEFAULT_MAX_BODY_BYTES))?;
        router = router.layer(axum::middleware::from_fn_with_state(log, request_log::record));
    }
    Ok(router.layer(tower_http::compression::CompressionLayer::new()))
}

/// Serve `config` on `addr` until Ctrl-C or SIGTERM. HTTP/1.1 through hyper directly rather
/// than `axum::serve`, which sets no timer and so no timeout on reading request headers.
/// `signals` were installed by the caller before anything else started (a restart's recovery
/// included), so a Ctrl-C or SIGTERM that came meanwhile stops the server here, gracefully.
pub async fn serve(addr: SocketAddr, config: Config, mut signals: crate::signals::Signals) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (is it in use?)"))?;
    let local = listener.local_addr()?;
    // Logged before the URL is printed: whoever waits for the URL then finds the log line.
    tracing::info!("serving on {local}; press Ctrl-C to stop");
    println!("Slipway studio: http://{local}/");
    let app = app(&config)?;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            _ = signals.recv() => break,
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            // A client that shuts its side down before its body is complete still gets the
            // answer (400, "the body ended early") rather than a closed connection; without
            // this, hyper closes as soon as it reads the end, racing the handler's answer.
            .half_close(true)
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
    Ok(())
}
