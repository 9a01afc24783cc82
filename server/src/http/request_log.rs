//! A log of every request the server receives (method, URI, headers, body), one JSON line
//! each. With it, tests prove that the studio never sends a key or plaintext anywhere.

use anyhow::{Context, Result};
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Bodies are logged up to this size (the server's own request limits are smaller).
const MAX_LOGGED_BODY: usize = 1024 * 1024;

#[derive(Clone)]
pub struct RequestLog(Arc<Mutex<std::fs::File>>);

impl RequestLog {
    pub fn open(path: &Path) -> Result<RequestLog> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open request log {}", path.display()))?;
        Ok(RequestLog(Arc::new(Mutex::new(f))))
    }
}

pub async fn record(State(log): State<RequestLog>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, MAX_LOGGED_BODY).await.unwrap_or_default();
    let headers: serde_json::Map<String, serde_json::Value> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            // The API token must not end up in a file.
            let value = if matches!(k.as_str(), "authorization" | "cookie") {
                "***".to_string()
            } else {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            };
            (k.to_string(), serde_json::Value::String(value))
        })
        .collect();
    let line = serde_json::json!({
        "method": parts.method.as_str(),
        "uri": parts.uri.to_string(),
        "headers": headers,
        "body": String::from_utf8_lossy(&bytes),
    });
    if let Ok(mut f) = log.0.lock() {
        let _ = writeln!(f, "{line}");
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}
