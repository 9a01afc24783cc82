//! `[[project]]` in `slipway.toml`, repository projects included:
//!
//! ```toml
//! [[project]]
//! name = "web"
//! repo = "https://github.com/acme/web.git"   # or ssh://…, git@host:owner/repo.git, a local path
//! forge = "github"                             # github | gitlab | gitea (Gitea covers Forgejo)
//! api_url = "https://github.example/api/v3"    # default: per forge, from the repo's host
//! branches = ["main", "release/*"]             # globs: `*` any run of characters, `?` one
//! exclude = ["release/old-*"]
//! webhook_secret_file = "secrets/web.hook"     # or webhook_secret_env = "WEB_HOOK_SECRET"
//! token_file = "secrets/web.token"             # or token_env = "WEB_TOKEN"
//! ssh_key_file = "secrets/web.ssh"             # ssh URLs only: this key and no other (mode 600)
//! ssh_known_hosts_file = "secrets/known_hosts" # default: trust on first use, per project
//! poll = "60s"                                 # s, m or h; no polling when absent
//! keep_workspaces = 3                          # keep the last 3 checkouts for debugging
//! git_timeout = "30m"                          # fetch + checkout of one run (default 10m)
//! cancel_superseded = true                     # a new push cancels the branch's older runs (default)
//! key = "keys/web.aes"                         # the project's codeship.aes, on the server
//! trusted = false                              # see below (any project, folder or repository)
//! step_limits = { memory = "8g" }              # this project's own per-step limits
//! run_limits = { step_timeout = "90m", run_timeout = "3h", disk = "20g" }  # see executor::run_limits
//! fork_pull_requests = "without-secrets"       # or "off", or "with-secrets" (see ForkPolicy)
//! ```
//!
//! A project's runs are untrusted unless it says `trusted = true`: their steps may not use the
//! keys that give power over the host (`privileged`, `cap_add`, `devices`, …; see
//! `executor::policy`). Every step container of a server run is limited; a top-level
//! `[step_limits]` table sets the server's limits (`memory = "4g"`, `pids = 2048`, `cpus = 4`,
//! each also `"unlimited"`), a project's `step_limits` its own.
//!
//! Secrets are named by reference only: an inline `webhook_secret` or `token` is an error.
//! Relative paths are relative to the file's folder. Folder projects (`path = …`) are as before.
//! This parser accepts everything `cli::commands::serve`'s `read_config` accepts.

pub mod notify;

use super::{Forge, Secret};
use serde::Deserialize;
use slipway_core::model::container::StepLimitsOverride;
use slipway_core::model::run_limits::RunLimitsOverride;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

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

/// A config error: the file, the line and column when known, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub position: Option<(usize, usize)>,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.position {
            Some((line, col)) => write!(f, "{}:{line}:{col}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    project: Vec<RawProject>,
    step_limits: Option<RawLimits>,
    smtp: Option<notify::RawSmtp>,
    generators: Option<RawGenerators>,
    run_limits: Option<RawRunLimits>,
}

/// `[generators]`: `endpoints = ["http://HOST:PORT", …]`, see `generators::endpoints`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGenerators {
    #[serde(default)]
    endpoints: Vec<Spanned<String>>,
}

/// `[run_limits]` or a project's `run_limits = { … }` (see `executor::run_limits`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRunLimits {
    step_timeout: Option<Spanned<toml::Value>>,
    run_timeout: Option<Spanned<toml::Value>>,
    disk: Option<Spanned<toml::Value>>,
}

/// `[step_limits]` or a project's `step_limits = { … }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    memory: Option<Spanned<toml::Value>>,
    pids: Option<Spanned<toml::Value>>,
    cpus: Option<Spanned<toml::Value>>,
}

/// The whole file: its projects, the server's `[step_limits]`, and how each project's runs
/// are treated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    pub projects: Vec<ProjectSource>,
    pub step_limits: StepLimitsOverride,
    /// `[run_limits]`: the server's wall-clock and disk limits, under the serve flags.
    pub run_limits: RunLimitsOverride,
    /// By project name; a project without settings has the default (untrusted, the server's limits).
    pub runs: std::collections::HashMap<String, ProjectRuns>,
    /// `[generators] endpoints`: where an untrusted run's built-in generator may be sent.
    pub generator_endpoints: Vec<slipway_core::origin::Origin>,
    /// Notifications (`[[project.notify]]`, `[smtp]`) and public badges (`public_badge`).
    pub notify: notify::Settings,
}

/// How a project's runs are treated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProjectRuns {
    /// `trusted = true`: its steps may use the keys that give power over the host.
    pub trusted: bool,
    /// Its own `step_limits`, over the server's.
    pub step_limits: StepLimitsOverride,
    /// Its own `run_limits`, over the server's (higher or lower: slipway.toml is the operator's).
    pub run_limits: RunLimitsOverride,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProject {
    name: Spanned<String>,
    path: Option<Spanned<PathBuf>>,
    key: Option<PathBuf>,
    repo: Option<Spanned<String>>,
    branches: Option<Spanned<Vec<String>>>,
    exclude: Option<Spanned<Vec<String>>>,
    forge: Option<Spanned<String>>,
    api_url: Option<Spanned<String>>,
    webhook_secret_file: Option<Spanned<PathBuf>>,
    webhook_secret_env: Option<Spanned<String>>,
    token_file: Option<Spanned<PathBuf>>,
    token_env: Option<Spanned<String>>,
    ssh_key_file: Option<Spanned<PathBuf>>,
    ssh_known_hosts_file: Option<Spanned<PathBuf>>,
    /// Accepted by the parser only to be refused with a useful message.
    webhook_secret: Option<Spanned<toml::Value>>,
    token: Option<Spanned<toml::Value>>,
    ssh_key: Option<Spanned<toml::Value>>,
    poll: Option<Spanned<String>>,
    keep_workspaces: Option<Spanned<i64>>,
    git_timeout: Option<Spanned<String>>,
    cancel_superseded: Option<Spanned<bool>>,
    trusted: Option<Spanned<bool>>,
    step_limits: Option<RawLimits>,
    run_limits: Option<RawRunLimits>,
    fork_pull_requests: Option<Spanned<String>>,
    #[serde(default)]
    notify: Vec<notify::RawTarget>,
    public_badge: Option<bool>,
}

/// `git_timeout`'s default, bounds, and what each git command gets less than it (the rest is
/// for the steps between commands and for stopping git in time).
pub const DEFAULT_GIT_TIMEOUT: Duration = Duration::from_secs(600);
const MIN_GIT_TIMEOUT: Duration = Duration::from_secs(120);
const MAX_GIT_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
pub const GIT_COMMAND_MARGIN: Duration = Duration::from_secs(60);

/// Reads and validates `path`: its projects.
pub fn read(path: &Path) -> Result<Vec<ProjectSource>, ConfigError> {
    read_config(path).map(|c| c.projects)
}

/// Reads and validates `path`: everything in it.
pub fn read_config(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        position: None,
        message: format!("cannot read: {e}"),
    })?;
    parse_config(path, &text)
}

/// Validates `text`, the contents of `path` (which names the file in errors and is the base of
/// relative paths): its projects.
pub fn parse(path: &Path, text: &str) -> Result<Vec<ProjectSource>, ConfigError> {
    parse_config(path, text).map(|c| c.projects)
}

/// Validates `text`, the contents of `path`: everything in it.
pub fn parse_config(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let cx = Cx { file: path, text, base: path.parent().unwrap_or(Path::new(".")) };
    // toml's message names the line and column and quotes the line.
    let raw: RawFile = toml::from_str(text).map_err(|e| cx.error(None, e.to_string()))?;
    let mut config = Config {
        step_limits: cx.limits(None, raw.step_limits.as_ref())?,
        run_limits: cx.run_limits(None, raw.run_limits.as_ref())?,
        ..Config::default()
    };
    for e in raw.generators.iter().flat_map(|g| &g.endpoints) {
        let origin = slipway_core::origin::Origin::parse_setting(e.get_ref())
            .map_err(|m| cx.error(Some(e.span()), format!("`[generators]` `endpoints`: {m}")))?;
        config.generator_endpoints.push(origin);
    }
    let place = |span: std::ops::Range<usize>, message: String| cx.error(Some(span), message);
    config.notify.smtp = notify::smtp(raw.smtp.as_ref(), &place, cx.base)?;
    let mut out: Vec<ProjectSource> = Vec::new();
    for p in raw.project {
        let name = p.name.get_ref();
        let smtp = config.notify.smtp.is_some();
        let targets = notify::targets(name, &p.notify, smtp, &place, cx.base)?;
        if !targets.is_empty() {
            config.notify.targets.insert(name.clone(), targets);
        }
        if p.public_badge == Some(true) {
            config.notify.public_badges.insert(name.clone());
        }
        let runs = ProjectRuns {
            trusted: p.trusted.as_ref().is_some_and(|t| *t.get_ref()),
            step_limits: cx.limits(Some(p.name.get_ref()), p.step_limits.as_ref())?,
            run_limits: cx.run_limits(Some(p.name.get_ref()), p.run_limits.as_ref())?,
        };
        config.runs.insert(p.name.get_ref().clone(), runs);
        let source = cx.project(p)?;
        let name = match &source {
            ProjectSource::Folder { name, .. } => name,
            ProjectSource::Repo(r) => &r.name,
        };
        if out.iter().any(|o| {
            matches!(o, ProjectSource::Folder { name: n, .. } if n == name)
                || matches!(o, ProjectSource::Repo(r) if &r.name == name)
        }) {
            return Err(cx.error(None, format!("two projects are named `{name}`")));
        }
        out.push(source);
    }
    config.projects = out;
    Ok(config)
}

struct Cx<'a> {
    file: &'a Path,
    text: &'a str,
    base: &'a Path,
}

impl Cx<'_> {
    fn error(&self, span: Option<std::ops::Range<usize>>, message: String) -> ConfigError {
        let position = span.map(|s| {
            let before = &self.text[..s.start.min(self.text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            (line, col)
        });
        ConfigError { file: self.file.to_path_buf(), position, message }
    }

    fn at<T>(&self, v: &Spanned<T>, project: &str, message: impl std::fmt::Display) -> ConfigError {
        self.error(Some(v.span()), format!("project `{project}`: {message}"))
    }

    /// `[step_limits]` (`project` None) or a project's `step_limits`.
    fn limits(&self, project: Option<&str>, raw: Option<&RawLimits>) -> Result<StepLimitsOverride, ConfigError> {
        let Some(raw) = raw else { return Ok(StepLimitsOverride::default()) };
        let read = |key: &str, v: &Option<Spanned<toml::Value>>| -> Result<Option<Option<i64>>, ConfigError> {
            let Some(v) = v else { return Ok(None) };
            parse_limit(key, v.get_ref()).map(Some).map_err(|m| {
                let message = match project {
                    Some(p) => format!("project `{p}`: `step_limits.{key}`: {m}"),
                    None => format!("`[step_limits]` `{key}`: {m}"),
                };
                self.error(Some(v.span()), message)
            })
        };
        Ok(StepLimitsOverride {
            memory: read("memory", &raw.memory)?,
            pids: read("pids", &raw.pids)?,
            nano_cpus: read("cpus", &raw.cpus)?,
        })
    }

    /// `[run_limits]` (`project` None) or a project's `run_limits`.
    fn run_limits(&self, project: Option<&str>, raw: Option<&RawRunLimits>) -> Result<RunLimitsOverride, ConfigError> {
        use slipway_core::model::run_limits::{parse_disk, parse_duration};
        let Some(raw) = raw else { return Ok(RunLimitsOverride::default()) };
        fn read<T>(
            cx: &Cx,
            project: Option<&str>,
            key: &str,
            v: &Option<Spanned<toml::Value>>,
            parse: fn(&str) -> Result<Option<T>, String>,
        ) -> Result<Option<Option<T>>, ConfigError> {
            let Some(v) = v else { return Ok(None) };
            run_limit_text(v.get_ref()).and_then(|t| parse(&t)).map(Some).map_err(|m| {
                let message = match project {
                    Some(p) => format!("project `{p}`: `run_limits.{key}`: {m}"),
                    None => format!("`[run_limits]` `{key}`: {m}"),
                };
                cx.error(Some(v.span()), message)
            })
        }
        Ok(RunLimitsOverride {
            step: read(self, project, "step_timeout", &raw.step_timeout, parse_duration)?,
            run: read(self, project, "run_timeout", &raw.run_timeout, parse_duration)?,
            disk: read(self, project, "disk", &raw.disk, parse_disk)?,
        })
    }

    fn project(&self, p: RawProject) -> Result<ProjectSource, ConfigError> {
        let name = p.name.get_ref().clone();
        let valid = !name.is_empty()
            && !name.starts_with('.')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid {
            return Err(self.error(
                Some(p.name.span()),
                format!("`name = {name:?}`: a project name is letters, digits, `.`, `_` and `-` (it names a URL and a folder)"),
            ));
        }
        for (key, inline) in [("webhook_secret", &p.webhook_secret), ("token", &p.token)] {
            if let Some(v) = inline {
                return Err(self.at(
                    v,
                    &name,
                    format!(
                        "`{key}` would keep the secret in the config file; put it in a file readable only by the server and set `{key}_file = \"…\"` (or `{key}_env = \"VARIABLE\"`)"
                    ),
                ));
            }
        }
        if let Some(v) = &p.ssh_key {
            return Err(self.at(
                v,
                &name,
                "`ssh_key` would keep the private key in the config file; put it in a file readable only by the server (chmod 600) and set `ssh_key_file = \"…\"`",
            ));
        }
        match (&p.path, &p.repo) {
            (Some(path), Some(_)) => {
                Err(self.at(path, &name, "has both `path` (a folder) and `repo` (a clone URL); keep one"))
            }
            (None, None) => Err(self.at(&p.name, &name, "needs `path` (a folder) or `repo` (a clone URL)")),
            (Some(path), None) => self.folder(&name, path, &p),
            (None, Some(repo)) => self.repo(&name, repo, &p).map(|r| ProjectSource::Repo(Box::new(r))),
        }
    }

    fn folder(&self, name: &str, path: &Spanned<PathBuf>, p: &RawProject) -> Result<ProjectSource, ConfigError> {
        let repo_only = [
            ("branches", p.branches.as_ref().map(|s| s.span())),
            ("exclude", p.exclude.as_ref().map(|s| s.span())),
            ("forge", p.forge.as_ref().map(|s| s.span())),
            ("api_url", p.api_url.as_ref().map(|s| s.span())),
            ("webhook_secret_file", p.webhook_secret_file.as_ref().map(|s| s.span())),
            ("webhook_secret_env", p.webhook_secret_env.as_ref().map(|s| s.span())),
            ("token_file", p.token_file.as_ref().map(|s| s.span())),
            ("token_env", p.token_env.as_ref().map(|s| s.span())),
            ("ssh_key_file", p.ssh_key_file.as_ref().map(|s| s.span())),
            ("ssh_known_hosts_file", p.ssh_known_hosts_file.as_ref().map(|s| s.span())),
            ("poll", p.poll.as_ref().map(|s| s.span())),
            ("keep_workspaces", p.keep_workspaces.as_ref().map(|s| s.span())),
            ("git_timeout", p.git_timeout.as_ref().map(|s| s.span())),
            ("cancel_superseded", p.cancel_superseded.as_ref().map(|s| s.span())),
            ("fork_pull_requests", p.fork_pull_requests.as_ref().map(|s| s.span())),
        ];
        if let Some((key, span)) = repo_only.into_iter().find_map(|(k, s)| s.map(|s| (k, s))) {
            return Err(self.error(
                Some(span),
                format!("project `{name}`: `{key}` applies to repository projects (`repo = …`), not to a folder"),
            ));
        }
        Ok(ProjectSource::Folder {
            name: name.to_string(),
            path: self.base.join(path.get_ref()),
            key: p.key.as_ref().map(|k| self.base.join(k)),
        })
    }

    fn repo(&self, name: &str, repo: &Spanned<String>, p: &RawProject) -> Result<RepoProject, ConfigError> {
        let url = repo.get_ref().trim();
        if url.is_empty() || url.starts_with('-') || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(self.at(repo, name, format!("`repo = {url:?}` is not a clone URL")));
        }
        let place = RepoPlace::of(url);
        if place.as_ref().is_some_and(|pl| pl.credentials_in_url) {
            return Err(self.at(
                repo,
                name,
                "the repo URL carries credentials (a user or password before `@`); use the plain URL and name the token with `token_file` or `token_env`",
            ));
        }
        let forge = match &p.forge {
            Some(f) => Some(match f.get_ref().as_str() {
                "github" => Forge::GitHub,
                "gitlab" => Forge::GitLab,
                "gitea" | "forgejo" => Forge::Gitea,
                other => {
                    return Err(self.at(
                        f,
                        name,
                        format!("`forge = {other:?}`: expected \"github\", \"gitlab\" or \"gitea\""),
                    ));
                }
            }),
            None => place.as_ref().and_then(|pl| match pl.host.as_str() {
                "github.com" => Some(Forge::GitHub),
                "gitlab.com" => Some(Forge::GitLab),
                "codeberg.org" => Some(Forge::Gitea),
                _ => None,
            }),
        };
        let webhook_secret = self.secret(name, "webhook_secret", &p.webhook_secret_file, &p.webhook_secret_env)?;
        let token = self.secret(name, "token", &p.token_file, &p.token_env)?;
        if forge.is_none() && (webhook_secret.is_some() || token.is_some()) {
            return Err(self.at(
                repo,
                name,
                "webhooks and statuses need `forge = \"github\"`, \"gitlab\" or \"gitea\"",
            ));
        }
        if token.is_some() && place.as_ref().is_some_and(|pl| pl.scheme == "http" && !pl.loopback()) {
            return Err(self.at(repo, name, "a token would travel unencrypted over http://; use an https URL"));
        }
        let (ssh_key, ssh_known_hosts) = self.ssh(name, repo, place.as_ref(), p)?;
        let api_url = match (&p.api_url, forge) {
            (Some(a), _) => {
                let v = a.get_ref().trim_end_matches('/');
                if !(v.starts_with("https://") || v.starts_with("http://")) {
                    return Err(self.at(a, name, format!("`api_url = {v:?}` is not an http(s) URL")));
                }
                if token.is_some() && plain_http_off_loopback(v) {
                    return Err(self.at(
                        a,
                        name,
                        format!(
                            "`api_url = {v:?}`: the token would travel unencrypted over http://; use an https URL \
                             (http is for a forge on this machine only)"
                        ),
                    ));
                }
                Some(v.to_string())
            }
            (None, Some(f)) => place.as_ref().map(|pl| pl.default_api(f)),
            (None, None) => None,
        };
        if token.is_some() && api_url.is_none() {
            return Err(self.at(repo, name, "statuses need `api_url`: the repo URL names no host to derive it from"));
        }
        Ok(RepoProject {
            name: name.to_string(),
            repo: url.to_string(),
            key: p.key.as_ref().map(|k| self.base.join(k)),
            filter: BranchFilter { include: self.globs(name, &p.branches)?, exclude: self.globs(name, &p.exclude)? },
            forge,
            api_url,
            host: place.as_ref().map(|pl| pl.host.clone()).filter(|h| !h.is_empty()),
            repo_full_name: place.map(|pl| pl.full_name).filter(|n| !n.is_empty()),
            webhook_secret,
            token,
            ssh_key,
            ssh_known_hosts,
            poll: match &p.poll {
                Some(s) if self.duration(name, "poll", s)?.is_zero() => {
                    return Err(self.at(s, name, "`poll` must be at least 1s (leave it out to not poll)"));
                }
                Some(s) => Some(self.duration(name, "poll", s)?),
                None => None,
            },
            git_timeout: match &p.git_timeout {
                Some(s) => {
                    let t = self.duration(name, "git_timeout", s)?;
                    if !(MIN_GIT_TIMEOUT..=MAX_GIT_TIMEOUT).contains(&t) {
                        return Err(self.at(s, name, "`git_timeout` is from 2m to 24h"));
                    }
                    t
                }
                None => DEFAULT_GIT_TIMEOUT,
            },
            keep_workspaces: match &p.keep_workspaces {
                Some(k) if !(0..=1000).contains(k.get_ref()) => {
                    return Err(self.at(k, name, "`keep_workspaces` is a count from 0 to 1000"));
                }
                Some(k) => *k.get_ref() as usize,
                None => 0,
            },
            cancel_superseded: p.cancel_superseded.as_ref().is_none_or(|c| *c.get_ref()),
            fork_pull_requests: match &p.fork_pull_requests {
                None => ForkPolicy::default(),
                Some(v) => match v.get_ref().as_str() {
                    "off" => ForkPolicy::Off,
                    "without-secrets" => ForkPolicy::WithoutSecrets,
                    "with-secrets" => ForkPolicy::WithSecrets,
                    other => {
                        return Err(self.at(
                            v,
                            name,
                            format!(
                                "`fork_pull_requests = {other:?}`: expected \"off\", \"without-secrets\" (the default) or \"with-secrets\""
                            ),
                        ));
                    }
                },
            },
        })
    }

    fn secret(
        &self,
        name: &str,
        key: &str,
        file: &Option<Spanned<PathBuf>>,
        env: &Option<Spanned<String>>,
    ) -> Result<Option<SecretRef>, ConfigError> {
        match (file, env) {
            (Some(_), Some(e)) => Err(self.at(e, name, format!("set `{key}_file` or `{key}_env`, not both"))),
            (Some(f), None) => Ok(Some(SecretRef::File(self.base.join(f.get_ref())))),
            (None, Some(e)) => {
                let v = e.get_ref();
                if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(self.at(e, name, format!("`{key}_env = {v:?}` is not an environment variable name")));
                }
                Ok(Some(SecretRef::Env(v.clone())))
            }
            (None, None) => Ok(None),
        }
    }

    /// `ssh_key_file` and `ssh_known_hosts_file`, checked now so that a key ssh would refuse
    /// stops `slipway serve` with its name instead of failing every fetch.
    fn ssh(
        &self,
        name: &str,
        repo: &Spanned<String>,
        place: Option<&RepoPlace>,
        p: &RawProject,
    ) -> Result<(Option<PathBuf>, Option<PathBuf>), ConfigError> {
        let Some(key) = &p.ssh_key_file else {
            return match &p.ssh_known_hosts_file {
                Some(k) => Err(self.at(
                    k,
                    name,
                    "`ssh_known_hosts_file` goes with `ssh_key_file` (without a key of its own, ssh uses the server account's setup and its known_hosts)",
                )),
                None => Ok((None, None)),
            };
        };
        if !place.is_some_and(|pl| matches!(pl.scheme.as_str(), "ssh" | "git+ssh" | "ssh+git")) {
            return Err(self.at(
                key,
                name,
                format!(
                    "`ssh_key_file` applies only to ssh URLs (`ssh://user@host/path` or `user@host:path`), and `repo = {:?}` is not one{}",
                    repo.get_ref(),
                    if place.is_some_and(|pl| pl.scheme.starts_with("http")) {
                        "; for https, name a token with `token_file`"
                    } else {
                        ""
                    }
                ),
            ));
        }
        let path = self.absolute(key.get_ref());
        no_ssh_variables(&path).and_then(|()| check_private_key(&path)).map_err(|m| self.at(key, name, m))?;
        let known_hosts = match &p.ssh_known_hosts_file {
            Some(k) => {
                let kh = self.absolute(k.get_ref());
                no_ssh_variables(&kh).map_err(|m| self.at(k, name, m))?;
                match std::fs::metadata(&kh).and_then(|m| std::fs::File::open(&kh).map(|_| m)) {
                    Ok(m) if m.is_file() => Some(kh),
                    Ok(_) => {
                        return Err(self.at(
                            k,
                            name,
                            format!("the ssh_known_hosts_file {} is not a file", kh.display()),
                        ));
                    }
                    Err(e) => {
                        return Err(self.at(
                            k,
                            name,
                            format!("cannot read the ssh_known_hosts_file {}: {e}", kh.display()),
                        ));
                    }
                }
            }
            None => None,
        };
        Ok((Some(path), known_hosts))
    }

    /// `path` relative to the config's folder, made absolute (ssh runs in another folder).
    fn absolute(&self, path: &Path) -> PathBuf {
        let p = self.base.join(path);
        std::path::absolute(&p).unwrap_or(p)
    }

    fn globs(&self, name: &str, v: &Option<Spanned<Vec<String>>>) -> Result<Vec<String>, ConfigError> {
        let Some(v) = v else { return Ok(Vec::new()) };
        if v.get_ref().iter().any(|g| g.is_empty()) {
            return Err(self.at(v, name, "an empty branch pattern matches nothing; remove it"));
        }
        Ok(v.get_ref().clone())
    }

    fn duration(&self, name: &str, key: &str, s: &Spanned<String>) -> Result<Duration, ConfigError> {
        let text = s.get_ref().trim();
        let bad =
            || self.at(s, name, format!("`{key} = {text:?}`: expected a duration like \"60s\", \"5m\" or \"1h\""));
        let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let secs = match unit {
            "s" => n,
            "m" => n.saturating_mul(60),
            "h" => n.saturating_mul(3600),
            _ => return Err(bad()),
        };
        Ok(Duration::from_secs(secs))
    }
}

/// One per-step limit (`memory`, `pids` or `cpus`) as slipway.toml or a serve flag gives it:
/// `None` for `"unlimited"`, else the limit in Docker's units (bytes, processes, billionths of
/// a CPU).
pub fn parse_limit(key: &str, value: &toml::Value) -> Result<Option<i64>, String> {
    use toml::Value;
    if value.as_str().is_some_and(|s| s.trim() == "unlimited") {
        return Ok(None);
    }
    let n = match (key, value) {
        ("memory", Value::String(s)) => slipway_core::model::container::parse_size(s),
        ("memory", Value::Integer(b)) => Some(*b),
        ("pids", Value::Integer(n)) => Some(*n),
        ("pids", Value::String(s)) => s.trim().parse().ok(),
        ("cpus", Value::Integer(n)) => n.checked_mul(1_000_000_000),
        ("cpus", Value::Float(f)) if *f <= 1e6 => Some((f * 1e9).round() as i64),
        ("cpus", Value::String(s)) => {
            s.trim().parse::<f64>().ok().filter(|f| *f <= 1e6).map(|f| (f * 1e9).round() as i64)
        }
        _ => None,
    };
    let (min, expected) = match key {
        "memory" => (6 << 20, "a size of at least 6m, like \"4g\" or \"512m\", or \"unlimited\""),
        "pids" => (16, "a number of processes of at least 16, or \"unlimited\""),
        _ => (10_000_000, "a number of CPUs of at least 0.01, like 2 or 0.5, or \"unlimited\""),
    };
    match n {
        Some(n) if n >= min => Ok(Some(n)),
        _ => Err(format!("expected {expected}, found {value}")),
    }
}

/// A `run_limits` value (a string or a number) as the text its parser reads.
fn run_limit_text(value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(n) => Ok(n.to_string()),
        other => Err(format!("expected a string or a number, found {other}")),
    }
}

/// ssh reads `${NAME}` in a key or known_hosts path as an environment variable, with no way to
/// write it literally.
fn no_ssh_variables(path: &Path) -> Result<(), String> {
    if path.to_string_lossy().contains("${") {
        return Err(format!(
            "ssh would read the `${{` in {} as the start of an environment variable; use a path without it",
            path.display()
        ));
    }
    Ok(())
}

/// A private key file that ssh will use: a file (a symlink to one is fine, as for token files)
/// that only its owner can read or write (ssh refuses any other as "UNPROTECTED PRIVATE KEY
/// FILE") and that holds a private key (not the `.pub`). The content is read only to look at
/// its armour line; it is never kept or shown.
fn check_private_key(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read the ssh key file {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("the ssh key file {shown} is not a file"));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "the ssh key file {shown} can be read by others than its owner (mode {mode:03o}), and ssh refuses such a key \
             (\"UNPROTECTED PRIVATE KEY FILE\"); run `chmod 600 {shown}`"
        ));
    }
    let text = std::fs::read(path).map_err(|e| format!("cannot read the ssh key file {shown}: {e}"))?;
    let armoured = text.starts_with(b"-----BEGIN ") && text.windows(16).any(|w| w == b"PRIVATE KEY-----");
    if !armoured {
        return Err(format!(
            "the ssh key file {shown} does not hold a private key (`-----BEGIN … PRIVATE KEY-----`); is it the `.pub` file?"
        ));
    }
    // The server's ssh runs in batch mode: it cannot ask for a passphrase, and every fetch
    // would fail with "Permission denied (publickey)". ssh-keygen tells (without one, skip).
    let loaded = std::process::Command::new("ssh-keygen")
        .args(["-y", "-P", "", "-f"])
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output();
    if let Ok(out) = loaded
        && !out.status.success()
    {
        let why = String::from_utf8_lossy(&out.stderr);
        if why.contains("passphrase") {
            return Err(format!(
                "the ssh key file {shown} is protected by a passphrase, which the server cannot type;                  give it a key without one (`ssh-keygen -p -N '' -f COPY` removes it from a copy)"
            ));
        }
        return Err(format!("ssh-keygen cannot read the ssh key file {shown}: {}", why.trim()));
    }
    Ok(())
}

/// The host of an ssh clone URL (`ssh://[user@]host[:port]/…` or scp-like `[user@]host:path`),
/// lower-case; `None` for any other kind (https, git://, a relative or local path).
pub fn ssh_host(url: &str) -> Option<String> {
    RepoPlace::of(url).filter(|p| matches!(p.scheme.as_str(), "ssh" | "git+ssh")).map(|p| p.host)
}

/// Where a repo URL points: `https://host[:port]/owner/name.git`, `ssh://user@host[:port]/…`,
/// `git://host/…` or scp-like `user@host:owner/name.git`. `None` for a local path.
struct RepoPlace {
    scheme: String,
    /// With its port for http(s) (the API lives there too); without for ssh.
    host: String,
    host_port: String,
    full_name: String,
    credentials_in_url: bool,
}

impl RepoPlace {
    fn of(url: &str) -> Option<RepoPlace> {
        if let Some((scheme, rest)) = url.split_once("://") {
            let scheme = scheme.to_ascii_lowercase();
            if scheme == "file" {
                return None;
            }
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let (userinfo, host_port) = match authority.rsplit_once('@') {
                Some((u, h)) => (Some(u), h),
                None => (None, authority),
            };
            let host = host_of(host_port).to_ascii_lowercase();
            return Some(RepoPlace {
                // `https://TOKEN@host/…` is a form forges document: for http(s) any user part
                // is a credential (git would print it in its errors); ssh's `git@` is not.
                credentials_in_url: userinfo.is_some_and(|u| u.contains(':') || scheme.starts_with("http")),
                host_port: if scheme.starts_with("http") { host_port.to_ascii_lowercase() } else { host.clone() },
                host,
                scheme,
                full_name: repo_path(path),
            });
        }
        // scp-like: [user@]host:path, where host has no slash (else it is a local path).
        let (before, path) = url.split_once(':')?;
        if before.contains('/') || path.starts_with("//") {
            return None;
        }
        let host = before.rsplit('@').next().unwrap_or(before).to_ascii_lowercase();
        Some(RepoPlace {
            scheme: "ssh".into(),
            host_port: host.clone(),
            host,
            full_name: repo_path(path),
            credentials_in_url: false,
        })
    }

    fn loopback(&self) -> bool {
        matches!(self.host.as_str(), "localhost" | "127.0.0.1" | "[::1]")
    }

    fn default_api(&self, forge: Forge) -> String {
        let scheme = if self.scheme == "http" { "http" } else { "https" };
        match (forge, self.host.as_str()) {
            (Forge::GitHub, "github.com") => "https://api.github.com".to_string(),
            (Forge::GitHub, _) => format!("{scheme}://{}/api/v3", self.host_port),
            (Forge::GitLab, _) => format!("{scheme}://{}/api/v4", self.host_port),
            (Forge::Gitea, _) => format!("{scheme}://{}/api/v1", self.host_port),
        }
    }
}

/// An `http://` URL to another machine: a token sent there travels in the clear (a forge on
/// this machine, as in tests, is fine).
fn plain_http_off_loopback(url: &str) -> bool {
    RepoPlace::of(url).is_some_and(|pl| pl.scheme == "http" && !pl.loopback())
}

/// The host of `host[:port]`, an IPv6 literal with its brackets (`[::1]:3000` → `[::1]`).
fn host_of(host_port: &str) -> &str {
    match host_port.strip_prefix('[').and_then(|rest| rest.find(']')) {
        Some(end) => &host_port[..end + 2],
        None => host_port.split(':').next().unwrap_or(""),
    }
}

fn repo_path(path: &str) -> String {
    let p = path.trim_matches('/');
    p.strip_suffix(".git").unwrap_or(p).to_string()
}

#[cfg(test)]
mod trust_tests {
    use super::*;

    fn config(text: &str) -> Result<Config, String> {
        parse_config(Path::new("/etc/slipway/slipway.toml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn projects_are_untrusted_with_the_servers_limits_unless_they_say_otherwise() {
        let c = config(
            "[step_limits]\nmemory = \"2g\"\npids = \"unlimited\"\ncpus = 1.5\n\n\
             [[project]]\nname = \"web\"\npath = \"web\"\ntrusted = true\nstep_limits = { memory = \"8g\" }\n\n\
             [[project]]\nname = \"api\"\nrepo = \"https://github.com/acme/api.git\"\n",
        )
        .unwrap();
        assert_eq!(
            c.step_limits,
            StepLimitsOverride { memory: Some(Some(2 << 30)), pids: Some(None), nano_cpus: Some(Some(1_500_000_000)) }
        );
        assert_eq!(
            c.runs["web"],
            ProjectRuns {
                trusted: true,
                step_limits: StepLimitsOverride { memory: Some(Some(8 << 30)), ..Default::default() },
                ..Default::default()
            }
        );
        assert_eq!(c.runs["api"], ProjectRuns::default(), "untrusted by default");
        assert_eq!(c.projects.len(), 2);
    }

    #[test]
    fn run_limits_are_read_per_server_and_per_project_with_positions_in_errors() {
        use std::time::Duration;
        let c = config(
            "[run_limits]\nstep_timeout = 30\ndisk = \"unlimited\"\n\n\
             [[project]]\nname = \"web\"\npath = \"web\"\nrun_limits = { step_timeout = \"3s\", run_timeout = \"5h\", disk = 100 }\n",
        )
        .unwrap();
        assert_eq!(
            c.run_limits,
            RunLimitsOverride { step: Some(Some(Duration::from_secs(1800))), run: None, disk: Some(None) }
        );
        assert_eq!(
            c.runs["web"].run_limits,
            RunLimitsOverride {
                step: Some(Some(Duration::from_secs(3))),
                run: Some(Some(Duration::from_secs(5 * 3600))),
                disk: Some(Some(100 << 20))
            }
        );
        let e = config("[[project]]\nname = \"web\"\npath = \"web\"\nrun_limits = { step_timeout = \"soon\" }\n")
            .unwrap_err();
        assert!(e.contains("4:31: project `web`: `run_limits.step_timeout`: expected minutes"), "{e}");
        let e = config("[run_limits]\ndisk = true\n").unwrap_err();
        assert!(e.contains("2:8: `[run_limits]` `disk`: expected a string or a number"), "{e}");
        let e = config("[run_limits]\ntime = 3\n").unwrap_err();
        assert!(e.contains("unknown field `time`"), "{e}");
    }

    #[test]
    fn a_bad_limit_names_its_key_and_position() {
        let e = config("[[project]]\nname = \"web\"\npath = \"web\"\nstep_limits = { pids = 3 }\n").unwrap_err();
        assert!(e.starts_with("/etc/slipway/slipway.toml:4:"), "{e}");
        assert!(e.contains("project `web`: `step_limits.pids`: expected a number of processes of at least 16"), "{e}");
        let e = config("[step_limits]\nmemory = \"lots\"\n").unwrap_err();
        assert!(e.contains("2:10: `[step_limits]` `memory`: expected a size"), "{e}");
        let e = config("[step_limits]\ndisk = \"1g\"\n").unwrap_err();
        assert!(e.contains("unknown field `disk`"), "{e}");
        let e = config("[[project]]\nname = \"web\"\npath = \"web\"\ntrusted = \"yes\"\n").unwrap_err();
        assert!(e.contains("invalid type"), "{e}");
    }
}

#[cfg(test)]
mod generator_endpoint_tests {
    use super::*;

    #[test]
    fn generators_endpoints_are_origins_and_a_bad_one_names_its_position() {
        let file = Path::new("/etc/slipway/slipway.toml");
        let c =
            parse_config(file, "[generators]\nendpoints = [\"http://127.0.0.1:5000\", \"HTTPS://moto.internal/\"]\n")
                .unwrap();
        let shown: Vec<String> = c.generator_endpoints.iter().map(|o| o.to_string()).collect();
        assert_eq!(shown, ["http://127.0.0.1:5000", "https://moto.internal"]);
        let e = parse_config(file, "[generators]\nendpoints = [\"http://h:1/path\"]\n").unwrap_err().to_string();
        assert!(
            e.starts_with(
                "/etc/slipway/slipway.toml:2:14: `[generators]` `endpoints`: `http://h:1/path` is not an endpoint"
            ),
            "{e}"
        );
        let e = parse_config(file, "[generators]\nendpoint = []\n").unwrap_err().to_string();
        assert!(e.contains("unknown field `endpoint`"), "{e}");
    }
}
