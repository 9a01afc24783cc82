//! The run manager's side of notifications (`crate::notify`): a message when a run starts
//! and when it ends with a verdict (passed or failed; a cancelled or interrupted run says
//! nothing about the code). Handed over without waiting: a run is never held up by one.

use super::Manager;
use crate::config::notify::Event;
use crate::notify::{Message, Notifier};
use slipway_core::run_state::RunStatus;
use std::sync::Arc;

/// What a run's end says about its branch: passing or failing. `None` for the ends that say
/// nothing about the code (cancelled, interrupted).
pub fn verdict(status: RunStatus) -> Option<bool> {
    match status {
        RunStatus::Success => Some(true),
        RunStatus::Failed | RunStatus::Error => Some(false),
        _ => None,
    }
}

/// The statuses that are verdicts.
pub const VERDICTS: [RunStatus; 3] = [RunStatus::Success, RunStatus::Failed, RunStatus::Error];

/// Set once at start by `slipway serve`.
pub(super) fn set_notifier(m: &Manager, notifier: Arc<Notifier>) {
    let _ = m.notifier.set(notifier);
}

pub(super) fn notifier(m: &Manager) -> Option<&Arc<Notifier>> {
    m.notifier.get()
}

/// Run `id` started its steps.
pub(super) fn notify_started(m: &Manager, id: &str) {
    notify(m, id, "running", &[Event::Started]);
}

/// Run `id` ended with `status`: `failed`, `success`, or `fixed` (and `success`) when the
/// branch's previous run with a verdict had failed.
pub(super) fn notify_finished(m: &Manager, id: &str, status: RunStatus) {
    let Some(passed) = verdict(status) else { return };
    if !passed {
        return notify(m, id, status.as_str(), &[Event::Failed]);
    }
    let fixed = m.store.run(id).ok().flatten().and_then(|run| {
        let branch = run.tag?;
        m.store.newest_status(&run.project, &branch, &VERDICTS, Some(id)).ok().flatten()
    });
    match fixed.and_then(verdict) {
        Some(false) => notify(m, id, status.as_str(), &[Event::Fixed, Event::Success]),
        _ => notify(m, id, status.as_str(), &[Event::Success]),
    }
}

fn notify(m: &Manager, id: &str, status: &str, events: &[Event]) {
    let Some(n) = notifier(m) else { return };
    let run = match m.store.run(id) {
        Ok(Some(run)) => run,
        Ok(None) => return,
        Err(e) => return tracing::warn!(run = %id, "no notification: cannot read the run: {e:#}"),
    };
    let commit = m.store.trigger(id).ok().flatten().map(|t| t.commit_id);
    let message = Message {
        run_id: id.to_string(),
        project: run.project,
        branch: run.tag,
        commit,
        status: status.to_string(),
        event: events[0],
        link: n.link(id),
    };
    n.notify(message, events);
}
