//! The swarm engine (`slipway serve --engine swarm`): each run placed by Docker Swarm on one
//! node, as a `replicated-job` service whose one task runs the run agent (`cluster::agent`)
//! with that node's own Docker engine, in the pattern of Drone's Nomad runner. The server talks
//! to a manager only (`DOCKER_HOST`), and to the nodes only through the swarm's own channels:
//! the run's image in the cluster registry (the agent and the job with the project's copy), the
//! key as a swarm secret, the events back through the service's log.
//!
//! This module (with `node.rs`, the agent's side) is the second place bollard is used, beside
//! the executor's Docker backend: it drives swarm objects (services, tasks, secrets, nodes),
//! which no step engine has (see xtask/tests/engine_boundary.rs).
//!
//! Per run ([`Swarm::run`]): the agent image pushed once per server binary (`images.rs`), the
//! run's image built on the manager and pushed, the key's secret and the service created
//! (`service.rs`), the task followed until its result line (`follow.rs`), then the service,
//! the secret and the run's image tag removed whatever happened. A cancel is a tag of the run's
//! image that the agent looks for (removing a running job's service does not stop its task on
//! Docker 20.10); the agent then cancels its runner, which cleans up on the node.

mod follow;
pub use follow::NodeLost;
pub mod images;
pub mod node;
mod reattach;
pub mod registry;
pub mod runner_start;
mod service;
pub mod tags;
pub use service::{RUN_LABEL, not_found};

use crate::executor::{Placement, RemoteRun, RunResult};
use anyhow::{Context, Result};
use futures_util::future::BoxFuture;
use std::sync::Arc;

/// Where a node keeps what the agent needs, and what a run reserves; `slipway serve`'s
/// `--cluster-*` flags and slipway.toml's `[engine]`.
#[derive(Clone, Debug, PartialEq)]
pub struct SwarmSettings {
    /// `HOST[:PORT]` of a registry every node can pull from (and the manager push to).
    pub registry: String,
    /// The path of each node's Docker socket, as the agent's task mounts it from the node.
    pub node_socket: String,
    /// A folder each node has for the agent's copies of projects, mounted at the same path.
    pub node_work: String,
    /// What each run reserves on its node: billionths of CPUs and bytes of memory.
    pub reserve_nano_cpus: Option<i64>,
    pub reserve_memory: Option<i64>,
    /// Swarm placement constraints every run's task gets (`node.labels.ci==true`, …).
    pub constraints: Vec<String>,
    /// The operator says step containers on the nodes cannot reach the cluster registry (a
    /// firewall keeps them away from it). Without it, only trusted projects may run on the
    /// swarm: a step that reaches an unauthenticated registry can list and pull other runs'
    /// images (other projects' files) and push the tags that cancel or approve runs.
    pub registry_isolated: bool,
    /// A Docker config.json with the registry's login (`--cluster-registry-auth`), read at
    /// start. With it, untrusted projects may run: the server checks at start that the
    /// registry refuses requests without it, and steps never get it.
    pub registry_auth: Option<std::path::PathBuf>,
    /// The registry's HTTP API as this server reaches it (`--cluster-registry-url`), for the
    /// start check and deleting finished runs' tags; by default `https://REGISTRY`, else
    /// `http://REGISTRY`.
    pub registry_url: Option<String>,
}

/// How long a cancel tag stays for an agent that may still be going (lost or abandoned runs)
/// before the run's tags are deleted: the agent looks for it every 2 s.
const STOP_SEEN_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

/// Real hosts' paths (the test swarm's differ: tests/env/swarm.sh prints them).
pub const DEFAULT_NODE_SOCKET: &str = "/var/run/docker.sock";
pub const DEFAULT_NODE_WORK: &str = "/var/lib/slipway-agent";

/// Called with `(run id, node)` once a run's task is on a node: the server records it.
pub type OnPlaced = Arc<dyn Fn(&str, &str) + Send + Sync>;

pub struct Swarm {
    /// The manager's engine, connected on first use (`slipway serve` checks it at start).
    docker: tokio::sync::OnceCell<bollard::Docker>,
    settings: SwarmSettings,
    /// The cluster registry, with the login when the server has one.
    registry: Arc<registry::ClusterRegistry>,
    /// The agent image in the cluster registry, once pushed (once per server process).
    agent: tokio::sync::OnceCell<String>,
    on_placed: OnPlaced,
}

/// Connect to the Docker engine `DOCKER_HOST` names (a manager's, for the server; the node's,
/// for the agent), the API version negotiated.
pub async fn connect() -> Result<bollard::Docker> {
    let host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let docker = bollard::Docker::connect_with_defaults()
        .with_context(|| format!("cannot connect to the Docker engine at {host}"))?;
    docker.negotiate_version().await.with_context(|| format!("the Docker engine at {host} does not answer"))
}

impl Swarm {
    /// The engine for `settings`; reads the registry's login file (an error names it).
    pub fn new(settings: SwarmSettings, on_placed: OnPlaced) -> Result<Arc<Swarm>> {
        let login = match &settings.registry_auth {
            Some(file) => Some(registry::Login::load(file, &settings.registry)?),
            None => None,
        };
        let registry =
            Arc::new(registry::ClusterRegistry::new(settings.registry.clone(), login, settings.registry_url.clone()));
        Ok(Arc::new(Swarm {
            docker: tokio::sync::OnceCell::new(),
            settings,
            registry,
            agent: tokio::sync::OnceCell::new(),
            on_placed,
        }))
    }

    /// With a login: the registry must refuse requests without it and take it (checked once,
    /// at start: this is what lets untrusted projects run on the swarm).
    pub async fn check_registry(&self) -> Result<()> {
        self.registry.check_login().await?;
        Ok(())
    }

    /// The manager's engine: it must answer, and be a swarm manager.
    pub async fn docker(&self) -> Result<&bollard::Docker> {
        self.docker
            .get_or_try_init(|| async {
                let docker = connect().await?;
                let info = docker.info().await.context("cannot ask the Docker engine about its swarm")?;
                let manager = info.swarm.as_ref().and_then(|s| s.control_available).unwrap_or(false);
                if !manager {
                    anyhow::bail!(
                        "--engine swarm: the Docker engine DOCKER_HOST names is not a swarm manager; point DOCKER_HOST at a manager's engine (`docker node ls` works there)"
                    );
                }
                Ok(docker)
            })
            .await
    }
}

impl Placement for Swarm {
    fn run(self: Arc<Self>, run: RemoteRun) -> BoxFuture<'static, Result<RunResult>> {
        Box::pin(async move { self.run_on_swarm(run).await })
    }

    fn abandon(self: Arc<Self>, runs: Vec<String>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let docker = match self.docker().await {
                Ok(d) => d,
                Err(e) => return tracing::warn!("cannot stop the interrupted runs on the swarm: {e:#}"),
            };
            let (registry, this) = (&self.registry, &self);
            futures_util::future::join_all(runs.iter().map(|id| async move {
                let names = service::Names::of(id, registry);
                // The agent sees the cancel tag (if its run's image is still here to tag),
                // cleans up on its node; then the run's swarm objects go.
                let mut told = false;
                if docker.inspect_image(&names.image).await.is_ok() {
                    match images::push_cancel(docker, &names).await {
                        Ok(()) => told = true,
                        Err(e) => tracing::warn!(run = %id, "{e:#}"),
                    }
                }
                service::remove_all(docker, &names).await;
                this.delete_tags_later(&names, told);
            }))
            .await;
        })
    }

    fn still_going(self: Arc<Self>, id: String) -> BoxFuture<'static, Result<bool>> {
        Box::pin(async move { reattach::still_going(&self, &id).await })
    }

    fn reattach(
        self: Arc<Self>,
        run: RemoteRun,
        from: crate::executor::Resume,
    ) -> BoxFuture<'static, Result<RunResult>> {
        Box::pin(async move { reattach::reattach(&self, run, from).await })
    }
}

impl Swarm {
    async fn run_on_swarm(&self, run: RemoteRun) -> Result<RunResult> {
        let started = std::time::Instant::now();
        let docker = self.docker().await?;
        let agent = self.agent.get_or_try_init(|| images::push_agent(docker, &self.registry)).await?;
        let names = service::Names::of(&run.spec().run_id, &self.registry);
        let result = self.submit_and_follow(docker, &run, agent, &names, started).await;
        // A run lost without its result (its service removed, its node gone): its agent may
        // still be going on its node (removing a running job's service does not stop its
        // task), so it is told to stop, as the runs a restart interrupts are.
        let told_to_stop = matches!(&result, Err(e) if e.is::<NodeLost>())
            && docker.inspect_image(&names.image).await.is_ok()
            && match images::push_cancel(docker, &names).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(run = %names.run_id, "{e:#}");
                    false
                }
            };
        service::remove_all(docker, &names).await;
        self.delete_tags_later(&names, told_to_stop);
        result
    }

    /// The run's tags (image, cancel, approvals) leave the registry; its blobs wait for the
    /// registry's garbage collection. In the background: the run's result does not wait on
    /// the registry's answers. After a cancel tag the agent may not have seen yet (a lost or
    /// abandoned run), only once the agent has had time to look (it looks every 2 s).
    fn delete_tags_later(&self, names: &service::Names, after_a_stop: bool) {
        let (registry, image) = (self.registry.clone(), names.image.clone());
        tokio::spawn(async move {
            if after_a_stop {
                tokio::time::sleep(STOP_SEEN_WITHIN).await;
            }
            registry.delete_run_tags(&image).await
        });
    }

    async fn submit_and_follow(
        &self,
        docker: &bollard::Docker,
        run: &RemoteRun,
        agent: &str,
        names: &service::Names,
        started: std::time::Instant,
    ) -> Result<RunResult> {
        images::push_run_image(docker, agent, names, run.spec()).await?;
        let mut secrets = Vec::new();
        // A run whose secrets are withheld (a fork's pull request) decrypts nothing: its node
        // never gets the key.
        if let (Some(key), crate::executor::secrets::SecretAccess::Allowed) =
            (&run.spec().key, &run.spec().options.secrets)
        {
            secrets.push(service::create_key_secret(docker, names, key).await?);
        }
        // The registry's login, for the agent's own requests, whoever's run it is.
        secrets.extend(service::create_registry_secret(docker, names).await?);
        service::create(docker, &self.settings, names, agent, &secrets).await?;
        run.info(format!(
            "submitted to the swarm as service {} ({} ms after the run was prepared)",
            names.service,
            started.elapsed().as_millis()
        ));
        follow::follow(docker, run, names, &self.on_placed, Default::default(), 0).await
    }
}
