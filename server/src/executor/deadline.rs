//! Wall-clock limits of a run (see `run_limits`): each step, and each image build or pull (a
//! step of its own), may take at most the step limit, and the whole run at most the run limit.
//! A limit that hits stops what it bounds — the step's containers are removed, a build's
//! request is dropped, which makes the engine stop it — and fails the step with a message
//! naming the limit and who set it. The run then ends failed (not cancelled): later steps are
//! skipped as after any failure.
//!
//! Waiting for an image (a build another step started, or one this step started) does not
//! count against a step: the build has its own clock. A step's clock is paused while it waits
//! (see [`paused`]); a task-local finds the clock of the step being polled, also when a
//! parallel group polls its siblings in one task.
//!
//! The same guard carries the run's other stop, the disk watch (`disk_watch`): a run over its
//! disk limit is stopped the same way, with the watch's message.

use super::engine::Engine;
use super::run::Run;
use super::run_limits::{Kind, show_duration};
use anyhow::{Result, anyhow};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often a paused clock looks again (it cannot expire while paused, but the run can).
const PAUSED_RECHECK: Duration = Duration::from_secs(1);

/// What a clock bounds: a step (its containers are removed when it expires) or an image.
pub(super) enum Unit<'a> {
    /// On expiry, `engine` removes what the step has running.
    Step {
        id: &'a str,
        engine: &'a dyn Engine,
    },
    Image {
        service: &'a str,
        building: bool,
    },
}

/// The clock of one step or image: time spent, less time spent waiting for images.
struct Clock {
    started: Instant,
    paused: Mutex<Pauses>,
}

#[derive(Default)]
struct Pauses {
    total: Duration,
    /// Waits in progress (siblings' builds may be awaited at once) and since when.
    open: u32,
    since: Option<Instant>,
}

impl Clock {
    /// Time that counts, and whether the clock is paused now.
    fn used(&self) -> (Duration, bool) {
        let p = self.paused.lock().unwrap_or_else(|e| e.into_inner());
        let now_paused = p.since.map_or(Duration::ZERO, |s| s.elapsed());
        (self.started.elapsed().saturating_sub(p.total + now_paused), p.open > 0)
    }
}

tokio::task_local! {
    static CLOCK: Arc<Clock>;
}

/// Unpauses the clock when the wait ends, also when the waiting future is dropped.
struct Pause(Arc<Clock>);

impl Pause {
    fn start(clock: Arc<Clock>) -> Pause {
        {
            let mut p = clock.paused.lock().unwrap_or_else(|e| e.into_inner());
            if p.open == 0 {
                p.since = Some(Instant::now());
            }
            p.open += 1;
        }
        Pause(clock)
    }
}

impl Drop for Pause {
    fn drop(&mut self) {
        let mut p = self.0.paused.lock().unwrap_or_else(|e| e.into_inner());
        p.open = p.open.saturating_sub(1);
        if p.open == 0
            && let Some(since) = p.since.take()
        {
            p.total += since.elapsed();
        }
    }
}

/// Run `fut` with the clock of the step (or image) being polled paused: waiting for an image
/// does not count against the step that waits.
pub(super) async fn paused<F: Future>(fut: F) -> F::Output {
    let _pause = CLOCK.try_with(|c| Pause::start(c.clone())).ok();
    fut.await
}

/// Why a limit stopped a unit.
enum Expired {
    /// Its own (step) limit.
    Own,
    /// The run's time limit.
    Run,
    /// The run was stopped for another limit (disk); the reason is in the guard.
    Stopped,
}

impl Run {
    /// Run `work` within the step limit (for `unit`) and the run's limits. On expiry the work
    /// is dropped, a step's containers are removed, and the error names the limit.
    pub(super) async fn within<T>(&self, unit: Unit<'_>, work: impl Future<Output = Result<T>>) -> Result<T> {
        let limits = &self.spec.options.run_limits;
        if limits.step.is_none() && limits.run.is_none() && limits.disk.is_none() {
            return work.await;
        }
        let clock = Arc::new(Clock { started: Instant::now(), paused: Mutex::default() });
        // Boxed, so that it can be dropped (below) before the step's containers are removed.
        let mut work = Box::pin(CLOCK.scope(clock.clone(), work));
        let expired = loop {
            let (used, paused) = clock.used();
            let own_left = limits.step.as_ref().map(|l| l.value.saturating_sub(used));
            let run_left = limits.run.as_ref().map(|l| l.value.saturating_sub(self.guard.started.elapsed()));
            if run_left == Some(Duration::ZERO) {
                break Expired::Run;
            }
            if own_left == Some(Duration::ZERO) && !paused {
                break Expired::Own;
            }
            let own_wait = own_left.map(|l| if paused { PAUSED_RECHECK } else { l });
            let wait = [own_wait, run_left].into_iter().flatten().min();
            let sleep = async {
                match wait {
                    Some(w) => tokio::time::sleep(w).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = &mut work => return r,
                _ = sleep => {}
                _ = self.guard.stop.cancelled() => break Expired::Stopped,
            }
        };
        // The work is dropped first: nothing of the step is started after the removal below
        // (a Docker request already sent may still complete: the run's final cleanup by label
        // removes what it made).
        drop(work);
        let what = match &unit {
            Unit::Step { id, .. } => format!("step `{}`", self.label(id)),
            Unit::Image { service, building: true } => format!("building the image of service `{service}`"),
            Unit::Image { service, building: false } => format!("pulling the image of service `{service}`"),
        };
        let message = match expired {
            Expired::Own => {
                let limit = limits.step.as_ref().expect("expired by its limit");
                format!(
                    "{what} ran longer than its limit of {} ({}); it was stopped",
                    show_duration(limit.value),
                    limit.origin(Kind::Step)
                )
            }
            Expired::Run => {
                let limit = limits.run.as_ref().expect("expired by the run's limit");
                let why = format!(
                    "the run ran longer than its limit of {} ({})",
                    show_duration(limit.value),
                    limit.origin(Kind::Run)
                );
                self.stop_run(why.clone());
                format!("{why}; {what} was stopped")
            }
            Expired::Stopped => format!("{}; {what} was stopped", self.guard.why.get().map_or("stopped", |w| w)),
        };
        if let Unit::Step { id, engine } = unit {
            engine.remove_step(id).await;
        }
        Err(anyhow!(message))
    }

    /// Stop the whole run for a limit: running steps fail with `why`, later ones are skipped.
    /// The first reason is kept (and shown once in the log).
    pub(super) fn stop_run(&self, why: String) {
        if self.guard.why.set(why.clone()).is_ok() {
            self.info(why);
        }
        self.guard.stop.cancel();
    }

    /// Why no further step may start: the run went over a limit.
    pub(super) fn over_limit(&self) -> Option<&'static str> {
        let run_over =
            self.spec.options.run_limits.run.as_ref().is_some_and(|l| self.guard.started.elapsed() >= l.value);
        (self.guard.stop.is_cancelled() || run_over).then_some("the run went over a limit")
    }

    /// Resolves when the run went over a limit (for waits outside any step, like approvals).
    pub(super) async fn limit_hit(&self) {
        match self.spec.options.run_limits.run.as_ref() {
            Some(l) => {
                let left = l.value.saturating_sub(self.guard.started.elapsed());
                tokio::select! {
                    _ = tokio::time::sleep(left) => {}
                    _ = self.guard.stop.cancelled() => {}
                }
            }
            None => self.guard.stop.cancelled().await,
        }
    }
}
