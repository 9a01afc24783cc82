//! What started a repository run, as the run keeps it: everything the run needs to fetch and
//! check out its commit and to set the CI values, and the part the API shows
//! ([`TriggerView`], a contract the studio is built against: keep its field names).
//!
//! Here, below both the run manager and the store: the manager decides what a trigger
//! queues, and the store keeps it (`trigger_json`) without knowing the manager.

use super::trigger::{Build, Event};
use serde::{Deserialize, Serialize};

fn is_false(b: &bool) -> bool {
    !*b
}

/// Whether a triggered run's commit was still its ref's head when the server looked (a fetch
/// of the mirror right after the delivery): only then does it run, and supersede older runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadCheck {
    /// Not looked at yet (the run's checkout looks, if the delivery's own check did not finish).
    #[default]
    Unchecked,
    /// The ref pointed at the commit after the fetch.
    Head,
    /// The ref had moved on (or was gone): the delivery is late or replayed; nothing runs.
    Late,
}

impl HeadCheck {
    fn is_unchecked(&self) -> bool {
        *self == HeadCheck::Unchecked
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    Push,
    Tag,
    PullRequest,
    Poll,
}

/// Stored with the run (the `trigger_json` column). Never holds a token: every field comes
/// from a verified delivery or from `git ls-remote`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunTrigger {
    pub kind: TriggerKind,
    pub branch: Option<String>,
    pub tag: Option<String>,
    pub commit_id: String,
    pub commit_message: Option<String>,
    pub author: Option<String>,
    pub commit_url: Option<String>,
    pub pr_number: Option<u64>,
    pub delivery: Option<String>,
    /// The ref that holds the commit (what the mirror fetches when no mirrored ref does yet).
    pub fetch_ref: String,
    pub committer_name: Option<String>,
    pub committer_email: Option<String>,
    pub committer_username: Option<String>,
    pub repo_name: Option<String>,
    /// `owner/name`, for the status API.
    pub repo_full_name: Option<String>,
    /// `CI_PULL_REQUEST`: the pull request's address (or number), `false` for a push.
    pub ci_pull_request: String,
    /// The head the push (or pull request update) moved its ref from, if the event said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// A pull request from a fork: no secrets and no push steps unless the project's
    /// `fork_pull_requests` says otherwise.
    #[serde(default, skip_serializing_if = "is_false")]
    pub from_fork: bool,
    #[serde(default, skip_serializing_if = "HeadCheck::is_unchecked")]
    pub head: HeadCheck,
    /// The id the delivery named when the checkout found it to be an annotated tag's object
    /// (a Gitea or Forgejo tag push's `after`): `commit_id` is then the commit it tags, and a
    /// later delivery naming either id is the same tag at the same commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_object: Option<String>,
    /// The delivery's [`crate::forge::trigger::event_key`]: the store keeps the keys of the
    /// pushes that queued a run, beyond the runs' own retention, and queues nothing for a key
    /// it has (a replay). `None` for a polled head, which no one can replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_key: Option<String>,
}

/// The trigger as `GET /api/runs` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TriggerView {
    pub kind: TriggerKind,
    pub branch: Option<String>,
    pub tag: Option<String>,
    pub commit_id: String,
    pub commit_message: Option<String>,
    pub author: Option<String>,
    pub commit_url: Option<String>,
    pub pr_number: Option<u64>,
    pub delivery: Option<String>,
}

impl RunTrigger {
    /// `repo_host`: the host the project's repository is on; the event's commit link is kept
    /// only when it points there (the Run panel shows it as a link).
    pub fn from_build(b: &Build, repo_host: Option<&str>) -> RunTrigger {
        let (kind, branch, tag, pr_number) = match &b.event {
            Event::Branch(x) => (TriggerKind::Push, Some(x.clone()), None, None),
            Event::Tag(x) => (TriggerKind::Tag, None, Some(x.clone()), None),
            Event::PullRequest { number, head_branch, .. } => {
                (TriggerKind::PullRequest, Some(head_branch.clone()), None, Some(*number))
            }
        };
        let commit = b.commit.as_ref();
        RunTrigger {
            kind,
            branch,
            tag,
            commit_id: b.commit_id.clone(),
            commit_message: commit.map(|c| c.message.clone()),
            // Without the commit in the event (a pull request), the checkout fills it in.
            author: commit.map(|c| c.committer_name.clone()).filter(|n| !n.is_empty()),
            commit_url: b.commit_url.clone().filter(|u| repo_host.is_some_and(|h| link_on_host(u, h))),
            pr_number,
            delivery: b.delivery.clone(),
            fetch_ref: b.fetch_ref.clone(),
            committer_name: commit.map(|c| c.committer_name.clone()),
            committer_email: commit.map(|c| c.committer_email.clone()),
            committer_username: b.username.clone(),
            repo_name: Some(b.repo_name.clone()).filter(|n| !n.is_empty()),
            repo_full_name: Some(b.repo_full_name.clone()).filter(|n| !n.is_empty()),
            ci_pull_request: b.ci_pull_request(),
            before: b.before.clone(),
            from_fork: b.origin.is_fork(),
            head: HeadCheck::Unchecked,
            tag_object: None,
            event_key: Some(b.event_key.clone()),
        }
    }

    /// A new head seen by polling: only the branch and the commit are known until checkout.
    pub fn from_poll(branch: &str, commit_id: &str) -> RunTrigger {
        RunTrigger {
            kind: TriggerKind::Poll,
            branch: Some(branch.to_string()),
            tag: None,
            commit_id: commit_id.to_string(),
            commit_message: None,
            author: None,
            commit_url: None,
            pr_number: None,
            delivery: None,
            fetch_ref: format!("refs/heads/{branch}"),
            committer_name: None,
            committer_email: None,
            committer_username: None,
            repo_name: None,
            repo_full_name: None,
            ci_pull_request: "false".into(),
            before: None,
            from_fork: false,
            head: HeadCheck::Unchecked,
            tag_object: None,
            event_key: None,
        }
    }

    /// `CI_BRANCH` (and the build tag): the branch, or the tag for a tag push.
    pub fn ci_branch(&self) -> Option<&str> {
        self.branch.as_deref().or(self.tag.as_deref())
    }

    pub fn view(&self) -> TriggerView {
        TriggerView {
            kind: self.kind,
            branch: self.branch.clone(),
            tag: self.tag.clone(),
            commit_id: self.commit_id.clone(),
            commit_message: self.commit_message.clone(),
            author: self.author.clone(),
            commit_url: self.commit_url.clone(),
            pr_number: self.pr_number,
            delivery: self.delivery.clone(),
        }
    }
}

/// Whether `url` is a plain web address on `host` (`https://HOST/…` or `http://HOST[:port]/…`,
/// no user part, nothing a browser would read another way): a link on the repository's own
/// forge, not one to any site a delivery names.
pub fn link_on_host(url: &str, host: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else { return false };
    if !matches!(scheme, "https" | "http") || url.chars().any(|c| c.is_whitespace() || c.is_control() || c == '\\') {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    let url_host = match authority.strip_prefix('[').and_then(|r| r.find(']').map(|end| &authority[..end + 2])) {
        Some(v6) => v6,
        None => authority.split(':').next().unwrap_or_default(),
    };
    !url_host.is_empty() && url_host.eq_ignore_ascii_case(host)
}

#[cfg(test)]
mod tests {
    use super::link_on_host;

    #[test]
    fn a_commit_link_is_kept_only_on_the_repositorys_host() {
        let host = "github.com";
        assert!(link_on_host("https://github.com/acme/web/commit/4f1c2a9", host));
        assert!(link_on_host("https://GitHub.com/acme/web/commit/4f1c2a9", host));
        assert!(link_on_host("http://github.com:8080/acme/web/commit/4f1c2a9", host));
        for bad in [
            "https://evil.example/acme/web/commit/4f1c2a9",
            "https://github.com.evil.example/x",
            "https://github.com@evil.example/x",
            "https://evil.example\\@github.com/x",
            "javascript:alert(1)//github.com/",
            "ftp://github.com/x",
            "https://github.com/x y",
            "//github.com/x",
            "",
        ] {
            assert!(!link_on_host(bad, host), "{bad}");
        }
        assert!(link_on_host("http://[::1]:3000/a/b/commit/1", "[::1]"));
    }
}
