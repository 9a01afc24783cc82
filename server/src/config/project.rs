//! What a `[[project]]` of slipway.toml becomes: a folder or a repository project, with the
//! repository's branch filter, fork policy and secret references.

use crate::forge::{Forge, Secret};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum ProjectSource {
    Folder { name: String, path: PathBuf, key: Option<PathBuf> },
    Repo(Box<RepoProject>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RepoProject {
    pub name: String,
    pub repo: String,
    pub key: Option<PathBuf>,
    pub filter: BranchFilter,
    /// `None` for a repository on a host we cannot place, without secrets: it can be polled
    /// and built, but gets no webhooks and no statuses.
    pub forge: Option<Forge>,
    /// The API root for statuses (`None` when there is no forge or no host to derive it from).
    pub api_url: Option<String>,
    /// `owner/name` (GitLab: the path with its namespace), from the repo URL.
    pub repo_full_name: Option<String>,
    pub webhook_secret: Option<SecretRef>,
    pub token: Option<SecretRef>,
    /// The project's own ssh key (an ssh `repo` only), checked at load: a private key that
    /// only its owner can read. Absolute.
    pub ssh_key: Option<PathBuf>,
    /// The only host keys its ssh accepts; `None`: trust on first use (see `git::KnownHosts`).
    pub ssh_known_hosts: Option<PathBuf>,
    pub poll: Option<Duration>,
    pub keep_workspaces: usize,
    /// How long fetching and checking out one run's commit may take (each git command gets
    /// this less a minute): a first clone of a large repository needs more than the default.
    pub git_timeout: Duration,
    /// A new push to a branch cancels that branch's older queued or running runs.
    pub cancel_superseded: bool,
    /// What a pull request from a fork may do.
    pub fork_pull_requests: ForkPolicy,
    /// The host the repository is on (from `repo`, lower-case, without port): the only host
    /// a webhook's commit link may point at.
    pub host: Option<String>,
}

/// `fork_pull_requests`: what a pull request whose commits come from another repository
/// (anyone who can open one wrote them) may do. Pull requests from the repository's own
/// branches are not concerned: whoever pushed those can push to the branches anyway.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForkPolicy {
    /// `"off"`: they start no run.
    Off,
    /// `"without-secrets"` (the default): they run, with no secret decrypted (a step that
    /// needs one fails, saying so) and no push step.
    #[default]
    WithoutSecrets,
    /// `"with-secrets"`: they run like the repository's own branches, secrets and pushes
    /// included; anyone who can open a pull request can then read the project's secrets.
    WithSecrets,
}

impl ForkPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            ForkPolicy::Off => "off",
            ForkPolicy::WithoutSecrets => "without-secrets",
            ForkPolicy::WithSecrets => "with-secrets",
        }
    }
}

/// Where a secret is, never what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    File(PathBuf),
    Env(String),
}

impl SecretRef {
    /// Reads the secret (a file's trailing newline is not part of it); an empty secret is an error.
    pub fn load(&self) -> Result<Secret, String> {
        let value = match self {
            SecretRef::File(p) => std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read the secret file {}: {e}", p.display()))?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
            SecretRef::Env(v) => {
                std::env::var(v).map_err(|_| format!("the environment variable {v} named in the config is not set"))?
            }
        };
        Secret::new(value).ok_or_else(|| match self {
            SecretRef::File(p) => format!("the secret file {} is empty", p.display()),
            SecretRef::Env(v) => format!("the environment variable {v} is empty"),
        })
    }
}

/// Which branches build: any that matches an `include` glob (all when there are none) and
/// no `exclude` glob.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BranchFilter {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl BranchFilter {
    pub fn matches(&self, branch: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|g| glob(g, branch)))
            && !self.exclude.iter().any(|g| glob(g, branch))
    }
}

/// `*` matches any run of characters (`/` included), `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}
