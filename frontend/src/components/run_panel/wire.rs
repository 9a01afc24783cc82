//! The run API's bodies as the panel reads and sends them.

use serde::{Deserialize, Serialize};
use slipway_core::run_state::RunStatus;

/// A row of `GET /api/runs`.
#[derive(Clone, PartialEq, Deserialize)]
pub(super) struct RunSummary {
    pub(super) id: String,
    pub(super) project: String,
    pub(super) tag: Option<String>,
    pub(super) push: bool,
    pub(super) status: RunStatus,
    #[serde(default)]
    pub(super) error: Option<String>,
    pub(super) created_at: i64,
}

#[derive(Deserialize)]
pub(super) struct RunList {
    pub(super) runs: Vec<RunSummary>,
}

#[derive(Deserialize)]
pub(super) struct ProjectList {
    pub(super) projects: Vec<ProjectName>,
}

#[derive(Deserialize)]
pub(super) struct ProjectName {
    pub(super) name: String,
}

#[derive(Deserialize)]
pub(super) struct Created {
    pub(super) id: String,
}

/// The body of `POST /api/runs`; the files only when the editors' are used.
#[derive(Serialize)]
pub(super) struct NewRun<'a> {
    pub(super) project: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) tag: Option<&'a str>,
    pub(super) push: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) services: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) steps: Option<&'a str>,
}
