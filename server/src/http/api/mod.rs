//! The JSON API: health, projects (and their configuration files), validation, and runs (queue, status, live events over
//! Server-Sent Events with resume, cancel, approve). Mutating endpoints and run logs need the
//! bearer token. Every error is JSON (`ApiError`), 409 when the run's state forbids the request.

mod badge;
mod project_build;
mod repo_files;

use super::cpu::CpuLimit;
pub use super::error::ApiError;
use super::error::{ApiJson, ApiQuery};
use crate::project::ConfigFile;
use crate::run_log::LogLines;
use crate::runs::{Control, Manager, Project, ProjectKind, RunRequest, STORED_PAGE};
use axum::body::Body;
use axum::extract::{Path, Request, State};
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

pub fn router(api: Api) -> Router {
    let protected = Router::new()
        .route("/api/projects/{name}/files", get(project_files))
        .route("/api/runs", post(create_run))
        .route("/api/runs/{id}/events", get(events))
        .route("/api/runs/{id}/log", get(log))
        .route("/api/runs/{id}/cancel", post(cancel))
        .route("/api/runs/{id}/approve", post(approve))
        .route("/api/runs/{id}/rerun", post(rerun))
        .layer(axum::middleware::from_fn_with_state(api.clone(), require_token));
    let validations = Arc::new(CpuLimit::for_validation());
    Router::new()
        .route("/api/health", get(|| async { Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})) }))
        .route("/api/projects", get(projects))
        .route("/api/projects/{name}/badge.svg", get(badge::badge))
        .route("/api/validate", post(validate).with_state(validations))
        .route("/api/runs", get(list_runs))
        .route("/api/runs/{id}", get(get_run))
        .merge(protected)
        .with_state(api)
}

/// Whether the request carries the API token (compared in constant time).
pub(super) fn has_token(api: &Api, headers: &HeaderMap) -> bool {
    let given = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    given.is_some_and(|t| bool::from(t.as_bytes().ct_eq(api.token.as_bytes())))
}

async fn require_token(State(api): State<Api>, headers: HeaderMap, req: Request, next: Next) -> Response {
    if has_token(&api, &headers) { next.run(req).await } else { ApiError::Unauthorized.into_response() }
}

/// Runs are listed without the token (a team's status board), but what triggered a repository
/// run (a private repository's commit messages, authors, links) and why its commit status
/// failed are shown only to a client with the token.
fn redact_for_public(run: &mut crate::store::RunRow) {
    run.trigger = None;
    run.status_error = None;
    run.node = None;
}

async fn projects(State(api): State<Api>) -> Json<serde_json::Value> {
    // Names and kinds only: paths, repository URLs and keys stay on the server. A repository
    // project's runs start from its forge, so the studio offers no Run for it.
    let kind = |p: &Project| match p.kind {
        ProjectKind::Repo(_) => "repo",
        ProjectKind::Folder { .. } => "folder",
    };
    let list: Vec<_> = api.manager.projects.iter().map(|p| json!({"name": p.name, "kind": kind(p)})).collect();
    Json(json!({ "projects": list }))
}

/// Queue a new run with the stored request of run `id` (the same project, files and values;
/// values that a run's decryption masked stay masked). A repository run is rerun from its forge.
async fn rerun(
    State(api): State<Api>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let stored = api.manager.store.request(&id)?.ok_or_else(|| no_run(&id))?;
    let (request, triggered) = (stored.request, stored.triggered);
    if triggered {
        return Err(ApiError::Unprocessable(format!(
            "run {id} was started by its repository: push again, or redeliver the webhook from the forge"
        )));
    }
    let req: RunRequest = serde_json::from_str(&request)
        .map_err(|e| ApiError::Unprocessable(format!("run {id}'s stored request cannot be read: {e}")))?;
    if api.manager.project(&req.project).is_none() {
        return Err(ApiError::Unprocessable(format!(
            "run {id}'s project `{}` is no longer registered on this server",
            req.project
        )));
    }
    let new = api.manager.submit(req)?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "id": new, "rerun_of": id }))))
}

/// The services and steps files of a project as a run of it would read them (the same names
/// in the same order, the same size limit), for the studio's editors, with the build values a
/// run takes from the folder's git checkout (`project_build`); for a repository project, from
/// one commit of the server's mirror (`repo_files`). Only these two texts and values: never
/// the key, never a decrypted file. Behind the token: the files may name private images,
/// registries and commands.
async fn project_files(State(api): State<Api>, Path(name): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let project = api.manager.project(&name).ok_or_else(|| ApiError::NotFound(format!("no project `{name}`")))?.clone();
    if let Some(repo) = project.repo().cloned() {
        let answer = tokio::task::spawn_blocking(move || repo_files::files(&project, &repo))
            .await
            .map_err(anyhow::Error::from)??;
        return Ok(Json(answer));
    }
    let files = tokio::task::spawn_blocking(move || {
        let (services, steps) =
            (read_config(&project, ConfigFile::Services)?, read_config(&project, ConfigFile::Steps)?);
        Ok::<_, ApiError>((services, steps, project_build::of_folder(project.dir())))
    })
    .await
    .map_err(anyhow::Error::from)??;
    let file = |f: &SourceFile| json!({ "name": f.name, "text": f.text });
    Ok(Json(json!({ "project": name, "services": file(&files.0), "steps": file(&files.1), "build": files.2 })))
}

/// One of a project's files, named as in the project (`codeship-services.yml`); errors name
/// it that way too, since the server's paths are not the client's business.
fn read_config(project: &Project, which: ConfigFile) -> Result<SourceFile, ApiError> {
    let Some(file) = crate::project::discover(project.dir(), which) else {
        let looked = which.candidates().join(", ");
        return Err(ApiError::NotFound(format!("project `{}` has no such file: looked for {looked}", project.name)));
    };
    crate::project::read_server_config(project.dir(), file).map_err(|e| {
        let dir = project.dir().display().to_string();
        let why = format!("{e:#}").replace(&dir, "the project folder");
        ApiError::Unprocessable(format!("cannot load {file} of project `{}`: {why}", project.name))
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidateBody {
    services: String,
    steps: String,
}

/// Needs no token, so its CPU work is bounded: on the blocking pool, a few at a time, within a
/// time budget (`CpuLimit`).
async fn validate(
    State(limit): State<Arc<CpuLimit>>,
    ApiJson(body): ApiJson<ValidateBody>,
) -> Result<Json<slipway_core::Report>, ApiError> {
    let report = limit
        .run(move || {
            let sv = SourceFile::new("codeship-services.yml", body.services);
            let st = SourceFile::new("codeship-steps.yml", body.steps);
            slipway_core::check(&sv, &st).report
        })
        .await?;
    Ok(Json(report))
}

async fn create_run(
    State(api): State<Api>,
    ApiJson(req): ApiJson<RunRequest>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    match api.manager.project(&req.project) {
        None => return Err(ApiError::BadRequest(format!("unknown project `{}`", req.project))),
        Some(p) if p.repo().is_some() => {
            let why = "is a repository project: its runs are started by webhooks or polling";
            return Err(ApiError::Unprocessable(format!("`{}` {why}", req.project)));
        }
        Some(_) => {}
    }
    for (field, tag) in [("tag", &req.tag), ("ci.branch", &req.ci.branch)] {
        if let Some(Err(e)) = tag.as_deref().map(slipway_core::plan::filter::check_tag) {
            return Err(ApiError::Unprocessable(format!("{field}: {e}")));
        }
    }
    let id = api.manager.submit(req)?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "id": id }))))
}

#[derive(Deserialize)]
struct Page {
    page: Option<u32>,
    per_page: Option<u32>,
    /// Only this project's runs.
    project: Option<String>,
    /// Only runs of this branch or tag.
    branch: Option<String>,
}

async fn list_runs(
    State(api): State<Api>,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<Page>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (page, per_page) = (p.page.unwrap_or(1).max(1), p.per_page.unwrap_or(20).clamp(1, 100));
    // An empty filter (a cleared field in a form) filters nothing.
    let given = |v: &Option<String>| v.as_deref().filter(|v| !v.is_empty()).map(str::to_string);
    let (project, branch) = (given(&p.project), given(&p.branch));
    let (mut runs, total) = api.manager.store.runs(project.as_deref(), branch.as_deref(), page, per_page)?;
    if !has_token(&api, &headers) {
        runs.iter_mut().for_each(redact_for_public);
    }
    Ok(Json(json!({ "runs": runs, "page": page, "per_page": per_page, "total": total })))
}

async fn get_run(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut run = api.manager.store.run(&id)?.ok_or_else(|| no_run(&id))?;
    let token = has_token(&api, &headers);
    if !token {
        redact_for_public(&mut run);
    }
    let steps = api.manager.store.steps(&id)?;
    let mut v = serde_json::to_value(run).map_err(anyhow::Error::from)?;
    v["steps"] = serde_json::to_value(steps).map_err(anyhow::Error::from)?;
    // Like `status_error`: what failed is for the project's people (it names the receivers' answers).
    let undelivered = if token { api.manager.store.notify_errors(&id)? } else { Vec::new() };
    if !undelivered.is_empty() {
        v["undelivered_notifications"] = serde_json::Value::Array(undelivered);
    }
    Ok(Json(v))
}

fn no_run(id: &str) -> ApiError {
    ApiError::NotFound(format!("no run {id}"))
}

/// A cancel or approve: 404 for an unknown run, 409 for one that has ended.
fn controlled(id: &str, outcome: Control, what: &str) -> Result<Json<serde_json::Value>, ApiError> {
    match outcome {
        Control::Done => Ok(Json(json!({ "id": id, what: true }))),
        Control::Ended(status) => Err(ApiError::Conflict(format!("run {id} has already ended ({status})"))),
        Control::Unknown => Err(no_run(id)),
    }
}

async fn cancel(State(api): State<Api>, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let outcome = api.manager.cancel(&id)?;
    controlled(&id, outcome, "cancelling")
}

async fn approve(State(api): State<Api>, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let outcome = api.manager.approve(&id)?;
    controlled(&id, outcome, "approved")
}

#[derive(Deserialize)]
struct After {
    after: Option<u64>,
}

/// Where a follower resumes: `Last-Event-ID` (an event number) wins over `?after=`.
fn resume_after(headers: &HeaderMap, query: Option<u64>) -> Result<u64, ApiError> {
    match headers.get("last-event-id") {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| ApiError::BadRequest("Last-Event-ID must be the number of an event (0, 1, 2, …)".into())),
        None => Ok(query.unwrap_or(0)),
    }
}

/// Stored events after `Last-Event-ID` (or `?after=`), then live ones until the run ends or
/// the client leaves.
async fn events(
    State(api): State<Api>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<After>,
    headers: HeaderMap,
) -> Result<Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let m = api.manager.clone();
    m.store.run(&id)?.ok_or_else(|| no_run(&id))?;
    let after = resume_after(&headers, q.after)?;
    let rx = m.follow(id, after);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let (seq, data) = rx.recv().await?;
        Some((Ok(SseEvent::default().id(seq.to_string()).data(data)), rx))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The whole log as text, as `slipway steps` prints it (without colours), streamed a page of
/// stored events at a time: the studio's "Download full log".
async fn log(State(api): State<Api>, Path(id): Path<String>) -> Result<Response, ApiError> {
    api.manager.store.run(&id)?.ok_or_else(|| no_run(&id))?;
    let store = api.manager.store.clone();
    let file = format!("attachment; filename=\"slipway-run-{id}.log\"");
    let pages = futures_util::stream::unfold(Some(0u64), move |after| {
        let (store, id) = (store.clone(), id.clone());
        async move {
            let page = store.events_after(&id, after?, STORED_PAGE).ok().filter(|p| !p.is_empty())?;
            let next = (page.len() == STORED_PAGE as usize).then(|| page[page.len() - 1].0);
            let lines = LogLines::plain();
            let mut text = String::new();
            for (_, data) in page {
                if let Some(line) = lines.stored_line(&data) {
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

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    /// Every route the router serves is in docs/openapi.yaml, and nothing else is, with the
    /// errors it can answer: the document is written by hand, so this keeps the two from
    /// drifting apart.
    #[test]
    fn the_openapi_document_lists_exactly_the_served_routes() {
        let source = [include_str!("mod.rs"), include_str!("../hooks.rs")].concat();
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
        let doc = include_str!("../../../../docs/openapi.yaml");
        let mut documented = BTreeSet::new();
        // Per operation: whether it needs the token, and the response codes it lists.
        let mut ops: BTreeMap<(String, String), (bool, BTreeSet<String>)> = BTreeMap::new();
        let mut path = None;
        let mut op = None;
        for line in doc.lines() {
            if !line.starts_with(' ') {
                path = None; // a new top-level section: `paths:` only counts
                op = None;
                if line == "paths:" {
                    path = Some(String::new());
                }
            } else if let (Some(_), Some(p)) = (&path, line.strip_prefix("  /").and_then(|l| l.strip_suffix(':'))) {
                path = Some(format!("/{p}"));
            } else if let (Some(p), Some(m)) = (&path, line.strip_prefix("    ").and_then(|l| l.strip_suffix(':')))
                && matches!(m, "get" | "post" | "put" | "delete" | "patch")
            {
                documented.insert((m.to_string(), p.clone()));
                op = Some((m.to_string(), p.clone()));
            } else if let Some(key) = &op {
                let entry = ops.entry(key.clone()).or_default();
                if line.starts_with("      security:") {
                    entry.0 = true;
                } else if let Some(code) = line.strip_prefix("        '").and_then(|l| l.get(..3)) {
                    entry.1.insert(code.to_string());
                }
            }
        }
        assert_eq!(served, documented);
        // The errors every such route can answer are documented, as JSON (`Error`).
        for ((method, path), (secured, codes)) in &ops {
            assert!(codes.iter().any(|c| c.starts_with('2')), "{method} {path} documents no success");
            if *secured {
                assert!(codes.contains("401"), "{method} {path} needs the token but documents no 401");
            }
            if path.contains("{id}") {
                assert!(codes.contains("404"), "{method} {path} documents no 404 for an unknown run");
            }
            if path.ends_with("}/cancel") || path.ends_with("}/approve") {
                assert!(codes.contains("409"), "{method} {path} documents no 409 for an ended run");
            }
        }
        for name in doc.split("$ref: '#/components/responses/").skip(1).filter_map(|r| r.split('\'').next()) {
            assert!(doc.contains(&format!("\n    {name}: ")), "components/responses/{name} is not defined");
        }
    }
}
