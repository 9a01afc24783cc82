//! Where the run manager meets the container engine: connecting to it and handing it a
//! prepared run, cleaning up after runs a crash interrupted, and reading the executor's
//! result as the run's status. Each is one small function, so that a change of the
//! executor's interface changes this file only.

use crate::executor::{self, RunSpec, events::EventSender};
use anyhow::{Result, anyhow};
use slipway_core::run_state::RunStatus;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Connect to the Docker engine (or take the cluster's placement) and prepare the run for it
/// (secrets decrypted, project copied).
pub(super) async fn start(
    id: &str,
    spec: RunSpec,
    tx: EventSender,
    cancel: CancellationToken,
    engine: &executor::EngineChoice,
) -> Result<executor::Prepared> {
    if let executor::EngineChoice::Elsewhere(placement) = engine {
        return executor::prepare_on(executor::Backend::Elsewhere(placement.clone()), spec, tx, cancel).await;
    }
    let docker = crate::docker::connect().await.map_err(|e| {
        tracing::error!(run = %id, "{e:#}");
        anyhow!("the server cannot reach its Docker engine; the server's log has the details")
    })?;
    executor::prepare(docker, spec, tx, cancel).await
}

/// The run's status from what the executor says of it. A cluster's node lost during the run
/// interrupts it, as a server stop does.
pub(super) fn status_of(result: Result<executor::RunResult>) -> Result<RunStatus> {
    match result {
        Ok(r) => Ok(r.outcome.status()),
        Err(e) if e.downcast_ref::<crate::cluster::swarm::NodeLost>().is_some() => {
            tracing::warn!("{e:#}");
            Ok(RunStatus::Interrupted)
        }
        Err(e) => Err(e),
    }
}

/// After a restart: remove what the `interrupted` runs left in Docker, if it can be reached
/// (on a cluster: stop them where they still run, and remove their objects).
pub(super) async fn remove_interrupted(interrupted: &[String], engine: &executor::EngineChoice) {
    if let executor::EngineChoice::Elsewhere(placement) = engine {
        if !interrupted.is_empty() {
            placement.clone().abandon(interrupted.to_vec()).await;
        }
        return;
    }
    if !interrupted.is_empty()
        && let Ok(docker) = crate::docker::connect().await
    {
        // Side by side: each may wait a few seconds for Docker.
        futures_util::future::join_all(interrupted.iter().map(|id| remove_leftovers(&docker, id))).await;
    }
}

/// Remove what a run that was in flight at a crash left in Docker. The engine may still be
/// finishing what the dead server asked of it (a container's removal, a creation), so this
/// tries again, for up to ~5 s, until nothing labelled with the run is left.
async fn remove_leftovers(docker: &crate::docker::Client, id: &str) {
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
