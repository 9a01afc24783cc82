//! The project the studio is served with (`slipway serve --project NAME=PATH`, or a
//! `[[project]]` with a repository): which one the page opens (`#/projects/{name}`, else the
//! first), and its files and commit values from the server. Served without projects, or as a static page, the page keeps the example.

use crate::server_api::{self, ApiError};
use crate::state::CommitValues;
use crate::token_share;
use crate::wire::{FromJson, Project, ProjectList};
use serde_json::Value;

const PREFIX: &str = "#/projects/";

/// What the page is served with.
/// (No `Debug`: it would cost the download for nothing shown.)
#[derive(Clone, PartialEq)]
pub enum Served {
    /// Asking the server for its projects.
    Checking,
    /// No run API (a static page), or a server without projects: the example project.
    Example,
    Projects {
        list: Vec<Project>,
        current: String,
        status: Status,
    },
}

/// Where opening the current project stands.
#[derive(Clone, PartialEq)]
pub enum Status {
    Loading,
    /// The files need the API token; `refused`: the one given was wrong.
    NeedsToken {
        refused: bool,
    },
    Loaded(Commit),
    Failed(String),
}

/// Where the preview's build values come from.
#[derive(Clone, PartialEq)]
pub enum Commit {
    /// The folder's git checkout, or the commit of a repository project's mirror the server
    /// answered with: the values a run takes.
    Git(CommitValues),
    /// Not a git checkout (the server's words): the values stay editable examples.
    NoGit(String),
}

/// `GET /api/projects/{name}/files` with its `build` values.
pub struct Opened {
    pub services: String,
    pub steps: String,
    pub commit: Commit,
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)?.as_str().map(str::to_string)
}

impl FromJson for Opened {
    fn from_json(v: &Value) -> Option<Self> {
        let b = v.get("build")?;
        let commit = match b.get("source")?.as_str()? {
            "git" => Commit::Git(CommitValues {
                branch: text(b, "branch"),
                commit_id: text(b, "commit_id")?,
                message: text(b, "commit_message").unwrap_or_default(),
                committer: text(b, "committer_name").unwrap_or_default(),
            }),
            "none" => Commit::NoGit(text(b, "reason").unwrap_or_default()),
            _ => return None,
        };
        Some(Opened { services: text(v.get("services")?, "text")?, steps: text(v.get("steps")?, "text")?, commit })
    }
}

/// The project named by a `#/projects/{name}` fragment (percent-decoded).
pub fn project_of(hash: &str) -> Option<String> {
    let raw = hash.strip_prefix(PREFIX)?.trim_end_matches('/');
    let name = js_sys::decode_uri_component(raw).ok().map(String::from)?;
    (!name.is_empty()).then_some(name)
}

pub fn in_address() -> Option<String> {
    project_of(&gloo::utils::window().location().hash().ok()?)
}

/// Name project `name` in the address, so the page can be shared or reloaded on it.
pub fn show(name: &str) {
    let location = gloo::utils::window().location();
    let want = format!("{PREFIX}{}", String::from(js_sys::encode_uri_component(name)));
    if location.hash().ok().as_deref() != Some(want.as_str()) {
        let _ = location.set_hash(&want[1..]);
    }
}

/// The server's projects; `None` when there is no run API (or it has no projects).
pub async fn list() -> Option<Vec<Project>> {
    let list = server_api::json::<ProjectList>("GET", "/api/projects", None, None).await.ok()?;
    (!list.projects.is_empty()).then_some(list.projects)
}

/// The project the page opens: the address's, when the server has it, else the first.
pub fn pick(list: &[Project], wanted: Option<String>) -> String {
    wanted.filter(|w| list.iter().any(|p| &p.name == w)).unwrap_or_else(|| list[0].name.clone())
}

/// How a fetch of the files ended, besides the files.
pub enum Fetched {
    /// The files, and whether the token came from another tab just now.
    Files(Box<Opened>, bool),
    Status(Status),
}

/// The files and commit values of `project` (a folder's, or a repository's from the server's
/// mirror of it), with this tab's token, else another tab's; a refused token is forgotten, so
/// the page asks again.
pub async fn fetch(project: &Project) -> Fetched {
    let (token, from_tab) = match server_api::saved_token() {
        Some(t) => (t, false),
        None => match token_share::ask_other_tabs().await {
            Some(t) => {
                server_api::save_token(Some(&t));
                (t, true)
            }
            None => return Fetched::Status(Status::NeedsToken { refused: false }),
        },
    };
    let path = format!("/api/projects/{}/files", String::from(js_sys::encode_uri_component(&project.name)));
    match server_api::json::<Opened>("GET", &path, Some(&token), None).await {
        Ok(o) => Fetched::Files(Box::new(o), from_tab),
        Err(ApiError::Unauthorized) => {
            // Unless another one was entered meanwhile (in the Run panel, say).
            if server_api::saved_token().as_deref() == Some(token.as_str()) {
                server_api::save_token(None);
            }
            Fetched::Status(Status::NeedsToken { refused: true })
        }
        // A repository the server has not fetched yet: its own words say when it will be.
        Err(ApiError::Server(409, m)) => Fetched::Status(Status::Failed(m)),
        Err(e) => Fetched::Status(Status::Failed(e.to_string())),
    }
}
