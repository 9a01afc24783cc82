//! The server's run manager: a persistent queue of runs, at most `limit` running at once, each
//! executed by the same executor as `slipway steps`, with every event stored (masked) and
//! broadcast to live subscribers.
//!
//! [`Manager`] is the facade; the work is done by its parts, by job:
//! - `queue.rs`: the queue and the run slots, cancel and approve;
//! - `triggered.rs`: queueing a repository run for a delivery or a polled head (the branch
//!   filter, `[skip ci]`, duplicates, late deliveries), with `lines.rs` (what a run of a line
//!   of work supersedes) and `head.rs` (the head check);
//! - `prepare.rs`: reading, checking and planning a run's files, a fork's limits;
//! - `execute.rs`: a started run's checkout, its spec, and its execution through `engine.rs`;
//! - `reattach.rs`: after a restart, following the runs that still go on on a cluster;
//! - `events.rs`: the one event type a run stores and broadcasts, and the pump that stores them;
//! - `redact.rs`: errors as the public record shows them;
//! - `repo.rs`, `notifications.rs`, `retention.rs`, `skip_ci.rs`, `follow.rs`: commit
//!   statuses and polling, notifications, history, `[skip ci]`, following a run's events.

mod cancel;
mod engine;
mod events;
mod execute;
mod follow;
mod head;
pub mod lines;
mod live;
pub mod log_cap;
pub mod notifications;
mod policy;
mod prepare;
mod project;
mod queue;
mod reattach;
mod redact;
pub mod repo;
mod request;
mod retention;
pub mod skip_ci;
#[cfg(test)]
mod testing;
mod triggered;
/// The trigger record lives below the run manager and the store (both use it).
pub use crate::forge::run_trigger as trigger;

pub use follow::STORED_PAGE;
pub use head::Confirmation;
pub use live::Live;
pub use policy::RunPolicy;
pub use project::{Project, ProjectKind};
pub use request::{CiValues, RunRequest};

use crate::store::Store;
use anyhow::Result;
use slipway_core::run_state::RunStatus;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;
use tokio::sync::Notify;

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
    /// The branch (a tag's name, a pull request's head branch) is not among those the project
    /// builds (`branches`/`exclude`, see `triggered::filtered_out`): no run was recorded.
    Filtered { reason: String },
}

/// What a run that panicked says; the panic itself goes to the server's log.
pub const INTERNAL_ERROR: &str = "the run stopped on an internal error of the server; the server's log has the details";
pub const INTERRUPTED: &str = "the server stopped during the run";
pub const CANCELLED_QUEUED: &str = "cancelled before it started";

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
    /// removed), but for those still going on on a cluster, which are followed again; queued
    /// runs stay queued and start in order.
    pub async fn recover(self: &Arc<Self>) -> Result<()> {
        queue::recover(self).await
    }

    /// Queue a run of a folder project; returns its id.
    pub fn submit(self: &Arc<Self>, req: RunRequest) -> Result<String> {
        queue::submit(self, req)
    }

    /// Queue a repository run for `trigger` (a verified delivery or a polled head), if the
    /// project builds its branch: at most once per delivery id, not while a run of the same
    /// line of work builds the same commit, and once per tag and commit. Whether the commit is
    /// still its ref's head is then looked at (a fetch of the mirror, see `head.rs`), for at
    /// most `wait` here and to the end in the background: only then is a pending status sent
    /// and, with `cancel_superseded`, are the line's older queued or running runs cancelled.
    /// A late delivery runs nothing and cancels nothing.
    pub async fn submit_triggered(
        self: &Arc<Self>,
        project: &str,
        trigger: trigger::RunTrigger,
        wait: Duration,
    ) -> Result<Submitted> {
        triggered::submit(self, project, trigger, wait).await
    }

    /// Cancel a run: a queued one ends at once, a running one stops its containers.
    pub fn cancel(self: &Arc<Self>, id: &str) -> Result<Control> {
        cancel::cancel_because(self, id, CANCELLED_QUEUED)
    }

    /// Let the run's waiting (or next) manual group run.
    pub fn approve(&self, id: &str) -> Result<Control> {
        cancel::approve(self, id)
    }

    /// The scheduler: start queued runs, oldest first, while fewer than `limit` run.
    pub async fn schedule(self: Arc<Self>) {
        queue::schedule(self).await
    }

    /// The events of run `id` after event number `after` (see `follow.rs`).
    pub fn follow(self: &Arc<Self>, id: String, after: u64) -> tokio::sync::mpsc::Receiver<(u64, String)> {
        follow::follow(self, id, after)
    }

    /// Polling of a repository project without inbound webhooks, every `every` (see `repo.rs`).
    pub async fn poll(self: Arc<Self>, project: String, every: Duration) {
        repo::poll(self, project, every).await
    }

    /// Set once at start by `slipway serve`.
    pub fn set_notifier(&self, notifier: Arc<crate::notify::Notifier>) {
        notifications::set_notifier(self, notifier)
    }

    pub fn notifier(&self) -> Option<&Arc<crate::notify::Notifier>> {
        notifications::notifier(self)
    }
}
