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
    /// What started the run (a push, a pull request, a poll); none for runs started by hand.
    #[serde(default)]
    pub(super) trigger: Option<Trigger>,
    /// Why the forge was not told the run's status, if it was not.
    #[serde(default)]
    pub(super) status_error: Option<String>,
}

/// A run's trigger, as the server records it.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub(super) struct Trigger {
    /// `push`, `tag`, `pull_request` or `poll`.
    pub(super) kind: String,
    pub(super) branch: Option<String>,
    pub(super) tag: Option<String>,
    pub(super) commit_id: Option<String>,
    pub(super) commit_message: Option<String>,
    pub(super) author: Option<String>,
    pub(super) commit_url: Option<String>,
    pub(super) pr_number: Option<i64>,
    pub(super) delivery: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct RunList {
    pub(super) runs: Vec<RunSummary>,
}

#[derive(Deserialize)]
pub(super) struct ProjectList {
    pub(super) projects: Vec<Project>,
}

/// A project registered with the server (`GET /api/projects`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub(super) struct Project {
    pub(super) name: String,
    /// Older servers did not say; they had folder projects only.
    #[serde(default)]
    pub(super) kind: ProjectKind,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum ProjectKind {
    /// A folder on the server: runs start from the page.
    #[default]
    Folder,
    /// A repository: its runs start from a push (a webhook), never from the page.
    Repo,
}

/// Whether the page can start runs of project `name` (and load its files): a folder project's,
/// not a repository project's. A name the list does not have is left to the server to refuse.
pub(super) fn startable(projects: &[Project], name: &str) -> bool {
    projects.iter().find(|p| p.name == name).is_none_or(|p| p.kind != ProjectKind::Repo)
}

/// `GET /api/projects/{name}/files`.
#[derive(Deserialize)]
pub(super) struct ProjectFiles {
    pub(super) services: ProjectFile,
    pub(super) steps: ProjectFile,
}

#[derive(Deserialize)]
pub(super) struct ProjectFile {
    pub(super) text: String,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_projects_are_not_started_from_the_page() {
        let list: ProjectList = serde_json::from_str(
            r#"{"projects":[{"name":"app","kind":"folder"},{"name":"site","kind":"repo"},{"name":"old"}]}"#,
        )
        .unwrap();
        let kinds: Vec<ProjectKind> = list.projects.iter().map(|p| p.kind).collect();
        assert_eq!(kinds, [ProjectKind::Folder, ProjectKind::Repo, ProjectKind::Folder]);
        let can: Vec<bool> = ["app", "site", "old", "gone"].map(|n| startable(&list.projects, n)).into();
        assert_eq!(can, [true, false, true, true]);
    }
}
