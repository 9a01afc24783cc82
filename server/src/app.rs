//! The whole server, assembled once: `slipway serve` parses its flags into [`Settings`] and
//! calls [`App::build`]; tests build the same app and send it requests without a socket
//! (`app.router()?.oneshot(request)`), or start the binary when they need a real connection.

use crate::config::{ProjectSource, RepoProject};
use crate::executor::policy::{StepLimits, StepLimitsOverride};
use crate::executor::run_limits::{RunLimits, RunLimitsOverride, SetBy};
use crate::forge::status::{Retry, StatusClient};
use crate::git::{HttpAuth, Remote};
use crate::http;
use crate::runs::repo::RepoSetup;
use crate::runs::{Manager, Project, RunPolicy};
use crate::store::Store;
use anyhow::{Context, Result, bail};
use axum::Router;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Runs at once when nothing says otherwise (`--max-concurrent-runs`).
pub const DEFAULT_MAX_CONCURRENT_RUNS: usize = 2;
/// Step output one run keeps, in MB (`--max-run-log-mb`).
pub const DEFAULT_MAX_RUN_LOG_MB: u64 = 50;
/// Runs kept per project (`--keep-runs`).
pub const DEFAULT_KEEP_RUNS: u64 = 200;

/// What the server is told to be, as plain values (`slipway serve`'s flags, parsed).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The database, the API token, the runs' workspaces and checkouts.
    pub data_dir: PathBuf,
    /// slipway.toml, when given.
    pub config: Option<PathBuf>,
    /// Folder projects besides the config's: (name, folder).
    pub folders: Vec<(String, PathBuf)>,
    /// Key files by project name, over the config's.
    pub keys: Vec<(String, PathBuf)>,
    /// Projects trusted besides the config's `trusted = true` ones.
    pub trust: Vec<String>,
    /// The server's address as forges and browsers reach it (commit statuses link to it).
    pub public_url: String,
    pub max_concurrent_runs: usize,
    /// Step output one run keeps, in bytes.
    pub max_log_bytes: u64,
    pub keep_runs: usize,
    pub cache_registry: Option<String>,
    pub allow_add_docker: bool,
    /// Besides the config's `[generators] endpoints`.
    pub generator_endpoints: Vec<crate::generators::endpoints::Origin>,
    /// The `--step-*` flags, over the config's `[step_limits]`.
    pub step_limits: StepLimitsOverride,
    /// The timeout and disk flags, over the config's `[run_limits]`.
    pub run_limits: RunLimitsOverride,
    /// Free space the host's disk keeps, in MB; 0 turns the watch off.
    pub min_free_disk_mb: u64,
    pub request_log: Option<PathBuf>,
    pub trust_forwarded_for: bool,
    /// Where runs run (`--engine`).
    pub engine: EngineSetting,
}

/// `slipway serve --engine`: what the flags say, or what slipway.toml's `[engine]` says.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum EngineSetting {
    /// No `--engine`: slipway.toml's `[engine]`, else the local engine.
    #[default]
    FromConfig,
    Local,
    Swarm(crate::cluster::swarm::SwarmSettings),
}

impl Settings {
    /// The defaults of `slipway serve`'s flags, with `data_dir` and links to `public_url`.
    pub fn new(data_dir: PathBuf, public_url: String) -> Settings {
        Settings {
            data_dir,
            config: None,
            folders: Vec::new(),
            keys: Vec::new(),
            trust: Vec::new(),
            public_url,
            max_concurrent_runs: DEFAULT_MAX_CONCURRENT_RUNS,
            max_log_bytes: DEFAULT_MAX_RUN_LOG_MB * crate::runs::log_cap::MB,
            keep_runs: DEFAULT_KEEP_RUNS as usize,
            cache_registry: None,
            allow_add_docker: false,
            generator_endpoints: Vec::new(),
            step_limits: StepLimitsOverride::default(),
            run_limits: RunLimitsOverride::default(),
            min_free_disk_mb: crate::executor::run_limits::DEFAULT_MIN_FREE_DISK_MB,
            request_log: None,
            trust_forwarded_for: false,
            engine: EngineSetting::FromConfig,
        }
    }
}

/// The assembled server: its run manager (with its store and projects), the API token and
/// the HTTP settings. Nothing runs until [`App::start`]; [`App::router`] answers requests
/// without it (runs then stay queued).
pub struct App {
    manager: Arc<Manager>,
    token: Arc<String>,
    request_log: Option<PathBuf>,
    trust_forwarded_for: bool,
    /// The swarm engine, checked at start (its manager must answer).
    swarm: Option<Arc<crate::cluster::swarm::Swarm>>,
}

impl App {
    /// Make the data folder, read the config and every project's secrets (a missing one stops
    /// here, naming it), open the store and the token. Must be called within a Tokio runtime
    /// (the notifications' sender starts here).
    pub fn build(settings: Settings) -> Result<App> {
        let data_dir = &settings.data_dir;
        // Owner-only: it holds the token, the run history and the runs' copies of the projects.
        crate::executor::workspace::create_private_dir(data_dir)?;
        warn_if_shared(data_dir);
        let workspaces = data_dir.join("workspaces");
        crate::executor::workspace::create_private_dir(&workspaces)?;
        // Runs in flight when the server stopped are marked interrupted; their copies go too.
        if let Err(e) = crate::executor::workspace::sweep(&workspaces) {
            tracing::warn!("{e:#}");
        }
        let config = match &settings.config {
            Some(c) => crate::config::read_config(c)?,
            None => crate::config::Config::default(),
        };
        let mut wanted: Vec<ProjectSource> = config.projects;
        wanted.extend(settings.folders.iter().map(|(name, dir)| ProjectSource::Folder {
            name: name.clone(),
            path: dir.clone(),
            key: None,
        }));
        // In-flight runs' checkouts are stale after a restart (their runs are interrupted).
        let checkouts = data_dir.join("checkouts");
        if let Err(e) = crate::executor::workspace::sweep(&checkouts) {
            tracing::warn!("{e:#}");
        }
        let mut projects = Vec::new();
        for source in wanted {
            let project = match source {
                ProjectSource::Folder { name, path, key } => {
                    let dir = path
                        .canonicalize()
                        .with_context(|| format!("project `{name}`: {} does not exist", path.display()))?;
                    Project::folder(name, dir, key)
                }
                ProjectSource::Repo(r) => repo_project(*r, data_dir, &settings.public_url)?,
            };
            if projects.iter().any(|p: &Project| p.name == project.name) {
                bail!("project `{}` is registered twice", project.name);
            }
            projects.push(project);
        }
        for (name, key) in &settings.keys {
            match projects.iter_mut().find(|p| &p.name == name) {
                Some(p) => p.key = Some(key.clone()),
                None => bail!("--key {name}=… names no registered project"),
            }
        }
        let mut runs = config.runs;
        let mut generator_endpoints = config.generator_endpoints;
        generator_endpoints.extend(settings.generator_endpoints.iter().cloned());
        for name in &settings.trust {
            if !projects.iter().any(|p| &p.name == name) {
                bail!("--trust {name} names no registered project");
            }
            runs.entry(name.clone()).or_default().trusted = true;
        }
        let step_limits = StepLimits::SERVER_DEFAULT.overridden(&config.step_limits).overridden(&settings.step_limits);
        let mut run_limits = RunLimits::server_default()
            .overridden(&config.run_limits, SetBy::ServerConfig)
            .overridden(&settings.run_limits, SetBy::Flag);
        run_limits.host_floor =
            (settings.min_free_disk_mb > 0).then(|| settings.min_free_disk_mb * crate::executor::run_limits::MB);
        for p in &projects {
            if runs.get(&p.name).is_some_and(|r| r.trusted) {
                tracing::warn!(
                    "project `{}` is trusted: its runs' steps may control this host (privileged, cap_add, devices, …)",
                    p.name
                );
            }
        }
        let token = token(data_dir)?;
        let store = Arc::new(Store::open(&data_dir.join("slipway.sqlite"))?);
        let swarm_settings = match &settings.engine {
            EngineSetting::FromConfig => config.swarm.clone(),
            EngineSetting::Local => None,
            EngineSetting::Swarm(s) => Some(s.clone()),
        };
        // Steps that can reach the cluster registry must meet a login they do not have
        // (`--cluster-registry-auth`, checked at start), or be kept away from it.
        if let Some(s) = &swarm_settings
            && !s.registry_isolated
            && s.registry_auth.is_none()
        {
            let untrusted: Vec<&str> = projects
                .iter()
                .filter(|p| !runs.get(&p.name).is_some_and(|r| r.trusted))
                .map(|p| p.name.as_str())
                .collect();
            if !untrusted.is_empty() {
                bail!(
                    "--engine swarm would run untrusted projects ({}), but their steps could reach the cluster \
                     registry {}: a step could read other runs' images and push the tags that cancel or approve \
                     runs. Give the registry a login that steps never get (--cluster-registry-auth FILE, \
                     `registry_auth` in `[engine]`), or keep step containers away from the registry (a firewall \
                     on the nodes) and pass --cluster-registry-isolated (`registry_isolated = true`), or trust \
                     those projects (docs/cluster.md)",
                    untrusted.join(", "),
                    s.registry
                );
            }
        }
        let swarm = swarm_settings
            .map(|s| {
                let store = store.clone();
                crate::cluster::swarm::Swarm::new(
                    s,
                    Arc::new(move |id: &str, node: &str| {
                        if let Err(e) = store.set_node(id, node) {
                            tracing::warn!(run = %id, "cannot record the run's node {node}: {e:#}");
                        }
                    }),
                )
            })
            .transpose()?;
        let engine = match &swarm {
            Some(s) => crate::executor::EngineChoice::Elsewhere(s.clone()),
            None => crate::executor::EngineChoice::Local,
        };
        let manager = Manager::new(
            store,
            projects,
            settings.max_concurrent_runs,
            RunPolicy {
                cache_registry: settings.cache_registry,
                allow_add_docker: settings.allow_add_docker,
                workspaces: Some(workspaces),
                step_limits,
                projects: runs,
                max_log_bytes: settings.max_log_bytes,
                keep_runs: settings.keep_runs,
                generator_endpoints,
                run_limits,
                engine,
            },
        );
        // Reads the notifications' secret files: a missing one stops the server, naming it.
        let store = manager.store.clone();
        manager.set_notifier(crate::notify::Notifier::start(
            config.notify,
            &settings.public_url,
            Arc::new(move |run: &str, entry: &serde_json::Value| store.add_notify_error(run, entry)),
            Retry::default(),
        )?);
        Ok(App {
            manager,
            token: Arc::new(token),
            request_log: settings.request_log,
            trust_forwarded_for: settings.trust_forwarded_for,
            swarm,
        })
    }

    /// Whether a project is built from a repository (its runs report commit statuses).
    pub fn has_repos(&self) -> bool {
        self.manager.projects.iter().any(|p| p.repo().is_some())
    }

    /// Mark the runs a stopped server left as interrupted, then start the scheduler and the
    /// polling of repository projects.
    pub async fn start(&self) -> Result<()> {
        if let Some(swarm) = &self.swarm {
            swarm.docker().await?;
            swarm.check_registry().await?;
        }
        self.manager.recover().await?;
        tokio::spawn(self.manager.clone().schedule());
        for p in &self.manager.projects {
            if let Some(every) = p.repo().and_then(|r| r.config.poll) {
                tokio::spawn(self.manager.clone().poll(p.name.clone(), every));
            }
        }
        Ok(())
    }

    fn http_config(&self) -> http::Config {
        http::Config {
            request_log: self.request_log.clone(),
            api: Some(http::api::Api { manager: self.manager.clone(), token: self.token.clone() }),
            trust_forwarded_for: self.trust_forwarded_for,
        }
    }

    /// The studio, the API and the webhooks, as `serve` answers them.
    pub fn router(&self) -> Result<Router> {
        http::app(&self.http_config())
    }

    /// Serve on `addr` until Ctrl-C or SIGTERM (`signals`, installed before anything started).
    pub async fn serve(&self, addr: SocketAddr, signals: crate::signals::Signals) -> Result<()> {
        http::serve(addr, self.http_config(), signals).await
    }
}

/// A repository project: its secrets read now (a missing one stops the server, not a run),
/// its checkouts folder made.
fn repo_project(config: RepoProject, data_dir: &Path, public_url: &str) -> Result<Project> {
    let name = config.name.clone();
    let load = |s: &Option<crate::config::SecretRef>| {
        s.as_ref().map(|r| r.load()).transpose().map_err(|e| anyhow::anyhow!("project `{name}`: {e}"))
    };
    let webhook_secret = load(&config.webhook_secret)?;
    let token = load(&config.token)?;
    let auth = match (&token, config.forge) {
        (Some(t), Some(f)) => Some(HttpAuth::new(f.git_username(), t.expose())),
        _ => None,
    };
    let statuses = match (token, config.forge, &config.api_url) {
        (Some(t), Some(f), Some(api)) => Some(Arc::new(StatusClient::new(f, api, public_url, t, Retry::default()))),
        _ => None,
    };
    let checkouts = data_dir.join("checkouts").join(&name);
    crate::executor::workspace::create_private_dir(&checkouts)?;
    let setup = RepoSetup {
        remote: Remote::new(&config.repo, auth)
            .with_ssh(crate::runs::repo::ssh_auth(&config, data_dir)?)
            .with_timeout(config.git_timeout - crate::config::GIT_COMMAND_MARGIN),
        webhook_secret,
        statuses,
        data_dir: data_dir.to_path_buf(),
        checkouts: checkouts.clone(),
        kept: data_dir.join("kept").join(&name),
        config,
    };
    Ok(Project::from_repo(setup))
}

/// The API token: `SLIPWAY_TOKEN`, else the one in the data dir, else a new one (printed once).
fn token(data_dir: &Path) -> Result<String> {
    if let Ok(t) = std::env::var("SLIPWAY_TOKEN")
        && !t.trim().is_empty()
    {
        return Ok(t.trim().to_string());
    }
    let path = data_dir.join("token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        tracing::info!("the API token is in {} (the studio asks for it once per tab)", path.display());
        return Ok(t.trim().to_string());
    }
    let t = crate::names::random_hex(24)?;
    crate::fsutil::write_new(&path, t.as_bytes(), true)?;
    println!("API token (stored owner-only in {}; shown once): {t}", path.display());
    Ok(t)
}

/// An existing data dir is left as it is (it may be a shared folder chosen on purpose), but a
/// group- or world-accessible one is worth a warning: its files are owner-only regardless.
fn warn_if_shared(data_dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::metadata(data_dir)
        && m.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            "the data directory {} is accessible to other users (mode {:o}); `chmod 700` it",
            data_dir.display(),
            m.permissions().mode() & 0o777
        );
    }
}
