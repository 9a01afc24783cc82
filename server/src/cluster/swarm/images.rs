//! The images a swarm run needs, made on the manager's engine and pushed to the cluster
//! registry (the only way images reach other nodes): the agent (the server's own binary, once
//! per binary: its tag is the binary's hash) and the run's image (the agent plus a layer with
//! the job and the copy of the project).

use super::registry::ClusterRegistry;
use super::service::Names;
use super::tags::{approve_tag, cancel_tag};
use crate::cluster::agent_image::AgentRoot;
use crate::cluster::job::{JOB_DIR, JOB_FILE, Job, WORKSPACE};
use crate::executor::RunSpec;
use crate::executor::docker::labels::IMAGE_PROJECT;
use anyhow::{Context, Result, anyhow, bail};
use bollard::query_parameters::{BuildImageOptionsBuilder, CreateImageOptionsBuilder, PushImageOptions};
use futures_util::StreamExt;

/// The agent image, `REGISTRY/slipway-agent:TAG`, on the manager and in the registry.
pub(super) async fn push_agent(docker: &bollard::Docker, registry: &ClusterRegistry) -> Result<String> {
    let exe = std::env::current_exe().context("cannot find this program's own file")?;
    let root = tokio::task::spawn_blocking(move || AgentRoot::of(&exe)).await??;
    let repo = format!("{}/slipway-agent", registry.host);
    let image = format!("{repo}:{}", root.tag());
    if docker.inspect_image(&image).await.is_err() {
        let tar = tokio::task::spawn_blocking(move || root.write_tar(Vec::new())).await??;
        // `docker import`: the root file system as the image's one layer.
        let options = CreateImageOptionsBuilder::default()
            .from_src("-")
            .repo(&repo)
            .tag(image.rsplit(':').next().unwrap_or("latest"))
            .build();
        let mut import = docker.create_image(Some(options), Some(bollard::body_full(tar.into())), None);
        while let Some(item) = import.next().await {
            let item = item.with_context(|| format!("cannot import the agent image {image} on the manager"))?;
            if let Some(e) = item.error_detail.and_then(|d| d.message) {
                bail!("cannot import the agent image {image} on the manager: {e}");
            }
        }
    }
    push(docker, &image, registry).await?;
    Ok(image)
}

/// The run's image: the agent and, in [`JOB_DIR`], the job and the run's copy of the project.
pub(super) async fn push_run_image(docker: &bollard::Docker, agent: &str, names: &Names, spec: &RunSpec) -> Result<()> {
    let image = names.image.as_str();
    let job = serde_json::to_vec(&Job::of(spec)?)?;
    let dir = spec.dir.clone();
    // The run label finds the image (and what is left of it) on any node by its run. The
    // project label is the executor's: a step of another project that names this image (and
    // finds it on its node) does not use it, but pulls it, without the registry's login.
    let label = serde_json::to_string(&spec.run_id)?;
    let project = serde_json::to_string(&spec.project)?;
    let dockerfile =
        format!("FROM {agent}\nLABEL slipway.run={label} {IMAGE_PROJECT}={project}\nCOPY slipway/ /slipway/\n");
    let context = tokio::task::spawn_blocking(move || build_context(&dockerfile, &job, &dir))
        .await?
        .context("cannot pack the run's project for the swarm")?;
    let options = BuildImageOptionsBuilder::default().t(image).rm(true).forcerm(true).build();
    let mut build = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    while let Some(item) = build.next().await {
        let item = item.with_context(|| format!("cannot build the run's image {image} on the manager"))?;
        if let Some(e) = item.error_detail.and_then(|d| d.message) {
            bail!("cannot build the run's image {image} on the manager: {e}");
        }
    }
    push(docker, image, &names.registry).await
}

/// The build context: the Dockerfile and `slipway/job/{job.json,workspace/…}`. Symbolic links
/// in the project stay links (never the files they point to on the server).
fn build_context(dockerfile: &str, job: &[u8], dir: &std::path::Path) -> Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut add = |path: &str, data: &[u8]| -> std::io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        tar.append_data(&mut header, path, data)
    };
    add("Dockerfile", dockerfile.as_bytes())?;
    let job_dir = JOB_DIR.trim_start_matches('/');
    add(&format!("{job_dir}/{JOB_FILE}"), job)?;
    tar.append_dir_all(format!("{job_dir}/{WORKSPACE}"), dir)?;
    Ok(tar.into_inner()?)
}

/// Push `image` to the cluster registry, with its login when the server has one.
async fn push(docker: &bollard::Docker, image: &str, registry: &ClusterRegistry) -> Result<()> {
    let mut push = docker.push_image(image, None::<PushImageOptions>, registry.docker_credentials());
    while let Some(item) = push.next().await {
        let item = item.with_context(|| format!("cannot push {image} to the cluster registry"))?;
        if let Some(e) = item.error_detail.and_then(|d| d.message) {
            return Err(anyhow!("cannot push {image} to the cluster registry: {e}"));
        }
    }
    Ok(())
}

/// Push the run's cancel tag (see [`super::tags::cancel_tag`]).
pub(super) async fn push_cancel(docker: &bollard::Docker, names: &Names) -> Result<()> {
    push_tag(docker, names, &cancel_tag(&names.image)).await
}

/// Push the run's `n`th approval tag (see [`super::tags::approve_tag`]).
pub(super) async fn push_approve(docker: &bollard::Docker, names: &Names, n: u32) -> Result<()> {
    push_tag(docker, names, &approve_tag(&names.image, n)).await
}

/// Tag the run's image as `name` and push that.
async fn push_tag(docker: &bollard::Docker, names: &Names, name: &str) -> Result<()> {
    let (repo, tag) = name.rsplit_once(':').ok_or_else(|| anyhow!("{name} has no tag"))?;
    let options = bollard::query_parameters::TagImageOptionsBuilder::default().repo(repo).tag(tag).build();
    docker.tag_image(&names.image, Some(options)).await.with_context(|| format!("cannot tag {name}"))?;
    push(docker, name, &names.registry).await
}
