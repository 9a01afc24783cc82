//! The pipeline executor: follows the core's plan on an engine (`engine`; the Docker backend
//! in `docker/`). Builds each service image once per run, runs steps in fresh containers with
//! their dependencies on a per-step network, pushes tagged images, masks every decrypted
//! value, and removes everything it created (by label) at the end, on failure and on
//! cancellation. The order of steps, failures, approvals, cancellation and limits are the
//! orchestration's (`orchestrate`), which knows no engine.

mod context;
mod context_dockerfile;
mod deadline;
pub mod docker;
mod dockerfile;
mod engine;
mod env;
pub mod events;
#[cfg(test)]
mod fake;
pub mod mask;
mod orchestrate;
mod outcome;
pub(crate) mod paths;
pub mod policy;
mod run;
pub mod run_limits;
pub mod secrets;
pub mod workspace;

pub use docker::dockercfg::generate as generate_dockercfg;
pub use docker::{Client, labels};
pub use outcome::{RunOutcome, RunResult};

use anyhow::Result;
use engine::Engine;
use events::EventSender;
use orchestrate::Runner;
use slipway_core::crypto::Key;
use slipway_core::model::ServicesFile;
use slipway_core::plan::Plan;
use slipway_core::template::BuildVars;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Knobs with sane defaults.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Fail a step when it prints nothing for this long (jet: 15 minutes).
    pub no_output_timeout: Duration,
    /// How long to wait for a dependency's HEALTHCHECK to report healthy.
    pub health_timeout: Duration,
    /// Run `manual` groups instead of skipping them.
    pub approve: bool,
    /// Remove containers, networks and volumes at the end (`--no-remove` keeps them).
    pub remove: bool,
    /// Leaf steps running at once (default: the CPU count).
    pub parallelism: usize,
    /// Variables from `-e K=V`, applied last.
    pub extra_env: Vec<(String, String)>,
    /// When set, an unapproved `manual` group waits for this instead of being skipped (the
    /// server's approve endpoint notifies it; approving early is remembered).
    pub approval: Option<Arc<tokio::sync::Notify>>,
    /// Where `cached: true` services keep their cache images (`registry/prefix`); without
    /// it, `cached` is ignored.
    pub cache_registry: Option<String>,
    /// Keep every path in the project folder: no files or volumes outside it, no absolute
    /// volume paths. The server sets it; its runs' configuration may come from a request.
    /// A confined run also works on a copy of the project (see `workspace`), never on the
    /// folder itself: its steps are untrusted code.
    pub confine: bool,
    /// Where confined runs put their copy of the project (the server: DATA_DIR/workspaces);
    /// the system's temporary folder when unset.
    pub workspace_root: Option<PathBuf>,
    /// `dir` is already this run's own checkout (a repository run): a confined run uses it in
    /// place (see `workspace::Workspace::adopt`) instead of copying it.
    pub adopt_workspace: bool,
    /// Whether `add_docker: true` (the host's Docker socket in the container) is allowed. The
    /// CLI allows it, as jet did; the server only with `--allow-add-docker` (or in a trusted
    /// run).
    pub allow_add_docker: bool,
    /// Whether the configuration may give steps power over the host (`privileged`, `cap_add`,
    /// `devices`, …; see `policy`). The CLI runs its user's own files, as jet did; a server run
    /// is untrusted unless its project is trusted.
    pub trusted: bool,
    /// The server's limits on each step container (see `policy::StepLimits`); none on the CLI.
    pub step_limits: Option<policy::StepLimits>,
    /// Endpoints a built-in generator's `AWS_ENDPOINT_URL…` may name in an untrusted run
    /// (`--generator-endpoint`; see `generators::endpoints`); a trusted run may name any.
    pub generator_endpoints: Vec<crate::generators::endpoints::Origin>,
    /// Whether the run's secrets are decrypted (not for a fork's pull request).
    pub secrets: secrets::SecretAccess,
    /// Wall-clock and disk limits (see `run_limits`); none on the CLI unless asked for.
    pub run_limits: run_limits::RunLimits,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            no_output_timeout: Duration::from_secs(15 * 60),
            health_timeout: Duration::from_secs(120),
            approve: false,
            remove: true,
            parallelism: std::thread::available_parallelism().map_or(2, |n| n.get()),
            extra_env: Vec::new(),
            approval: None,
            confine: false,
            workspace_root: None,
            adopt_workspace: false,
            allow_add_docker: true,
            trusted: true,
            step_limits: None,
            generator_endpoints: Vec::new(),
            cache_registry: None,
            secrets: secrets::SecretAccess::Allowed,
            run_limits: run_limits::RunLimits::default(),
        }
    }
}

/// Everything one run needs.
pub struct RunSpec {
    /// Unique per run: names and labels of every object carry it.
    pub run_id: String,
    /// A short project name for image names and labels.
    pub project: String,
    /// The folder of the services file: build contexts and volumes are relative to it.
    pub dir: PathBuf,
    pub services: ServicesFile,
    pub plan: Plan,
    pub key: Option<Key>,
    pub vars: BuildVars,
    pub options: RunOptions,
    /// The services file as read: the policy's errors give positions in it.
    pub source: Option<slipway_core::SourceFile>,
}

/// Build or pull one service's image (`slipway load`); the name it has on the engine.
pub async fn load(docker: Client, spec: RunSpec, service: &str, events: EventSender) -> Result<String> {
    let run = run::Run::prepare(spec, events, CancellationToken::new()).await?;
    docker.engine(run).load_image(service.to_string()).await
}

/// Run a planned pipeline. Cleanup happens before this returns, whatever the outcome.
pub async fn run(docker: Client, spec: RunSpec, events: EventSender, cancel: CancellationToken) -> Result<RunResult> {
    prepare(docker, spec, events, cancel).await?.run().await
}

/// A run whose secrets are decrypted (and known to its masker) and whose project is copied,
/// before any container exists: what the server stores about a run is masked with it.
pub struct Prepared(Placed);

/// Where a prepared run runs: here, step by step on an engine, or as a whole elsewhere.
enum Placed {
    Local(Arc<Runner>),
    Elsewhere(Arc<run::Run>, Arc<dyn Placement>),
}

/// Which engine the server's runs use (`slipway serve --engine`).
#[derive(Clone)]
pub enum Backend {
    /// The Docker engine `DOCKER_HOST` names, step by step (the default).
    Local(Client),
    /// Each run as a whole on a node its placement chooses (a swarm's, see `cluster::swarm`).
    Elsewhere(Arc<dyn Placement>),
}

/// Which engine the server's runs use: the local one (connected per run, `DOCKER_HOST`), or a
/// placement of whole runs elsewhere.
#[derive(Clone, Default)]
pub enum EngineChoice {
    #[default]
    Local,
    Elsewhere(Arc<dyn Placement>),
}

impl std::fmt::Debug for EngineChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EngineChoice::Local => "Local",
            EngineChoice::Elsewhere(_) => "Elsewhere",
        })
    }
}

/// An engine that runs a whole prepared run somewhere else, with this same executor there
/// (a swarm node's agent): the run's events come back through [`RemoteRun::emit_numbered`].
pub trait Placement: Send + Sync {
    fn run(self: Arc<Self>, run: RemoteRun) -> futures_util::future::BoxFuture<'static, Result<RunResult>>;

    /// After a restart: stop and remove what the runs a stopped server left elsewhere still
    /// have going (they are recorded `interrupted`).
    fn abandon(self: Arc<Self>, runs: Vec<String>) -> futures_util::future::BoxFuture<'static, ()>;

    /// After a restart: whether run `id` still goes on elsewhere (an error: the placement
    /// cannot say, and the run is abandoned).
    fn still_going(self: Arc<Self>, id: String) -> futures_util::future::BoxFuture<'static, Result<bool>>;

    /// After a restart: follow a run that still goes on elsewhere to its end, as [`run`] does
    /// after submitting it, from where the server's record of it stops (`from`).
    ///
    /// [`run`]: Placement::run
    fn reattach(
        self: Arc<Self>,
        run: RemoteRun,
        from: Resume,
    ) -> futures_util::future::BoxFuture<'static, Result<RunResult>>;
}

/// Where a restarted server's record of a run that goes on elsewhere stops.
#[derive(Clone, Debug, Default)]
pub struct Resume {
    /// How many of the run's events from elsewhere were stored (see [`RemoteRun::emit_numbered`]).
    pub stored: u64,
    /// The node the run was recorded on, if it was.
    pub node: Option<String>,
}

/// Take up a run that goes on elsewhere after a restart (see [`Placement::reattach`]): `spec`
/// is rebuilt from what the server stored (its masker from the run's files, see
/// `run::Run::resume`); its events come on `events`.
pub async fn resume(
    placement: Arc<dyn Placement>,
    spec: RunSpec,
    from: Resume,
    events: EventSender,
    cancel: CancellationToken,
) -> Result<RunResult> {
    let run = run::Run::resume(spec, events, cancel);
    placement.reattach(RemoteRun(run), from).await
}

/// What a [`Placement`] gets of a prepared run.
pub struct RemoteRun(Arc<run::Run>);

impl RemoteRun {
    /// The run, its `dir` the confined copy of its project (without key or decrypted files).
    pub fn spec(&self) -> &RunSpec {
        &self.0.spec
    }

    pub fn cancel(&self) -> &CancellationToken {
        &self.0.cancel
    }

    /// The `n`th event from elsewhere (counted from 1), into the run's stream: every text
    /// masked again here (the server's masker knows every value the run decrypted), and `n`
    /// stored with it (see [`Resume::stored`]).
    pub fn emit_numbered(&self, n: u64, mut event: events::Event) {
        self.mask_event(&mut event);
        let _ = self.0.events.send(events::Event::Numbered { n, event: Box::new(event) });
    }

    fn mask_event(&self, event: &mut events::Event) {
        use events::Event::*;
        let run = &self.0;
        match event {
            Log { line, .. } => *line = run.mask(line),
            Info { message } => *message = run.mask(message),
            StepStatus { message: Some(m), .. } => *m = run.mask(m),
            Numbered { event, .. } => self.mask_event(event),
            Waiting { .. } | StepStatus { .. } => {}
        }
    }

    /// A message of the placement's own (masked).
    pub fn info(&self, message: String) {
        self.0.info(message)
    }

    /// `text` masked.
    pub fn mask(&self, text: &str) -> String {
        self.0.mask(text)
    }
}

/// Decrypt the run's secrets and copy its project; [`Prepared::run`] runs it on `docker`.
pub async fn prepare(
    docker: Client,
    spec: RunSpec,
    events: EventSender,
    cancel: CancellationToken,
) -> Result<Prepared> {
    prepare_on(Backend::Local(docker), spec, events, cancel).await
}

/// [`prepare`] for the server's engine, whichever it is.
pub async fn prepare_on(
    backend: Backend,
    spec: RunSpec,
    events: EventSender,
    cancel: CancellationToken,
) -> Result<Prepared> {
    let run = run::Run::prepare(spec, events, cancel).await?;
    Ok(Prepared(match backend {
        Backend::Local(docker) => {
            let engine = docker.engine(run.clone());
            Placed::Local(Arc::new(Runner::new(run, engine)))
        }
        Backend::Elsewhere(placement) => Placed::Elsewhere(run, placement),
    }))
}

impl Prepared {
    /// `text` with every decrypted value and the key's forms replaced by `***`.
    pub fn mask(&self, text: &str) -> String {
        self.context().mask(text)
    }

    fn context(&self) -> &run::Run {
        match &self.0 {
            Placed::Local(runner) => runner.run(),
            Placed::Elsewhere(run, _) => run,
        }
    }

    /// Every string in `value` masked (strings, not the JSON text: an escaped secret would
    /// not match).
    pub fn mask_json(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) => *s = self.mask(s),
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.mask_json(v)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|v| self.mask_json(v)),
            _ => {}
        }
    }

    pub fn plan(&self) -> &Plan {
        &self.context().spec.plan
    }

    /// The build values the run's steps get (`CI_COMMIT_ID`, …).
    pub fn vars(&self) -> &BuildVars {
        &self.context().spec.vars
    }

    pub async fn run(self) -> Result<RunResult> {
        match self.0 {
            Placed::Local(runner) => runner.execute().await,
            Placed::Elsewhere(run, placement) => {
                let result = placement.run(RemoteRun(run.clone())).await;
                // The server's copy of the project went to the node in the run's image.
                let workspace = run.workspace.lock().expect("workspace lock").take();
                if let Some(ws) = workspace
                    && let Err(e) = tokio::task::spawn_blocking(move || ws.remove()).await?
                {
                    run.info(format!("{e:#}"));
                }
                result
            }
        }
    }
}
