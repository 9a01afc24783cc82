//! `git ls-remote`: a remote's branch heads, for polling.

use super::GitError;
use super::command::run_within;
use super::remote::Remote;
use std::time::Duration;

/// How long one `git ls-remote` may run: under polling's budget (`LS_REMOTE_BUDGET`, 120 s).
const LS_REMOTE_TIMEOUT: Duration = Duration::from_secs(100);

/// A branch head on the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub branch: String,
    pub commit: String,
}

/// The remote's branches (`git ls-remote --heads`) that `wanted` accepts, sorted by name:
/// what polling compares with the heads it last saw.
pub fn ls_remote(remote: &Remote, wanted: impl Fn(&str) -> bool) -> Result<Vec<Head>, GitError> {
    let mut c = remote.command(&std::env::temp_dir());
    c.args(["ls-remote", "--heads", "--", &remote.url]);
    let what = format!("git ls-remote {}", remote.url);
    let out = run_within(remote, c, &what, LS_REMOTE_TIMEOUT.min(remote.timeout))?;
    let mut heads: Vec<Head> = out
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter_map(|(sha, r)| {
            Some(Head { branch: r.strip_prefix("refs/heads/")?.to_string(), commit: sha.to_string() })
        })
        .filter(|h| wanted(&h.branch))
        .collect();
    heads.sort_by(|a, b| a.branch.cmp(&b.branch));
    Ok(heads)
}
