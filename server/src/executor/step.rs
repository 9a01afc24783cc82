//! Run steps: a per-step network, fresh dependency containers reachable by service name
//! (healthy before the step starts), shared `volumes_from` holders, then the step's own
//! container with its argv, streamed line by line with a no-output timeout.

use super::Runner;
use super::labels::labels;
use anyhow::{Context, Result, anyhow, bail};
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, EndpointSettings, HostConfig, NetworkCreateRequest, NetworkingConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures_util::StreamExt;
use slipway_core::model::{Command, Service};
use slipway_core::plan::{PlannedStep, argv};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a container is attached to a step network.
struct Attach<'a> {
    network: &'a str,
    aliases: Vec<String>,
}

impl Runner {
    pub(super) async fn run_step(self: &Arc<Self>, step: &PlannedStep) -> Result<()> {
        let service = step.service.as_deref().ok_or_else(|| anyhow!("step `{}` has no service", step.name))?;
        // No command (only for `slipway run SERVICE`): the service's or image's default.
        let argv = step.command.clone();
        let cfg = self.step_dockercfg(step).await?;
        let (code, _) = self.run_container(&step.id, service, argv, cfg.as_ref(), &[], false).await?;
        if code != 0 {
            bail!("exited with status {code}");
        }
        Ok(())
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
        let _ = self.docker.remove_container(id, Some(opts)).await;
    }

    /// Create (not start) a container for `svc`. Names carry the run id; labels carry run,
    /// project and step so cleanup finds them.
    #[allow(clippy::too_many_arguments)]
    async fn create(
        self: &Arc<Self>,
        what: &str,
        step: &str,
        svc: &Service,
        image: &str,
        argv: Option<Vec<String>>,
        attach: Option<&Attach<'_>>,
        extra_binds: &[String],
    ) -> Result<String> {
        let mut env = self.service_env(svc)?;
        if attach.is_some() {
            env.extend(self.link_env(svc).await);
        }
        let mut binds: Vec<String> = extra_binds.to_vec();
        let mut anonymous = Vec::new();
        for v in &svc.volumes {
            match &v.host {
                Some(host) => binds.push(format!(
                    "{}:{}{}",
                    self.host_path(host)?,
                    v.container,
                    if v.read_only { ":ro" } else { "" }
                )),
                None => anonymous.push(v.container.clone()),
            }
        }
        if svc.add_docker {
            binds.push("/var/run/docker.sock:/var/run/docker.sock".to_string());
        }
        let mut volumes_from = Vec::new();
        for vf in &svc.volumes_from {
            volumes_from.push(self.volume_holder(&vf.value, step).await?);
        }
        let entrypoint = match &svc.entrypoint {
            Some(Command::Line(l)) => Some(argv::split(&l.value)?),
            Some(Command::Argv(a)) => Some(a.iter().map(|s| s.value.clone()).collect()),
            None => None,
        };
        let cmd = match (argv, &svc.command) {
            (Some(a), _) => Some(a),
            (None, Some(Command::Line(l))) => Some(argv::split(&l.value)?),
            (None, Some(Command::Argv(a))) => Some(a.iter().map(|s| s.value.clone()).collect()),
            (None, None) => None,
        };
        let passthrough = |key: &str| svc.passthrough.iter().find(|(k, _)| k == key).map(|(_, n)| n);
        let strings = |key: &str| -> Option<Vec<String>> {
            passthrough(key).map(|n| n.items().iter().filter_map(|i| i.as_str().map(str::to_string)).collect())
        };
        let host_config = HostConfig {
            binds: (!binds.is_empty()).then_some(binds),
            volumes_from: (!volumes_from.is_empty()).then_some(volumes_from),
            network_mode: attach.map(|a| a.network.to_string()),
            extra_hosts: strings("extra_hosts"),
            dns: strings("dns"),
            dns_search: strings("dns_search"),
            cap_add: strings("cap_add"),
            cap_drop: strings("cap_drop"),
            ..Default::default()
        };
        let networking_config = attach.map(|a| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                a.network.to_string(),
                EndpointSettings { aliases: Some(a.aliases.clone()), ..Default::default() },
            )])),
        });
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd,
            entrypoint,
            env: Some(env),
            working_dir: svc.working_dir.as_ref().map(|w| w.value.clone()),
            user: svc.user.as_ref().map(|u| u.value.clone()),
            hostname: passthrough("hostname").and_then(|n| n.as_str()).map(str::to_string),
            labels: Some(labels(&self.spec.run_id, &self.spec.project, Some(step))),
            volumes: (!anonymous.is_empty()).then_some(anonymous),
            host_config: Some(host_config),
            networking_config,
            ..Default::default()
        };
        let name = self.object_name(what);
        let opts = CreateContainerOptionsBuilder::default().name(&name).build();
        let docker = self.docker.clone();
        let created = self
            .creating(async move { docker.create_container(Some(opts), body).await })
            .await
            .with_context(|| format!("cannot create container {name}"))?;
        Ok(created.id)
    }

    /// Docker's legacy link variables for each of `links` (`DB_PORT=tcp://db:5432`,
    /// `DB_PORT_5432_TCP_ADDR=db`, `DB_ENV_POSTGRES_USER=…`), with the alias as the host name
    /// since every dependency is reachable by name on the step network.
    async fn link_env(self: &Arc<Self>, svc: &Service) -> Vec<String> {
        let mut out = Vec::new();
        for link in &svc.links {
            let name = link.alias.clone().unwrap_or_else(|| link.service.value.clone());
            let prefix: String =
                name.to_ascii_uppercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
            let Some(dep) = self.spec.services.get(&link.service.value) else { continue };
            let image =
                self.images.lock().expect("images lock").get(&link.service.value).and_then(|c| c.get().cloned());
            let Some(Ok(image)) = image else { continue };
            let config = self.docker.inspect_image(&image).await.ok().and_then(|i| i.config);
            let mut ports: Vec<String> = config.as_ref().and_then(|c| c.exposed_ports.clone()).unwrap_or_default();
            ports.sort();
            for (i, p) in ports.iter().enumerate() {
                let (port, proto) = p.split_once('/').unwrap_or((p.as_str(), "tcp"));
                let upper = proto.to_ascii_uppercase();
                if i == 0 {
                    out.push(format!("{prefix}_PORT={proto}://{name}:{port}"));
                }
                out.push(format!("{prefix}_PORT_{port}_{upper}={proto}://{name}:{port}"));
                out.push(format!("{prefix}_PORT_{port}_{upper}_ADDR={name}"));
                out.push(format!("{prefix}_PORT_{port}_{upper}_PORT={port}"));
                out.push(format!("{prefix}_PORT_{port}_{upper}_PROTO={proto}"));
            }
            out.push(format!("{prefix}_NAME=/{}/{name}", svc.name.value));
            let image_env = config.and_then(|c| c.env).unwrap_or_default();
            let service_env = dep.environment.iter().map(|(k, v)| format!("{}={}", k.value, v.value));
            for kv in image_env.into_iter().chain(service_env) {
                if let Some((k, v)) = kv.split_once('=')
                    && k != "PATH"
                    && k != "HOME"
                {
                    out.push(format!("{prefix}_ENV_{k}={v}"));
                }
            }
        }
        out
    }

    /// A host path from a volume, relative to the project folder; it must stay inside.
    fn host_path(&self, host: &str) -> Result<String> {
        let absolute = std::path::Path::new(host).is_absolute();
        if self.spec.options.confine && absolute {
            bail!("volume host path `{host}` is absolute; server runs may only mount folders inside the project");
        }
        let root = self.spec.dir.canonicalize()?;
        let path = if absolute { std::path::PathBuf::from(host) } else { root.join(host) };
        let outside = || anyhow::anyhow!("volume host path `{host}` resolves outside the project folder");
        // Check `..` before creating a missing folder (nothing may be created outside), then
        // again once symlinks are resolved.
        if !absolute && !super::paths::normalize(&path).starts_with(&root) {
            return Err(outside());
        }
        if !path.exists() {
            std::fs::create_dir_all(&path)
                .with_context(|| format!("cannot create volume folder {}", path.display()))?;
        }
        let path = path.canonicalize()?;
        if !absolute && !path.starts_with(&root) {
            return Err(outside());
        }
        Ok(path.display().to_string())
    }

    /// `volumes_from` holders are created once per run and shared by every step.
    async fn volume_holder(self: &Arc<Self>, service: &str, step: &str) -> Result<String> {
        let cell = {
            let mut map = self.volume_holders.lock().expect("holders lock");
            map.entry(service.to_string()).or_default().clone()
        };
        let r = cell
            .get_or_init(|| async {
                let make = async {
                    let svc =
                        self.spec.services.get(service).ok_or_else(|| anyhow!("unknown service `{service}`"))?.clone();
                    let image = self.image_for(service, step, None).await?;
                    Box::pin(self.create(
                        &format!("volumes-{service}"),
                        "volumes",
                        &svc,
                        &image,
                        Some(vec!["true".into()]),
                        None,
                        &[],
                    ))
                    .await
                };
                make.await.map_err(|e: anyhow::Error| format!("{e:#}"))
            })
            .await;
        r.clone().map_err(|e| anyhow!(e))
    }

    /// Start `links`/`depends_on` services (and theirs) fresh for this step, dependencies
    /// first, each reachable on the step network by its name and link aliases.
    async fn start_dependencies(
        self: &Arc<Self>,
        step: &str,
        svc: &Service,
        network: &str,
        cfg: Option<&slipway_core::dockercfg::DockerCfg>,
    ) -> Result<()> {
        let order = self.dependency_order(svc);
        for dep in order {
            let dsvc = self.spec.services.get(&dep).ok_or_else(|| anyhow!("unknown service `{dep}`"))?.clone();
            let image = self.image_for(&dep, step, cfg).await?;
            let mut aliases = vec![dep.clone()];
            for s in &self.spec.services.services {
                for l in &s.links {
                    if l.service.value == dep
                        && let Some(a) = &l.alias
                        && !aliases.contains(a)
                    {
                        aliases.push(a.clone());
                    }
                }
            }
            let attach = Attach { network, aliases };
            let id = self.create(&format!("{step}-dep-{dep}"), step, &dsvc, &image, None, Some(&attach), &[]).await?;
            self.docker.start_container(&id, None).await.with_context(|| format!("cannot start dependency `{dep}`"))?;
            self.wait_healthy(&id, &dep).await?;
        }
        Ok(())
    }

    fn dependency_order(&self, svc: &Service) -> Vec<String> {
        let mut order = Vec::new();
        let mut stack: Vec<(String, bool)> = svc
            .links
            .iter()
            .map(|l| &l.service)
            .chain(&svc.depends_on)
            .rev()
            .map(|s| (s.value.clone(), false))
            .collect();
        while let Some((name, expanded)) = stack.pop() {
            if order.contains(&name) {
                continue;
            }
            if expanded {
                order.push(name);
                continue;
            }
            stack.push((name.clone(), true));
            if let Some(s) = self.spec.services.get(&name) {
                for d in s.links.iter().map(|l| &l.service).chain(&s.depends_on).rev() {
                    if !order.contains(&d.value) && d.value != svc.name.value {
                        stack.push((d.value.clone(), false));
                    }
                }
            }
        }
        order
    }

    /// Wait for a dependency with a HEALTHCHECK to be healthy, polling every second.
    async fn wait_healthy(&self, id: &str, name: &str) -> Result<()> {
        let deadline = Instant::now() + self.spec.options.health_timeout;
        loop {
            let info = self.docker.inspect_container(id, None).await?;
            let state = info.state.unwrap_or_default();
            if state.running != Some(true) {
                bail!("dependency `{name}` exited (status {}) before the step started", state.exit_code.unwrap_or(-1));
            }
            let Some(health) = state.health else {
                return Ok(());
            };
            match health.status.map(|s| s.to_string()).as_deref() {
                Some("healthy") => return Ok(()),
                Some("unhealthy") => {
                    bail!("dependency `{name}` is unhealthy (its HEALTHCHECK failed)")
                }
                _ => {}
            }
            if Instant::now() > deadline {
                bail!(
                    "dependency `{name}` was not healthy after {}s; check its HEALTHCHECK",
                    self.spec.options.health_timeout.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Stream a container's output as masked lines until it exits; return its exit status.
    async fn follow(&self, id: &str, step: &str, service: &str) -> Result<i64> {
        let opts = LogsOptionsBuilder::default().follow(true).stdout(true).stderr(true).build();
        let mut logs = self.docker.logs(id, Some(opts));
        let (mut out, mut err) = (self.line_buffer(), self.line_buffer());
        let timeout = self.spec.options.no_output_timeout;
        loop {
            match tokio::time::timeout(timeout, logs.next()).await {
                Err(_) => {
                    let _ = self.docker.kill_container(id, Some(KillContainerOptionsBuilder::default().build())).await;
                    bail!("no output for {}s; the step was stopped (no-output timeout)", timeout.as_secs());
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(anyhow!("lost the container's output: {e}")),
                Ok(Some(Ok(chunk))) => {
                    let lines = match chunk {
                        LogOutput::StdErr { message } => err.push(&message),
                        LogOutput::StdOut { message } | LogOutput::Console { message } => out.push(&message),
                        LogOutput::StdIn { .. } => Vec::new(),
                    };
                    for l in lines {
                        self.log(step, service, &l);
                    }
                }
            }
        }
        for l in out.finish().into_iter().chain(err.finish()) {
            self.log(step, service, &l);
        }
        let mut wait = self.docker.wait_container(id, None);
        let code = match wait.next().await {
            Some(Ok(r)) => r.status_code,
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
            Some(Err(e)) => return Err(anyhow!("waiting for the container failed: {e}")),
            None => self.docker.inspect_container(id, None).await?.state.and_then(|s| s.exit_code).unwrap_or(-1),
        };
        Ok(code)
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
}
