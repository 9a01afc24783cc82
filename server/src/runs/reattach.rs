//! After a restart on a cluster engine: the runs the store has as running whose run still goes
//! on elsewhere (a swarm service) are taken up again instead of being interrupted. Each keeps
//! its live entry (followers, cancel, approve) and a run slot, and is followed to its real end
//! by the placement (`Placement::reattach`); its events are stored after those it had.
//!
//! The server's masker is rebuilt with the same code that built it (the run's files read and
//! planned again, its secrets decrypted again, in memory only): a folder project's run gets
//! back every value it decrypted as long as its files are unchanged. A repository run's
//! checkout is gone, so its masker knows the key's forms only; the agent masks every line it
//! writes with every value it decrypted, which then stands alone.

use super::live::Live;
use super::{Manager, Project, RunRequest, engine, events, prepare, trigger};
use crate::executor::{self, EngineChoice, Resume, RunOptions, RunSpec, secrets::SecretAccess};
use anyhow::{Context, Result, anyhow};
use slipway_core::plan::Plan;
use slipway_core::run_state::RunStatus;
use std::sync::Arc;

/// The running runs (by the store) that still go on elsewhere; none on the local engine. A run
/// the placement cannot say of is not among them (it is interrupted and abandoned).
pub(super) async fn going_on(m: &Manager) -> Result<Vec<String>> {
    let EngineChoice::Elsewhere(placement) = &m.policy.engine else { return Ok(Vec::new()) };
    let running = m.store.running()?;
    let asked =
        futures_util::future::join_all(running.iter().map(|id| placement.clone().still_going(id.clone()))).await;
    Ok(running
        .into_iter()
        .zip(asked)
        .filter_map(|(id, going)| match going {
            Ok(true) => Some(id),
            Ok(false) => None,
            Err(e) => {
                tracing::warn!(run = %id, "cannot say whether the run still goes on; it is interrupted: {e:#}");
                None
            }
        })
        .collect())
}

/// Follow a run that goes on elsewhere to its end: its status.
pub(super) async fn follow(m: Arc<Manager>, id: &str, live: Arc<Live>) -> Result<RunStatus> {
    let EngineChoice::Elsewhere(placement) = &m.policy.engine else {
        return Err(anyhow!("only a run on a cluster can be followed again"));
    };
    let record = m.store.run(id)?.ok_or_else(|| anyhow!("run {id} is not in the store"))?;
    let project =
        m.project(&record.project).ok_or_else(|| anyhow!("project `{}` is no longer registered", record.project))?;
    let spec = spec(&m, id, project, &live).await?;
    let from = Resume { stored: m.store.agent_events(id)?, node: record.node };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    live.open();
    let pump = events::pump(&m, id, rx, live.clone(), m.store.last_event(id)?);
    let result = executor::resume(placement.clone(), spec, from, tx, live.cancel.clone()).await;
    let _ = pump.await;
    engine::status_of(result)
}

/// The run as the placement needs it again: its id, its approval gate, and what its masker is
/// built from (see the module's comment).
async fn spec(m: &Manager, id: &str, project: &Project, live: &Live) -> Result<RunSpec> {
    let stored = m.store.request(id)?.context("the run's request")?;
    let req: RunRequest = serde_json::from_str(&stored.request).context("stored run request")?;
    let trigger = m.store.trigger(id)?;
    // A fork's pull request decrypted nothing (also if the project's setting changed since).
    let withheld = match trigger.as_ref().and_then(|t| prepare::fork_limits(project, t)) {
        None => None,
        Some(Ok(why)) => Some(why),
        Some(Err(e)) => Some(e.to_string()),
    };
    let dir = project.dir().to_path_buf();
    let files = match &trigger {
        None => prepare::within_budget(project, req, id, &dir, None).await.ok(),
        Some(_) => None,
    };
    let (services, plan, key) = match files {
        Some(p) => (p.services, p.plan, p.key),
        None => (Default::default(), stored_plan(m, id)?, key(project, &dir, trigger.as_ref())),
    };
    Ok(RunSpec {
        run_id: id.to_string(),
        project: project.name.clone(),
        dir,
        services,
        plan,
        key: if withheld.is_some() { None } else { key },
        vars: Default::default(),
        options: RunOptions {
            approval: Some(live.approval.clone()),
            secrets: match withheld {
                Some(why) => SecretAccess::Withheld { why },
                None => SecretAccess::Allowed,
            },
            confine: true,
            ..RunOptions::default()
        },
        source: None,
    })
}

/// The project's key for the run's masker; none when it cannot be read (said in the log).
fn key(
    project: &Project,
    dir: &std::path::Path,
    trigger: Option<&trigger::RunTrigger>,
) -> Option<slipway_core::crypto::Key> {
    prepare::read_key(project, dir, trigger)
        .inspect_err(
            |e| tracing::warn!(project = %project.name, "the key cannot be read again for a run followed again: {e:#}"),
        )
        .ok()
        .flatten()
}

/// The plan the run stored as its first event (masked, which changes no step's id or name).
fn stored_plan(m: &Manager, id: &str) -> Result<Plan> {
    let (_, first) = m.store.events_after(id, 0, 1)?.pop().context("the run has no plan stored")?;
    let mut event: serde_json::Value = serde_json::from_str(&first).context("the run's stored plan")?;
    serde_json::from_value(event["plan"].take()).context("the run's stored plan")
}
