//! The boundary between the run's orchestration (`orchestrate`) and the engine its steps run
//! on, in the manner of Woodpecker's `pipeline/backend/types/backend.go`: the orchestration
//! decides what runs, in which order, what a failure skips, and when a run is cancelled or
//! over a limit; an engine only does what it is asked for one step, one image or one run.
//!
//! An engine is made for one run (it is given the run's context, [`Run`](super::run::Run):
//! the spec, the masked log, the limits' clock) and lives until the run's cleanup. The Docker backend
//! (`docker/`) is the one the server and the CLI use; tests of the orchestration use a
//! scripted fake (`fake.rs`). An engine that runs a whole run elsewhere (a node's agent)
//! runs this same orchestration there, over that node's own engine.
//!
//! The unit is a step, as in Woodpecker (`StartStep`, `WaitStep`, `TailStep`, `DestroyStep`,
//! `DestroyWorkflow`): what a step needs below that (a network for its dependencies, their
//! containers and link variables, binds pinned to the folders checked, `volumes_from`
//! holders, a dockercfg generator's container) is the engine's own way of running one, and
//! another engine would do it differently. A step's output is not returned as a stream: the
//! engine writes it to the run's log, which masks every secret in one place for all engines.
//!
//! Futures are boxed (`BoxFuture`): the trait is used as `dyn Engine`, and native `async fn`
//! in traits is not dyn-compatible; async-trait is not in Cargo.lock.

use anyhow::Result;
use futures_util::future::BoxFuture;
use slipway_core::plan::PlannedStep;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub(crate) trait Engine: Send + Sync {
    /// Build or pull a service's image (`slipway load`); the name it has on the engine.
    fn load_image(self: Arc<Self>, service: String) -> BoxFuture<'static, Result<String>>;

    /// Run a `run` step (or an `on_fail` step): its image made ready, its dependencies and
    /// their network when it has any, then its container to the end. The container's output
    /// goes to the run's log as it comes ([`Run::log`](super::run::Run::log), masked there); the result is its
    /// exit code. An `Err` is a step that could not run (no image, no network, no output for
    /// too long): the step fails with that message.
    fn run_step(self: Arc<Self>, step: PlannedStep) -> BoxFuture<'static, Result<i64>>;

    /// Run a `push` step: tag the service's image and push it, with the step's credentials.
    fn push(self: Arc<Self>, step: PlannedStep) -> BoxFuture<'static, Result<()>>;

    /// Stop and remove everything step `id` (and its helpers, `ID-…`) has running: its
    /// time limit hit. What is created after this is removed by [`Engine::remove_run`].
    fn remove_step<'a>(&'a self, id: &'a str) -> BoxFuture<'a, ()>;

    /// Wait for every object request still in flight (creations that a cancelled step's
    /// dropped future left to the engine, removals done in the background): cleanup by label
    /// must see all of them.
    fn settle(&self) -> BoxFuture<'_, ()>;

    /// Remove everything labelled with this run; what was removed and what could not be.
    fn remove_run(&self) -> BoxFuture<'_, Result<Removed>>;

    /// Watch the disk the run uses until `done` is cancelled, stopping the run
    /// ([`Run::stop_run`](super::run::Run::stop_run)) when it goes over its limit; returns at once without a limit.
    fn watch_disk(self: Arc<Self>, done: CancellationToken) -> BoxFuture<'static, ()>;
}

/// What [`Engine::remove_run`] did, for the run's log.
#[derive(Debug, Default)]
pub(crate) struct Removed {
    pub containers: usize,
    pub networks: usize,
    pub volumes: usize,
    /// Objects the engine refused to remove, each a sentence saying what to do.
    pub failed: Vec<String>,
}

impl Removed {
    pub fn is_empty(&self) -> bool {
        self.containers == 0 && self.networks == 0 && self.volumes == 0
    }
}
