//! The run agent (`slipway agent`): what a swarm task runs on its node. It reads the job the
//! server put in the run's image and the key from the run's swarm secret, stages the project
//! in the node's work folder (mounted in the task at the node's own path), and starts the
//! runner (`cluster::runner`, started by `swarm::runner_start`): a container of the run's image
//! that enters the node `dockerd`'s mount namespace and runs the run with the executor there,
//! exactly as the server runs one beside its own engine. The runner's JSON lines (each event,
//! masked, then one result line) pass through the agent's stdout; the server reads them back
//! from the service's log (`swarm/follow.rs`).
//!
//! A cancel reaches the agent as a tag of the run's image in the registry (removing a running
//! job's service does not stop its task on Docker 20.10): the agent looks for it every few
//! seconds (`swarm::node::watch_cancel`), and SIGTERM cancels too; either is passed on to the
//! runner, which cancels and cleans up on the node. Approvals travel the same way.
//!
//! The agent's own task container is left behind by swarm when it exits (a fact of Docker
//! 20.10's replicated jobs): before ending, the agent starts a reaper container on the node
//! (`slipway agent --reap`, from the same image) that waits for the agent's container to exit
//! and removes it and the run's image (see [`reap`]).

use super::job::{JOB_FILE, Job, KEY_SECRET_FILE, Line, REGISTRY_SECRET_FILE, WORKSPACE};
use super::runner::print_line;
use anyhow::{Context, Result};
use std::path::Path;
use tokio_util::sync::CancellationToken;

/// Where swarm puts the task's secrets.
pub const SECRETS_DIR: &str = "/run/secrets";

/// Run the job at `job_dir` with the engine `DOCKER_HOST` names (the node's), its copy of the
/// project in `work`. Returns whether the run succeeded. Never fails without a line saying why.
pub async fn run(job_dir: &Path, work: &Path, run_image: Option<&str>, node_socket: &str) -> Result<bool> {
    match run_job(job_dir, work, run_image, node_socket).await {
        Ok(ok) => Ok(ok),
        Err(e) => {
            // The key's forms are not in the text of an error before the run started (the
            // executor's errors after that are masked by it).
            print_line(&Line::Error(format!("{e:#}")));
            Ok(false)
        }
    }
}

async fn run_job(job_dir: &Path, work: &Path, run_image: Option<&str>, node_socket: &str) -> Result<bool> {
    let file = job_dir.join(JOB_FILE);
    let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read the job {}", file.display()))?;
    let job: Job = serde_json::from_str(&text).with_context(|| format!("{} is not a job", file.display()))?;
    let key = read_key(&Path::new(SECRETS_DIR).join(KEY_SECRET_FILE))?;
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            term.recv().await;
            stop.cancel();
        }
    });
    let approval = job.options.awaits_approval.then(|| std::sync::Arc::new(tokio::sync::Notify::new()));
    // The runner is started from the run's image (`swarm/runner_start.rs`): the agent never
    // runs a run in its own container, where no bind could be pinned.
    let Some(image) = run_image else {
        anyhow::bail!("slipway agent needs --run-image: it starts the run's runner from that image");
    };
    // The agent's own requests to the registry carry its login; the runner and the run's
    // steps never get it (the executor pulls their images with the project's dockercfg alone).
    let login = registry_login(image)?;
    let (stop, cancel_tag) = (cancel.clone(), super::swarm::tags::cancel_tag(image));
    let cancel_login = login.clone();
    tokio::spawn(async move { super::swarm::node::watch_cancel(&cancel_tag, cancel_login, stop).await });
    if let Some(approval) = approval.clone() {
        let (stop, image) = (cancel.clone(), image.to_string());
        tokio::spawn(async move { super::swarm::node::watch_approvals(&image, login, approval, stop).await });
    }
    let docker = super::swarm::connect().await?;
    let own = std::fs::read_to_string("/etc/hostname").context("cannot read this task's container id")?;
    let node = super::swarm::runner_start::OnNode { own: own.trim(), run_image: image, node_socket, work };
    super::swarm::runner_start::run(&docker, &node, job, &job_dir.join(WORKSPACE), key.as_ref(), cancel, approval).await
}

/// The cluster registry's login, when the server has one (the run's second secret file).
fn registry_login(run_image: &str) -> Result<super::swarm::registry::AgentLogin> {
    super::swarm::registry::agent_login_for(&Path::new(SECRETS_DIR).join(REGISTRY_SECRET_FILE), run_image)
}

/// The key, when the run has one (its secret file is there).
fn read_key(path: &Path) -> Result<Option<slipway_core::crypto::Key>> {
    if !path.exists() {
        return Ok(None);
    }
    crate::keyfile::load_key(path).map(Some).context("the run's key (its swarm secret)")
}

/// The reaper: wait for `container` (the agent's task container) to exit, then remove it and
/// `image` (the run's image, on this node). See `swarm::node`.
pub async fn reap(container: &str, image: &str) -> Result<()> {
    let docker = super::swarm::connect().await?;
    super::swarm::node::reap(&docker, container, image).await
}

/// Start the reaper of this agent's own container (its id is the task's hostname, which swarm
/// sets to the container's short id unless the service says otherwise).
pub async fn start_reaper(reaper_image: &str, run_image: &str, socket: &str) {
    let Ok(own) = std::fs::read_to_string("/etc/hostname") else { return };
    let own = own.trim().to_string();
    let started = match (super::swarm::connect().await, registry_login(run_image)) {
        (Ok(docker), Ok(login)) => {
            super::swarm::node::start_reaper(&docker, &own, reaper_image, run_image, socket, login).await
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    if let Err(e) = started {
        eprintln!("slipway agent: cannot start the reaper of container {own}: {e:#}");
    }
}
