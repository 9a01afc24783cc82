//! The agent's side on its node: the reaper. Docker 20.10 leaves a finished job's task
//! container on its node, also after the service is removed, and the run's image stays in the
//! node's image store: the agent, as its last act, starts a plain container (from the agent
//! image, with the node's socket) that waits for the agent's container to exit, then removes
//! it and the run's image, and is removed itself (`AutoRemove`).

use anyhow::{Context, Result};
use bollard::auth::DockerCredentials;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptions,
    WaitContainerOptions,
};
use futures_util::StreamExt;
use std::time::Duration;

/// After the agent's container exited, how long its log stays for the server to read the last
/// lines (the server follows it live: it has them in well under a second).
const LOG_GRACE: Duration = Duration::from_secs(5);

/// Start the reaper of container `own` (the agent's) and `run_image` on this node.
pub async fn start_reaper(
    docker: &bollard::Docker,
    own: &str,
    reaper_image: &str,
    run_image: &str,
    socket: &str,
    login: Option<DockerCredentials>,
) -> Result<()> {
    if docker.inspect_image(reaper_image).await.is_err() {
        let mut pull = docker.create_image(
            Some(CreateImageOptionsBuilder::default().from_image(reaper_image).build()),
            None,
            login,
        );
        while let Some(item) = pull.next().await {
            item.with_context(|| format!("cannot pull {reaper_image}"))?;
        }
    }
    let body = ContainerCreateBody {
        image: Some(reaper_image.to_string()),
        cmd: Some(vec![
            crate::cluster::agent_image::AGENT_BINARY.to_string(),
            "agent".into(),
            "--reap".into(),
            own.to_string(),
            "--run-image".into(),
            run_image.to_string(),
        ]),
        host_config: Some(HostConfig {
            binds: Some(vec![format!("{socket}:/var/run/docker.sock")]),
            auto_remove: Some(true),
            network_mode: Some("none".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let name = format!("slipway-reaper-{own}");
    let created = docker
        .create_container(Some(CreateContainerOptionsBuilder::default().name(&name).build()), body)
        .await
        .context("cannot create the reaper")?;
    docker
        .start_container(&created.id, None::<bollard::query_parameters::StartContainerOptions>)
        .await
        .context("cannot start the reaper")?;
    Ok(())
}

/// The reaper's work: `container` removed once it exited, then `run_image`.
pub async fn reap(docker: &bollard::Docker, container: &str, run_image: &str) -> Result<()> {
    let mut wait = docker.wait_container(container, None::<WaitContainerOptions>);
    // Ends when the container exits (or is gone already, an error: nothing to wait for).
    while let Some(Ok(_)) = wait.next().await {}
    tokio::time::sleep(LOG_GRACE).await;
    let force = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
    // The agent's runner, if the agent could not remove it (it uses the run's image).
    let runner = super::runner_start::runner_name(container);
    if let Err(e) = docker.remove_container(&runner, Some(force.clone())).await
        && !super::service::not_found(&e)
    {
        eprintln!("slipway reaper: cannot remove the runner {runner}: {e}");
    }
    if let Err(e) = docker.remove_container(container, Some(force)).await
        && !super::service::not_found(&e)
    {
        eprintln!("slipway reaper: cannot remove container {container}: {e}");
    }
    if let Err(e) = docker.remove_image(run_image, None::<RemoveImageOptions>, None).await
        && !super::service::not_found(&e)
    {
        eprintln!("slipway reaper: cannot remove image {run_image}: {e}");
    }
    Ok(())
}

/// How often the agent asks the registry for its run's cancel tag.
const CANCEL_POLL: Duration = Duration::from_secs(2);

/// Cancel `stop` once `cancel_tag` is in the registry (the server pushed it: a cancel). The
/// registry is asked with the agent's login, when the server gave one.
pub async fn watch_cancel(
    cancel_tag: &str,
    login: Option<DockerCredentials>,
    stop: tokio_util::sync::CancellationToken,
) {
    let Ok(docker) = super::connect().await else { return };
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(CANCEL_POLL) => {}
        }
        if docker.inspect_registry_image(cancel_tag, login.clone()).await.is_ok() {
            stop.cancel();
            return;
        }
    }
}

/// Notify `approval` once for each approval tag of the run (`approve_tag(run_image, 1)`, then
/// 2, …) that appears in the registry: the server pushes the next one on each approval.
pub async fn watch_approvals(
    run_image: &str,
    login: Option<DockerCredentials>,
    approval: std::sync::Arc<tokio::sync::Notify>,
    stop: tokio_util::sync::CancellationToken,
) {
    let Ok(docker) = super::connect().await else { return };
    let mut next = 1;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(CANCEL_POLL) => {}
        }
        while docker.inspect_registry_image(&super::tags::approve_tag(run_image, next), login.clone()).await.is_ok() {
            approval.notify_one();
            next += 1;
        }
    }
}
