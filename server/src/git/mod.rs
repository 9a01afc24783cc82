//! Repositories as projects: a cached bare mirror per project under the data dir, a fresh
//! checkout of exactly one commit per run, a commit's files read from the mirror without a
//! checkout (for the studio), and `git ls-remote` for polling.
//!
//! Every git runs through [`crate::gitinfo::git_command`] (no hooks, no fsmonitor, no pager,
//! no system config, no prompts). A token reaches git only as an `http.<url>.extraHeader`
//! passed in the environment (`GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`),
//! scoped to the repository's scheme, host and port: it is never in a URL, an argument (so
//! not in `ps` either), `.git/config` or an error, and a submodule on another host never
//! sees it. A fork's pull request fetches its submodules with no credentials at all
//! ([`Submodules::WithoutCredentials`]): its `.gitmodules` could name any repository on the
//! project's host that the token reads.
//!
//! A project's own ssh key ([`SshAuth`]) reaches git only as the `GIT_SSH_COMMAND` of its
//! commands: that key alone, no agent, no `~/.ssh/config`, no prompt, and host keys checked
//! against a file of the project's. The key stays where it is: never copied, never in
//! `.git/config`, never in a workspace.
//!
//! [`remote`] says how git reaches a repository (its credentials, [`ssh`] for a project's own
//! key), [`command`] runs one git under a deadline, [`mirror`] keeps the mirror and makes the
//! checkouts, [`ls_remote`] lists a remote's branches for polling.

mod command;
mod ls_remote;
mod mirror;
mod remote;
mod snapshot;
mod ssh;

pub use ls_remote::{Head, ls_remote};
pub use mirror::{Mirror, Submodules, Update, Workspace, prune_kept};
pub use remote::{DEFAULT_TIMEOUT, HttpAuth, Remote};
pub use snapshot::{BranchHead, CommitValues, FileError};
pub use ssh::{KnownHosts, SshAuth};
use std::time::Duration;

#[derive(Debug)]
pub enum GitError {
    /// git could not be started.
    Spawn(std::io::Error),
    /// git ran and failed; `stderr` is masked.
    Failed {
        what: String,
        stderr: String,
    },
    /// Not a full commit id (40 or 64 hex digits).
    BadCommitId(String),
    /// The mirror does not have the commit, even after fetching.
    MissingCommit(String),
    /// git ran longer than its deadline and was stopped (with everything it started).
    TimedOut {
        what: String,
        after: Duration,
    },
    /// The run was cancelled: git was stopped (with everything it started).
    Cancelled {
        what: String,
    },
    /// Another update of the project's mirror held its lock for longer than we wait.
    Busy {
        project: String,
        waited: Duration,
    },
    Io(String, std::io::Error),
}

impl std::fmt::Display for GitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GitError::Spawn(e) => write!(f, "cannot run git: {e}"),
            GitError::Failed { what, stderr } => write!(f, "{what} failed: {}", stderr.trim()),
            GitError::BadCommitId(s) => write!(f, "`{s}` is not a full commit id"),
            GitError::MissingCommit(s) => write!(f, "commit {s} is not in the repository (after fetching)"),
            GitError::TimedOut { what, after } => {
                write!(f, "{what} timed out: no result within {} s, so it was stopped", after.as_secs())
            }
            GitError::Cancelled { what } => write!(f, "{what} was stopped: the run was cancelled"),
            GitError::Busy { project, waited } => write!(
                f,
                "the mirror of project `{project}` is still being updated by another fetch after {} s; gave up waiting",
                waited.as_secs()
            ),
            GitError::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for GitError {}
