//! The pipeline executor: follows the core's plan on a Docker engine (bollard). Builds each
//! service image once per run, runs steps in fresh containers with their dependencies on a
//! per-step network, pushes tagged images, masks every decrypted value, and removes
//! everything it created (by label) at the end, on failure and on cancellation.

mod container;
pub mod context;
mod context_dockerfile;
mod deadline;
mod dependencies;
mod disk_watch;
mod dockercfg;
mod dockerfile;
mod env;
pub mod events;
mod file_out;
mod follow;
mod host_config;
mod images;
pub mod labels;
pub mod mask;
pub(crate) mod paths;
mod pinned;
pub mod policy;
mod push;
mod push_tag;
mod resolve;
pub mod run_limits;
pub mod secrets;
mod step;
pub mod workspace;

pub use dockercfg::generate as generate_dockercfg;

use anyhow::Result;
use bollard::Docker;
use events::{Event, EventSender, StepResult, StepStatus};
use futures_util::future::BoxFuture;
use mask::Masker;
use slipway_core::crypto::Key;
use slipway_core::model::ServicesFile;
use slipway_core::plan::{Kind, Plan, PlannedStep, Status};
use slipway_core::template::BuildVars;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{OnceCell, Semaphore};
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

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub success: bool,
    pub cancelled: bool,
    pub steps: Vec<StepResult>,
}

type Shared<T> = Arc<OnceCell<std::result::Result<T, String>>>;

pub(crate) struct Runner {
    docker: Docker,
    spec: RunSpec,
    secrets: secrets::Secrets,
    masker: RwLock<Masker>,
    events: EventSender,
    cancel: CancellationToken,
    /// Image ids by service.
    images: Mutex<HashMap<String, Shared<String>>>,
    /// Builds waiting for a sibling's build (their Dockerfile starts FROM its image), by service.
    build_waits: Mutex<HashMap<String, String>>,
    volume_holders: Mutex<HashMap<String, Shared<String>>>,
    slots: Semaphore,
    results: Mutex<Vec<StepResult>>,
    /// Step labels by id: the executor identifies steps by id and shows their names.
    names: HashMap<String, String>,
    /// Container removals running in the background; awaited before the run ends.
    removals: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Docker requests that create objects; awaited before cleanup (see `Runner::creating`).
    creations: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// A confined run's copy of the project (`spec.dir` points into it); removed at the end.
    workspace: Mutex<Option<workspace::Workspace>>,
    /// Bind sources held open for the run, so what Docker mounts is what was checked.
    pins: pinned::Pins,
    /// The run's clock and its stop for limits (see `deadline`).
    guard: deadline::Guard,
}

async fn runner(
    docker: Docker,
    mut spec: RunSpec,
    events: EventSender,
    cancel: CancellationToken,
) -> Result<Arc<Runner>> {
    let limits = policy::check(&spec)?;
    let mut masker = Masker::new();
    let secrets = match &spec.options.secrets {
        secrets::SecretAccess::Allowed => secrets::Secrets::prepare(
            &spec.dir,
            spec.options.confine,
            &spec.services,
            &spec.plan,
            spec.key.as_ref(),
            &mut masker,
        )?,
        secrets::SecretAccess::Withheld { why } => {
            secrets::none_needed(&spec.services, &spec.plan, why)?;
            secrets::Secrets::default()
        }
    };
    if let Some(key) = &spec.key {
        masker.extend(mask::key_forms(key));
    }
    let workspace = if spec.options.confine { Some(copy_project(&mut spec, &secrets).await?) } else { None };
    let copied = workspace.as_ref().map(|w| w.stats);
    let slots = Semaphore::new(spec.options.parallelism.max(1));
    let runner = Arc::new(Runner {
        docker,
        secrets,
        masker: RwLock::new(masker),
        events,
        cancel: cancel.clone(),
        images: Mutex::new(HashMap::new()),
        build_waits: Mutex::new(HashMap::new()),
        volume_holders: Mutex::new(HashMap::new()),
        slots,
        results: Mutex::new(Vec::new()),
        names: step_names(&spec.plan),
        removals: Mutex::new(Vec::new()),
        creations: Mutex::new(Vec::new()),
        workspace: Mutex::new(workspace),
        pins: pinned::Pins::default(),
        guard: deadline::Guard::new(),
        spec,
    });
    limits.into_iter().for_each(|l| runner.info(l));
    if let Some(c) = copied {
        runner.info(format!(
            "steps work on {} ({} files, {} KiB, made ready in {} ms; {} left out: .git, key files, decrypted files)",
            if runner.spec.options.adopt_workspace {
                "a fresh checkout of the commit"
            } else {
                "a copy of the project"
            },
            c.files,
            c.bytes.div_ceil(1024),
            c.took.as_millis(),
            c.hidden
        ));
    }
    Ok(runner)
}

/// Every step of the plan, groups and `on_fail` steps included, in pipeline order.
fn pipeline_order(plan: &Plan) -> Vec<&PlannedStep> {
    fn walk<'a>(s: &'a PlannedStep, out: &mut Vec<&'a PlannedStep>) {
        out.push(s);
        s.steps.iter().chain(&s.on_fail).for_each(|c| walk(c, out));
    }
    let mut out = Vec::new();
    plan.steps.iter().for_each(|s| walk(s, &mut out));
    out
}

fn step_names(plan: &Plan) -> HashMap<String, String> {
    pipeline_order(plan).into_iter().map(|s| (s.id.clone(), s.name.clone())).collect()
}

/// Copy the project for a confined run, after its secrets were read and before any container
/// exists; point the run at the copy.
async fn copy_project(spec: &mut RunSpec, secrets: &secrets::Secrets) -> Result<workspace::Workspace> {
    // Not a fixed folder in /tmp: another user could own it and swap what Docker mounts.
    let root = spec.options.workspace_root.clone().unwrap_or_else(std::env::temp_dir);
    let hidden = workspace::Hidden { plaintexts: secrets.plaintexts.clone() };
    let (project, run_id, adopt) = (spec.dir.clone(), spec.run_id.clone(), spec.options.adopt_workspace);
    let ws = tokio::task::spawn_blocking(move || match adopt {
        true => workspace::Workspace::adopt(&project, &hidden),
        false => workspace::Workspace::create(&project, &root, &run_id, &hidden, workspace::LIMITS),
    })
    .await??;
    spec.dir = ws.path().to_path_buf();
    Ok(ws)
}

/// Build or pull one service's image (`slipway load`); the name it has on the engine.
pub async fn load(docker: Docker, spec: RunSpec, service: &str, events: EventSender) -> Result<String> {
    let runner = runner(docker, spec, events, CancellationToken::new()).await?;
    runner.image_for(service, &format!("load-{service}"), None).await?;
    runner.loaded_name(service)
}

/// Run a planned pipeline. Cleanup happens before this returns, whatever the outcome.
pub async fn run(docker: Docker, spec: RunSpec, events: EventSender, cancel: CancellationToken) -> Result<RunResult> {
    prepare(docker, spec, events, cancel).await?.run().await
}

/// A run whose secrets are decrypted (and known to its masker) and whose project is copied,
/// before any container exists: what the server stores about a run is masked with it.
pub struct Prepared(Arc<Runner>);

/// Decrypt the run's secrets and copy its project; [`Prepared::run`] runs it.
pub async fn prepare(
    docker: Docker,
    spec: RunSpec,
    events: EventSender,
    cancel: CancellationToken,
) -> Result<Prepared> {
    Ok(Prepared(runner(docker, spec, events, cancel).await?))
}

impl Prepared {
    /// `text` with every decrypted value and the key's forms replaced by `***`.
    pub fn mask(&self, text: &str) -> String {
        self.0.mask(text)
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
        &self.0.spec.plan
    }

    pub async fn run(self) -> Result<RunResult> {
        execute(self.0).await
    }
}

async fn execute(runner: Arc<Runner>) -> Result<RunResult> {
    let cancel = runner.cancel.clone();
    let steps = runner.spec.plan.steps.clone();
    let watched = CancellationToken::new();
    let watch = tokio::spawn(runner.clone().watch_disk(watched.clone()));
    let ok = runner.clone().serial(steps).await;
    watched.cancel();
    let _ = watch.await;
    let cancelled = cancel.is_cancelled();
    // Cleanup lists objects by label: everything being created must exist by then.
    let creations = std::mem::take(&mut *runner.creations.lock().expect("creations lock"));
    futures_util::future::join_all(creations).await;
    let removals = std::mem::take(&mut *runner.removals.lock().expect("removals lock"));
    futures_util::future::join_all(removals).await;
    if runner.spec.options.remove {
        match labels::cleanup(&runner.docker, Some(&runner.spec.run_id), false).await {
            Ok(left) => {
                if !left.containers.is_empty() || !left.networks.is_empty() || !left.volumes.is_empty() {
                    runner.info(format!(
                        "removed {} containers, {} networks, {} volumes",
                        left.containers.len(),
                        left.networks.len(),
                        left.volumes.len()
                    ));
                }
                for f in &left.failed {
                    runner.info(format!("cannot remove {} {}: {}; {}", f.kind, f.name, f.error, f.hint()));
                }
            }
            Err(e) => runner.info(format!(
                "cleanup failed: {e}; what the run left carries the label {}={} (`docker ps -a --filter label={}={}`)",
                labels::RUN,
                runner.spec.run_id,
                labels::RUN,
                runner.spec.run_id
            )),
        }
    }
    // After the containers that mounted it are gone.
    let workspace = runner.workspace.lock().expect("workspace lock").take();
    if let Some(ws) = workspace
        && let Err(e) = tokio::task::spawn_blocking(move || ws.remove()).await?
    {
        runner.info(format!("{e:#}"));
    }
    // Results arrive in the order steps end; a summary reads in the order of the pipeline.
    let mut steps = runner.results.lock().expect("results lock").clone();
    let order: HashMap<&str, usize> =
        pipeline_order(&runner.spec.plan).iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
    steps.sort_by_key(|r| order.get(r.id.as_str()).copied().unwrap_or(usize::MAX));
    Ok(RunResult { success: ok && !cancelled, cancelled, steps })
}

impl Runner {
    fn mask(&self, s: &str) -> String {
        self.masker.read().expect("masker lock").mask(s)
    }

    /// Run a Docker request that creates an object (container, network, volume) as a task of
    /// its own, which the run awaits before cleaning up. A cancelled step drops its future in
    /// the middle of the request, but Docker still completes it: without this, cleanup could
    /// look before the object exists and leave it behind.
    async fn creating<T, E>(&self, request: impl Future<Output = Result<T, E>> + Send + 'static) -> Result<T>
    where
        T: Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let _ = tx.send(request.await);
        });
        self.creations.lock().expect("creations lock").push(task);
        Ok(rx.await.map_err(|_| anyhow::anyhow!("a Docker request was lost"))??)
    }

    /// A line splitter for output that will be masked: it never cuts through a secret.
    fn line_buffer(&self) -> mask::LineBuffer {
        self.masker.read().expect("masker lock").line_buffer()
    }

    fn add_secrets<I: IntoIterator<Item = String>>(&self, secrets: I) {
        self.masker.write().expect("masker lock").extend(secrets);
    }

    fn info(&self, message: String) {
        let _ = self.events.send(Event::Info { message: self.mask(&message) });
    }

    fn log(&self, step: &str, service: &str, line: &str) {
        self.emit_log(step, service, line, false);
    }

    fn build_log(&self, step: &str, service: &str, line: &str) {
        self.emit_log(step, service, line, true);
    }

    /// The label of a step id: its name, or for a helper of a step (`2.1-dockercfg`), the
    /// step's name with the same suffix; ids of no step (`load-app`) are their own label.
    fn label(&self, id: &str) -> String {
        if let Some(n) = self.names.get(id) {
            return n.clone();
        }
        match id.split_once('-') {
            Some((step, rest)) if self.names.contains_key(step) => format!("{}-{rest}", self.names[step]),
            _ => id.to_string(),
        }
    }

    /// `step` is a step id (see `PlannedStep::id`).
    fn emit_log(&self, step: &str, service: &str, line: &str, build: bool) {
        let line = self.mask(line);
        let _ = self.events.send(Event::Log {
            step: self.label(step),
            id: step.to_string(),
            service: service.to_string(),
            line,
            build,
            at_ms: Some(events::now_ms()),
        });
    }

    fn status(&self, id: &str, status: StepStatus, duration: Option<Duration>, message: Option<String>) {
        let _ = self.events.send(Event::StepStatus {
            step: self.label(id),
            id: id.to_string(),
            status,
            duration_ms: duration.map(|d| d.as_millis() as u64),
            message: message.map(|m| self.mask(&m)),
        });
    }

    fn finish(&self, step: &str, st: StepStatus, took: Duration, message: Option<String>) {
        self.status(step, st, Some(took), message);
        let result = StepResult { id: step.to_string(), name: self.label(step), status: st, duration: took };
        self.results.lock().expect("results lock").push(result);
    }

    fn skip(&self, s: &PlannedStep, reason: &str) {
        for leaf in s.leaves() {
            self.status(&leaf.id, StepStatus::Skipped, None, Some(reason.to_string()));
            let result = StepResult {
                id: leaf.id.clone(),
                name: leaf.name.clone(),
                status: StepStatus::Skipped,
                duration: Duration::ZERO,
            };
            self.results.lock().expect("results lock").push(result);
        }
    }

    /// Why a step that has not started must not start: the run was cancelled. (A failure
    /// stops only what comes after it in its own serial line — see `serial` — never a sibling
    /// of a parallel group.)
    fn stopping(&self) -> Option<&'static str> {
        self.cancel.is_cancelled().then_some("cancelled").or_else(|| self.over_limit())
    }

    /// Run steps one after another; stop at the first failure.
    fn serial(self: Arc<Self>, steps: Vec<PlannedStep>) -> BoxFuture<'static, bool> {
        Box::pin(async move {
            let mut ok = true;
            for s in steps {
                if let Some(reason) = self.stopping().or((!ok).then_some("an earlier step failed")) {
                    self.skip(&s, reason);
                    ok = false;
                    continue;
                }
                ok &= self.clone().step(s).await;
            }
            ok
        })
    }

    /// Run steps at once (bounded by the slots). Every sibling runs to its own result, as
    /// CodeShip started them all: a sibling waiting for a slot when another fails still runs;
    /// the group's failure stops what comes after the group (in `serial`).
    fn parallel(self: Arc<Self>, steps: Vec<PlannedStep>) -> BoxFuture<'static, bool> {
        Box::pin(async move {
            let futures = steps.into_iter().map(|s| {
                let me = self.clone();
                async move {
                    if let Some(reason) = me.stopping() {
                        me.skip(&s, reason);
                        return false;
                    }
                    me.step(s).await
                }
            });
            futures_util::future::join_all(futures).await.into_iter().all(|ok| ok)
        })
    }

    fn step(self: Arc<Self>, s: PlannedStep) -> BoxFuture<'static, bool> {
        Box::pin(async move {
            if s.status == Status::Skipped {
                self.skip(&s, s.reason.as_deref().unwrap_or("skipped"));
                return true;
            }
            if matches!(s.kind, Kind::Run | Kind::Push) {
                return self.leaf(s).await;
            }
            let ok = self.clone().group(&s).await;
            // A group's `on_fail` runs once the group is done, when a step inside it failed
            // (not when it was cancelled or its steps were skipped for a failure elsewhere).
            if !ok && !s.on_fail.is_empty() && self.failed_inside(&s) {
                let Ok(_slot) = self.slots.acquire().await else { return false };
                self.on_fail(&s).await;
            }
            ok
        })
    }

    async fn group(self: Arc<Self>, s: &PlannedStep) -> bool {
        match s.kind {
            Kind::Parallel => self.parallel(s.steps.clone()).await,
            Kind::Manual if !self.spec.options.approve => match self.spec.options.approval.clone() {
                Some(gate) => {
                    let _ = self.events.send(Event::Waiting { group: s.name.clone(), id: s.id.clone() });
                    tokio::select! {
                        _ = gate.notified() => {
                            self.info(format!("manual group `{}` approved", s.name));
                            self.serial(s.steps.clone()).await
                        }
                        _ = self.cancel.cancelled() => {
                            self.skip(s, "cancelled while waiting for approval");
                            false
                        }
                        _ = self.limit_hit() => {
                            self.skip(s, "the run went over a limit while waiting for approval");
                            false
                        }
                    }
                }
                None => {
                    self.info(format!("skipping manual group `{}`: pass --approve to run it", s.name));
                    self.skip(s, "manual group not approved (--approve)");
                    true
                }
            },
            _ => self.serial(s.steps.clone()).await,
        }
    }

    /// Did a step under this group fail in this run?
    fn failed_inside(&self, group: &PlannedStep) -> bool {
        let leaves: Vec<&str> = group.leaves().iter().map(|l| l.id.as_str()).collect();
        self.results
            .lock()
            .expect("results lock")
            .iter()
            .any(|r| r.status == StepStatus::Failed && leaves.contains(&r.id.as_str()))
    }

    /// The `on_fail` steps of a step that failed, in order, each whatever the previous one
    /// did (the run has failed already); a cancel stops them.
    async fn on_fail(self: &Arc<Self>, s: &PlannedStep) {
        for f in &s.on_fail {
            if let Some(reason) = self.stopping() {
                self.skip(f, reason);
                continue;
            }
            let started = Instant::now();
            self.status(&f.id, StepStatus::Running, None, None);
            let outcome = tokio::select! {
                r = self.within(deadline::Unit::Step { id: &f.id }, self.run_step(f)) => Some(r),
                _ = self.cancel.cancelled() => None,
            };
            match outcome {
                Some(Ok(())) => self.finish(&f.id, StepStatus::Success, started.elapsed(), None),
                Some(Err(e)) => self.finish(&f.id, StepStatus::Failed, started.elapsed(), Some(format!("{e:#}"))),
                None => self.finish(&f.id, StepStatus::Cancelled, started.elapsed(), Some("cancelled".into())),
            }
        }
    }

    async fn leaf(self: Arc<Self>, s: PlannedStep) -> bool {
        let Ok(_slot) = self.slots.acquire().await else {
            return false;
        };
        if let Some(reason) = self.stopping() {
            self.skip(&s, reason);
            return false;
        }
        let started = Instant::now();
        self.status(&s.id, StepStatus::Running, None, None);
        let work = async {
            match s.kind {
                Kind::Push => self.push_step(&s).await,
                _ => self.run_step(&s).await,
            }
        };
        let outcome = tokio::select! {
            r = self.within(deadline::Unit::Step { id: &s.id }, work) => Some(r),
            _ = self.cancel.cancelled() => None,
        };
        match outcome {
            Some(Ok(())) => {
                self.finish(&s.id, StepStatus::Success, started.elapsed(), None);
                true
            }
            Some(Err(e)) => {
                self.finish(&s.id, StepStatus::Failed, started.elapsed(), Some(format!("{e:#}")));
                self.on_fail(&s).await;
                false
            }
            None => {
                self.finish(&s.id, StepStatus::Cancelled, started.elapsed(), Some("cancelled".into()));
                false
            }
        }
    }

    /// A name for a Docker object of this run: `slipway-<run>-<what>`, in Docker's alphabet.
    fn object_name(&self, what: &str) -> String {
        crate::names::docker_object_name(&self.spec.run_id, what)
    }
}
