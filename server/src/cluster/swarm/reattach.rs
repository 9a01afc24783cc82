//! A restarted server takes up the runs it left going on the swarm: a run whose service is
//! still on the manager is followed again from the start of its log (`follow.rs` skips the
//! events the server stored before), with the approvals already given read back from the
//! registry, and its swarm objects removed at its end as any run's are. A run whose service is
//! gone is abandoned (`Placement::abandon`, in `mod.rs`).

use super::service::{self, Names};
use super::{Swarm, follow, tags};
use crate::executor::{RemoteRun, Resume, RunResult};
use anyhow::{Context, Result};
use std::time::Duration;

/// How long the manager may take to say whether a run's service is there.
const ASK_WITHIN: Duration = Duration::from_secs(15);

/// More approval tags than this are not looked for (a run has as many as its manual groups).
const MAX_APPROVALS: u32 = 1000;

/// Whether run `id`'s service is still on the manager.
pub(super) async fn still_going(swarm: &Swarm, id: &str) -> Result<bool> {
    let docker = swarm.docker().await?;
    let names = Names::of(id, &swarm.registry);
    let asked = tokio::time::timeout(ASK_WITHIN, docker.inspect_service(&names.service, None)).await;
    match asked.with_context(|| format!("the swarm manager did not answer within {} s", ASK_WITHIN.as_secs()))? {
        Ok(_) => Ok(true),
        Err(e) if service::not_found(&e) => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot ask the swarm manager about service {}", names.service)),
    }
}

/// Follow run's service again to its end, then remove its swarm objects.
pub(super) async fn reattach(swarm: &Swarm, run: RemoteRun, from: Resume) -> Result<RunResult> {
    let docker = swarm.docker().await?;
    let names = Names::of(&run.spec().run_id, &swarm.registry);
    let approvals = approvals_pushed(docker, &names.image, swarm.registry.docker_credentials()).await;
    run.info(format!(
        "the server restarted: following the run again{}",
        from.node.as_deref().map(|n| format!(" on swarm node {n}")).unwrap_or_default()
    ));
    let result = follow::follow(docker, &run, &names, &swarm.on_placed, from, approvals).await;
    service::remove_all(docker, &names).await;
    result
}

/// How many approval tags the server pushed for the run before it stopped: the next approval
/// is the next number (the agent waits for the tags in order, see `node::watch_approvals`).
async fn approvals_pushed(
    docker: &bollard::Docker,
    run_image: &str,
    login: Option<bollard::auth::DockerCredentials>,
) -> u32 {
    let mut n = 0;
    while n < MAX_APPROVALS
        && docker.inspect_registry_image(&tags::approve_tag(run_image, n + 1), login.clone()).await.is_ok()
    {
        n += 1;
    }
    n
}
