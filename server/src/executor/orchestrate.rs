//! The run's orchestration over an [`Engine`]: steps one after another, parallel groups at
//! once (bounded by the run's slots), `on_fail` steps, manual groups waiting for approval,
//! skipping after a failure, cancellation and limits at every point, then cleanup, whatever
//! the outcome. Nothing here knows which engine runs the steps.

use super::deadline;
use super::engine::Engine;
use super::events::{Event, StepResult, StepStatus};
use super::outcome::{RunOutcome, RunResult};
use super::run::{Run, pipeline_order};
use anyhow::{Result, bail};
use futures_util::future::BoxFuture;
use slipway_core::plan::{Kind, PlannedStep, Status};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

pub(crate) struct Runner {
    run: Arc<Run>,
    engine: Arc<dyn Engine>,
    slots: Semaphore,
    results: Mutex<Vec<StepResult>>,
}

impl std::ops::Deref for Runner {
    type Target = Run;
    fn deref(&self) -> &Run {
        &self.run
    }
}

impl Runner {
    pub(super) fn new(run: Arc<Run>, engine: Arc<dyn Engine>) -> Runner {
        let slots = Semaphore::new(run.spec.options.parallelism.max(1));
        Runner { run, engine, slots, results: Mutex::new(Vec::new()) }
    }

    pub(super) fn run(&self) -> &Run {
        &self.run
    }

    /// Run the plan; clean up before returning, whatever the outcome.
    pub(super) async fn execute(self: Arc<Self>) -> Result<RunResult> {
        let steps = self.spec.plan.steps.clone();
        let watched = CancellationToken::new();
        let watch = tokio::spawn(self.engine.clone().watch_disk(watched.clone()));
        let ok = self.clone().serial(steps).await;
        watched.cancel();
        let _ = watch.await;
        let cancelled = self.cancel.is_cancelled();
        // Cleanup lists objects by label: everything being created must exist by then.
        self.engine.settle().await;
        if self.spec.options.remove {
            match self.engine.remove_run().await {
                Ok(removed) => {
                    if !removed.is_empty() {
                        self.info(format!(
                            "removed {} containers, {} networks, {} volumes",
                            removed.containers, removed.networks, removed.volumes
                        ));
                    }
                    removed.failed.into_iter().for_each(|f| self.info(f));
                }
                Err(e) => self.info(format!("{e:#}")),
            }
        }
        // After the containers that mounted it are gone.
        let workspace = self.workspace.lock().expect("workspace lock").take();
        if let Some(ws) = workspace
            && let Err(e) = tokio::task::spawn_blocking(move || ws.remove()).await?
        {
            self.info(format!("{e:#}"));
        }
        // Results arrive in the order steps end; a summary reads in the order of the pipeline.
        let mut steps = self.results.lock().expect("results lock").clone();
        let order: HashMap<&str, usize> =
            pipeline_order(&self.spec.plan).iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
        steps.sort_by_key(|r| order.get(r.id.as_str()).copied().unwrap_or(usize::MAX));
        let outcome = match (cancelled, ok) {
            (true, _) => RunOutcome::Cancelled,
            (false, true) => RunOutcome::Succeeded,
            (false, false) => RunOutcome::Failed,
        };
        Ok(RunResult { outcome, steps })
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

    /// A `run` step on the engine: failed unless its container exits with 0.
    async fn run_step(&self, step: &PlannedStep) -> Result<()> {
        let code = self.engine.clone().run_step(step.clone()).await?;
        if code != 0 {
            bail!("exited with status {code}");
        }
        Ok(())
    }

    /// Run `work` for step `id` within the step's and the run's limits (see `deadline`);
    /// when a limit stops it, the engine removes what the step has running.
    async fn within_step(&self, id: &str, work: impl Future<Output = Result<()>>) -> Result<()> {
        self.within(deadline::Unit::Step { id, engine: &*self.engine }, work).await
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
                r = self.within_step(&f.id, self.run_step(f)) => Some(r),
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
                Kind::Push => self.engine.clone().push(s.clone()).await,
                _ => self.run_step(&s).await,
            }
        };
        let outcome = tokio::select! {
            r = self.within_step(&s.id, work) => Some(r),
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
}

#[cfg(test)]
#[path = "orchestrate_tests.rs"]
mod tests;
