//! The queue and the run slots: runs wait in the store, oldest first, and at most `limit` run
//! at once; each running run holds a [`Slot`] that is given back when its task ends, however
//! it ends (a panic included). Cancel and approve act on the queue or on the running run.

use super::cancel::final_status;
use super::events::end;
use super::live::Live;
use super::{INTERNAL_ERROR, INTERRUPTED, Manager, RunRequest, engine, events, lock};
use anyhow::{Result, bail};
use futures_util::FutureExt;
use slipway_core::run_state::RunStatus;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

/// After a restart: runs that were in flight are interrupted (and their containers
/// removed), but for those that still go on on a cluster: those are followed again, each in a
/// run slot (taken before the scheduler starts); queued runs stay queued and start in order.
pub(super) async fn recover(m: &Arc<Manager>) -> Result<()> {
    let forge_status = super::repo::final_state(RunStatus::Interrupted).as_str();
    let going_on = super::reattach::going_on(m).await?;
    let interrupted = m.store.interrupt_running(INTERRUPTED, forge_status, &going_on)?;
    // Followers of these runs (the studio) get a proper end of stream.
    for id in &interrupted {
        events::finish_events(m, id, RunStatus::Interrupted, Some(INTERRUPTED));
        final_status(m, id, RunStatus::Interrupted);
    }
    // Statuses that had not reached the forge when the server stopped (the interrupted
    // runs' final ones were just queued).
    super::repo::resend_unsent_statuses(m, &interrupted);
    for id in m.store.queued()? {
        lock(&m.live).insert(id, Live::new());
    }
    for id in going_on {
        tracing::info!(run = %id, "still going on: followed again");
        spawn_run(m, id, Work::FollowAgain);
    }
    // `--keep-runs` may have been lowered since the last start.
    for p in &m.projects {
        super::retention::retain_history(m, &p.name);
    }
    engine::remove_interrupted(&interrupted, &m.policy.engine).await;
    Ok(())
}

/// Queue a run of a folder project; its id.
pub(super) fn submit(m: &Arc<Manager>, req: RunRequest) -> Result<String> {
    match m.project(&req.project) {
        None => bail!("unknown project `{}`", req.project),
        Some(p) if p.repo().is_some() => {
            bail!("`{}` is a repository project: its runs are started by webhooks or polling", req.project)
        }
        Some(_) => {}
    }
    let id = crate::names::random_hex(6)?;
    lock(&m.live).insert(id.clone(), Live::new());
    if let Err(e) = m.store.insert_run(&id, &req.project, req.tag.as_deref(), req.push, &serde_json::to_string(&req)?) {
        lock(&m.live).remove(&id);
        return Err(e);
    }
    m.wake.notify_one();
    Ok(id)
}

/// The scheduler: start queued runs, oldest first, while fewer than `limit` run.
pub(super) async fn schedule(m: Arc<Manager>) {
    loop {
        while *lock(&m.running) < m.limit {
            let crate::store::QueuedRun { id, request } = match m.store.next_queued() {
                Ok(Some(n)) => n,
                Ok(None) => break,
                Err(e) => {
                    tracing::error!("cannot read the queue: {e:#}");
                    break;
                }
            };
            match m.store.start(&id) {
                Ok(true) => spawn_run(&m, id, Work::Start(request)),
                Ok(false) => {} // cancelled between the two queries
                Err(e) => {
                    tracing::error!(run = %id, "cannot start the run: {e:#}");
                    break;
                }
            }
        }
        m.wake.notified().await;
    }
}

/// What a run's task does.
enum Work {
    /// Start the run (its stored request).
    Start(String),
    /// Follow a run that went on elsewhere while the server was stopped (see `reattach.rs`).
    FollowAgain,
}

/// Run one started run in its own task. Whatever happens in it, a panic included, the run
/// gets a final status and its slot is freed.
fn spawn_run(m: &Arc<Manager>, id: String, work: Work) {
    *lock(&m.running) += 1;
    let slot = Slot { manager: m.clone(), id: id.clone() };
    let live = lock(&m.live).entry(id.clone()).or_insert_with(Live::new).clone();
    let me = m.clone();
    if let Work::Start(_) = work {
        tracing::info!(run = %id, "started");
    }
    tokio::spawn(async move {
        let _slot = slot;
        let task = async {
            match &work {
                Work::Start(request) => super::execute::execute(me.clone(), &id, request, live.clone()).await,
                Work::FollowAgain => super::reattach::follow(me.clone(), &id, live.clone()).await,
            }
        };
        let outcome = AssertUnwindSafe(task).catch_unwind().await;
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
                (RunStatus::Failed, Some(super::redact::public_message(&me, &e)))
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
        finish(&me, &id, status, error.as_deref());
    });
}

fn finish(m: &Arc<Manager>, id: &str, status: RunStatus, error: Option<&str>) {
    match end(m, id, RunStatus::Running, status, error) {
        Ok(true) => {
            tracing::info!(run = %id, %status, "finished");
            final_status(m, id, status);
            super::notifications::notify_finished(m, id, status);
            if let Ok(Some(run)) = m.store.run(id) {
                super::retention::retain_history(m, &run.project);
            }
        }
        Ok(false) => tracing::warn!(run = %id, "had already ended; {status} not recorded"),
        Err(e) => tracing::error!(run = %id, "cannot record the end of the run: {e:#}"),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::testing::{ended, manager, request};
    use crate::runs::{CANCELLED_QUEUED, Control};
    use std::time::{Duration, Instant};

    /// Fault injection: no real input is known to make a run panic, so the test makes every
    /// run's task panic on purpose. With one slot, a panicking run that kept its slot would
    /// leave the second run queued for ever.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_run_that_panics_ends_as_error_and_frees_its_slot() {
        let (m, _dir) = manager(1);
        m.panic_in_runs.store(true, std::sync::atomic::Ordering::SeqCst);
        tokio::spawn(schedule(m.clone()));
        let (a, b) = (submit(&m, request()).unwrap(), submit(&m, request()).unwrap());
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
        let c = submit(&m, request()).unwrap();
        let run = ended(&m, &c).await;
        assert_eq!(run.status, RunStatus::Failed);
        assert_eq!(run.error.as_deref(), Some("project `p` has no codeship-services.yml"));
    }

    /// A queued run cancelled before the scheduler sees it is never started, and never goes
    /// from cancelled to running.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_queued_run_cancelled_is_never_started() {
        let (m, _dir) = manager(1);
        let id = submit(&m, request()).unwrap();
        assert_eq!(m.cancel(&id).unwrap(), Control::Done);
        tokio::spawn(schedule(m.clone()));
        m.wake.notify_one();
        let c = submit(&m, request()).unwrap();
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
        tokio::spawn(schedule(m.clone()));
        let id = submit(&m, request()).unwrap();
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
        let id = submit(&m, request()).unwrap();
        assert_eq!(m.approve(&id).unwrap(), Control::Done);
        let gate = m.live(&id).unwrap().approval.clone();
        // The permit is there before anyone waits on it.
        tokio::time::timeout(Duration::from_secs(1), gate.notified()).await.expect("the approval was lost");
    }
}
