//! A log of every request the server receives (method, URI, headers, body), one JSON line
//! each. With it, tests prove that the studio never sends a key or plaintext anywhere.
//!
//! The log never reads a body itself: it keeps a copy of what the handler reads, as the
//! handler reads it, and writes the line when the body is dropped. A webhook delivery without a
//! well-formed signature header is refused before a byte of its body is read, with the log on
//! as without it (issue 19): reading it here first would let anyone make the server take 25 MiB
//! per request before any check.

use anyhow::{Context, Result};
use axum::body::{Body, BodyDataStream, HttpBody};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use futures_util::Stream;
use std::io::Write;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};

/// Bodies are logged up to this size; the rest of a longer one is counted, not logged.
const MAX_LOGGED_BODY: usize = 1024 * 1024;
/// The log file's size past which bodies are no longer logged (only the requests' lines):
/// unauthenticated requests could otherwise grow it without end (an adversarial pass: 50
/// deliveries with a wrong signature, 50 MiB). A file kept longer is the operator's to rotate.
const MAX_LOG_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Clone)]
pub struct RequestLog {
    file: Arc<Mutex<std::fs::File>>,
}

impl RequestLog {
    pub fn open(path: &Path) -> Result<RequestLog> {
        use std::os::unix::fs::OpenOptionsExt;
        // Owner-only: bodies hold edited configuration files and webhook payloads.
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot open request log {}", path.display()))?;
        Ok(RequestLog { file: Arc::new(Mutex::new(f)) })
    }
}

/// Header names (lower case, as `http` keeps them) whose values are credentials.
fn is_credential(name: &str) -> bool {
    matches!(name, "authorization" | "cookie" | "proxy-authorization")
        || name.ends_with("-token")
        || name.contains("-signature")
}

/// One request's line, written when its body is dropped (read to the end, or left unread
/// when the request was answered without it).
struct Entry {
    file: Arc<Mutex<std::fs::File>>,
    head: serde_json::Map<String, serde_json::Value>,
    /// The first [`MAX_LOGGED_BODY`] bytes the handler read, and how many more it read.
    body: Vec<u8>,
    more: usize,
    /// Whether the body was read to its end (or had none).
    complete: bool,
}

impl Entry {
    fn saw(&mut self, chunk: &[u8]) {
        let room = MAX_LOGGED_BODY - self.body.len();
        let kept = chunk.len().min(room);
        self.body.extend_from_slice(&chunk[..kept]);
        self.more += chunk.len() - kept;
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let mut line = std::mem::take(&mut self.head);
        let mut text = String::from_utf8_lossy(&self.body).into_owned();
        if self.more > 0 {
            text.push_str(&format!("… ({} more bytes)", self.more));
        }
        line.insert("body".into(), text.into());
        if !self.complete {
            // Answered before (or without) reading it all: 401 for an unsigned delivery, say.
            line.insert("body_unread".into(), true.into());
        }
        if let Ok(mut f) = self.file.lock() {
            if f.metadata().is_ok_and(|m| m.len() > MAX_LOG_BYTES) {
                line.insert("body".into(), format!("(not logged: the log is over {} MiB)", MAX_LOG_BYTES >> 20).into());
            }
            let _ = writeln!(f, "{}", serde_json::Value::Object(line));
        }
    }
}

/// The request's body as its handler reads it, copied into the [`Entry`] on the way.
struct Tee {
    inner: BodyDataStream,
    entry: Entry,
}

impl Stream for Tee {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(chunk))) => this.entry.saw(chunk),
            Poll::Ready(None) => this.entry.complete = true,
            _ => {}
        }
        polled
    }
}

pub async fn record(State(log): State<RequestLog>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
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
    let mut head = serde_json::Map::new();
    head.insert("method".into(), parts.method.as_str().into());
    head.insert("uri".into(), parts.uri.to_string().into());
    head.insert("headers".into(), headers.into());
    let complete = body.is_end_stream();
    let entry = Entry { file: log.file.clone(), head, body: Vec::new(), more: 0, complete };
    // Handed on unread: the handlers' own limits and checks apply, in their order.
    let body = Body::from_stream(Tee { inner: body.into_data_stream(), entry });
    next.run(Request::from_parts(parts, body)).await
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
