//! Run history has bounds: each project keeps its newest `--keep-runs` runs; older ended runs
//! go, with their steps and logs, and the database gives the space back (incremental vacuum,
//! a few pages at a time, so requests are never held up for long). The record of the pushes
//! that queued those runs stays (`store/triggered.rs`, bounded on its own): a replay of an old
//! delivery must not build again because its run was deleted.

use super::Manager;
use std::sync::Arc;

/// Delete `project`'s ended runs beyond the newest [`super::RunPolicy::keep_runs`] and
/// compact the database: on the blocking pool when called from the runtime.
pub(super) fn retain_history(m: &Arc<Manager>, project: &str) {
    let (store, keep, project) = (m.store.clone(), m.policy.keep_runs, project.to_string());
    let work = move || match store.prune_runs(&project, keep) {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!(project, "deleted {n} old run(s) beyond the {keep} kept (`--keep-runs`)");
            if let Err(e) = store.compact() {
                tracing::warn!("cannot compact the database: {e:#}");
            }
        }
        Err(e) => tracing::warn!(project, "cannot delete old runs: {e:#}"),
    };
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => drop(rt.spawn_blocking(work)),
        Err(_) => work(),
    }
}
