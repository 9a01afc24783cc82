//! The one type for a project the server runs: a folder, or a repository whose runs check out
//! the commit that triggered them. slipway.toml's `[[project]]` (`config::ProjectSource`) and
//! `--project NAME=PATH` are how it is written; this is what the server holds.

use super::repo::RepoSetup;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct Project {
    pub name: String,
    /// The project key (`--key`, `key =`); a folder's `codeship.aes` is found by discovery.
    pub key: Option<PathBuf>,
    pub kind: ProjectKind,
}

#[derive(Clone, Debug)]
pub enum ProjectKind {
    /// Runs read the folder's files (or the studio's edited ones).
    Folder { dir: PathBuf },
    /// Runs check out the commit that triggered them, under the setup's checkouts folder.
    Repo(Arc<RepoSetup>),
}

impl Project {
    pub fn folder(name: String, dir: PathBuf, key: Option<PathBuf>) -> Project {
        Project { name, key, kind: ProjectKind::Folder { dir } }
    }

    pub fn from_repo(setup: RepoSetup) -> Project {
        Project {
            name: setup.config.name.clone(),
            key: setup.config.key.clone(),
            kind: ProjectKind::Repo(Arc::new(setup)),
        }
    }

    /// A folder project's folder; a repository project's checkouts folder.
    pub fn dir(&self) -> &Path {
        match &self.kind {
            ProjectKind::Folder { dir } => dir,
            ProjectKind::Repo(setup) => &setup.checkouts,
        }
    }

    /// A repository project's setup (mirror, secrets, statuses).
    pub fn repo(&self) -> Option<&Arc<RepoSetup>> {
        match &self.kind {
            ProjectKind::Repo(setup) => Some(setup),
            ProjectKind::Folder { .. } => None,
        }
    }
}
