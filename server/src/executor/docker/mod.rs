//! The Docker backend of the executor (bollard): the only module of the server that talks to
//! a Docker engine. [`Client`] is a connection to one engine; [`DockerRun`] is one run on it,
//! the [`Engine`] the orchestration drives: images built or pulled once per run, each step's
//! container with its dependencies on a per-step network, pushes, and removal by label.

mod container;
mod dependencies;
mod disk_watch;
pub(super) mod dockercfg;
mod file_out;
mod follow;
mod host_config;
mod images;
pub mod labels;
mod pinned;
mod push;
mod push_tag;
mod resolve;
mod step;

use super::engine::{Engine, Removed};
use super::run::Run;
use anyhow::{Context, Result};
use futures_util::future::BoxFuture;
use slipway_core::plan::PlannedStep;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

/// A connection to a Docker engine.
#[derive(Clone, Debug)]
pub struct Client(bollard::Docker);

/// Connect to the Docker engine: `DOCKER_HOST` (unix, tcp, https with `DOCKER_TLS_VERIFY`
/// and `DOCKER_CERT_PATH`), or the local socket; the API version is negotiated so older
/// engines work.
pub async fn connect() -> Result<Client> {
    let host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let docker = bollard::Docker::connect_with_defaults()
        .with_context(|| format!("cannot connect to the Docker engine at {host}"))?;
    let docker = docker.negotiate_version().await.with_context(|| {
        format!("the Docker engine at {host} does not answer; is dockerd running (and may this user use its socket)?")
    })?;
    docker.ping().await.with_context(|| format!("the Docker engine at {host} does not answer"))?;
    Ok(Client(docker))
}

impl Client {
    /// A client of no engine (a port nothing listens on), for work that makes no request,
    /// such as a built-in dockercfg generator: any request it makes fails.
    pub fn unreachable() -> Result<Client> {
        bollard::Docker::connect_with_http("http://127.0.0.1:9", 4, bollard::API_DEFAULT_VERSION)
            .map(Client)
            .context("cannot make a Docker client")
    }

    /// The engine for one run.
    pub(super) fn engine(&self, run: Arc<Run>) -> Arc<DockerRun> {
        Arc::new(DockerRun::new(self.0.clone(), run))
    }
}

type Shared<T> = Arc<OnceCell<std::result::Result<T, String>>>;

/// One run on a Docker engine.
pub(super) struct DockerRun {
    docker: bollard::Docker,
    run: Arc<Run>,
    /// Image ids by service.
    images: Mutex<HashMap<String, Shared<String>>>,
    /// Builds waiting for a sibling's build (their Dockerfile starts FROM its image), by service.
    build_waits: Mutex<HashMap<String, String>>,
    volume_holders: Mutex<HashMap<String, Shared<String>>>,
    /// Container removals running in the background; awaited before the run ends.
    removals: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Docker requests that create objects; awaited before cleanup (see `DockerRun::creating`).
    creations: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Bind sources held open for the run, so what Docker mounts is what was checked.
    pins: pinned::Pins,
}

/// The run's context (spec, masked log, limits) is read through the backend as its own.
impl std::ops::Deref for DockerRun {
    type Target = Run;
    fn deref(&self) -> &Run {
        &self.run
    }
}

impl DockerRun {
    fn new(docker: bollard::Docker, run: Arc<Run>) -> DockerRun {
        DockerRun {
            docker,
            run,
            images: Mutex::new(HashMap::new()),
            build_waits: Mutex::new(HashMap::new()),
            volume_holders: Mutex::new(HashMap::new()),
            removals: Mutex::new(Vec::new()),
            creations: Mutex::new(Vec::new()),
            pins: pinned::Pins::default(),
        }
    }

    /// Run a Docker request that creates an object (container, network, volume) as a task of
    /// its own, which the run awaits before cleaning up. A cancelled step drops its future in
    /// the middle of the request, but Docker still completes it: without this, cleanup could
    /// look before the object exists and leave it behind.
    async fn creating<T, E>(&self, request: impl Future<Output = Result<T, E>> + Send + 'static) -> Result<T>
    where
        T: Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let _ = tx.send(request.await);
        });
        self.creations.lock().expect("creations lock").push(task);
        Ok(rx.await.map_err(|_| anyhow::anyhow!("a Docker request was lost"))??)
    }
}

impl Engine for DockerRun {
    fn load_image(self: Arc<Self>, service: String) -> BoxFuture<'static, Result<String>> {
        Box::pin(async move {
            self.image_for(&service, &format!("load-{service}"), None).await?;
            self.loaded_name(&service)
        })
    }

    fn run_step(self: Arc<Self>, step: PlannedStep) -> BoxFuture<'static, Result<i64>> {
        Box::pin(async move { DockerRun::run_step(&self, &step).await })
    }

    fn push(self: Arc<Self>, step: PlannedStep) -> BoxFuture<'static, Result<()>> {
        Box::pin(async move { self.push_step(&step).await })
    }

    fn remove_step<'a>(&'a self, id: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(self.remove_step_containers(id))
    }

    fn settle(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let creations = std::mem::take(&mut *self.creations.lock().expect("creations lock"));
            futures_util::future::join_all(creations).await;
            let removals = std::mem::take(&mut *self.removals.lock().expect("removals lock"));
            futures_util::future::join_all(removals).await;
        })
    }

    fn remove_run(&self) -> BoxFuture<'_, Result<Removed>> {
        Box::pin(async move {
            let run_id = &self.spec.run_id;
            let left = labels::cleanup(&Client(self.docker.clone()), Some(run_id), false).await.map_err(|e| {
                anyhow::anyhow!(
                    "cleanup failed: {e}; what the run left carries the label {}={run_id} \
                     (`docker ps -a --filter label={}={run_id}`)",
                    labels::RUN,
                    labels::RUN,
                )
            })?;
            Ok(Removed {
                containers: left.containers.len(),
                networks: left.networks.len(),
                volumes: left.volumes.len(),
                failed: left
                    .failed
                    .iter()
                    .map(|f| format!("cannot remove {} {}: {}; {}", f.kind, f.name, f.error, f.hint()))
                    .collect(),
            })
        })
    }

    fn watch_disk(self: Arc<Self>, done: CancellationToken) -> BoxFuture<'static, ()> {
        Box::pin(DockerRun::watch_disk(self, done))
    }
}
