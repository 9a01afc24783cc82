//! Talking to `slipway serve`'s run API from the page, same origin only (the CSP allows no
//! other). Run events are read with `fetch` and a stream reader rather than `EventSource`,
//! because `EventSource` cannot send the bearer token.

use crate::wire::FromJson;
use gloo::storage::{SessionStorage, Storage};
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, ReadableStreamDefaultReader, RequestInit, Response};

const TOKEN_KEY: &str = "slipway.token";

/// The API token, kept for this tab only (session storage), never in local storage.
pub fn saved_token() -> Option<String> {
    SessionStorage::get::<String>(TOKEN_KEY).ok().filter(|t| !t.is_empty())
}

/// Fired on the window when the token is saved or forgotten, wherever on the page: the project
/// header and the Run panel each ask for it, and one answer serves both.
pub const TOKEN_EVENT: &str = "slipway-token";

pub fn save_token(token: Option<&str>) {
    match token {
        Some(t) => {
            let _ = SessionStorage::set(TOKEN_KEY, t);
        }
        None => SessionStorage::delete(TOKEN_KEY),
    }
    if let Ok(e) = web_sys::Event::new(TOKEN_EVENT) {
        let _ = gloo::utils::window().dispatch_event(&e);
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// 401: no token or the wrong one.
    Unauthorized,
    /// The server answered with an error; its message.
    Server(u16, String),
    /// No answer, or not the run API (a page served by `trunk serve`, say).
    Unreachable(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Unauthorized => {
                f.write_str("the server refused the token; enter the one it printed at first start")
            }
            ApiError::Server(code, m) => write!(f, "the server answered {code}: {m}"),
            ApiError::Unreachable(m) => {
                write!(f, "cannot reach the run API ({m}): is `slipway serve` still running? Reload when it is.")
            }
        }
    }
}

/// A failed browser call: an `Error`'s message (a `TypeError` serialises as `{}`), else the
/// value as text.
fn js_err(e: JsValue) -> ApiError {
    let message = match e.dyn_ref::<js_sys::Error>() {
        Some(error) => String::from(error.message()),
        None => e.as_string().or_else(|| js_sys::JSON::stringify(&e).ok().map(String::from)).unwrap_or_default(),
    };
    ApiError::Unreachable(message)
}

async fn fetch(method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Result<Response, ApiError> {
    let init = RequestInit::new();
    init.set_method(method);
    let headers = Headers::new().map_err(js_err)?;
    if let Some(t) = token {
        headers.set("Authorization", &format!("Bearer {t}")).map_err(js_err)?;
    }
    if let Some(b) = body {
        headers.set("Content-Type", "application/json").map_err(js_err)?;
        init.set_body(&JsValue::from_str(b));
    }
    init.set_headers(&headers);
    let promise = gloo::utils::window().fetch_with_str_and_init(path, &init);
    let response: Response = JsFuture::from(promise).await.map_err(js_err)?.unchecked_into();
    match response.status() {
        200..=299 => Ok(response),
        401 => Err(ApiError::Unauthorized),
        code => {
            let text = text(&response).await.unwrap_or_default();
            let message = serde_json::from_slice::<serde_json::Value>(text.as_bytes())
                .ok()
                .and_then(|b| Some(b.get("error")?.as_str()?.to_string()))
                .unwrap_or_else(|| "not the Slipway run API".into());
            Err(ApiError::Server(code, message))
        }
    }
}

async fn text(response: &Response) -> Result<String, ApiError> {
    let promise = response.text().map_err(js_err)?;
    Ok(JsFuture::from(promise).await.map_err(js_err)?.as_string().unwrap_or_default())
}

/// A request with an optional JSON body (serialised by the caller); the answer read as `T`.
/// Parsed by `serde_json::from_slice` into a `Value`, the parser the core already has.
pub async fn json<T: FromJson>(
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<String>,
) -> Result<T, ApiError> {
    let response = fetch(method, path, token, body.as_deref()).await?;
    let t = text(&response).await?;
    serde_json::from_slice(t.as_bytes())
        .ok()
        .and_then(|v| T::from_json(&v))
        .ok_or_else(|| ApiError::Unreachable(format!("{path} did not answer as expected")))
}

/// A response body as bytes (the full log for download).
pub async fn bytes(path: &str, token: &str) -> Result<Vec<u8>, ApiError> {
    let response = fetch("GET", path, Some(token), None).await?;
    let buffer = JsFuture::from(response.array_buffer().map_err(js_err)?).await.map_err(js_err)?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// Read a streaming response chunk by chunk; `on_chunk` returns false to stop early (the
/// stream is then cancelled). Ends when the server closes the stream.
pub async fn stream(path: &str, token: &str, mut on_chunk: impl FnMut(&[u8]) -> bool) -> Result<(), ApiError> {
    let response = fetch("GET", path, Some(token), None).await?;
    let body = response.body().ok_or_else(|| ApiError::Unreachable("empty event stream".into()))?;
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    loop {
        let result = JsFuture::from(reader.read()).await.map_err(js_err)?;
        if Reflect::get(&result, &"done".into()).map(|d| d.is_truthy()).unwrap_or(true) {
            return Ok(());
        }
        let chunk = Reflect::get(&result, &"value".into()).map_err(js_err)?;
        let bytes = chunk.dyn_into::<Uint8Array>().map(|a| a.to_vec()).unwrap_or_default();
        if !on_chunk(&bytes) {
            let _ = reader.cancel();
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ApiError;

    #[test]
    fn an_unreachable_server_says_what_to_do() {
        let shown = ApiError::Unreachable("Failed to fetch".into()).to_string();
        assert!(shown.contains("(Failed to fetch)") && shown.contains("is `slipway serve` still running?"), "{shown}");
    }
}
