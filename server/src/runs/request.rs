//! What a run is asked to do: `POST /api/runs`'s body, kept with the run.

use crate::build_values::BuildValues;
use serde::Deserialize;

/// What `POST /api/runs` takes.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    pub project: String,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub push: bool,
    #[serde(default)]
    pub ci: CiValues,
    /// Edited files that replace the project's for this run only.
    #[serde(default)]
    pub services: Option<String>,
    #[serde(default)]
    pub steps: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CiValues {
    pub branch: Option<String>,
    pub commit_id: Option<String>,
    pub commit_message: Option<String>,
    pub committer_name: Option<String>,
    pub committer_email: Option<String>,
    pub build_id: Option<String>,
    pub timestamp: Option<i64>,
}

impl RunRequest {
    /// The request's values for the build helper the CLI uses too; a run's build id defaults
    /// to the run's id, its repository name to the project's.
    pub(super) fn build_values(&self, run_id: &str, project: &str) -> BuildValues {
        let ci = &self.ci;
        BuildValues {
            tag: self.tag.clone(),
            branch: ci.branch.clone(),
            commit_id: ci.commit_id.clone(),
            commit_message: ci.commit_message.clone(),
            committer_name: ci.committer_name.clone(),
            committer_email: ci.committer_email.clone(),
            build_id: Some(ci.build_id.clone().unwrap_or_else(|| run_id.to_string())),
            repo_name: Some(project.to_string()),
            timestamp: ci.timestamp,
            ..BuildValues::default()
        }
    }
}
