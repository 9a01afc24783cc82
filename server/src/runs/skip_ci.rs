//! `[skip ci]`: a push (or a polled head, or a pull request's new head) whose head commit's
//! message holds one of CodeShip's skip directives starts no run at all: no record, no commit
//! status, no notification. CodeShip's documentation ("Skipping builds") lists exactly
//! `--skip-ci`, `--ci-skip`, `[skip ci]` and `[ci skip]`, anywhere in the message of the last
//! commit pushed, and says that skipped builds have no build record; they are matched as
//! written there (lower case), not `[Skip CI]`.
//!
//! The message is read from the commit object in the project's mirror, not taken from the
//! delivery: one rule for every trigger (a poll and a pull request event carry no message, and
//! GitLab lists at most 20 commits of a push), and the object is what the run would build. A
//! delivery is signed, so its message is the forge's word and stands in when the mirror cannot
//! be brought up to date in time (the webhook answer may wait only so long).

use super::repo::RepoSetup;
use super::trigger::RunTrigger;
use crate::git::{GitError, Mirror};
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// CodeShip's four directives, as its documentation writes them.
pub const DIRECTIVES: [&str; 4] = ["[skip ci]", "[ci skip]", "--skip-ci", "--ci-skip"];

/// The most of a commit message looked at: a directive further on is not seen.
const MAX_MESSAGE_BYTES: u64 = 1 << 20;

/// The directive `message` holds, if any.
pub fn directive(message: &str) -> Option<&'static str> {
    DIRECTIVES.into_iter().find(|d| message.contains(d))
}

/// Where the message that decided came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The commit object in the mirror.
    Commit,
    /// The delivery's (signed) payload: the mirror could not be read in time.
    Delivery,
}

/// Why a trigger starts no run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub directive: &'static str,
    pub source: Source,
}

impl Skip {
    /// The reason as the webhook answer and the log give it.
    pub fn reason(&self, t: &RunTrigger) -> String {
        let whose = match self.source {
            Source::Commit => "the head commit's message",
            Source::Delivery => "the head commit's message (as the delivery gives it)",
        };
        format!(
            "not run: {whose} holds `{}` (commit {}), so no run starts, as on CodeShip",
            self.directive,
            t.commit_id.get(..12).unwrap_or(&t.commit_id)
        )
    }
}

/// The message of `t`'s commit (the commit an annotated tag points to), read from the mirror,
/// which is fetched first when it lacks the commit. Blocking.
fn commit_message(
    repo: &RepoSetup,
    project: &str,
    t: &RunTrigger,
    stop: CancellationToken,
) -> Result<String, GitError> {
    let mirror = Mirror::new(&repo.data_dir, project, repo.remote.clone().with_stop(stop));
    if !mirror.has_commit(&t.commit_id) {
        mirror.update()?;
    }
    // A pull request ref made after the fetch.
    if !mirror.has_commit(&t.commit_id) {
        mirror.fetch_ref(&t.fetch_ref)?;
    }
    let what = format!("git cat-file commit {}", t.commit_id);
    let mut child = crate::gitinfo::git_command(mirror.dir())
        .args(["cat-file", "commit", &format!("{}^{{commit}}", t.commit_id)])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| GitError::Io(what.clone(), e))?;
    let mut object = Vec::new();
    let read = child.stdout.take().map(|out| out.take(MAX_MESSAGE_BYTES).read_to_end(&mut object));
    // A message over the limit: git may still be writing; it is not needed any more.
    let _ = child.kill();
    let _ = child.wait();
    if let Some(Err(e)) = read {
        return Err(GitError::Io(what, e));
    }
    let text = String::from_utf8_lossy(&object);
    // The headers end at the first empty line; the message follows.
    match text.split_once("\n\n") {
        Some((_, message)) => Ok(message.to_string()),
        None => Err(GitError::Failed { what, stderr: "not a commit object".into() }),
    }
}

/// Whether `t` asks not to be built. The mirror is looked at for at most `budget` (the
/// fetch goes on afterwards, for the run's own checkout); past it, or when it cannot be
/// fetched, the delivery's message decides (nothing skips when there is none: the run's
/// checkout then reports what is wrong with the repository).
pub(super) async fn skip_ci(project: &str, repo: &Arc<RepoSetup>, t: &RunTrigger, budget: Duration) -> Option<Skip> {
    let (r, tt, name) = (repo.clone(), t.clone(), project.to_string());
    // Not stopped at the budget: the run's checkout needs the fetch anyway.
    let work = tokio::task::spawn_blocking(move || commit_message(&r, &name, &tt, CancellationToken::new()));
    match tokio::time::timeout(budget, work).await {
        Ok(Ok(Ok(message))) => {
            return directive(&message).map(|directive| Skip { directive, source: Source::Commit });
        }
        Ok(Ok(Err(e))) => {
            tracing::warn!(project, commit = %t.commit_id, "cannot read the commit's message for [skip ci]: {}", repo.mask(&e.to_string()));
        }
        Ok(Err(e)) => tracing::warn!(project, "reading the commit's message for [skip ci] failed: {e}"),
        Err(_) => tracing::info!(
            project,
            commit = %t.commit_id,
            "the mirror did not have the commit within {} s: [skip ci] is decided on the delivery's message",
            budget.as_secs_f32()
        ),
    }
    let message = t.commit_message.as_deref()?;
    directive(message).map(|directive| Skip { directive, source: Source::Delivery })
}

#[cfg(test)]
mod tests {
    use super::directive;

    #[test]
    fn codeships_four_directives_anywhere_in_the_message_and_only_as_written() {
        assert_eq!(directive("Update the README [skip ci]"), Some("[skip ci]"));
        assert_eq!(directive("[ci skip] docs"), Some("[ci skip]"));
        assert_eq!(directive("bump version\n\nrelease notes --skip-ci\n"), Some("--skip-ci"));
        assert_eq!(directive("x --ci-skip"), Some("--ci-skip"));
        for built in ["fix the build", "[skip-ci]", "[Skip CI]", "skip ci", "[ci  skip]", "-skip-ci-", ""] {
            assert_eq!(directive(built), None, "{built:?}");
        }
    }
}
