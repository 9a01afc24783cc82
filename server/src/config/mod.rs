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
//!
//! One module per job: [`project`] the types a `[[project]]` becomes, [`raw`] the file as
//! TOML gives it, [`projects`] a table's name, secrets and kind, [`repo`] a repository
//! project's keys, [`place`] what a clone URL says about its host, [`limits`] `step_limits`
//! and `run_limits`, [`notify`] notifications and badges.

mod engine;
mod limits;
pub mod notify;
mod place;
pub mod project;
mod projects;
mod raw;
mod repo;

pub use limits::parse_limit;
pub use place::ssh_host;
pub use project::{BranchFilter, ForkPolicy, ProjectSource, RepoProject, SecretRef};
use raw::RawFile;
use slipway_core::model::container::StepLimitsOverride;
use slipway_core::model::run_limits::RunLimitsOverride;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

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
    /// `[engine] kind = "swarm"`: the swarm runs go to (under `slipway serve --engine`).
    pub swarm: Option<crate::cluster::swarm::SwarmSettings>,
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
        swarm: engine::swarm(raw.engine.as_ref(), cx.base).map_err(|(span, m)| cx.error(span, m))?,
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

/// What every part of the parser needs: the file (named in errors), its text (for the line and
/// column of a span) and its folder (relative paths are relative to it).
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
