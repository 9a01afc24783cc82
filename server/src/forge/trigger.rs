//! A verified delivery turned into what to build: one [`Trigger`] for every forge.
//!
//! Push to a branch or tag → build its head commit; pull/merge request opened, reopened or
//! given new commits → build its head commit with `CI_PULL_REQUEST` set; a push that deletes a
//! ref → nothing; any other event → ignored, with the reason for the 202 answer.
//! The CI values (branch, commit, message, committer) come from the event. Where an event
//! does not carry them (a pull request names only its head sha), [`Build::commit`] is `None`
//! and the run reads them from the checked-out commit.
//!
//! A pull request says where its commits come from ([`Origin`]): GitHub and Gitea name the
//! head's and the base's repositories (`pull_request.head.repo` / `.base.repo`, Gitea also
//! `head.repo_id` / `base.repo_id`), GitLab its source and target projects
//! (`object_attributes.source_project_id` / `target_project_id`). Anything else — a head
//! repository the event does not name (GitHub sends `null` once a fork is deleted), ids that
//! differ, ids missing — is a fork: a pull request is trusted only when the event shows that
//! its head is in the repository itself.

use super::Forge;
use super::verify::Verified;
use serde::Deserialize;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    Build(Box<Build>),
    /// A push that deleted `git_ref`: nothing to build.
    Deleted {
        git_ref: String,
    },
    /// An event that starts no run, and why.
    Ignored(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Branch(String),
    Tag(String),
    PullRequest { number: u64, url: Option<String>, head_branch: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub event: Event,
    /// The commit to build (40 hex digits).
    pub commit_id: String,
    /// The forge ref that holds the commit (`refs/heads/main`, `refs/pull/7/head`, …): what a
    /// mirror fetches when the commit came from a fork.
    pub fetch_ref: String,
    /// `CI_REPO_NAME`: the repository's name; and `owner/name` (GitLab: the path with its
    /// namespace), which the status API needs.
    pub repo_name: String,
    pub repo_full_name: String,
    pub commit: Option<CommitInfo>,
    /// `CI_COMMITTER_USERNAME`: the committer's forge login where the event names it, else the
    /// login of whoever pushed or opened the pull request.
    pub username: Option<String>,
    pub commit_url: Option<String>,
    pub delivery: Option<String>,
    /// A push's previous head of the ref (`before`), when the ref existed: tells a delivery that
    /// arrives after a later push's delivery that it is the older one.
    pub before: Option<String>,
    /// Whose code this is: the repository's (a push, a pull request from one of its own
    /// branches) or a fork's.
    pub origin: Origin,
    /// What tells this push (or pull request update) from every other, from the signed payload
    /// alone ([`event_key`]): a captured delivery replayed under a new delivery id has the same
    /// key; a new push, a force-push back to an older commit included, a different one.
    pub event_key: String,
}

/// A SHA-256 (hex) of an event's identifying fields, each named by position; a field the
/// payload lacks counts as `-`.
///
/// - GitHub and Gitea pushes: the ref, `before`, `after`, and GitHub's
///   `repository.pushed_at` (the push's time: a ref moved A→B, back, and to B again is
///   told apart; Gitea sends no such time, so there the third push looks like a replay).
/// - GitLab pushes and tag pushes: the ref, `before`, `after`, `checkout_sha` (GitLab sends no
///   push time either; and its token is the secret itself, so whoever holds a delivery can
///   write any other: this only stops a delivery resent as it was).
/// - Pull requests: the number, the action, `before`, the head commit and the pull request's
///   `updated_at` (GitLab: `oldrev`, `last_commit.id`, `object_attributes.updated_at`), which
///   every event on a pull request changes.
pub fn event_key(fields: &[Option<&str>]) -> String {
    let mut hash = Sha256::new();
    for (i, field) in fields.iter().enumerate() {
        // Length-prefixed: no two different lists of fields hash the same text.
        let text = field.unwrap_or("-");
        hash.update(format!("{i}:{}:{text}\n", text.len()).as_bytes());
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A JSON value as key text: a string as it is, a number (GitHub's `pushed_at`) as written.
fn json_text(v: &Option<serde_json::Value>) -> Option<String> {
    match v {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}

/// Where the commits of a build come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A push, or a pull request from a branch of the repository itself: written by someone
    /// with push access.
    Repository,
    /// A pull request from another repository (a fork), or one whose event does not show
    /// where its head lives: written by anyone who can open a pull request. `repo` names
    /// the head's repository when the event does.
    Fork { repo: Option<String> },
}

impl Origin {
    pub fn is_fork(&self) -> bool {
        matches!(self, Origin::Fork { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    pub message: String,
    pub committer_name: String,
    pub committer_email: String,
}

impl Build {
    /// `CI_BRANCH`: the branch, the tag for a tag push, the head branch of a pull request.
    pub fn branch(&self) -> &str {
        match &self.event {
            Event::Branch(b) | Event::Tag(b) => b,
            Event::PullRequest { head_branch, .. } => head_branch,
        }
    }

    /// `CI_PULL_REQUEST`: the pull request's web address (its number if the event gave none),
    /// `false` for a push, as CodeShip set it.
    pub fn ci_pull_request(&self) -> String {
        match &self.event {
            Event::PullRequest { url: Some(u), .. } => u.clone(),
            Event::PullRequest { number, .. } => number.to_string(),
            _ => "false".to_string(),
        }
    }

    /// `CI_PR_NUMBER`: the pull request's number, `0` for a push.
    pub fn ci_pr_number(&self) -> u64 {
        match &self.event {
            Event::PullRequest { number, .. } => *number,
            _ => 0,
        }
    }
}

/// A signed payload that is not the JSON its forge documents for its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

pub fn parse(delivery: &Verified) -> Result<Trigger, ParseError> {
    let trigger = match (delivery.forge, delivery.event.as_str()) {
        (Forge::GitHub | Forge::Gitea, "push") => hub_push(decode(delivery)?),
        (Forge::GitHub | Forge::Gitea, "pull_request") => hub_pull(decode(delivery)?),
        (Forge::GitHub, "ping") => Trigger::Ignored("ping: the webhook is set up".into()),
        (Forge::GitLab, "Push Hook" | "Tag Push Hook") => lab_push(decode(delivery)?),
        (Forge::GitLab, "Merge Request Hook") => lab_merge_request(decode(delivery)?),
        (_, other) => Trigger::Ignored(format!("`{other}` events start no run (only pushes and pull requests do)")),
    };
    Ok(match trigger {
        Trigger::Build(b) => Trigger::Build(Box::new(Build { delivery: delivery.delivery.clone(), ..*b })),
        t => t,
    })
}

fn decode<'de, T: Deserialize<'de>>(delivery: &'de Verified) -> Result<T, ParseError> {
    // serde_json's message names the line and column, and the missing or mistyped field.
    serde_json::from_slice(delivery.body).map_err(|e| {
        if delivery.form_encoded || delivery.body.starts_with(b"payload=") {
            return ParseError(format!(
                "the {} `{}` delivery is form-encoded; set the webhook's Content type to application/json",
                delivery.forge, delivery.event
            ));
        }
        ParseError(format!("the {} `{}` payload is not what the forge documents: {e}", delivery.forge, delivery.event))
    })
}

fn is_zero_sha(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b == b'0')
}

/// `refs/heads/x` → Branch(x), `refs/tags/v1` → Tag(v1); anything else (notes, …) → None.
/// A push's `before`, unless the ref is new (all zeros) or the field is missing.
fn previous_head(before: Option<String>) -> Option<String> {
    before.filter(|b| !b.is_empty() && !is_zero_sha(b))
}

fn ref_event(git_ref: &str) -> Option<Event> {
    if let Some(b) = git_ref.strip_prefix("refs/heads/") {
        Some(Event::Branch(b.to_string()))
    } else {
        git_ref.strip_prefix("refs/tags/").map(|t| Event::Tag(t.to_string()))
    }
}

// GitHub and Gitea send the same shapes for push and pull_request
// (https://docs.github.com/en/webhooks/webhook-events-and-payloads, https://docs.gitea.com/usage/webhooks).

#[derive(Deserialize)]
struct HubPush {
    #[serde(rename = "ref")]
    git_ref: String,
    #[serde(default)]
    before: Option<String>,
    after: String,
    #[serde(default)]
    deleted: bool,
    head_commit: Option<HubCommit>,
    #[serde(default)]
    commits: Vec<HubCommit>,
    repository: HubRepo,
    pusher: Option<HubUser>,
    sender: Option<HubUser>,
}

#[derive(Deserialize, Clone)]
struct HubCommit {
    id: String,
    message: String,
    url: Option<String>,
    committer: HubPerson,
}

#[derive(Deserialize, Clone)]
struct HubPerson {
    name: Option<String>,
    email: Option<String>,
    username: Option<String>,
}

#[derive(Deserialize)]
struct HubRepo {
    #[serde(default)]
    id: Option<u64>,
    name: String,
    full_name: String,
    /// GitHub's push events: when the push happened (seconds since 1970).
    #[serde(default)]
    pushed_at: Option<serde_json::Value>,
}

/// GitHub's `pusher` has `name`, its `sender` and Gitea's users have `login` (and `username`).
#[derive(Deserialize)]
struct HubUser {
    login: Option<String>,
    username: Option<String>,
    name: Option<String>,
}

impl HubUser {
    fn login(&self) -> Option<String> {
        self.login.clone().or_else(|| self.username.clone()).or_else(|| self.name.clone()).filter(|s| !s.is_empty())
    }
}

fn hub_push(p: HubPush) -> Trigger {
    if p.deleted || is_zero_sha(&p.after) {
        return Trigger::Deleted { git_ref: p.git_ref };
    }
    let Some(event) = ref_event(&p.git_ref) else {
        return Trigger::Ignored(format!("a push to `{}`, which is neither a branch nor a tag", p.git_ref));
    };
    // Gitea before 1.21 sends no head_commit; the head is then the commit whose id is `after`.
    let head = p.head_commit.or_else(|| p.commits.iter().find(|c| c.id == p.after).cloned());
    let pusher = p.sender.as_ref().and_then(HubUser::login).or_else(|| p.pusher.as_ref().and_then(HubUser::login));
    // For an annotated tag `after` is the tag object; `head_commit` is the commit it tags,
    // which is what is checked out and what a status can be set on. (The checkout peels
    // `after` too, for a forge that sends no `head_commit`.)
    let commit_id = match (&event, &head) {
        (Event::Tag(_), Some(c)) if !c.id.is_empty() => c.id.clone(),
        _ => p.after.clone(),
    };
    let pushed_at = json_text(&p.repository.pushed_at);
    let event_key =
        event_key(&[Some("push"), Some(&p.git_ref), p.before.as_deref(), Some(&p.after), pushed_at.as_deref()]);
    Trigger::Build(Box::new(Build {
        event,
        commit_id,
        fetch_ref: p.git_ref,
        repo_name: p.repository.name,
        repo_full_name: p.repository.full_name,
        username: head.as_ref().and_then(|c| c.committer.username.clone()).filter(|u| !u.is_empty()).or(pusher),
        commit_url: head.as_ref().and_then(|c| c.url.clone()),
        commit: head.map(|c| CommitInfo {
            message: c.message,
            committer_name: c.committer.name.unwrap_or_default(),
            committer_email: c.committer.email.unwrap_or_default(),
        }),
        delivery: None,
        before: previous_head(p.before),
        origin: Origin::Repository,
        event_key,
    }))
}

#[derive(Deserialize)]
struct HubPull {
    action: String,
    #[serde(default)]
    before: Option<String>,
    number: u64,
    pull_request: HubPr,
    repository: HubRepo,
    sender: Option<HubUser>,
}

#[derive(Deserialize)]
struct HubPr {
    html_url: Option<String>,
    /// Changed by every event on the pull request.
    #[serde(default)]
    updated_at: Option<String>,
    head: HubHead,
    #[serde(default)]
    base: Option<HubBase>,
}

#[derive(Deserialize)]
struct HubHead {
    #[serde(rename = "ref")]
    git_ref: String,
    sha: String,
    /// `null` when the fork was deleted.
    #[serde(default)]
    repo: Option<HubPrRepo>,
    /// Gitea's id of the head's repository.
    #[serde(default)]
    repo_id: Option<u64>,
}

#[derive(Deserialize)]
struct HubBase {
    #[serde(default)]
    repo: Option<HubPrRepo>,
    #[serde(default)]
    repo_id: Option<u64>,
}

#[derive(Deserialize)]
struct HubPrRepo {
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    full_name: Option<String>,
}

/// A GitHub or Gitea pull request's origin: the head's repository compared with the base's
/// (the pull request's own `base.repo`, else the event's `repository`), by id where both
/// sides have one (ids survive renames), else by `owner/name`.
fn hub_origin(pr: &HubPr, repository: &HubRepo) -> Origin {
    let head_name = pr.head.repo.as_ref().and_then(|r| r.full_name.clone()).filter(|n| !n.is_empty());
    let head_id = pr.head.repo.as_ref().and_then(|r| r.id).or(pr.head.repo_id);
    let base = pr.base.as_ref();
    let base_repo = base.and_then(|b| b.repo.as_ref());
    let base_id = base_repo.and_then(|r| r.id).or(base.and_then(|b| b.repo_id)).or(repository.id);
    let base_name = base_repo.and_then(|r| r.full_name.clone()).unwrap_or_else(|| repository.full_name.clone());
    let same = match (head_id, base_id) {
        (Some(h), Some(b)) => h == b,
        _ => head_name.as_ref().is_some_and(|h| h.eq_ignore_ascii_case(&base_name)),
    };
    if same { Origin::Repository } else { Origin::Fork { repo: head_name } }
}

fn hub_pull(p: HubPull) -> Trigger {
    // GitHub says `synchronize` for new commits, Gitea `synchronized`.
    if !matches!(p.action.as_str(), "opened" | "reopened" | "synchronize" | "synchronized") {
        return Trigger::Ignored(format!("pull request #{} `{}`: its head commit did not change", p.number, p.action));
    }
    let origin = hub_origin(&p.pull_request, &p.repository);
    let number = p.number.to_string();
    let event_key = event_key(&[
        Some("pull_request"),
        Some(&number),
        Some(&p.action),
        p.before.as_deref(),
        Some(&p.pull_request.head.sha),
        p.pull_request.updated_at.as_deref(),
    ]);
    Trigger::Build(Box::new(Build {
        event: Event::PullRequest {
            number: p.number,
            url: p.pull_request.html_url,
            head_branch: p.pull_request.head.git_ref,
        },
        commit_id: p.pull_request.head.sha,
        fetch_ref: format!("refs/pull/{}/head", p.number),
        repo_name: p.repository.name,
        repo_full_name: p.repository.full_name,
        commit: None,
        username: p.sender.as_ref().and_then(HubUser::login),
        commit_url: None,
        delivery: None,
        // `synchronize` names the head it moved from.
        before: previous_head(p.before),
        origin,
        event_key,
    }))
}

// GitLab (https://docs.gitlab.com/user/project/integrations/webhook_events/).

#[derive(Deserialize)]
struct LabPush {
    #[serde(rename = "ref")]
    git_ref: String,
    #[serde(default)]
    before: Option<String>,
    after: String,
    /// The commit a tag points to (`after` is the tag object for an annotated tag).
    checkout_sha: Option<String>,
    user_username: Option<String>,
    project: LabProject,
    #[serde(default)]
    commits: Vec<LabCommit>,
}

#[derive(Deserialize)]
struct LabProject {
    name: String,
    path_with_namespace: String,
}

#[derive(Deserialize, Clone)]
struct LabCommit {
    id: String,
    message: String,
    url: Option<String>,
    author: LabPerson,
}

#[derive(Deserialize, Clone)]
struct LabPerson {
    name: Option<String>,
    email: Option<String>,
}

fn lab_push(p: LabPush) -> Trigger {
    let commit_id = match p.checkout_sha {
        Some(sha) if !is_zero_sha(&sha) && !is_zero_sha(&p.after) => sha,
        _ => return Trigger::Deleted { git_ref: p.git_ref },
    };
    let event_key = event_key(&[Some("push"), Some(&p.git_ref), p.before.as_deref(), Some(&p.after), Some(&commit_id)]);
    let Some(event) = ref_event(&p.git_ref) else {
        return Trigger::Ignored(format!("a push to `{}`, which is neither a branch nor a tag", p.git_ref));
    };
    let head = p.commits.iter().find(|c| c.id == commit_id).cloned();
    Trigger::Build(Box::new(Build {
        event,
        commit_id,
        fetch_ref: p.git_ref,
        repo_name: p.project.name,
        repo_full_name: p.project.path_with_namespace,
        commit_url: head.as_ref().and_then(|c| c.url.clone()),
        commit: head.map(lab_commit_info),
        username: p.user_username.filter(|u| !u.is_empty()),
        delivery: None,
        before: previous_head(p.before),
        origin: Origin::Repository,
        event_key,
    }))
}

/// GitLab's commits name their author only; the author stands in for the committer.
fn lab_commit_info(c: LabCommit) -> CommitInfo {
    CommitInfo {
        message: c.message,
        committer_name: c.author.name.unwrap_or_default(),
        committer_email: c.author.email.unwrap_or_default(),
    }
}

#[derive(Deserialize)]
struct LabMergeRequest {
    user: Option<LabUser>,
    project: LabProject,
    object_attributes: LabMrAttributes,
}

#[derive(Deserialize)]
struct LabUser {
    username: Option<String>,
}

#[derive(Deserialize)]
struct LabMrAttributes {
    iid: u64,
    action: Option<String>,
    source_branch: String,
    url: Option<String>,
    /// Set on an `update` that added commits; absent when only the title or labels changed.
    oldrev: Option<String>,
    last_commit: LabCommit,
    source_project_id: Option<u64>,
    target_project_id: Option<u64>,
    /// The source project (`None` once it was deleted).
    source: Option<LabMrProject>,
    /// Changed by every event on the merge request.
    #[serde(default)]
    updated_at: Option<String>,
}

#[derive(Deserialize)]
struct LabMrProject {
    path_with_namespace: Option<String>,
}

fn lab_merge_request(m: LabMergeRequest) -> Trigger {
    let a = m.object_attributes;
    let action = a.action.unwrap_or_default();
    let new_head = match action.as_str() {
        "open" | "reopen" => true,
        "update" => a.oldrev.is_some(),
        _ => false,
    };
    if !new_head {
        return Trigger::Ignored(format!("merge request !{} `{action}`: its head commit did not change", a.iid));
    }
    // A merge request between branches of one project has the same source and target project.
    let origin = match (a.source_project_id, a.target_project_id) {
        (Some(s), Some(t)) if s == t => Origin::Repository,
        _ => Origin::Fork { repo: a.source.as_ref().and_then(|p| p.path_with_namespace.clone()) },
    };
    let iid = a.iid.to_string();
    let event_key = event_key(&[
        Some("merge_request"),
        Some(&iid),
        Some(&action),
        a.oldrev.as_deref(),
        Some(&a.last_commit.id),
        a.updated_at.as_deref(),
    ]);
    Trigger::Build(Box::new(Build {
        event: Event::PullRequest { number: a.iid, url: a.url, head_branch: a.source_branch },
        commit_id: a.last_commit.id.clone(),
        fetch_ref: format!("refs/merge-requests/{}/head", a.iid),
        repo_name: m.project.name,
        repo_full_name: m.project.path_with_namespace,
        commit_url: a.last_commit.url.clone(),
        commit: Some(lab_commit_info(a.last_commit)),
        username: m.user.and_then(|u| u.username).filter(|u| !u.is_empty()),
        delivery: None,
        before: previous_head(a.oldrev),
        origin,
        event_key,
    }))
}
