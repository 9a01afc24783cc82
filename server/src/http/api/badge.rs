//! `GET /api/projects/{name}/badge.svg?branch=BRANCH`: a status badge for a README.
//!
//! `running` while a run of the branch is queued or running (as shields.io's build badges say
//! while a build goes on), else the verdict of the branch's newest run that has one: `passing`
//! (success) or `failing` (failed, or stopped on an error of the server); `unknown` when there
//! is none. A cancelled or interrupted run says nothing about the code and is passed over.
//! Colours and shape are shields.io's "flat" style. The SVG holds no text from the request.
//!
//! Without the token only projects with `public_badge = true` answer; an unknown project and
//! a project whose badge is not public get the same 404, so the answer tells an anonymous
//! caller nothing about which projects exist. `Cache-Control: no-cache` with an `ETag`: a
//! README's image proxy (GitHub's camo) asks again each time and gets a 304 while it is the
//! same.

use super::{Api, ApiError, has_token};
use crate::runs::notifications::VERDICTS;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use slipway_core::run_state::RunStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Badge {
    Passing,
    Failing,
    Running,
    Unknown,
}

impl Badge {
    fn word(self) -> &'static str {
        match self {
            Badge::Passing => "passing",
            Badge::Failing => "failing",
            Badge::Running => "running",
            Badge::Unknown => "unknown",
        }
    }

    /// shields.io's colours: brightgreen, red, and lightgrey for the rest.
    fn colour(self) -> &'static str {
        match self {
            Badge::Passing => "#4c1",
            Badge::Failing => "#e05d44",
            Badge::Running | Badge::Unknown => "#9f9f9f",
        }
    }

    /// The message's width in pixels (Verdana 11px, as shields.io measures, plus padding).
    fn width(self) -> u32 {
        match self {
            Badge::Passing => 51,
            Badge::Failing => 43,
            Badge::Running => 53,
            Badge::Unknown => 61,
        }
    }

    pub fn svg(self) -> String {
        const LABEL: &str = "build";
        const LABEL_WIDTH: u32 = 37;
        let (word, colour, w) = (self.word(), self.colour(), self.width());
        let total = LABEL_WIDTH + w;
        let (lx, mx) = (LABEL_WIDTH as f32 / 2.0, LABEL_WIDTH as f32 + w as f32 / 2.0);
        format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label="{LABEL}: {word}"><title>{LABEL}: {word}</title><linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath><g clip-path="url(#r)"><rect width="{LABEL_WIDTH}" height="20" fill="#555"/><rect x="{LABEL_WIDTH}" width="{w}" height="20" fill="{colour}"/><rect width="{total}" height="20" fill="url(#s)"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11"><text x="{lx}" y="15" fill="#010101" fill-opacity=".3">{LABEL}</text><text x="{lx}" y="14">{LABEL}</text><text x="{mx}" y="15" fill="#010101" fill-opacity=".3">{word}</text><text x="{mx}" y="14">{word}</text></g></svg>"##
        )
    }
}

#[derive(Deserialize)]
pub struct BadgeQuery {
    branch: Option<String>,
}

pub async fn badge(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<BadgeQuery>,
) -> Result<Response, ApiError> {
    let m = &api.manager;
    let public = m.notifier().is_some_and(|n| n.public_badge(&name));
    let known = m.project(&name).is_some();
    let may_see = has_token(&api, &headers) || (known && public);
    if !may_see {
        return Err(ApiError::NotFound(format!(
            "no public badge for `{name}`: send the API token, or set `public_badge = true` in the project's [[project]] in slipway.toml"
        )));
    }
    if !known {
        return Err(ApiError::NotFound(format!("no project `{name}`")));
    }
    // Only compared with the runs' branches (the request line's own limit bounds it).
    let Some(branch) = q.branch.filter(|b| !b.is_empty()) else {
        return Err(ApiError::BadRequest("name the branch: `?branch=main` (a branch or tag)".into()));
    };
    let (store, project) = (m.store.clone(), name.clone());
    let state = tokio::task::spawn_blocking(move || -> anyhow::Result<Badge> {
        if store.newest_status(&project, &branch, &[RunStatus::Queued, RunStatus::Running], None)?.is_some() {
            return Ok(Badge::Running);
        }
        Ok(match store.newest_status(&project, &branch, &VERDICTS, None)? {
            Some(RunStatus::Success) => Badge::Passing,
            Some(_) => Badge::Failing,
            None => Badge::Unknown,
        })
    })
    .await
    .map_err(anyhow::Error::from)??;
    let etag = format!("\"slipway-badge-{}\"", state.word());
    let mut response = if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")], state.svg()).into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::ETAG, HeaderValue::from_str(&etag).map_err(anyhow::Error::from)?);
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}
