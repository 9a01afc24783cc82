//! Cancelling and approving runs, and the final commit status a run's end sends: below the
//! queue, the executor and the head check, which all cancel runs.

use super::events::end;
use super::{Control, Manager, lock};
use anyhow::Result;
use slipway_core::run_state::RunStatus;
use std::sync::Arc;

/// Cancel a run whose delivery was late: its record says why, whether it was queued or had
/// started (its checkout waits for the head check), and no status goes to the forge.
pub(super) fn cancel_late(m: &Arc<Manager>, id: &str, reason: &str) -> Result<Control> {
    if let Some(live) = m.live(id) {
        let _ = live.reason.set(reason.to_string());
    }
    cancel_because(m, id, reason)
}

/// Cancel a run: a queued one ends at once (its record says `reason`), a running one stops
/// its containers.
pub(super) fn cancel_because(m: &Arc<Manager>, id: &str, reason: &str) -> Result<Control> {
    let Some(live) = m.live(id) else { return ended(m, id) };
    live.cancel.cancel();
    // If the scheduler starts it first, the run sees the cancelled token and ends cancelled.
    if end(m, id, RunStatus::Queued, RunStatus::Cancelled, Some(reason))? {
        lock(&m.live).remove(id);
        final_status(m, id, RunStatus::Cancelled);
    }
    Ok(Control::Done)
}

/// Let the run's waiting (or next) manual group run.
pub(super) fn approve(m: &Manager, id: &str) -> Result<Control> {
    let Some(live) = m.live(id) else { return ended(m, id) };
    live.approval.notify_one();
    Ok(Control::Done)
}

fn ended(m: &Manager, id: &str) -> Result<Control> {
    Ok(m.store.run(id)?.map_or(Control::Unknown, |r| Control::Ended(r.status)))
}

/// The run's final status on its forge (repository runs only).
pub(super) fn final_status(m: &Arc<Manager>, id: &str, status: RunStatus) {
    if let Ok(Some(run)) = m.store.run(id)
        && run.trigger.is_some()
    {
        super::repo::send_status(m, id, &run.project, super::repo::final_state(status));
    }
}
