//! The build values a run of a project would take (branch, commit, message, committer): from a
//! folder project's git checkout, or from the commit of a repository project's mirror that the
//! studio shows. Sent with the project's files so the studio's preview plans with the same
//! values as the run: its image tags are then the tags the run pushes.

use crate::gitinfo::GitInfo;
use serde_json::{Value, json};
use std::path::Path;

/// A commit message is shown in a text field and fed to templates; a longer one is cut here
/// (on a character boundary) so one answer stays small. Runs read the whole message, so only
/// a template printing more than this much of it could differ from the preview.
const MAX_MESSAGE: usize = 16 * 1024;

/// `{"source": "git", branch, commit_id, commit_message, committer_name}` read from the folder's
/// checkout as a run reads it (`BuildValues::resolve`: no hooks, no configured programs), or
/// `{"source": "none", "reason"}` for a folder outside git, whose runs have no commit values.
/// A detached checkout has no branch (`null`): its runs are tagged only when given a branch.
pub(super) fn of_folder(dir: &Path) -> Value {
    let git = GitInfo::read(dir);
    let Some(commit_id) = git.commit_id else {
        return json!({
            "source": "none",
            "reason": "the project folder is not a git checkout: its runs have no commit id, message or committer",
        });
    };
    let message = git.commit_message.map(|m| cut(m, MAX_MESSAGE));
    json!({
        "source": "git",
        "branch": git.branch,
        "commit_id": commit_id,
        "commit_message": message,
        "committer_name": git.committer_name,
    })
}

/// The same values for a repository project's commit read from the server's mirror
/// (`repo_files`): the branch the studio shows and that commit's own message and committer,
/// which a polled run takes from its checkout (a delivered push's run takes them from the
/// event, which names the same commit).
pub(super) fn of_mirror_commit(branch: &str, commit: crate::git::CommitValues) -> Value {
    json!({
        "source": "git",
        "branch": branch,
        "commit_id": commit.commit_id,
        "commit_message": cut(commit.message, MAX_MESSAGE),
        "committer_name": commit.committer_name,
    })
}

fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_outside_git_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let v = of_folder(dir.path());
        assert_eq!(v["source"], "none");
        assert!(v["reason"].as_str().unwrap().contains("not a git checkout"), "{v}");
    }

    #[test]
    fn a_long_message_is_cut_on_a_character_boundary() {
        assert_eq!(cut("ééé".into(), 3), "é");
        assert_eq!(cut("abc".into(), 5), "abc");
    }
}
