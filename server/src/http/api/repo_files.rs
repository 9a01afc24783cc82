//! The files endpoint for a repository project: its services and steps files and build values
//! read from one commit of the server's mirror (`git::snapshot`), never from a checkout.
//!
//! Which commit: the head of the repository's default branch (the mirror's `HEAD`, as the
//! first clone recorded it) when the project builds that branch; else the most recently
//! committed branch it builds (`branches`/`exclude`); else, building none, the default
//! branch all the same. The default branch is what a team means by "the project" and what
//! most pushes build; a project that builds only `release/*` is shown its newest release
//! branch, so the preview's tags are ones a run of it would push.
//!
//! The same two files a run reads (the first of jet's names for each, the same 2 MiB limit,
//! UTF-8 only, never a project key), and nothing else of the repository: a folder project's
//! answer has these two texts only too, so encrypted env and dockercfg files stay on the
//! server for both (the studio's crypto panel takes them from the user).

use super::ApiError;
use super::project_build;
use crate::git::{BranchHead, FileError, Mirror};
use crate::project::{ConfigFile, MAX_READ};
use crate::runs::Project;
use crate::runs::repo::RepoSetup;
use serde_json::{Value, json};

/// The answer for repository project `project` (blocking: git runs).
pub(super) fn files(project: &Project, repo: &RepoSetup) -> Result<Value, ApiError> {
    let name = &project.name;
    let mirror = Mirror::new(&repo.data_dir, name, repo.remote.clone());
    if !mirror.is_fetched() {
        return Err(ApiError::Conflict(format!(
            "the server has not fetched {} yet; it will after the first webhook or poll that builds a commit of \
             project `{name}`",
            repo.mask(&repo.config.repo)
        )));
    }
    let git = |e: crate::git::GitError| ApiError::Internal(anyhow::anyhow!(repo.mask(&e.to_string())));
    let head = shown_branch(&mirror, |b| repo.config.filter.matches(b))
        .map_err(git)?
        .ok_or_else(|| ApiError::Conflict(format!("{} has no branches yet: push one", repo.mask(&repo.config.repo))))?;
    let at = format!("{} ({})", head.branch, &head.commit[..7]);
    let read = |which: ConfigFile| -> Result<Value, ApiError> {
        for candidate in which.candidates() {
            let text = match mirror.file_at(&head.commit, candidate, MAX_READ) {
                Err(FileError::Missing) => continue,
                Err(FileError::Git(e)) => return Err(git(e)),
                Err(e) => {
                    return Err(ApiError::Unprocessable(format!(
                        "cannot load {candidate} of project `{name}` at {at}: {e}"
                    )));
                }
                Ok(bytes) => String::from_utf8(bytes).map_err(|e| {
                    let at_byte = e.utf8_error().valid_up_to();
                    ApiError::Unprocessable(format!(
                        "cannot load {candidate} of project `{name}` at {at}: not UTF-8 text (byte {at_byte})"
                    ))
                })?,
            };
            // As for a folder: a file that is a key (a link to codeship.aes, say) is not sent.
            if slipway_core::crypto::Key::parse(text.as_bytes()).is_ok() {
                return Err(ApiError::Unprocessable(format!(
                    "cannot load {candidate} of project `{name}` at {at}: it holds a project key, not a \
                     configuration; the server does not send it"
                )));
            }
            return Ok(json!({ "name": candidate, "text": text }));
        }
        let looked = which.candidates().join(", ");
        Err(ApiError::NotFound(format!("project `{name}` has no such file at {at}: looked for {looked}")))
    };
    let (services, steps) = (read(ConfigFile::Services)?, read(ConfigFile::Steps)?);
    let values = mirror.commit_values(&head.commit).map_err(git)?;
    let build = project_build::of_mirror_commit(&head.branch, values);
    Ok(json!({ "project": name, "services": services, "steps": steps, "build": build }))
}

/// The branch the studio shows (see the module's comment); `None` without any branch.
fn shown_branch(mirror: &Mirror, builds: impl Fn(&str) -> bool) -> Result<Option<BranchHead>, crate::git::GitError> {
    let branches = mirror.branches()?;
    let default = mirror.default_branch()?;
    let of = |name: &str| branches.iter().find(|b| b.branch == name).cloned();
    let default_head = default.as_deref().and_then(of);
    Ok(match default_head {
        Some(d) if builds(&d.branch) => Some(d),
        _ => {
            branches.iter().find(|b| builds(&b.branch)).cloned().or(default_head).or_else(|| branches.first().cloned())
        }
    })
}
