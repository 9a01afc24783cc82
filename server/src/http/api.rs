//! The JSON API: health, projects, validation, and runs (queue, status, live events over
//! Server-Sent Events with resume, cancel, approve). Mutating endpoints and run logs need the
//! bearer token.

use crate::cli::printer::Printer;
use crate::runs::{Manager, RunRequest};
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use slipway_core::SourceFile;
use std::convert::Infallible;
use std::sync::Arc;
use subtle::ConstantTimeEq;

#[derive(Clone)]
pub struct Api {
    pub manager: Arc<Manager>,
    pub token: Arc<String>,
}

/// Errors as responses: the message is for the client; nothing secret goes in it.
pub enum ApiError {
    BadRequest(String),
    NotFound(String),
    Unauthorized,
    Internal(anyhow::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "missing or wrong bearer token (see the token the server printed at first start)".into(),
            ),
            ApiError::Internal(e) => {
                eprintln!("slipway: internal error: {e:#}");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the server log".into())
            }
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Internal(e)
    }
}

pub fn router(api: Api) -> Router {
    let protected = Router::new()
        .route("/api/runs", post(create_run))
        .route("/api/runs/{id}/events", get(events))
        .route("/api/runs/{id}/log", get(log))
        .route("/api/runs/{id}/cancel", post(cancel))
        .route("/api/runs/{id}/approve", post(approve))
        .layer(axum::middleware::from_fn_with_state(api.clone(), require_token));
    Router::new()
        .route("/api/health", get(|| async { Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})) }))
        .route("/api/projects", get(projects))
        .route("/api/validate", post(validate))
        .route("/api/runs", get(list_runs))
        .route("/api/runs/{id}", get(get_run))
        .merge(protected)
        .with_state(api)
}

async fn require_token(State(api): State<Api>, headers: HeaderMap, req: Request, next: Next) -> Response {
    let given = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(t) if bool::from(t.as_bytes().ct_eq(api.token.as_bytes())) => next.run(req).await,
        _ => ApiError::Unauthorized.into_response(),
    }
}

async fn projects(State(api): State<Api>) -> Json<serde_json::Value> {
    // Names only: paths and keys stay on the server.
    Json(json!({ "projects": api.manager.projects.iter().map(|p| json!({"name": p.name})).collect::<Vec<_>>() }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidateBody {
    services: String,
    steps: String,
}

async fn validate(Json(body): Json<ValidateBody>) -> Json<slipway_core::Report> {
    let sv = SourceFile::new("codeship-services.yml", body.services);
    let st = SourceFile::new("codeship-steps.yml", body.steps);
    Json(slipway_core::check(&sv, &st).report)
}

async fn create_run(
    State(api): State<Api>,
    Json(req): Json<RunRequest>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    if api.manager.project(&req.project).is_none() {
        return Err(ApiError::BadRequest(format!("unknown project `{}`", req.project)));
    }
    let id = api.manager.submit(req)?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "id": id }))))
}

#[derive(Deserialize)]
struct Page {
    page: Option<u32>,
    per_page: Option<u32>,
}

async fn list_runs(State(api): State<Api>, Query(p): Query<Page>) -> Result<Json<serde_json::Value>, ApiError> {
    let (page, per_page) = (p.page.unwrap_or(1).max(1), p.per_page.unwrap_or(20).clamp(1, 100));
    let (runs, total) = api.manager.store.runs(page, per_page)?;
    Ok(Json(json!({ "runs": runs, "page": page, "per_page": per_page, "total": total })))
}

async fn get_run(State(api): State<Api>, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let run = api.manager.store.run(&id)?.ok_or_else(|| ApiError::NotFound(format!("no run {id}")))?;
    let steps = api.manager.store.steps(&id)?;
    let mut v = serde_json::to_value(run).map_err(anyhow::Error::from)?;
    v["steps"] = serde_json::to_value(steps).map_err(anyhow::Error::from)?;
    Ok(Json(v))
}

async fn cancel(State(api): State<Api>, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let run = api.manager.store.run(&id)?.ok_or_else(|| ApiError::NotFound(format!("no run {id}")))?;
    match api.manager.live(&id) {
        Some(live) => live.cancel.cancel(),
        None if run.status == "queued" => {
            api.manager.store.set_status(&id, "cancelled", Some("cancelled before it started"))?
        }
        None => return Err(ApiError::BadRequest(format!("run {id} is {}", run.status))),
    }
    Ok(Json(json!({ "id": id, "cancelling": true })))
}

async fn approve(State(api): State<Api>, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let live = api.manager.live(&id).ok_or_else(|| ApiError::BadRequest(format!("run {id} is not running")))?;
    live.approval.notify_one();
    Ok(Json(json!({ "id": id, "approved": true })))
}

/// Stored events read per query when a follower catches up.
const STORED_PAGE: u32 = 2000;

#[derive(Deserialize)]
struct After {
    after: Option<u64>,
}

/// Stored events after `Last-Event-ID` (or `?after=`), then live ones until the run ends.
async fn events(
    State(api): State<Api>,
    Path(id): Path<String>,
    Query(q): Query<After>,
    headers: HeaderMap,
) -> Result<Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let m = api.manager.clone();
    m.store.run(&id)?.ok_or_else(|| ApiError::NotFound(format!("no run {id}")))?;
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .or(q.after)
        .unwrap_or(0);
    let (tx, rx) = tokio::sync::mpsc::channel::<(u64, String)>(1024);
    tokio::spawn(async move {
        // Subscribe before reading the store so nothing falls between the two.
        let mut sub = m.live(&id).map(|l| l.events.subscribe());
        let mut last = after;
        loop {
            // Stored events first, a page at a time.
            loop {
                let page = m.store.events_after(&id, last, STORED_PAGE).unwrap_or_default();
                let full = page.len() == STORED_PAGE as usize;
                for (seq, data) in page {
                    if !forward(&tx, seq, data, &mut last).await {
                        return;
                    }
                }
                if !full {
                    break;
                }
            }
            let Some(s) = sub.as_mut() else {
                // Not live: finished (everything was sent above) or still queued.
                let status = m.store.run(&id).ok().flatten().map(|r| r.status).unwrap_or_default();
                if !matches!(status.as_str(), "queued" | "running") {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                sub = m.live(&id).map(|l| l.events.subscribe());
                continue;
            };
            match s.recv().await {
                Ok((seq, data)) if seq > last => {
                    if !forward(&tx, seq, data, &mut last).await {
                        return;
                    }
                }
                Ok(_) => {}
                // Fell behind or the run ended: catch up from the store.
                Err(_) => sub = None,
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let (seq, data) = rx.recv().await?;
        Some((Ok(SseEvent::default().id(seq.to_string()).data(data)), rx))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The whole log as text, as `slipway steps` prints it (without colours), streamed a page of
/// stored events at a time: the studio's "Download full log".
async fn log(State(api): State<Api>, Path(id): Path<String>) -> Result<Response, ApiError> {
    api.manager.store.run(&id)?.ok_or_else(|| ApiError::NotFound(format!("no run {id}")))?;
    let store = api.manager.store.clone();
    let file = format!("attachment; filename=\"slipway-run-{id}.log\"");
    let pages = futures_util::stream::unfold(Some(0u64), move |after| {
        let (store, id) = (store.clone(), id.clone());
        async move {
            let page = store.events_after(&id, after?, STORED_PAGE).ok().filter(|p| !p.is_empty())?;
            let next = (page.len() == STORED_PAGE as usize).then(|| page[page.len() - 1].0);
            let printer = Printer::plain();
            let mut text = String::new();
            for (_, data) in page {
                if let Some(line) = log_line(&printer, &data) {
                    text.push_str(&line);
                    text.push('\n');
                }
            }
            Some((Ok::<_, Infallible>(text), next))
        }
    });
    let headers =
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, file)];
    // Fused: the compression layer polls the body once more after its end, which a bare
    // `unfold` answers with a panic.
    Ok((headers, Body::from_stream(futures_util::StreamExt::fuse(pages))).into_response())
}

/// A stored event as a line of the log: the executor's events as the CLI prints them, the run's
/// end as `slipway: run STATUS`; the plan is not part of the log.
fn log_line(printer: &Printer, data: &str) -> Option<String> {
    if let Ok(ev) = serde_json::from_str::<crate::executor::events::Event>(data) {
        return Some(printer.line(ev));
    }
    let v: serde_json::Value = serde_json::from_str(data).ok()?;
    (v["event"] == "run_finished").then(|| match v["error"].as_str() {
        Some(e) => format!("slipway: run {}: {e}", v["status"].as_str().unwrap_or("")),
        None => format!("slipway: run {}", v["status"].as_str().unwrap_or("")),
    })
}

/// Send one event to the SSE client; false when the stream should end (the client left, or
/// this was the run's last event).
async fn forward(tx: &tokio::sync::mpsc::Sender<(u64, String)>, seq: u64, data: String, last: &mut u64) -> bool {
    let done = data.contains("\"event\":\"run_finished\"");
    if tx.send((seq, data)).await.is_err() {
        return false;
    }
    *last = seq;
    !done
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// Every route the router serves is in docs/openapi.yaml, and nothing else is: the
    /// document is written by hand, so this keeps the two from drifting apart.
    #[test]
    fn the_openapi_document_lists_exactly_the_served_routes() {
        let source = include_str!("api.rs");
        let served: BTreeSet<(String, String)> = source
            .split(".route(\"")
            .skip(1)
            .filter_map(|rest| {
                let (path, after) = rest.split_once("\", ")?;
                let method = after.split_once('(')?.0;
                Some((method.to_string(), path.to_string()))
            })
            .collect();
        assert!(served.len() >= 9, "route scan found too little: {served:?}");
        let doc = include_str!("../../../docs/openapi.yaml");
        let mut documented = BTreeSet::new();
        let mut path = None;
        for line in doc.lines() {
            if !line.starts_with(' ') {
                path = None; // a new top-level section: `paths:` only counts
                if line == "paths:" {
                    path = Some(String::new());
                }
            } else if let (Some(_), Some(p)) = (&path, line.strip_prefix("  /").and_then(|l| l.strip_suffix(':'))) {
                path = Some(format!("/{p}"));
            } else if let (Some(p), Some(m)) = (&path, line.strip_prefix("    ").and_then(|l| l.strip_suffix(':')))
                && matches!(m, "get" | "post" | "put" | "delete" | "patch")
            {
                documented.insert((m.to_string(), p.clone()));
            }
        }
        assert_eq!(served, documented);
    }
}
