//! `POST /hooks/{project}`: webhook deliveries from GitHub, GitLab and Gitea/Forgejo.
//!
//! In this order, each step before the next reads anything more: the project must take
//! webhooks (404); the signature header must be there and well-formed, or GitLab's token must
//! match (401), before a byte of the body is read; the body must fit the limit (413, from
//! `Content-Length` before a byte of it is read, and while reading), and at most
//! [`MAX_IN_FLIGHT`] bodies are read at once, at most [`hook_intake::MAX_PER_ADDRESS`] from one
//! address (503 with `Retry-After` beyond: a flood of well-formed but wrong signatures holds at
//! most that many bodies in memory), each arriving at [`hook_intake::MIN_RATE`] after
//! [`hook_intake::GRACE`] (408 for a slower one: slow senders do not hold the slots); the signature
//! must match the project's secret (401) before the body is parsed; then the event is
//! understood (400 for a signed body that is not the documented JSON). What builds nothing
//! (other events, deleted branches, branches the filter leaves out, forks' pull requests when
//! the project takes none, a head commit whose message holds `[skip ci]`: see
//! `runs::skip_ci`) is answered 202 with the reason; a delivery id seen before, a
//! commit a run of its branch is building already, a tag's commit built before, or a push
//! that queued a run before (by its ref, `before` and `after`, however long ago: a replay under
//! a new id, see `store/triggered.rs`) is answered 200 `duplicate`. A build is
//! queued and answered 202 once its commit is known to be its ref's head (at most
//! [`HEAD_CHECK_WAIT`]; a late delivery is answered `late` and builds nothing): the work
//! happens afterwards. No token is needed: the signature is the authentication.

use super::error::{ApiError, BODY_READ_TIMEOUT};
use super::hook_intake::{self, AddressSlots, BodyError, ClientAddress};
use crate::config::ForkPolicy;
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
use std::time::Duration;
use tokio::sync::Semaphore;

/// Deliveries whose bodies are read at once, over all projects: with GitHub's 25 MiB cap, at
/// most 200 MiB held. Forges send a project's deliveries one after the other, so a busy
/// server sees a few at a time.
pub const MAX_IN_FLIGHT: usize = 8;

/// How long the answer waits for the head check (a fetch of the mirror) before it says the run
/// is queued without it: GitHub gives up on a delivery after 10 s.
pub const HEAD_CHECK_WAIT: Duration = Duration::from_secs(5);

/// What a client over [`MAX_IN_FLIGHT`] is told to wait, in seconds.
const RETRY_AFTER_SECS: u64 = 5;

#[derive(Clone)]
pub struct Hooks {
    pub manager: Arc<Manager>,
    /// The most a delivery body may have (GitHub's own cap by default).
    pub max_body_bytes: usize,
    /// Bodies being read or checked, at most [`MAX_IN_FLIGHT`].
    pub in_flight: Arc<Semaphore>,
    /// The same, per client address.
    pub per_address: Arc<AddressSlots>,
}

pub fn router(manager: Arc<Manager>) -> Router {
    Router::new().route("/hooks/{project}", post(deliver)).with_state(Hooks {
        manager,
        max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        per_address: Arc::default(),
    })
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

fn too_large(limit: usize) -> ApiError {
    ApiError::Rejected(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is larger than the limit of {limit} bytes"))
}

async fn deliver(State(hooks): State<Hooks>, Path(name): Path<String>, req: Request) -> Result<Response, ApiError> {
    let manager = &hooks.manager;
    let project = manager.project(&name).and_then(|p| p.repo().cloned());
    let (Some(repo), Some(forge)) = (project.as_ref(), project.as_ref().and_then(|r| r.config.forge)) else {
        return Err(ApiError::NotFound(format!("no repository project `{name}` takes webhooks")));
    };
    let Some(secret) = repo.webhook_secret.clone() else {
        return Err(ApiError::NotFound(format!(
            "project `{name}` has no webhook secret (`webhook_secret_file`), so it takes no webhooks"
        )));
    };
    // Before the body: no request without a well-formed signature gets a byte of it read.
    if let Err(refused) = verify::precheck(forge, &secret, req.headers()) {
        tracing::warn!(project = %name, "webhook refused: {refused}");
        return Err(ApiError::Rejected(refused.status(), refused.to_string()));
    }
    let limit = hooks.max_body_bytes;
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    // Both held until the body is checked and dropped (the end of this function, or the
    // `drop`s below). The client's address is there when `serve` accepted the connection.
    let peer = req.extensions().get::<ClientAddress>().map(|c| c.0);
    let Some(address_slot) = hooks.per_address.try_acquire(peer) else {
        let from = peer.map_or("this client".to_string(), |p| p.to_string());
        tracing::warn!(project = %name, "webhook turned away: {} deliveries from {from} are being read already",
            hook_intake::MAX_PER_ADDRESS);
        return Err(ApiError::Busy {
            retry_after: RETRY_AFTER_SECS,
            message: format!(
                "{} webhook deliveries from your address are being received already; try again shortly",
                hook_intake::MAX_PER_ADDRESS
            ),
        });
    };
    let Ok(slot) = hooks.in_flight.clone().try_acquire_owned() else {
        tracing::warn!(project = %name, "webhook turned away: {MAX_IN_FLIGHT} deliveries are being read already");
        return Err(ApiError::Busy {
            retry_after: RETRY_AFTER_SECS,
            message: format!("{MAX_IN_FLIGHT} webhook deliveries are being received already; try again shortly"),
        });
    };
    let (parts, body) = req.into_parts();
    let body: Body = body;
    let bytes = match hook_intake::read_body(body, limit, BODY_READ_TIMEOUT).await {
        Ok(b) => b,
        Err(BodyError::TooLarge { limit }) => return Err(too_large(limit)),
        Err(e @ (BodyError::TooSlow { .. } | BodyError::TimedOut { .. })) => {
            tracing::warn!(project = %name, "webhook body dropped: {e}");
            return Err(ApiError::Rejected(StatusCode::REQUEST_TIMEOUT, e.to_string()));
        }
        Err(e) => {
            if let BodyError::Broken(why) = &e {
                tracing::warn!(project = %name, "webhook body not read: {why}");
            }
            return Err(ApiError::BadRequest(e.to_string()));
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
    if build.origin.is_fork() && repo.config.fork_pull_requests == ForkPolicy::Off {
        let reason = "pull requests from forks start no run in this project (`fork_pull_requests = \"off\"`)";
        return Ok(answer(StatusCode::ACCEPTED, json!({"queued": false, "reason": reason})));
    }
    let run_trigger = RunTrigger::from_build(&build, repo.config.host.as_deref());
    // The body is parsed: the next delivery may be read while this one's head is checked.
    drop(slot);
    drop(address_slot);
    match manager.submit_triggered(&name, run_trigger, HEAD_CHECK_WAIT).await? {
        Submitted::Queued { id, superseded, confirmed } => Ok(answer(
            StatusCode::ACCEPTED,
            json!({"queued": true, "id": id, "superseded": superseded, "head_checked": confirmed}),
        )),
        Submitted::Late { id, superseded_by, reason } => Ok(answer(
            StatusCode::ACCEPTED,
            json!({"queued": true, "late": true, "id": id, "superseded": [], "superseded_by": superseded_by,
                   "reason": reason}),
        )),
        Submitted::Duplicate(id) => Ok(answer(
            StatusCode::OK,
            json!({"queued": false, "duplicate": true, "id": id, "reason": "this delivery id was received before"}),
        )),
        Submitted::SameCommit(id) => Ok(answer(
            StatusCode::OK,
            json!({"queued": false, "duplicate": true, "id": id,
                   "reason": format!("run {id} builds this commit of this branch already, or built this tag")}),
        )),
        Submitted::Replayed(id) => Ok(answer(
            StatusCode::OK,
            json!({"queued": false, "duplicate": true, "replayed": true, "id": id,
                   "reason": format!("this push was delivered before and queued run {id} (which may have been \
                                      deleted since): a delivery of it again builds nothing, whatever its id")}),
        )),
        Submitted::Skipped { reason } => {
            Ok(answer(StatusCode::ACCEPTED, json!({"queued": false, "skipped": true, "reason": reason})))
        }
        Submitted::Filtered { reason } => Ok(answer(StatusCode::ACCEPTED, json!({"queued": false, "reason": reason}))),
    }
}
