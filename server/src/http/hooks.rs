//! `POST /hooks/{project}`: webhook deliveries from GitHub, GitLab and Gitea/Forgejo.
//!
//! In this order, each step before the next reads anything more: the project must take
//! webhooks (404); the body must fit the limit (413, from `Content-Length` before a byte of it
//! is read, and while reading); the signature must match the project's secret (401) before the
//! body is parsed; then the event is understood (400 for a signed body that is not the
//! documented JSON). What builds nothing (other events, deleted branches, branches the filter
//! leaves out) is answered 202 with the reason; a delivery id seen before is answered 200
//! `duplicate`. A build is queued and answered 202 at once: the work happens afterwards.
//! No token is needed: the signature is the authentication.

use super::error::{ApiError, BODY_READ_TIMEOUT};
use crate::forge::trigger::{self, Trigger};
use crate::forge::verify::{self, DEFAULT_MAX_BODY_BYTES};
use crate::runs::trigger::RunTrigger;
use crate::runs::{Manager, Submitted};
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;

#[derive(Clone)]
pub struct Hooks {
    pub manager: Arc<Manager>,
    /// The most a delivery body may have (GitHub's own cap by default).
    pub max_body_bytes: usize,
}

pub fn router(manager: Arc<Manager>) -> Router {
    Router::new()
        .route("/hooks/{project}", post(deliver))
        .with_state(Hooks { manager, max_body_bytes: DEFAULT_MAX_BODY_BYTES })
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

fn too_large(limit: usize) -> ApiError {
    ApiError::Rejected(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is larger than the limit of {limit} bytes"))
}

/// Whether reading the body failed because it passed the limit (and not on a broken connection).
fn over_limit(e: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

async fn deliver(State(hooks): State<Hooks>, Path(name): Path<String>, req: Request) -> Result<Response, ApiError> {
    let manager = &hooks.manager;
    let project = manager.project(&name).and_then(|p| p.repo.clone());
    let (Some(repo), Some(forge)) = (project.as_ref(), project.as_ref().and_then(|r| r.config.forge)) else {
        return Err(ApiError::NotFound(format!("no repository project `{name}` takes webhooks")));
    };
    let Some(secret) = repo.webhook_secret.clone() else {
        return Err(ApiError::NotFound(format!(
            "project `{name}` has no webhook secret (`webhook_secret_file`), so it takes no webhooks"
        )));
    };
    let limit = hooks.max_body_bytes;
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let (parts, body) = req.into_parts();
    let body: Body = body;
    let bytes = match tokio::time::timeout(BODY_READ_TIMEOUT, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(b)) => b,
        // `to_bytes` fails on a body over the limit, or on a connection that broke.
        Ok(Err(e)) if over_limit(&e) => return Err(too_large(limit)),
        Ok(Err(e)) => {
            tracing::warn!(project = %name, "webhook body not read: {e}");
            return Err(ApiError::BadRequest("the body ended early (the connection broke while it was sent)".into()));
        }
        Err(_) => {
            return Err(ApiError::Rejected(
                StatusCode::REQUEST_TIMEOUT,
                format!("the body did not arrive within {} s", BODY_READ_TIMEOUT.as_secs()),
            ));
        }
    };
    let verified = match verify::verify(forge, &secret, &parts.headers, &bytes, limit) {
        Ok(v) => v,
        Err(refused) => {
            tracing::warn!(project = %name, "webhook refused: {refused}");
            return Err(ApiError::Rejected(refused.status(), refused.to_string()));
        }
    };
    let build = match trigger::parse(&verified).map_err(|e| ApiError::BadRequest(e.to_string()))? {
        Trigger::Build(b) => b,
        Trigger::Deleted { git_ref } => {
            return Ok(answer(
                StatusCode::ACCEPTED,
                json!({"queued": false, "reason": format!("{git_ref} was deleted")}),
            ));
        }
        Trigger::Ignored(reason) => {
            return Ok(answer(StatusCode::ACCEPTED, json!({"queued": false, "reason": reason})));
        }
    };
    if !repo.config.filter.matches(build.branch()) {
        let reason =
            format!("`{}` is not among the branches this project builds (`branches`/`exclude`)", build.branch());
        return Ok(answer(StatusCode::ACCEPTED, json!({"queued": false, "reason": reason})));
    }
    let run_trigger = RunTrigger::from_build(&build);
    match manager.submit_triggered(&name, run_trigger)? {
        Submitted::Queued { id, superseded } => {
            Ok(answer(StatusCode::ACCEPTED, json!({"queued": true, "id": id, "superseded": superseded})))
        }
        Submitted::Late { id, superseded_by } => Ok(answer(
            StatusCode::ACCEPTED,
            json!({"queued": true, "id": id, "superseded": [], "superseded_by": superseded_by,
                   "reason": "a later push's delivery arrived first: this run was cancelled"}),
        )),
        Submitted::Duplicate(id) => Ok(answer(
            StatusCode::OK,
            json!({"queued": false, "duplicate": true, "id": id, "reason": "this delivery id was received before"}),
        )),
    }
}
