//! A step's container as Docker creates it: image, argv, environment (link variables
//! included), binds confined to the project and pinned to the folder checked (`pinned`),
//! `volumes_from` holders, network attachment.

use super::DockerRun;
use super::labels::labels;
use super::pinned::EngineView;
use crate::executor::paths::{Beneath, EntryKind, Links, Opened};
use anyhow::{Context, Result, anyhow, bail};
use bollard::models::{ContainerCreateBody, EndpointSettings, HostConfig, NetworkingConfig, VolumeCreateRequest};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use slipway_core::argv;
use slipway_core::model::{Command, Service};
use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;

/// How a container is attached to a step network.
pub(super) struct Attach<'a> {
    pub(super) network: &'a str,
    pub(super) aliases: Vec<String>,
}

impl DockerRun {
    /// Create (not start) a container for `svc`. Names carry the run id; labels carry run,
    /// project and step so cleanup finds them.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn create(
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
                Some(host) => binds.push(self.bind(host, &v.container, v.read_only, step).await?),
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
        // Limits, host access and the other compose keys (see `host_config`).
        let shaped = super::host_config::shape(svc, &self.spec.options, attach.map(|a| a.network))?;
        let host_config = HostConfig {
            binds: (!binds.is_empty()).then_some(binds),
            volumes_from: (!volumes_from.is_empty()).then_some(volumes_from),
            ..shaped.host_config
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
            hostname: shaped.hostname,
            domainname: shaped.domainname,
            exposed_ports: shaped.exposed_ports,
            healthcheck: shaped.healthcheck,
            // The run's labels win: cleanup finds what a run created by them.
            labels: Some(
                shaped.labels.into_iter().chain(labels(&self.spec.run_id, &self.spec.project, Some(step))).collect(),
            ),
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

    /// The `Binds` entry for a volume with a host folder. A relative folder is opened now,
    /// beneath the project folder and never through a symlink in a server run (see `paths`;
    /// missing folders are made in place). A server run pins it: the container mounts the
    /// folder opened here, whatever a step renames or replaces before it, or a `volumes_from`
    /// consumer of it, starts (see `pinned`). The CLI binds it by the path it has now, as jet
    /// did: its steps are the developer's own, and a container kept by `--no-remove` must
    /// still start once the CLI (and its descriptors) are gone.
    async fn bind(self: &Arc<Self>, host: &str, container: &str, read_only: bool, step: &str) -> Result<String> {
        let confine = self.spec.options.confine;
        if Path::new(host).is_absolute() {
            // `policy` refused it already in an untrusted run; this is the last line of defence.
            if confine && !self.spec.options.trusted {
                bail!("volume host path `{host}` is absolute; server runs may only mount folders inside the project");
            }
            // The CLI, on the developer's own machine, or a project the operator trusts: as jet did.
            std::fs::create_dir_all(host).with_context(|| format!("cannot create volume folder {host}"))?;
            let path = Path::new(host).canonicalize().with_context(|| format!("volume host path `{host}`"))?;
            return Ok(format!("{}:{container}{}", path.display(), if read_only { ":ro" } else { "" }));
        }
        let ro = if read_only { ":ro" } else { "" };
        let opened = Beneath::open(&self.spec.dir, Links::for_run(confine))?
            .entry(host, true)
            .with_context(|| format!("volume host path `{host}`"))?;
        if !confine {
            return Ok(format!("{}:{container}{ro}", opened.path.display()));
        }
        match (self.pins.engine().await, opened.kind) {
            (_, EntryKind::Other) => bail!(
                "volume host path `{host}` ({}) is neither a folder nor a regular file; server runs bind only those",
                opened.path.display()
            ),
            (EngineView::Local { proc_pid }, EntryKind::Folder) => {
                let volume =
                    self.pin(opened, proc_pid, step).await.with_context(|| format!("volume host path `{host}`"))?;
                // `nocopy`: an empty folder must not be filled with the image's files, as a
                // bind would not be.
                Ok(format!("{volume}:{container}:{}nocopy", if read_only { "ro," } else { "" }))
            }
            (EngineView::Local { .. }, EntryKind::File) => {
                let link = self
                    .pins
                    .link_file(&self.spec.dir, &opened)
                    .with_context(|| format!("volume host path `{host}`"))?;
                Ok(format!("{link}:{container}{ro}"))
            }
            (EngineView::Elsewhere(why), _) => bail!(
                "volume host path `{host}` cannot be mounted: {why}. A server run mounts project folders only \
                 through a Docker engine on this host, reached by its Unix socket, so that what is mounted is the \
                 folder the server checked"
            ),
        }
    }

    /// The run's volume for the folder `dir`: one per folder, made on first use, whose device
    /// is the server's descriptor of the folder.
    async fn pin(self: &Arc<Self>, dir: Opened, proc_pid: &str, step: &str) -> Result<String> {
        let st = rustix::fs::fstat(&dir.fd).with_context(|| format!("cannot read {}", dir.path.display()))?;
        if let Some(volume) = self.pins.find(st.st_dev, st.st_ino) {
            return Ok(volume);
        }
        let volume = self.object_name(&format!("bind-{}", self.pins.next()));
        let device = format!("/proc/{proc_pid}/fd/{}", dir.fd.as_raw_fd());
        let request = VolumeCreateRequest {
            name: Some(volume.clone()),
            driver: Some("local".to_string()),
            driver_opts: Some(HashMap::from([
                ("type".to_string(), "none".to_string()),
                ("o".to_string(), "bind".to_string()),
                ("device".to_string(), device),
            ])),
            labels: Some(labels(&self.spec.run_id, &self.spec.project, Some(step))),
            ..Default::default()
        };
        let docker = self.docker.clone();
        self.creating(async move { docker.create_volume(request).await })
            .await
            .with_context(|| format!("cannot create volume {volume} for {}", dir.path.display()))?;
        self.pins.keep(st.st_dev, st.st_ino, volume.clone(), dir.fd);
        Ok(volume)
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
}
