//! The server's run manager: a persistent queue of runs, at most `limit` running at once, each
//! executed by the same executor as `slipway steps`, with every event stored (masked) and
//! broadcast to live subscribers.

mod events;
mod follow;
mod head;
pub mod lines;
pub mod log_cap;
pub mod notifications;
pub mod repo;
mod retention;
pub mod skip_ci;
/// The trigger record lives below the run manager and the store (both use it).
pub use crate::forge::run_trigger as trigger;

pub use head::Confirmation;

pub use follow::STORED_PAGE;

use crate::build_values::BuildValues;
use crate::executor::policy::StepLimits;
use crate::executor::{self, RunOptions, RunSpec, events::Event};
use crate::project::ConfigFile;
use crate::store::Store;
use anyhow::{Context, Result, anyhow, bail};
use events::RunEvent;
use futures_util::FutureExt;
use serde::Deserialize;
use slipway_core::SourceFile;
use slipway_core::crypto::Key;
use slipway_core::model::ServicesFile;
use slipway_core::plan::{Plan, PlanOptions, plan};
use slipway_core::run_state::RunStatus;
use slipway_core::template::BuildVars;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug)]
pub struct Project {
    pub name: String,
    /// A folder project's folder; a repository project's checkouts folder.
    pub dir: PathBuf,
    pub key: Option<PathBuf>,
    /// A repository project: runs check out the commit that triggered them.
    pub repo: Option<Arc<repo::RepoSetup>>,
}

/// What became of a delivery or a polled head offered to [`Manager::submit_triggered`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    Queued {
        id: String,
        /// The older runs of the same branch or pull request this one cancelled.
        superseded: Vec<String>,
        /// Whether the commit was found to be its ref's head before the answer (else that is
        /// looked at later, before the run supersedes anything or starts a step).
        confirmed: bool,
    },
    /// A delivery of a commit that is no longer its ref's head: a push delivered after a later
    /// one's (`superseded_by` names that run), or found so after the mirror's fetch (an old
    /// delivery replayed under a new id, say). Its run `id` was recorded and cancelled at once;
    /// it cancelled nothing and sends no commit status.
    Late { id: String, superseded_by: Option<String>, reason: String },
    /// The delivery id was seen before: the run it queued then.
    Duplicate(String),
    /// A queued or running run of the same branch (or pull request) is building this very
    /// commit already, or a run of the same tag built it (the delivery again, under a new id):
    /// that run, left alone.
    SameCommit(String),
    /// The same push (ref, `before`, `after`, …: not the unsigned delivery id) queued the run
    /// named here before: a replay, which builds nothing, also after retention deleted that
    /// run (see `store/triggered.rs`).
    Replayed(String),
    /// The head commit's message asks for no build (`[skip ci]`, see `skip_ci.rs`): no run
    /// was recorded, and no status is sent.
    Skipped { reason: String },
}

/// What `POST /api/runs` takes.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    pub project: String,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub push: bool,
    #[serde(default)]
    pub ci: CiValues,
    /// Edited files that replace the project's for this run only.
    #[serde(default)]
    pub services: Option<String>,
    #[serde(default)]
    pub steps: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CiValues {
    pub branch: Option<String>,
    pub commit_id: Option<String>,
    pub commit_message: Option<String>,
    pub committer_name: Option<String>,
    pub committer_email: Option<String>,
    pub build_id: Option<String>,
    pub timestamp: Option<i64>,
}

impl RunRequest {
    /// The request's values for the build helper the CLI uses too; a run's build id defaults
    /// to the run's id, its repository name to the project's.
    fn build_values(&self, run_id: &str, project: &str) -> BuildValues {
        let ci = &self.ci;
        BuildValues {
            tag: self.tag.clone(),
            branch: ci.branch.clone(),
            commit_id: ci.commit_id.clone(),
            commit_message: ci.commit_message.clone(),
            committer_name: ci.committer_name.clone(),
            committer_email: ci.committer_email.clone(),
            build_id: Some(ci.build_id.clone().unwrap_or_else(|| run_id.to_string())),
            repo_name: Some(project.to_string()),
            timestamp: ci.timestamp,
            ..BuildValues::default()
        }
    }
}

/// Events stored per transaction at most, when a chatty step has many queued up.
const MAX_EVENT_BATCH: usize = 512;

/// How long reading, checking and planning a run's files may take (they may come from the
/// request); the work runs on the blocking pool, off the threads that answer requests.
const PREPARE_BUDGET: Duration = Duration::from_secs(30);

/// What a run that panicked says; the panic itself goes to the server's log.
pub const INTERNAL_ERROR: &str = "the run stopped on an internal error of the server; the server's log has the details";
pub const INTERRUPTED: &str = "the server stopped during the run";
pub const CANCELLED_QUEUED: &str = "cancelled before it started";

/// A run that is queued or in progress: how to cancel, approve and follow it. It exists from
/// the run's creation, so a cancel or approve sent right after it is never lost.
pub struct Live {
    pub cancel: CancellationToken,
    /// Why a run was cancelled when that is not a user's cancel (late delivery): its record says so.
    reason: OnceLock<String>,
    /// A triggered run's head check, done once (see `head.rs`).
    head: tokio::sync::OnceCell<Confirmation>,
    /// `notify_one` keeps one permit: an approval sent before the manual group waits counts.
    pub approval: Arc<Notify>,
    /// The followers' channel, from the run's start on: its buffer (4,096 events) is too much
    /// to hold for every queued run, whose followers look in the store until it starts.
    events: OnceLock<broadcast::Sender<(u64, String)>>,
}

impl Live {
    fn new() -> Arc<Live> {
        Arc::new(Live {
            cancel: CancellationToken::new(),
            reason: OnceLock::new(),
            head: tokio::sync::OnceCell::new(),
            approval: Arc::new(Notify::new()),
            events: OnceLock::new(),
        })
    }

    /// The run's events as they happen; `None` while it is queued.
    pub fn subscribe(&self) -> Option<broadcast::Receiver<(u64, String)>> {
        self.events.get().map(|s| s.subscribe())
    }

    fn send(&self, event: (u64, String)) {
        if let Some(s) = self.events.get() {
            let _ = s.send(event);
        }
    }

    fn open(&self) {
        self.events.get_or_init(|| broadcast::channel(4096).0);
    }
}

/// What became of a cancel or approve request.
#[derive(Debug, PartialEq)]
pub enum Control {
    Done,
    /// The run has ended already, with this status.
    Ended(RunStatus),
    Unknown,
}

pub struct Manager {
    pub store: Arc<Store>,
    pub projects: Vec<Project>,
    limit: usize,
    live: Mutex<HashMap<String, Arc<Live>>>,
    wake: Notify,
    running: Mutex<usize>,
    policy: RunPolicy,
    /// Per run, its commit statuses waiting to be sent in order (see `repo::send_status`).
    status_queues: Mutex<HashMap<String, repo::StatusQueue>>,
    /// Notifications and public badges (see `notifications.rs`), set by `slipway serve`.
    notifier: OnceLock<Arc<crate::notify::Notifier>>,
    /// Fault injection for tests only: no real input is known to make a run panic.
    #[cfg(test)]
    panic_in_runs: std::sync::atomic::AtomicBool,
}

/// What the server lets every run do, from `slipway serve`'s flags.
#[derive(Clone, Debug)]
pub struct RunPolicy {
    /// Registry and prefix for the cache images of `cached: true` services.
    pub cache_registry: Option<String>,
    /// Allow `add_docker: true` (the host's Docker engine inside a step).
    pub allow_add_docker: bool,
    /// Where runs copy their project (`DATA_DIR/workspaces`; the temp folder when unset).
    pub workspaces: Option<PathBuf>,
    /// The server's limits on each step container (`--step-*` flags over slipway.toml's
    /// `[step_limits]` over `StepLimits::SERVER_DEFAULT`).
    pub step_limits: StepLimits,
    /// Per project: trusted or not, and its own limits (`trusted`, `step_limits` in slipway.toml;
    /// `--trust NAME`). A project not listed is untrusted, with the server's limits.
    pub projects: HashMap<String, crate::forge::config::ProjectRuns>,
    /// The most step output one run stores (`--max-run-log-mb`); what comes after is counted,
    /// not kept.
    pub max_log_bytes: u64,
    /// Runs kept per project (`--keep-runs`); older ended runs are deleted with their logs.
    pub keep_runs: usize,
    /// Where an untrusted run's built-in generator may be sent by its endpoint variables
    /// (`--generator-endpoint`, `[generators] endpoints`).
    pub generator_endpoints: Vec<crate::generators::endpoints::Origin>,
    /// The server's wall-clock and disk limits of a run (`--step-timeout`, `--run-timeout`,
    /// `--max-run-disk-mb` over `[run_limits]`); a project's `run_limits` go over them.
    pub run_limits: executor::run_limits::RunLimits,
}

/// Runs kept per project unless `--keep-runs` says otherwise.
pub const DEFAULT_KEEP_RUNS: usize = 200;

impl Default for RunPolicy {
    fn default() -> Self {
        RunPolicy {
            cache_registry: None,
            allow_add_docker: false,
            workspaces: None,
            step_limits: StepLimits::SERVER_DEFAULT,
            projects: HashMap::new(),
            max_log_bytes: log_cap::DEFAULT_MAX_LOG_BYTES,
            keep_runs: DEFAULT_KEEP_RUNS,
            generator_endpoints: Vec::new(),
            run_limits: executor::run_limits::RunLimits::server_default(),
        }
    }
}

impl RunPolicy {
    /// Whether a run of `project` is trusted, and its step limits. A pull request's code is its
    /// author's, who may have no push access: no pull-request run is trusted, a fork's or not
    /// (a trusted project's own branches get host power through pushes, not proposals).
    ///
    /// `--allow-add-docker` is the operator's word for the server's own projects' branches,
    /// never for code somebody proposes: a pull request's steps (a fork's above all) must not
    /// get the host's Docker engine through it.
    fn for_run(&self, project: &str, trigger: Option<&trigger::RunTrigger>) -> RunGrant {
        let runs = self.projects.get(project).copied().unwrap_or_default();
        let pull_request = trigger.is_some_and(|t| t.pr_number.is_some());
        RunGrant {
            trusted: runs.trusted && !pull_request,
            allow_add_docker: self.allow_add_docker && !pull_request,
            step_limits: self.step_limits.overridden(&runs.step_limits),
            run_limits: self
                .run_limits
                .overridden(&runs.run_limits, executor::run_limits::SetBy::Project(project.to_string())),
        }
    }
}

/// What one run may do, from the server's policy, its project and its trigger.
#[derive(Debug, PartialEq)]
struct RunGrant {
    trusted: bool,
    allow_add_docker: bool,
    step_limits: StepLimits,
    run_limits: executor::run_limits::RunLimits,
}

/// A locked mutex, also after a panic elsewhere while it was held: what it guards (counters
/// and maps) is valid between any two statements.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Manager {
    pub fn new(store: Arc<Store>, projects: Vec<Project>, limit: usize, policy: RunPolicy) -> Arc<Manager> {
        Arc::new(Manager {
            store,
            projects,
            limit: limit.max(1),
            live: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            running: Mutex::new(0),
            policy,
            status_queues: Mutex::new(HashMap::new()),
            notifier: OnceLock::new(),
            #[cfg(test)]
            panic_in_runs: Default::default(),
        })
    }

    pub fn project(&self, name: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.name == name)
    }

    pub fn live(&self, id: &str) -> Option<Arc<Live>> {
        lock(&self.live).get(id).cloned()
    }

    /// After a restart: runs that were in flight are interrupted (and their containers
    /// removed); queued runs stay queued and start in order.
    pub async fn recover(self: &Arc<Self>) -> Result<()> {
        let interrupted = self.store.interrupt_running(INTERRUPTED)?;
        // Followers of these runs (the studio) get a proper end of stream.
        for id in &interrupted {
            self.finish_events(id, RunStatus::Interrupted, Some(INTERRUPTED));
            self.final_status(id, RunStatus::Interrupted);
        }
        // Statuses that had not reached the forge when the server stopped (the interrupted
        // runs' final ones were just queued).
        self.resend_unsent_statuses(&interrupted);
        for id in self.store.queued()? {
            lock(&self.live).insert(id, Live::new());
        }
        // `--keep-runs` may have been lowered since the last start.
        for p in &self.projects {
            self.retain_history(&p.name);
        }
        if !interrupted.is_empty()
            && let Ok(docker) = crate::docker::connect().await
        {
            // Side by side: each may wait a few seconds for Docker.
            futures_util::future::join_all(interrupted.iter().map(|id| remove_leftovers(&docker, id))).await;
        }
        Ok(())
    }

    /// Queue a run; returns its id.
    pub fn submit(self: &Arc<Self>, req: RunRequest) -> Result<String> {
        match self.project(&req.project) {
            None => bail!("unknown project `{}`", req.project),
            Some(p) if p.repo.is_some() => {
                bail!("`{}` is a repository project: its runs are started by webhooks or polling", req.project)
            }
            Some(_) => {}
        }
        let id = crate::names::random_hex(6)?;
        lock(&self.live).insert(id.clone(), Live::new());
        if let Err(e) =
            self.store.insert_run(&id, &req.project, req.tag.as_deref(), req.push, &serde_json::to_string(&req)?)
        {
            lock(&self.live).remove(&id);
            return Err(e);
        }
        self.wake.notify_one();
        Ok(id)
    }

    /// Queue a repository run for `trigger` (a verified delivery or a polled head): at most
    /// once per delivery id, not while a run of the same line of work builds the same commit,
    /// and once per tag and commit. Whether the commit is still its ref's head is then looked at (a fetch of the
    /// mirror, see `head.rs`), for at most `wait` here and to the end in the background: only
    /// then is a pending status sent and, with `cancel_superseded`, are the branch's older
    /// queued or running runs cancelled. A late delivery runs nothing and cancels nothing.
    pub async fn submit_triggered(
        self: &Arc<Self>,
        project: &str,
        mut trigger: trigger::RunTrigger,
        wait: Duration,
    ) -> Result<Submitted> {
        let Some(repo) = self.project(project).and_then(|p| p.repo.clone()) else {
            bail!("`{project}` is not a repository project");
        };
        // `[skip ci]`: before anything is recorded. A delivery's answer waits for it and the
        // head check together at most `wait`; a poll waits as long as a fetch may take.
        let asked = std::time::Instant::now();
        let budget = if wait.is_zero() { repo.config.git_timeout } else { wait };
        if let Some(skip) = self.skip_ci(project, &repo, &trigger, budget).await {
            let reason = skip.reason(&trigger);
            tracing::info!(project, commit = %trigger.commit_id, branch = ?trigger.ci_branch(), "{reason}");
            return Ok(Submitted::Skipped { reason });
        }
        let wait = match wait.is_zero() {
            true => wait,
            // At least a moment: the answer says whether the head check was done.
            false => wait.saturating_sub(asked.elapsed()).max(Duration::from_millis(100)),
        };
        // Whether a run builds this commit already is looked at as the run is inserted (one
        // transaction): concurrent deliveries of one commit must queue one run, not cancel
        // each other.
        let id = crate::names::random_hex(6)?;
        let req = RunRequest {
            project: project.to_string(),
            tag: None,
            // A build of a pushed commit runs its push steps, as CodeShip's did (a fork's pull
            // request does not: decided when it runs, see `run_in`).
            push: true,
            ci: CiValues::default(),
            services: None,
            steps: None,
        };
        // Decided before the run exists, so the scheduler can never start a late one.
        let later = match repo.config.cancel_superseded {
            true => lines::later_push(&self.store, project, &trigger, &id)?,
            false => None,
        };
        let live = Live::new();
        if later.is_some() {
            live.cancel.cancel();
            trigger.head = trigger::HeadCheck::Late;
        }
        lock(&self.live).insert(id.clone(), live.clone());
        let line = lines::Line::of(&trigger);
        let key = line.as_ref().map(lines::Line::key);
        let request = serde_json::to_string(&req)?;
        let inserted = self.store.queue_triggered_run(&crate::store::NewTriggeredRun {
            id: &id,
            project,
            push: req.push,
            request: &request,
            trigger: &trigger,
            line: key.as_deref(),
            same_commit: line.as_ref().zip(key.as_deref()).map(|(l, k)| lines::same_commit(l, k, &trigger)),
        });
        match inserted {
            Ok(crate::store::Inserted::Queued) => {}
            Ok(crate::store::Inserted::Duplicate(first)) => {
                lock(&self.live).remove(&id);
                return Ok(Submitted::Duplicate(first));
            }
            Ok(crate::store::Inserted::SameCommit(same)) => {
                lock(&self.live).remove(&id);
                return Ok(Submitted::SameCommit(same));
            }
            Ok(crate::store::Inserted::Replayed(first)) => {
                lock(&self.live).remove(&id);
                tracing::warn!(project, run = %first, "a delivery of a push that queued a run before: not run again");
                return Ok(Submitted::Replayed(first));
            }
            Err(e) => {
                lock(&self.live).remove(&id);
                return Err(e);
            }
        }
        tracing::info!(run = %id, project, commit = %trigger.commit_id, "queued by {:?}", trigger.kind);
        if let Some(later) = later {
            // Deliveries can arrive out of order: this is the older push, and the run of the
            // push that moved the ref on from it is already here. It must not cancel that run;
            // had it come in order, it would have been superseded by it.
            let reason = format!("superseded by run {later}, a later push whose delivery arrived first");
            tracing::info!(run = %id, "{reason}");
            self.cancel_late(&id, &reason)?;
            return Ok(Submitted::Late { id, superseded_by: Some(later), reason });
        }
        // The check goes on in its own task when the answer stops waiting for it.
        let (me, run) = (self.clone(), id.clone());
        let check = tokio::spawn(async move { me.confirm_head(&run, &live).await });
        self.wake.notify_one();
        let outcome = match wait.is_zero() {
            true => None,
            false => tokio::time::timeout(wait, check).await.ok().and_then(|joined| joined.ok()),
        };
        Ok(match outcome {
            Some(Ok(Confirmation::Head { superseded })) => Submitted::Queued { id, superseded, confirmed: true },
            Some(Ok(Confirmation::Late { reason })) => Submitted::Late { id, superseded_by: None, reason },
            // Not known yet (or the fetch failed, and the run's checkout will try again).
            _ => Submitted::Queued { id, superseded: Vec::new(), confirmed: false },
        })
    }

    /// Cancel a run: a queued one ends at once, a running one stops its containers.
    pub fn cancel(self: &Arc<Self>, id: &str) -> Result<Control> {
        self.cancel_because(id, CANCELLED_QUEUED)
    }

    /// Cancel a run whose delivery was late: its record says why, whether it was queued or
    /// had started (its checkout waits for the head check), and no status goes to the forge.
    fn cancel_late(self: &Arc<Self>, id: &str, reason: &str) -> Result<Control> {
        if let Some(live) = self.live(id) {
            let _ = live.reason.set(reason.to_string());
        }
        self.cancel_because(id, reason)
    }

    /// [`Manager::cancel`], with what a queued run's record says about why.
    fn cancel_because(self: &Arc<Self>, id: &str, reason: &str) -> Result<Control> {
        let Some(live) = self.live(id) else { return self.ended(id) };
        live.cancel.cancel();
        // If the scheduler starts it first, the run sees the cancelled token and ends cancelled.
        if self.end(id, RunStatus::Queued, RunStatus::Cancelled, Some(reason))? {
            lock(&self.live).remove(id);
            self.final_status(id, RunStatus::Cancelled);
        }
        Ok(Control::Done)
    }

    /// The run's final status on its forge (repository runs only).
    fn final_status(self: &Arc<Self>, id: &str, status: RunStatus) {
        if let Ok(Some(run)) = self.store.run(id)
            && run.trigger.is_some()
        {
            self.send_status(id, &run.project, repo::final_state(status));
        }
    }

    /// Let the run's waiting (or next) manual group run.
    pub fn approve(&self, id: &str) -> Result<Control> {
        let Some(live) = self.live(id) else { return self.ended(id) };
        live.approval.notify_one();
        Ok(Control::Done)
    }

    fn ended(&self, id: &str) -> Result<Control> {
        Ok(self.store.run(id)?.map_or(Control::Unknown, |r| Control::Ended(r.status)))
    }

    /// The scheduler: start queued runs, oldest first, while fewer than `limit` run.
    pub async fn schedule(self: Arc<Self>) {
        loop {
            while *lock(&self.running) < self.limit {
                let crate::store::QueuedRun { id, request } = match self.store.next_queued() {
                    Ok(Some(n)) => n,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::error!("cannot read the queue: {e:#}");
                        break;
                    }
                };
                match self.store.start(&id) {
                    Ok(true) => self.spawn_run(id, request),
                    Ok(false) => {} // cancelled between the two queries
                    Err(e) => {
                        tracing::error!(run = %id, "cannot start the run: {e:#}");
                        break;
                    }
                }
            }
            self.wake.notified().await;
        }
    }

    /// Run one started run in its own task. Whatever happens in it, a panic included, the run
    /// gets a final status and its slot is freed.
    fn spawn_run(self: &Arc<Self>, id: String, request: String) {
        *lock(&self.running) += 1;
        let slot = Slot { manager: self.clone(), id: id.clone() };
        let live = lock(&self.live).entry(id.clone()).or_insert_with(Live::new).clone();
        let me = self.clone();
        tracing::info!(run = %id, "started");
        tokio::spawn(async move {
            let _slot = slot;
            let outcome = AssertUnwindSafe(me.clone().execute(&id, &request, live.clone())).catch_unwind().await;
            let (status, error) = match outcome {
                Ok(Ok(RunStatus::Cancelled)) => (RunStatus::Cancelled, live.reason.get().cloned()),
                Ok(Ok(status)) => (status, None),
                // Cancelled while it was being prepared: what went wrong after that is moot.
                Ok(Err(e)) if live.cancel.is_cancelled() => {
                    tracing::info!(run = %id, "cancelled; it had failed: {e:#}");
                    (RunStatus::Cancelled, live.reason.get().cloned())
                }
                Ok(Err(e)) => {
                    tracing::warn!(run = %id, "failed: {e:#}");
                    (RunStatus::Failed, Some(me.public_message(&e)))
                }
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    tracing::error!(run = %id, "panicked: {what}");
                    (RunStatus::Error, Some(INTERNAL_ERROR.to_string()))
                }
            };
            me.finish(&id, status, error.as_deref());
        });
    }

    fn finish(self: &Arc<Self>, id: &str, status: RunStatus, error: Option<&str>) {
        match self.end(id, RunStatus::Running, status, error) {
            Ok(true) => {
                tracing::info!(run = %id, %status, "finished");
                self.final_status(id, status);
                self.notify_finished(id, status);
                if let Ok(Some(run)) = self.store.run(id) {
                    self.retain_history(&run.project);
                }
            }
            Ok(false) => tracing::warn!(run = %id, "had already ended; {status} not recorded"),
            Err(e) => tracing::error!(run = %id, "cannot record the end of the run: {e:#}"),
        }
    }

    /// `from` → `status`, with the `run_finished` event stored in the same transaction (a
    /// follower that sees the run ended finds the event) and sent to live followers.
    fn end(&self, id: &str, from: RunStatus, status: RunStatus, error: Option<&str>) -> Result<bool> {
        let ended = match from {
            RunStatus::Queued => {
                let error = error.unwrap_or(CANCELLED_QUEUED);
                self.store.cancel_queued(id, error, &RunEvent::finished(status, Some(error)).to_json())?
            }
            _ => self.store.finish(id, status, error, &RunEvent::finished(status, error).to_json())?,
        };
        // Nothing is stored after it: the run's pump has ended, or (queued) never started.
        if ended && let Some(live) = self.live(id) {
            live.send((self.store.last_event(id)?, RunEvent::finished(status, error).to_json()));
        }
        Ok(ended)
    }

    fn finish_events(&self, id: &str, status: RunStatus, error: Option<&str>) {
        let data = RunEvent::finished(status, error).to_json();
        let seq = self.store.last_event(id).unwrap_or(0) + 1;
        let _ = self.store.append_event(id, seq, &data);
        if let Some(live) = self.live(id) {
            live.send((seq, data));
        }
    }

    /// An error as the run's record shows it to anyone (`GET /api/runs/{id}` needs no token):
    /// the server's folders become project-relative names; the full text goes to the log.
    fn public_message(&self, e: &anyhow::Error) -> String {
        self.public_text(&format!("{e:#}"))
    }

    fn public_text(&self, text: &str) -> String {
        let mut text = text.to_string();
        for p in &self.projects {
            if let Some(key) = &p.key {
                text = text.replace(&key.display().to_string(), "the project key");
            }
            if let Some(r) = &p.repo {
                // ssh names them in its errors ("UNPROTECTED PRIVATE KEY FILE", "Offending key in").
                if let Some(k) = &r.config.ssh_key {
                    text = text.replace(&k.display().to_string(), "the project's ssh key");
                }
                if let Some(k) = &r.config.ssh_known_hosts {
                    text = text.replace(&k.display().to_string(), "the project's known_hosts file");
                }
                text = repo::strip_checkouts(&text, &p.dir);
                // A failed clone or fetch names the mirror's folder.
                text = text.replace(&r.data_dir.display().to_string(), "DATA_DIR");
            }
            let dir = p.dir.display().to_string();
            text = text.replace(&format!("{dir}/"), "").replace(&dir, "the project folder");
        }
        // A run's copy of the project (`WORKSPACES/slipway-run-…/`) is the project folder too.
        let root = self.policy.workspaces.clone().unwrap_or_else(std::env::temp_dir);
        strip_under(&text, &root.display().to_string(), "slipway-run-")
    }

    async fn execute(self: Arc<Self>, id: &str, request: &str, live: Arc<Live>) -> Result<RunStatus> {
        #[cfg(test)]
        if self.panic_in_runs.load(std::sync::atomic::Ordering::SeqCst) {
            panic!("fault injected by a test");
        }
        if live.cancel.is_cancelled() {
            return Ok(RunStatus::Cancelled);
        }
        let req: RunRequest = serde_json::from_str(request).context("stored run request")?;
        let project = self
            .project(&req.project)
            .ok_or_else(|| anyhow!("project `{}` is no longer registered", req.project))?
            .clone();
        // A repository run works in a fresh checkout of its commit, removed (or kept) when the
        // run ends, however it ends.
        let checkout = match &project.repo {
            Some(repo) => Some(self.checkout(id, &project.name, repo, &live).await?),
            None => None,
        };
        let dir = checkout.as_ref().map_or_else(|| project.dir.clone(), |c| c.ws.path().to_path_buf());
        let trigger = checkout.as_ref().map(|c| c.trigger.clone());
        let result = self.run_in(id, &project, req, &dir, trigger.as_ref(), request, live).await;
        if let (Some(c), Some(repo)) = (checkout, project.repo.clone()) {
            let _ = tokio::task::spawn_blocking(move || repo.finish_checkout(c.ws)).await;
        }
        result
    }

    /// The commit confirmed as its ref's head (else the run ends here, as late), the mirror
    /// updated and the run's commit checked out, on the blocking pool within the project's
    /// `git_timeout`; a running status sent.
    async fn checkout(
        self: &Arc<Self>,
        id: &str,
        project: &str,
        repo: &Arc<repo::RepoSetup>,
        live: &Arc<Live>,
    ) -> Result<Checkout> {
        if let Confirmation::Late { reason } = self.confirm_head(id, live).await? {
            bail!("{reason}");
        }
        let mut trigger = self.store.trigger(id)?.ok_or_else(|| anyhow!("a repository run without its trigger"))?;
        self.send_status(id, project, crate::forge::status::State::Running);
        let (r, t, name) = (repo.clone(), trigger.clone(), project.to_string());
        // Stopped by the run's cancel, or when the budget is spent: no git outlives the run.
        let stop = live.cancel.child_token();
        let git_stop = stop.clone();
        let work = tokio::task::spawn_blocking(move || r.checkout(&name, &t, git_stop));
        let budget = repo.config.git_timeout;
        let ws = match tokio::time::timeout(budget, work).await {
            Ok(joined) => joined.context("checking out the commit")?.map_err(|e| anyhow!(repo.mask(&e.to_string())))?,
            Err(_) => {
                stop.cancel();
                bail!(
                    "fetching and checking out the commit took longer than {} s (`git_timeout` in slipway.toml)",
                    budget.as_secs()
                )
            }
        };
        // An annotated tag's object id, peeled by the checkout: the values and statuses name the commit.
        if ws.commit() != trigger.commit_id {
            // Kept: a replay of the delivery names the tag object again (see `same_commit_run`).
            trigger.tag_object = Some(std::mem::replace(&mut trigger.commit_id, ws.commit().to_string()));
            self.store.set_trigger(id, &trigger)?;
        }
        // What the event did not carry (a pull request names only its head), from the commit.
        if trigger.commit_message.is_none() || trigger.author.is_none() {
            let git = crate::gitinfo::GitInfo::read(ws.path());
            trigger.commit_message = trigger.commit_message.or(git.commit_message);
            trigger.committer_name = trigger.committer_name.or(git.committer_name);
            trigger.committer_email = trigger.committer_email.or(git.committer_email);
            trigger.author = trigger
                .author
                .or_else(|| trigger.committer_name.clone())
                .or_else(|| trigger.committer_username.clone());
            self.store.set_trigger(id, &trigger)?;
        }
        Ok(Checkout { ws, trigger })
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_in(
        self: &Arc<Self>,
        id: &str,
        project: &Project,
        req: RunRequest,
        dir: &std::path::Path,
        trigger: Option<&trigger::RunTrigger>,
        request: &str,
        live: Arc<Live>,
    ) -> Result<RunStatus> {
        // A fork's pull request: no secrets, no pushes, no cache pushes (unless the project says
        // `fork_pull_requests = "with-secrets"`).
        let fork = trigger.and_then(|t| fork_limits(project, t)).transpose()?;
        let mut req = req;
        if fork.is_some() {
            req.push = false;
        }
        let prepared = {
            let (project, run_id, dir, t) = (project.clone(), id.to_string(), dir.to_path_buf(), trigger.cloned());
            let work = tokio::task::spawn_blocking(move || prepare(&project, &req, &run_id, &dir, t.as_ref()));
            match tokio::time::timeout(PREPARE_BUDGET, work).await {
                Ok(joined) => joined.context("preparing the run")??,
                Err(_) => bail!("reading and planning the files took longer than {} s", PREPARE_BUDGET.as_secs()),
            }
        };
        if live.cancel.is_cancelled() {
            return Ok(RunStatus::Cancelled);
        }
        if let Some(tag) = &prepared.plan.tag {
            self.store.set_tag_if_unset(id, tag)?;
        }
        self.notify_started(id);
        let Prepared { services, plan: mut p, key, vars, source } = prepared;
        let grant = self.policy.for_run(&project.name, trigger);
        if fork.is_some() {
            fork_skips_pushes(&mut p.steps);
        }
        let spec = RunSpec {
            source: Some(source),
            run_id: id.to_string(),
            project: project.name.clone(),
            dir: dir.to_path_buf(),
            services,
            plan: p,
            // Not even handed over: nothing in the run can decrypt anything.
            key: if fork.is_some() { None } else { key },
            vars,
            options: RunOptions {
                approval: Some(live.approval.clone()),
                // Cache images are pushed under the branch's name, which a fork chooses.
                cache_registry: if fork.is_some() { None } else { self.policy.cache_registry.clone() },
                secrets: match &fork {
                    Some(why) => executor::secrets::SecretAccess::Withheld { why: why.clone() },
                    None => executor::secrets::SecretAccess::Allowed,
                },
                confine: true,
                allow_add_docker: grant.allow_add_docker,
                trusted: grant.trusted,
                step_limits: Some(grant.step_limits),
                generator_endpoints: self.policy.generator_endpoints.clone(),
                run_limits: grant.run_limits,
                workspace_root: self.policy.workspaces.clone(),
                adopt_workspace: trigger.is_some(),
                extra_env: trigger.map(repo::pull_request_env).unwrap_or_default(),
                ..RunOptions::default()
            },
        };
        let docker = crate::docker::connect().await.map_err(|e| {
            tracing::error!(run = %id, "{e:#}");
            anyhow!("the server cannot reach its Docker engine; the server's log has the details")
        })?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
        if fork.is_some() {
            let message = "this run is a pull request from a fork: no secret is decrypted and push steps are skipped \
                           (`fork_pull_requests` in slipway.toml)";
            let _ = tx.send(Event::Info { message: message.into() });
        }
        let prepared = executor::prepare(docker, spec, tx, live.cancel.clone()).await?;
        // Event 1 is the plan, so a follower (the studio's graph) knows the pipeline's shape
        // before the first step reports. Commands and values in it may hold a decrypted
        // value (pasted into the steps file, say): masked like the log.
        let mut plan = serde_json::to_value(prepared.plan())?;
        prepared.mask_json(&mut plan);
        let plan_event = RunEvent::Plan { plan }.to_json();
        self.store.append_event(id, 1, &plan_event)?;
        // The request (edited files, build values) is kept with the run: masked from now on.
        let mut stored: serde_json::Value = serde_json::from_str(request).context("stored run request")?;
        prepared.mask_json(&mut stored);
        self.store.set_request(id, &stored.to_string())?;
        live.open();
        live.send((1, plan_event));
        let store = self.store.clone();
        let run_id = id.to_string();
        let pump_live = live.clone();
        let me = self.clone();
        let mut cap = log_cap::LogCap::new(self.policy.max_log_bytes);
        // Store every event (already masked by the executor) and fan it out to followers,
        // step output only up to the run's log cap.
        let pump = tokio::spawn(async move {
            let mut seq = 1u64;
            let mut batch = Vec::new();
            while let Some(first) = rx.recv().await {
                // Whatever else has queued up goes into the same transaction.
                batch.push(first);
                while batch.len() < MAX_EVENT_BATCH
                    && let Ok(ev) = rx.try_recv()
                {
                    batch.push(ev);
                }
                let mut rows = Vec::with_capacity(batch.len());
                for mut ev in batch.drain(..) {
                    if let Event::StepStatus { step, id, status, duration_ms, message } = &mut ev {
                        // Shown without a token (`GET /api/runs/{id}`), like the run's error.
                        if let Some(m) = message {
                            *m = me.public_text(m);
                        }
                        let _ = store.upsert_step(&run_id, id, step, *status, *duration_ms, message.as_deref());
                    }
                    let data = RunEvent::Executor(&ev).to_json();
                    let kept = match cap.admit(&ev, data.len()) {
                        log_cap::Admit::Keep => data,
                        log_cap::Admit::CutHere => RunEvent::Executor(&cap.marker()).to_json(),
                        log_cap::Admit::Drop => continue,
                    };
                    seq += 1;
                    rows.push((seq, kept));
                }
                if let Err(e) = store.append_events(&run_id, &rows) {
                    tracing::error!(run = %run_id, "cannot store events: {e:#}");
                }
                for row in rows {
                    pump_live.send(row);
                }
            }
            // What was cut, once the steps are done.
            if let Some(summary) = cap.summary() {
                let row = (seq + 1, RunEvent::Executor(&summary).to_json());
                if let Err(e) = store.append_events(&run_id, std::slice::from_ref(&row)) {
                    tracing::error!(run = %run_id, "cannot store events: {e:#}");
                }
                pump_live.send(row);
            }
        });
        let result = prepared.run().await;
        let _ = pump.await;
        let result = result?;
        Ok(if result.cancelled {
            RunStatus::Cancelled
        } else if result.success {
            RunStatus::Success
        } else {
            RunStatus::Failed
        })
    }
}

/// Why a run's limits are those of a fork's pull request, if they are: `None` for any other
/// run; an error when the project takes no pull requests from forks (any more).
fn fork_limits(project: &Project, t: &trigger::RunTrigger) -> Option<Result<String>> {
    use crate::forge::config::ForkPolicy;
    if !t.from_fork {
        return None;
    }
    let policy = project.repo.as_ref().map_or(ForkPolicy::default(), |r| r.config.fork_pull_requests);
    match policy {
        ForkPolicy::WithSecrets => None,
        ForkPolicy::Off => Some(Err(anyhow!(
            "pull requests from forks start no run in project `{}` (`fork_pull_requests = \"off\"` in slipway.toml)",
            project.name
        ))),
        ForkPolicy::WithoutSecrets => Some(Ok(format!(
            "this run is a pull request from a fork, which gets no secrets: set `fork_pull_requests = \"with-secrets\"` in the [[project]] `{}` of slipway.toml to give them the project's secrets and push steps (anyone who can open a pull request can then read them)",
            project.name
        ))),
    }
}

/// Push steps a fork's pull request skips say why (the planner's reason names `--push`,
/// a flag of the CLI).
fn fork_skips_pushes(steps: &mut [slipway_core::plan::PlannedStep]) {
    for s in steps {
        if s.kind == slipway_core::plan::Kind::Push && s.reason.as_deref() == Some("push steps run only with --push") {
            s.reason =
                Some("a pull request from a fork runs no push steps (`fork_pull_requests` in slipway.toml)".into());
        }
        fork_skips_pushes(&mut s.steps);
        fork_skips_pushes(&mut s.on_fail);
    }
}

/// A repository run's checkout and its trigger (completed from the commit).
struct Checkout {
    ws: crate::git::Workspace,
    trigger: trigger::RunTrigger,
}

/// A running run's place among the `limit`: freed when its task ends, however it ends.
struct Slot {
    manager: Arc<Manager>,
    id: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let m = &self.manager;
        lock(&m.live).remove(&self.id);
        *lock(&m.running) -= 1;
        m.wake.notify_one();
    }
}

/// What a run needs before it touches Docker: its files read, checked and planned.
struct Prepared {
    services: ServicesFile,
    plan: Plan,
    key: Option<Key>,
    vars: BuildVars,
    /// The services file as read, for positions in the executor's errors.
    source: SourceFile,
}

/// Read, check and plan a run's files (the request's or the project's) and read the project's
/// git values and key: file reads, `git` and CPU work, hence called on the blocking pool.
/// `dir` is the project's folder, or a repository run's checkout of the commit `trigger` names.
fn prepare(
    project: &Project,
    req: &RunRequest,
    id: &str,
    dir: &std::path::Path,
    trigger: Option<&trigger::RunTrigger>,
) -> Result<Prepared> {
    let sv = read_config(project, dir, &req.services, ConfigFile::Services)?;
    let st = read_config(project, dir, &req.steps, ConfigFile::Steps)?;
    let checked = slipway_core::check(&sv, &st);
    if let Some(d) = checked.report.diagnostics.iter().find(|d| d.is_error()) {
        bail!(
            "the configuration has {} error(s), the first at {}:{}:{}: {} [{}]; validate it first",
            checked.report.errors,
            d.file,
            d.line,
            d.column,
            d.message,
            d.code.as_str()
        );
    }
    // Values the request (or the trigger) leaves out come from the git work tree, as for the CLI.
    let mut values = req.build_values(id, &project.name);
    if let Some(t) = trigger {
        values = repo::build_values(values, t);
    }
    let build = values.resolve(dir)?;
    let p = plan(
        &checked.services,
        &checked.steps,
        &PlanOptions { tag: build.tag.clone(), push: req.push, vars: build.vars.clone() },
    );
    let vars = build.vars;
    // A repository run's key is the server's (`key = …`), never a file in the checkout, which
    // whoever can push (or open a pull request) controls.
    let key_path = match trigger {
        None => Some(project.key.clone().unwrap_or_else(|| dir.join("codeship.aes"))),
        Some(_) => project.key.clone(),
    };
    let key = match key_path {
        Some(k) if k.exists() => Some(crate::keyfile::load_key(&k).context("project key")?),
        _ => None,
    };
    Ok(Prepared { services: checked.services, plan: p, key, vars, source: sv })
}

/// The request's edited file, else the project's, found and read as the CLI finds and reads
/// it: the same names, and the same size limit (a huge file or a FIFO is an error, not a hang).
fn read_config(
    project: &Project,
    dir: &std::path::Path,
    given: &Option<String>,
    which: ConfigFile,
) -> Result<SourceFile> {
    let first = which.candidates()[0];
    if let Some(text) = given {
        if text.len() as u64 > crate::project::MAX_READ {
            bail!("the edited {first} is larger than the limit of {} bytes", crate::project::MAX_READ);
        }
        return Ok(SourceFile::new(first, text.clone()));
    }
    let Some(name) = crate::project::discover(dir, which) else { bail!("project `{}` has no {first}", project.name) };
    crate::project::read_server_config(dir, name)
}

/// `ROOT/PREFIX-ID-X/file` → `file`, `ROOT/PREFIX-ID-X` → `the project folder`: paths in
/// a run's copy (or checkout) of its project, as the configuration names them.
fn strip_under(text: &str, root: &str, prefix: &str) -> String {
    let marker = format!("{}/{prefix}", root.trim_end_matches('/'));
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&marker) {
        out.push_str(&rest[..at]);
        let after = &rest[at + marker.len()..];
        let end = after.find(|c: char| c == '/' || c.is_whitespace() || c == ':').unwrap_or(after.len());
        if after[end..].starts_with('/') {
            rest = &after[end + 1..];
        } else {
            out.push_str("the project folder");
            rest = &after[end..];
        }
    }
    out.push_str(rest);
    out
}

/// Remove what a run that was in flight at a crash left in Docker. The engine may still be
/// finishing what the dead server asked of it (a container's removal, a creation), so this
/// tries again, for up to ~5 s, until nothing labelled with the run is left.
async fn remove_leftovers(docker: &bollard::Docker, id: &str) {
    for attempt in 0..6 {
        match executor::labels::cleanup(docker, Some(id), false).await {
            Ok(removed) if removed.is_empty() => return,
            Ok(left) if attempt == 5 => {
                for f in &left.failed {
                    tracing::warn!(run = %id, "cannot remove the {} {} the run left behind: {}; {}", f.kind, f.name, f.error, f.hint());
                }
            }
            // Removed some, or refused some: look again, something may have appeared meanwhile.
            Ok(_) => {}
            Err(e) if attempt == 5 => tracing::warn!(run = %id, "cannot remove what the run left behind: {e}"),
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_in_a_runs_copy_read_as_the_configuration_names_them() {
        let text =
            "cannot read /d/workspaces/slipway-run-ab12-x9/sub/missing.env: gone; in /d/workspaces/slipway-run-ab12-x9";
        assert_eq!(
            super::strip_under(text, "/d/workspaces/", "slipway-run-"),
            "cannot read sub/missing.env: gone; in the project folder"
        );
        assert_eq!(super::strip_under("no paths", "/d/workspaces", "slipway-run-"), "no paths");
    }

    /// Found by review: with `--allow-add-docker`, a fork's pull request with `add_docker: true`
    /// got the host's Docker socket (root on the host). Pull requests get neither trust nor it.
    #[test]
    fn a_pull_request_gets_neither_trust_nor_the_docker_socket() {
        let policy = RunPolicy {
            allow_add_docker: true,
            projects: HashMap::from([(
                "p".to_string(),
                crate::forge::config::ProjectRuns { trusted: true, ..Default::default() },
            )]),
            ..RunPolicy::default()
        };
        let push = trigger::RunTrigger::from_poll("main", "0123456789abcdef0123456789abcdef01234567");
        let grant = policy.for_run("p", Some(&push));
        assert!(grant.trusted && grant.allow_add_docker, "{grant:?}");
        let mut pr = push.clone();
        pr.pr_number = Some(7);
        pr.from_fork = true;
        let grant = policy.for_run("p", Some(&pr));
        assert!(!grant.trusted && !grant.allow_add_docker, "{grant:?}");
        pr.from_fork = false;
        assert!(!policy.for_run("p", Some(&pr)).allow_add_docker);
        assert!(policy.for_run("p", None).allow_add_docker, "a run started through the API is the token holder's");
    }

    use super::*;
    use std::time::Instant;

    /// A manager of one project whose folder has no files, so every run that starts fails
    /// before it needs Docker, unless it is cancelled first.
    fn manager(limit: usize) -> (Arc<Manager>, tempfile::TempDir) {
        let d = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&d.path().join("db.sqlite")).unwrap());
        let project = Project { name: "p".into(), dir: d.path().to_path_buf(), key: None, repo: None };
        (Manager::new(store, vec![project], limit, RunPolicy::default()), d)
    }

    fn request() -> RunRequest {
        serde_json::from_value(serde_json::json!({"project": "p"})).unwrap()
    }

    async fn ended(m: &Manager, id: &str) -> crate::store::RunRow {
        let start = Instant::now();
        loop {
            let run = m.store.run(id).unwrap().unwrap();
            if run.status.is_finished() {
                return run;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "run {id} never ended: {run:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Fault injection: no real input is known to make a run panic, so the test makes every
    /// run's task panic on purpose. With one slot, a panicking run that kept its slot would
    /// leave the second run queued for ever.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_run_that_panics_ends_as_error_and_frees_its_slot() {
        let (m, _dir) = manager(1);
        m.panic_in_runs.store(true, std::sync::atomic::Ordering::SeqCst);
        tokio::spawn(m.clone().schedule());
        let (a, b) = (m.submit(request()).unwrap(), m.submit(request()).unwrap());
        for id in [&a, &b] {
            let run = ended(&m, id).await;
            assert_eq!((run.status, run.error.as_deref()), (RunStatus::Error, Some(INTERNAL_ERROR)));
            let last = m.store.events_after(id, 0, 10).unwrap().pop().unwrap().1;
            assert!(last.contains(r#""event":"run_finished","status":"error""#), "{last}");
        }
        // The slot is freed when the run's task ends, just after its end is stored (and its
        // project's history trimmed): wait for that, briefly.
        let start = Instant::now();
        while m.live(&a).is_some() || m.live(&b).is_some() {
            assert!(start.elapsed() < Duration::from_secs(5), "a panicked run kept its live entry");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // The slot is free: a run without the fault starts (and fails on the empty folder).
        m.panic_in_runs.store(false, std::sync::atomic::Ordering::SeqCst);
        let c = m.submit(request()).unwrap();
        let run = ended(&m, &c).await;
        assert_eq!(run.status, RunStatus::Failed);
        assert_eq!(run.error.as_deref(), Some("project `p` has no codeship-services.yml"));
    }

    /// A queued run cancelled before the scheduler sees it is never started, and never goes
    /// from cancelled to running.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_queued_run_cancelled_is_never_started() {
        let (m, _dir) = manager(1);
        let id = m.submit(request()).unwrap();
        assert_eq!(m.cancel(&id).unwrap(), Control::Done);
        tokio::spawn(m.clone().schedule());
        m.wake.notify_one();
        let c = m.submit(request()).unwrap();
        ended(&m, &c).await; // the scheduler has looked at the queue since
        let run = m.store.run(&id).unwrap().unwrap();
        assert_eq!(
            (run.status, run.started_at, run.error.as_deref()),
            (RunStatus::Cancelled, None, Some(CANCELLED_QUEUED))
        );
        assert_eq!(m.cancel(&id).unwrap(), Control::Ended(RunStatus::Cancelled));
        assert_eq!(m.approve(&id).unwrap(), Control::Ended(RunStatus::Cancelled));
        assert_eq!(m.cancel("nope").unwrap(), Control::Unknown);
    }

    /// The window the issue found: the run is `running` in the store but still reading its
    /// files (here held there for real: its services file is a FIFO nobody has written yet).
    /// A cancel then used to be refused ("run is running") and lost.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancel_while_the_run_is_being_prepared_cancels_it() {
        let (m, dir) = manager(1);
        // The key file, read last in `prepare`, is the FIFO (the configuration files must be
        // regular files, so one of them cannot hold the run there any more).
        let fifo = dir.path().join("codeship.aes");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        std::fs::write(dir.path().join("codeship-services.yml"), "app:\n  image: busybox\n").unwrap();
        std::fs::write(dir.path().join("codeship-steps.yml"), "- service: app\n  command: 'true'\n").unwrap();
        tokio::spawn(m.clone().schedule());
        let id = m.submit(request()).unwrap();
        let start = Instant::now();
        while m.store.run(&id).unwrap().unwrap().status != RunStatus::Running {
            assert!(start.elapsed() < Duration::from_secs(10), "the run never started");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(m.cancel(&id).unwrap(), Control::Done);
        // Let the run read its file and go on: it must notice the cancel.
        let key = slipway_core::crypto::Key::from_bytes([7; 32]).to_file_text();
        let writer = std::thread::spawn(move || std::fs::write(fifo, key).unwrap());
        let run = ended(&m, &id).await;
        writer.join().unwrap();
        assert_eq!((run.status, run.error), (RunStatus::Cancelled, None));
        assert!(run.started_at.is_some());
    }

    /// An approval sent before the run starts is kept for its first manual group.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_approve_right_after_create_is_remembered() {
        let (m, _dir) = manager(1);
        let id = m.submit(request()).unwrap();
        assert_eq!(m.approve(&id).unwrap(), Control::Done);
        let gate = m.live(&id).unwrap().approval.clone();
        // The permit is there before anyone waits on it.
        tokio::time::timeout(Duration::from_secs(1), gate.notified()).await.expect("the approval was lost");
    }

    /// A repository run's key is the server's, never a `codeship.aes` in the checkout (which
    /// whoever pushes controls); its CI values come from the trigger, not from the checkout.
    #[test]
    fn a_repository_run_takes_no_key_from_its_checkout_and_its_values_from_the_trigger() {
        let (_m, dir) = manager(1);
        std::fs::write(dir.path().join("codeship-services.yml"), "app:\n  image: busybox\n").unwrap();
        std::fs::write(dir.path().join("codeship-steps.yml"), "- service: app\n  command: 'true'\n").unwrap();
        let planted = slipway_core::crypto::Key::from_bytes([7; 32]);
        std::fs::write(dir.path().join("codeship.aes"), planted.to_file_text()).unwrap();
        let project = Project { name: "p".into(), dir: dir.path().to_path_buf(), key: None, repo: None };
        let folder = prepare(&project, &request(), "run1", dir.path(), None).unwrap();
        assert!(folder.key.is_some(), "a folder project reads its codeship.aes");
        let mut t = trigger::RunTrigger::from_poll("feature/x", "0123456789abcdef0123456789abcdef01234567");
        t.commit_message = Some("From the event".into());
        let repo_run = prepare(&project, &request(), "run1", dir.path(), Some(&t)).unwrap();
        assert!(repo_run.key.is_none(), "a key file in the checkout was used");
        assert_eq!(repo_run.vars.branch, "feature/x");
        assert_eq!(repo_run.vars.commit_id, t.commit_id);
        assert_eq!(repo_run.vars.commit_message, "From the event");
        assert_eq!(repo_run.plan.tag.as_deref(), Some("feature/x"));
    }

    /// A run without a tag is planned for the checked-out branch, as `slipway steps` plans it
    /// (both resolve the build through `build_values`); before, the server planned no tag.
    #[test]
    fn a_run_without_a_tag_uses_the_checked_out_branch_like_the_cli() {
        let (_m, dir) = manager(1);
        let git = |args: &[&str]| {
            let ok = std::process::Command::new("git").arg("-C").arg(dir.path()).args(args).status().unwrap();
            assert!(ok.success(), "git {args:?}");
        };
        git(&["init", "-q", "-b", "feature-x"]);
        git(&["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "--allow-empty", "-m", "one"]);
        std::fs::write(dir.path().join("codeship-services.yml"), "app:\n  image: busybox\n").unwrap();
        std::fs::write(dir.path().join("codeship-steps.yml"), "- service: app\n  tag: feature-x\n  command: 'true'\n")
            .unwrap();
        let project = Project { name: "p".into(), dir: dir.path().to_path_buf(), key: None, repo: None };
        let prepared = prepare(&project, &request(), "run1", dir.path(), None).unwrap();
        assert_eq!(prepared.plan.tag.as_deref(), Some("feature-x"));
        assert_eq!(prepared.vars.branch, "feature-x");
        assert_eq!(prepared.plan.leaves()[0].status, slipway_core::plan::Status::WillRun);
    }

    /// A repository project whose repository is a folder that does not exist.
    fn repo_manager(dir: &std::path::Path) -> Arc<Manager> {
        let text = format!("[[project]]\nname = \"web\"\nrepo = \"{}/gone.git\"\n", dir.display());
        let Some(crate::forge::config::ProjectSource::Repo(config)) =
            crate::forge::config::parse(&dir.join("slipway.toml"), &text).unwrap().pop()
        else {
            panic!("not a repository project")
        };
        let data = dir.join("data");
        let setup = repo::RepoSetup {
            remote: crate::git::Remote::new(&config.repo, None),
            config: *config,
            webhook_secret: None,
            statuses: None,
            data_dir: data.clone(),
            checkouts: data.join("checkouts/web"),
            kept: data.join("kept/web"),
        };
        let project =
            Project { name: "web".into(), dir: setup.checkouts.clone(), key: None, repo: Some(Arc::new(setup)) };
        let store = Arc::new(Store::open(&dir.join("db.sqlite")).unwrap());
        Manager::new(store, vec![project], 1, RunPolicy::default())
    }

    /// A run whose repository cannot be fetched fails with git's reason, without the server's
    /// folders in the record anyone may read, and leaves no checkout behind.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_repository_that_cannot_be_fetched_fails_the_run_with_gits_reason() {
        let d = tempfile::tempdir().unwrap();
        let m = repo_manager(d.path());
        tokio::spawn(m.clone().schedule());
        let t = trigger::RunTrigger::from_poll("main", "0123456789abcdef0123456789abcdef01234567");
        let submitted = m.submit_triggered("web", t, Duration::from_secs(5)).await.unwrap();
        // The head check could not fetch either: the run is queued unchecked, and its checkout tries again.
        let Submitted::Queued { id, superseded, confirmed: false } = submitted else { panic!("{submitted:?}") };
        assert!(superseded.is_empty());
        let run = ended(&m, &id).await;
        let error = run.error.unwrap();
        assert_eq!(run.status, RunStatus::Failed, "{error}");
        assert!(error.contains("git clone --mirror") && error.contains("gone.git"), "{error}");
        assert!(!error.contains(&d.path().join("data").display().to_string()), "{error}");
        assert!(run.trigger.is_some());
        let left = std::fs::read_dir(d.path().join("data/mirrors")).map(|r| r.count()).unwrap_or(0);
        assert_eq!(left, 1, "only the mirror's lock file: a failed clone leaves no folder");
        // Runs of a repository project come from its forge, not from the API.
        let e = m.submit(serde_json::from_value(serde_json::json!({"project": "web"})).unwrap()).unwrap_err();
        assert!(e.to_string().contains("repository project"), "{e}");
    }

    /// Review of 2026-12-07 (attack a4): one delivery replayed many times at once under new
    /// ids. Each looked for a run of its commit before any had inserted one, so several were
    /// queued (and the later cancelled the earlier). The look is now part of the insert's
    /// transaction: exactly one run per commit, the others answered with it.
    #[test]
    fn concurrent_deliveries_of_one_commit_queue_exactly_one_run() {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let d = tempfile::tempdir().unwrap();
        let m = repo_manager(d.path());
        const AT_ONCE: usize = 8;
        for round in 0..40 {
            let commit = format!("{round:040x}");
            let start = std::sync::Barrier::new(AT_ONCE);
            let answers: Vec<Submitted> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..AT_ONCE)
                    .map(|i| {
                        let (m, rt, start, commit) = (&m, &rt, &start, &commit);
                        s.spawn(move || {
                            let mut t = trigger::RunTrigger::from_poll("main", commit);
                            t.kind = trigger::TriggerKind::Push;
                            t.delivery = Some(format!("delivery-{round}-{i}"));
                            start.wait();
                            rt.block_on(m.submit_triggered("web", t, Duration::ZERO)).unwrap()
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let queued: Vec<&String> = answers
                .iter()
                .filter_map(|a| match a {
                    Submitted::Queued { id, .. } | Submitted::Late { id, .. } => Some(id),
                    _ => None,
                })
                .collect();
            assert_eq!(queued.len(), 1, "round {round}: {answers:?}");
            for a in &answers {
                match a {
                    Submitted::SameCommit(id) => assert_eq!(id, queued[0], "round {round}: {answers:?}"),
                    Submitted::Queued { .. } | Submitted::Late { .. } => {}
                    Submitted::Duplicate(_) | Submitted::Replayed(_) => {
                        panic!("round {round}: distinct ids, no event keys: {answers:?}")
                    }
                    Submitted::Skipped { .. } => panic!("round {round}: nothing asked to skip: {answers:?}"),
                }
            }
        }
    }

    /// The record that anyone may read names files relative to the project, not the server's
    /// folders; the full message goes to the log.
    #[test]
    fn errors_on_record_do_not_show_server_paths() {
        let (m, dir) = manager(1);
        let root = dir.path().display().to_string();
        let e = anyhow!("cannot read {root}/env/x.env: No such file").context(format!("project folder {root}"));
        let text = m.public_message(&e);
        assert_eq!(text, "project folder the project folder: cannot read env/x.env: No such file");
        assert!(!text.contains(&root));
    }
}
