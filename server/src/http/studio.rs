//! The studio's files, embedded at build time from `dist/`, with content types, cache headers
//! and a Content-Security-Policy that lets the page talk to its own origin only.

use anyhow::Result;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The studio trunk built (build.rs sets `studio_built` when `dist/` holds one).
#[cfg(studio_built)]
#[derive(RustEmbed)]
#[folder = "../dist"]
struct Assets;

/// A page that says how to build the studio, for development builds made without it (a
/// release build without it fails instead: see build.rs).
#[cfg(not(studio_built))]
#[derive(RustEmbed)]
#[folder = "src/http/no-studio"]
struct Assets;

#[derive(Clone)]
struct Studio {
    csp: Arc<HeaderValue>,
}

pub fn router() -> Result<Router> {
    let studio = Studio { csp: Arc::new(HeaderValue::from_str(&csp())?) };
    Ok(Router::new().route("/", get(index)).route("/{*path}", get(asset)).with_state(studio))
}

/// The policy: everything from this origin only; `wasm-unsafe-eval` to instantiate the
/// WebAssembly module; the hashes of the index page's inline scripts (trunk's loader).
fn csp() -> String {
    let mut script_hashes = String::new();
    if let Some(index) = Assets::get("index.html") {
        for script in inline_scripts(&String::from_utf8_lossy(&index.data)) {
            use base64::Engine;
            let digest = Sha256::digest(script.as_bytes());
            script_hashes.push_str(&format!(" 'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest)));
        }
    }
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{script_hashes}; style-src 'self'; \
         connect-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'"
    )
}

/// Bodies of `<script>` elements without `src`.
fn inline_scripts(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let after = &rest[start..];
        let Some(open_end) = after.find('>') else { break };
        let tag = &after[..open_end];
        let body_start = open_end + 1;
        let Some(close) = after[body_start..].find("</script>") else { break };
        if !tag.contains(" src=") {
            out.push(after[body_start..body_start + close].to_string());
        }
        rest = &after[body_start + close..];
    }
    out
}

async fn index(State(s): State<Studio>) -> Response {
    serve("index.html", &s)
}

async fn asset(State(s): State<Studio>, Path(path): Path<String>) -> Response {
    if Assets::get(&path).is_some() {
        serve(&path, &s)
    } else if path == "api" || path.starts_with("api/") {
        // The API's errors are JSON, also for paths it does not have.
        super::error::ApiError::NotFound(format!("no API endpoint /{path}")).into_response()
    } else {
        (StatusCode::NOT_FOUND, "not found").into_response()
    }
}

fn serve(path: &str, s: &Studio) -> Response {
    let Some(file) = Assets::get(path) else { return (StatusCode::NOT_FOUND, "not found").into_response() };
    let mime = file.metadata.mimetype();
    // trunk puts a content hash in every asset name except index.html: cache those forever.
    let cache = if path == "index.html" { "no-cache" } else { "public, max-age=31536000, immutable" };
    let mut r = Response::new(Body::from(file.data.into_owned()));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::CONTENT_SECURITY_POLICY, (*s.csp).clone());
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_inline_scripts_only() {
        let html = r#"<script src="/a.js"></script><script type="module">import x;</script>"#;
        assert_eq!(inline_scripts(html), ["import x;"]);
    }
}
