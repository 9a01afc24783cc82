//! One commit of a project's mirror, read without a work tree: the branches and where they
//! point, a commit's build values, and a file of its tree within a size limit. Only git's
//! plumbing on the bare mirror (`for-each-ref`, `log -1`, `ls-tree`, `cat-file`): nothing is
//! checked out, and no path is ever looked up on the server's file system, so a symbolic link
//! in the repository can lead to another file of the same commit at most.
//! No lock is taken: git's reads are safe beside a fetch, which writes objects before it
//! moves a ref, and a read never waits for an update of the mirror.

use super::command::run_local;
use super::{GitError, Mirror};
use crate::gitinfo::git_command;
use std::process::Command;
use std::time::Duration;

/// How long one read of the mirror may take: reads of one commit, however big the repository.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The branch list read at most (about 40,000 branches); a longer one is cut there.
const MAX_BRANCH_LIST: usize = 4 * 1024 * 1024;
/// A commit's header and message read at most; the caller cuts the message further.
const MAX_COMMIT_TEXT: usize = 256 * 1024;
/// Symbolic links followed for one file (a link to a link …), like a checkout's file system
/// would, within the commit.
const MAX_LINK_HOPS: usize = 8;
/// A symbolic link's target is a path: longer ones are not followed.
const MAX_LINK_TARGET: u64 = 4096;

/// A branch of the mirror and the commit it points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchHead {
    pub branch: String,
    pub commit: String,
}

/// The build values a run of a commit takes from the commit itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitValues {
    pub commit_id: String,
    /// Cut at [`MAX_COMMIT_TEXT`] (less the header).
    pub message: String,
    pub committer_name: String,
}

/// Why a file of a commit cannot be read.
#[derive(Debug)]
pub enum FileError {
    /// The commit has no such path.
    Missing,
    /// Bigger than the limit the caller gave.
    TooLarge {
        size: u64,
        limit: u64,
    },
    /// A folder, a submodule: what it is instead.
    NotAFile(&'static str),
    /// A symbolic link whose target leaves the repository (absolute, or `..` above its root).
    LeavesTheRepository {
        target: String,
    },
    /// A symbolic link to a path the commit does not have.
    DanglingLink {
        target: String,
    },
    TooManyLinks,
    Git(GitError),
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileError::Missing => f.write_str("the commit has no such file"),
            FileError::TooLarge { size, limit } => write!(f, "it is {size} bytes, over the limit of {limit}"),
            FileError::NotAFile(what) => write!(f, "it is {what}, not a regular file"),
            FileError::LeavesTheRepository { target } => {
                write!(f, "it is a symbolic link to `{target}`, outside the repository")
            }
            FileError::DanglingLink { target } => {
                write!(f, "it is a symbolic link to `{target}`, which the commit does not have")
            }
            FileError::TooManyLinks => write!(f, "it is a chain of more than {MAX_LINK_HOPS} symbolic links"),
            FileError::Git(e) => write!(f, "{e}"),
        }
    }
}

impl From<GitError> for FileError {
    fn from(e: GitError) -> Self {
        FileError::Git(e)
    }
}

/// One entry of a tree, as `git ls-tree -l` lists it.
struct Entry {
    mode: String,
    object: String,
    size: Option<u64>,
}

impl Mirror {
    /// Whether the mirror has been cloned (by the first run's fetch): what `update` looks at.
    pub fn is_fetched(&self) -> bool {
        self.dir().join("HEAD").is_file()
    }

    fn read(&self, args: &[&str], max_output: usize) -> Result<Vec<u8>, GitError> {
        let mut c: Command = git_command(self.dir());
        // Paths are paths, never pathspec magic or globs (a link's target is the repository's).
        c.env("GIT_LITERAL_PATHSPECS", "1").args(args);
        run_local(c, &format!("git {}", args.first().copied().unwrap_or_default()), READ_TIMEOUT, max_output)
    }

    /// The remote's default branch, as the clone recorded it (the mirror's `HEAD`); `None` when
    /// `HEAD` names no branch.
    pub fn default_branch(&self) -> Result<Option<String>, GitError> {
        match self.read(&["symbolic-ref", "--quiet", "HEAD"], 4096) {
            Ok(out) => Ok(String::from_utf8_lossy(&out).trim().strip_prefix("refs/heads/").map(str::to_string)),
            // `--quiet`: exit 1 and nothing said for a HEAD that is not a branch.
            Err(GitError::Failed { stderr, .. }) if stderr.is_empty() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The mirror's branches, the most recently committed first.
    pub fn branches(&self) -> Result<Vec<BranchHead>, GitError> {
        let format = "--format=%(refname:lstrip=2)%00%(objectname)";
        let out = self.read(&["for-each-ref", "--sort=-committerdate", format, "refs/heads/"], MAX_BRANCH_LIST)?;
        // A ref name has no newline or NUL (git refuses control characters); a list cut at the
        // limit ends in a partial line, which the id's length check drops.
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .filter_map(|l| l.split_once('\0'))
            .filter(|(_, id)| is_object_id(id))
            .map(|(b, id)| BranchHead { branch: b.to_string(), commit: id.to_string() })
            .collect())
    }

    /// The build values of commit `id` (a full commit id: [`Mirror::branches`]'s).
    pub fn commit_values(&self, id: &str) -> Result<CommitValues, GitError> {
        if !is_object_id(id) {
            return Err(GitError::BadCommitId(id.chars().take(80).collect()));
        }
        let out =
            self.read(&["log", "-1", "--no-show-signature", "--format=%H%x00%cn%x00%B", id, "--"], MAX_COMMIT_TEXT)?;
        let text = String::from_utf8_lossy(&out);
        let mut parts = text.splitn(3, '\0');
        let (commit_id, committer, message) = (parts.next(), parts.next(), parts.next());
        let (Some(commit_id), Some(committer)) = (commit_id, committer) else {
            return Err(GitError::MissingCommit(id.to_string()));
        };
        Ok(CommitValues {
            commit_id: commit_id.to_string(),
            message: message.unwrap_or_default().trim_end().to_string(),
            committer_name: committer.to_string(),
        })
    }

    /// The file at `path` (from the repository's root) in commit `id`, at most `limit` bytes,
    /// following symbolic links within the commit.
    pub fn file_at(&self, id: &str, path: &str, limit: u64) -> Result<Vec<u8>, FileError> {
        if !is_object_id(id) {
            return Err(GitError::BadCommitId(id.chars().take(80).collect()).into());
        }
        let mut path = path.to_string();
        for _ in 0..=MAX_LINK_HOPS {
            let entry = self.entry(id, &path)?.ok_or(FileError::Missing)?;
            match entry.mode.as_str() {
                "100644" | "100755" => {
                    let size = entry.size.unwrap_or(u64::MAX);
                    if size > limit {
                        return Err(FileError::TooLarge { size, limit });
                    }
                    return Ok(self.read(&["cat-file", "blob", &entry.object], limit as usize)?);
                }
                "120000" => {
                    let target = self.read(&["cat-file", "blob", &entry.object], MAX_LINK_TARGET as usize)?;
                    let target = String::from_utf8_lossy(&target).into_owned();
                    let next = resolve_link(&path, &target)
                        .ok_or_else(|| FileError::LeavesTheRepository { target: target.clone() })?;
                    if self.entry(id, &next)?.is_none() {
                        return Err(FileError::DanglingLink { target });
                    }
                    path = next;
                }
                "040000" => return Err(FileError::NotAFile("a folder")),
                "160000" => return Err(FileError::NotAFile("a submodule")),
                _ => return Err(FileError::NotAFile("an unknown kind of entry")),
            }
        }
        Err(FileError::TooManyLinks)
    }

    /// The entry at `path` in commit `id`'s tree, if there is one.
    fn entry(&self, id: &str, path: &str) -> Result<Option<Entry>, GitError> {
        let out = self.read(&["ls-tree", "-l", "-z", id, "--", path], 64 * 1024)?;
        let text = String::from_utf8_lossy(&out);
        Ok(text.split('\0').find_map(|record| {
            let (meta, name) = record.split_once('\t')?;
            if name != path {
                return None;
            }
            let mut f = meta.split_whitespace();
            let (mode, _kind, object, size) = (f.next()?, f.next()?, f.next()?, f.next()?);
            Some(Entry { mode: mode.to_string(), object: object.to_string(), size: size.parse().ok() })
        }))
    }
}

fn is_object_id(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Where a symbolic link at `link` (a path from the root) pointing at `target` leads, as a
/// path from the root; `None` when it leaves the repository (absolute, or `..` above the root).
fn resolve_link(link: &str, target: &str) -> Option<String> {
    if target.starts_with('/') || target.is_empty() {
        return None;
    }
    let mut parts: Vec<&str> = link.split('/').collect();
    parts.pop(); // the link's own name: its target is relative to its folder
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_within_the_repository_only() {
        assert_eq!(resolve_link("codeship-steps.yml", "ci/steps.yml").as_deref(), Some("ci/steps.yml"));
        assert_eq!(resolve_link("a/b.yml", "../c.yml").as_deref(), Some("c.yml"));
        assert_eq!(resolve_link("a/b.yml", "./c/./d.yml").as_deref(), Some("a/c/d.yml"));
        assert_eq!(resolve_link("codeship-steps.yml", "../outside.yml"), None);
        assert_eq!(resolve_link("codeship-steps.yml", "/etc/passwd"), None);
        assert_eq!(resolve_link("a/b.yml", "../../x"), None);
        assert_eq!(resolve_link("a/b.yml", ".."), None);
    }
}
