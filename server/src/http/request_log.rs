//! A log of every request the server receives (method, URI, headers, body), one JSON line
//! each. With it, tests prove that the studio never sends a key or plaintext anywhere.

use super::error::{ApiError, BODY_READ_TIMEOUT};
use anyhow::{Context, Result};
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Bodies are logged up to this size; the rest of a longer one is counted, not logged.
const MAX_LOGGED_BODY: usize = 1024 * 1024;

#[derive(Clone)]
pub struct RequestLog {
    file: Arc<Mutex<std::fs::File>>,
    /// The server's body limit: the whole body is read here and handed on, so this
    /// middleware (which runs before the limit) must take as much as the handlers may.
    max_body: usize,
}

impl RequestLog {
    pub fn open(path: &Path, max_body: usize) -> Result<RequestLog> {
        use std::os::unix::fs::OpenOptionsExt;
        // Owner-only: bodies hold edited configuration files and webhook payloads.
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot open request log {}", path.display()))?;
        Ok(RequestLog { file: Arc::new(Mutex::new(f)), max_body })
    }
}

/// The logged part of a body: its first `MAX_LOGGED_BODY` bytes (as UTF-8, lossily).
fn logged(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_LOGGED_BODY)]).into_owned();
    if bytes.len() > MAX_LOGGED_BODY {
        format!("{text}… ({} more bytes)", bytes.len() - MAX_LOGGED_BODY)
    } else {
        text
    }
}

/// Header names (lower case, as `http` keeps them) whose values are credentials.
fn is_credential(name: &str) -> bool {
    matches!(name, "authorization" | "cookie" | "proxy-authorization")
        || name.ends_with("-token")
        || name.contains("-signature")
}

pub async fn record(State(log): State<RequestLog>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    // Read as much as the handlers would accept: a body cut here would reach them empty or cut.
    let bytes = match tokio::time::timeout(BODY_READ_TIMEOUT, to_bytes(body, log.max_body)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => {
            let m = format!("the request body is larger than {} bytes, or was cut off", log.max_body);
            return ApiError::Rejected(StatusCode::PAYLOAD_TOO_LARGE, m).into_response();
        }
        Err(_) => {
            let m = format!("the request body did not arrive within {} s", BODY_READ_TIMEOUT.as_secs());
            return ApiError::Rejected(StatusCode::REQUEST_TIMEOUT, m).into_response();
        }
    };
    let headers: serde_json::Map<String, serde_json::Value> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            // No credential ends up in the file: the API token, and webhook secrets and
            // signatures (GitLab's `X-Gitlab-Token` is the secret itself).
            let value = if is_credential(k.as_str()) {
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
        "body": logged(&bytes),
    });
    if let Ok(mut f) = log.file.lock() {
        let _ = writeln!(f, "{line}");
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

#[cfg(test)]
mod tests {
    /// A GitLab delivery's `X-Gitlab-Token` is the webhook secret: it was logged in clear.
    #[test]
    fn credentials_in_headers_are_recognised() {
        for name in ["authorization", "cookie", "x-gitlab-token", "x-hub-signature-256", "x-gitea-signature"] {
            assert!(super::is_credential(name), "{name}");
        }
        for name in ["content-type", "x-github-event", "x-github-delivery", "user-agent"] {
            assert!(!super::is_credential(name), "{name}");
        }
    }
}
