//! Run a step: a per-step network when it has dependencies (`dependencies.rs`), the step's
//! container (`container.rs`), its output followed (`follow.rs`), then removal of what the
//! step created.

use super::DockerRun;
use super::container::Attach;
use super::labels::labels;
use anyhow::{Context, Result, anyhow};
use bollard::models::NetworkCreateRequest;
use bollard::query_parameters::RemoveContainerOptionsBuilder;
use slipway_core::plan::PlannedStep;
use std::collections::HashMap;
use std::sync::Arc;

impl DockerRun {
    /// Run a step's container to the end; its exit code (the orchestration decides what a
    /// code means).
    pub(super) async fn run_step(self: &Arc<Self>, step: &PlannedStep) -> Result<i64> {
        let service = step.service.as_deref().ok_or_else(|| anyhow!("step `{}` has no service", step.name))?;
        // No command (only for `slipway run SERVICE`): the service's or image's default.
        let argv = step.command.clone();
        let cfg = self.step_dockercfg(step).await?;
        let (code, _) = self.run_container(&step.id, service, argv, cfg.as_ref(), &[], false).await?;
        Ok(code)
    }

    /// Run one container of `service` with its dependencies; returns its exit status and id.
    /// `extra_binds` lets the dockercfg generator mount its temporary volume; `keep` leaves
    /// the container (not its dependencies) for the caller to read from and remove.
    pub(super) async fn run_container(
        self: &Arc<Self>,
        step: &str,
        service: &str,
        argv: Option<Vec<String>>,
        cfg: Option<&slipway_core::dockercfg::DockerCfg>,
        extra_binds: &[String],
        keep: bool,
    ) -> Result<(i64, String)> {
        let svc = self.spec.services.get(service).ok_or_else(|| anyhow!("unknown service `{service}`"))?.clone();
        let image = self.image_for(service, step, cfg).await?;
        // A per-step network only when there are dependencies to reach by name: creating and
        // removing a network costs more than running a short step.
        let has_deps = !svc.links.is_empty() || !svc.depends_on.is_empty();
        let network = has_deps.then(|| self.object_name(&format!("net-{step}")));
        if let Some(network) = &network {
            let request = NetworkCreateRequest {
                name: network.clone(),
                labels: Some(labels(&self.spec.run_id, &self.spec.project, Some(step))),
                ..Default::default()
            };
            let docker = self.docker.clone();
            self.creating(async move { docker.create_network(request).await })
                .await
                .with_context(|| format!("cannot create network {network}"))?;
        }
        let mut main_id = None;
        let result = async {
            let attach = match &network {
                Some(n) => {
                    self.start_dependencies(step, &svc, n, cfg).await?;
                    Some(Attach { network: n, aliases: vec![service.to_string()] })
                }
                None => None,
            };
            let id = self
                .create(&format!("{step}-{service}"), step, &svc, &image, argv, attach.as_ref(), extra_binds)
                .await?;
            main_id = Some(id.clone());
            self.docker
                .start_container(&id, None)
                .await
                .with_context(|| format!("cannot start the container for `{service}`"))?;
            Ok((self.follow(&id, step, service).await?, id))
        }
        .await;
        if keep {
            self.remove_step_objects(step, network.as_deref(), main_id.as_deref()).await;
        } else if self.spec.options.remove {
            // Removal is off the critical path: the next step starts while Docker removes
            // this one's containers. The run waits for all removals before it ends.
            let me = self.clone();
            let step = step.to_string();
            let handle = tokio::spawn(async move {
                match (&network, &main_id) {
                    (None, Some(id)) => me.remove_container(id).await,
                    _ => me.remove_step_objects(&step, network.as_deref(), None).await,
                }
            });
            self.removals.lock().expect("removals lock").push(handle);
        }
        result
    }

    async fn remove_container(&self, id: &str) {
        let opts = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
        let gone = |e: &bollard::errors::Error| {
            matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
        };
        if let Err(e) = self.docker.remove_container(id, Some(opts)).await
            && !gone(&e)
        {
            // The run's final cleanup by label tries again; say why this one failed.
            tracing::warn!(run = %self.spec.run_id, "cannot remove container {id}: {e}");
        }
    }

    /// Remove this step's containers (dependencies included, `keep` excepted) and network.
    async fn remove_step_objects(&self, step: &str, network: Option<&str>, keep: Option<&str>) {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{}={}", super::labels::RUN, self.spec.run_id), format!("{}={step}", super::labels::STEP)],
        )]);
        let opts =
            bollard::query_parameters::ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
        if let Ok(list) = self.docker.list_containers(Some(opts)).await {
            let ids: Vec<String> =
                list.into_iter().filter_map(|c| c.id).filter(|id| Some(id.as_str()) != keep).collect();
            futures_util::future::join_all(ids.iter().map(|id| self.remove_container(id))).await;
        }
        let Some(network) = network else { return };
        if let Some(kept) = keep {
            // The kept container still holds the network; disconnect it first.
            let req = bollard::models::NetworkDisconnectRequest { container: kept.to_string(), force: Some(true) };
            let _ = self.docker.disconnect_network(network, req).await;
        }
        let _ = self.docker.remove_network(network).await;
    }

    /// Remove (killing) every container of step `id`, its helpers' (`ID-dockercfg`) included,
    /// and its network. The run's final cleanup by label catches anything created after this.
    pub(super) async fn remove_step_containers(&self, id: &str) {
        use bollard::query_parameters::{ListContainersOptionsBuilder, RemoveContainerOptionsBuilder};
        let filters = std::collections::HashMap::from([(
            "label".to_string(),
            vec![format!("{}={}", super::labels::RUN, self.spec.run_id)],
        )]);
        let opts = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
        let helper = format!("{id}-");
        let of_step = |c: &bollard::models::ContainerSummary| {
            c.labels
                .as_ref()
                .and_then(|l| l.get(super::labels::STEP))
                .is_some_and(|s| s == id || s.starts_with(&helper))
        };
        match self.docker.list_containers(Some(opts)).await {
            Ok(list) => {
                let ids: Vec<String> = list.into_iter().filter(of_step).filter_map(|c| c.id).collect();
                let remove = ids.iter().map(|c| {
                    let opts = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
                    self.docker.remove_container(c, Some(opts))
                });
                for r in futures_util::future::join_all(remove).await {
                    if let Err(e) = r {
                        tracing::warn!(run = %self.spec.run_id, "cannot remove a container of step {id}: {e}");
                    }
                }
            }
            Err(e) => tracing::warn!(run = %self.spec.run_id, "cannot list the containers of step {id}: {e}"),
        }
        let _ = self.docker.remove_network(&self.object_name(&format!("net-{id}"))).await;
    }
}
