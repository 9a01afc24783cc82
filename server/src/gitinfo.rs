//! Build values from the local git checkout, as jet took them.

use std::path::Path;
use std::process::Command;

#[derive(Debug, Default, Clone)]
pub struct GitInfo {
    pub branch: Option<String>,
    pub commit_id: Option<String>,
    pub commit_message: Option<String>,
    pub committer_name: Option<String>,
    pub committer_email: Option<String>,
    pub describe: Option<String>,
    pub repo_name: Option<String>,
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim_end().to_string();
    (!s.is_empty()).then_some(s)
}

impl GitInfo {
    /// Everything we can learn; missing git or a folder outside a repository gives `None`s.
    pub fn read(dir: &Path) -> GitInfo {
        if git(dir, &["rev-parse", "--is-inside-work-tree"]).as_deref() != Some("true") {
            return GitInfo::default();
        }
        GitInfo {
            branch: git(dir, &["rev-parse", "--abbrev-ref", "HEAD"]).filter(|b| b != "HEAD"),
            commit_id: git(dir, &["rev-parse", "HEAD"]),
            commit_message: git(dir, &["log", "-1", "--format=%B"]),
            committer_name: git(dir, &["log", "-1", "--format=%cn"]),
            committer_email: git(dir, &["log", "-1", "--format=%ce"]),
            describe: git(dir, &["describe", "--abbrev=1", "--tags", "--always"]),
            repo_name: git(dir, &["rev-parse", "--show-toplevel"])
                .and_then(|t| Path::new(&t).file_name().map(|n| n.to_string_lossy().into_owned())),
        }
    }

    /// Is `path` inside a git work tree and not ignored? (None: not in a repository.)
    pub fn tracked_candidate(path: &Path) -> Option<bool> {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if git(dir, &["rev-parse", "--is-inside-work-tree"]).as_deref() != Some("true") {
            return None;
        }
        let name = path.file_name()?.to_string_lossy().into_owned();
        let ignored = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["check-ignore", "-q", "--", &name])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        Some(!ignored)
    }
}
