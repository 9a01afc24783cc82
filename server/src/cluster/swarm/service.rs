//! A run's swarm objects: its key as a swarm secret, and the `replicated-job` service whose
//! one task runs the agent. Nothing secret goes into the service's spec (its environment,
//! labels and command are what `docker service inspect` shows): the key is a file in the
//! task's `/run/secrets/`, and the credentials stay encrypted in the run's copy of the project
//! until the agent decrypts them on the node.

use super::SwarmSettings;
use crate::cluster::agent_image::AGENT_BINARY;
use crate::cluster::job::{KEY_SECRET_FILE, REGISTRY_SECRET_FILE};
use anyhow::{Context, Result};
use base64::Engine;
use bollard::models::{
    EndpointSpec, EndpointSpecModeEnum, Mount, MountType, ResourceObject, SecretSpec, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicatedJob, TaskSpec, TaskSpecContainerSpec, TaskSpecContainerSpecFile,
    TaskSpecContainerSpecSecrets, TaskSpecResources, TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum,
};
use std::collections::HashMap;
use std::time::Duration;

/// The label every swarm object of a run carries (as the executor's containers do).
pub const RUN_LABEL: &str = "slipway.run";
/// Where the task sees its node's engine: the default socket, which the agent connects to.
const TASK_SOCKET: &str = "/var/run/docker.sock";
/// How long swarm waits, on a cancel, for the agent to remove the run's containers.
const STOP_GRACE: Duration = Duration::from_secs(60);

/// The names of one run's swarm objects, and the registry its image is in.
pub(super) struct Names {
    pub run_id: String,
    pub service: String,
    pub secret: String,
    /// The secret holding the cluster registry's login, when the server has one.
    pub registry_secret: String,
    /// The run's image in the cluster registry.
    pub image: String,
    pub registry: std::sync::Arc<super::registry::ClusterRegistry>,
}

impl Names {
    pub fn of(run_id: &str, registry: &std::sync::Arc<super::registry::ClusterRegistry>) -> Names {
        let tag: String = run_id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c.to_ascii_lowercase() } else { '-' })
            .take(120)
            .collect();
        Names {
            run_id: run_id.to_string(),
            service: crate::names::docker_object_name(run_id, "run"),
            secret: crate::names::docker_object_name(run_id, "key"),
            registry_secret: crate::names::docker_object_name(run_id, "registry"),
            image: format!("{}/slipway-run:{tag}", registry.host),
            registry: registry.clone(),
        }
    }

    fn labels(&self) -> HashMap<String, String> {
        HashMap::from([(RUN_LABEL.to_string(), self.run_id.clone())])
    }
}

/// One of the run's swarm secrets, as the task mounts it: its id, name and file name.
pub(super) struct TaskSecret {
    id: String,
    name: String,
    file: &'static str,
}

/// The key as the run's swarm secret.
pub(super) async fn create_key_secret(
    docker: &bollard::Docker,
    names: &Names,
    key: &slipway_core::crypto::Key,
) -> Result<TaskSecret> {
    create_secret(docker, names, &names.secret, KEY_SECRET_FILE, key.to_file_text().as_bytes()).await
}

/// The cluster registry's login (a Docker config.json) as the run's second swarm secret, for
/// the agent alone: never in the service's environment, labels or command, and never passed
/// on to the run's steps. `None` when the server has no login.
pub(super) async fn create_registry_secret(docker: &bollard::Docker, names: &Names) -> Result<Option<TaskSecret>> {
    let Some(config) = names.registry.agent_config() else { return Ok(None) };
    create_secret(docker, names, &names.registry_secret, REGISTRY_SECRET_FILE, config.as_bytes()).await.map(Some)
}

async fn create_secret(
    docker: &bollard::Docker,
    names: &Names,
    name: &str,
    file: &'static str,
    data: &[u8],
) -> Result<TaskSecret> {
    let spec = SecretSpec {
        name: Some(name.to_string()),
        labels: Some(names.labels()),
        data: Some(base64::engine::general_purpose::STANDARD.encode(data)),
        ..Default::default()
    };
    // The error names the secret, never its data.
    let created = docker.create_secret(spec).await.with_context(|| format!("cannot create the swarm secret {name}"))?;
    Ok(TaskSecret { id: created.id, name: name.to_string(), file })
}

/// The run's service: one task, never restarted, on the node swarm picks.
pub(super) async fn create(
    docker: &bollard::Docker,
    settings: &SwarmSettings,
    names: &Names,
    agent: &str,
    secrets: &[TaskSecret],
) -> Result<()> {
    let bind = |source: &str, target: &str| Mount {
        source: Some(source.to_string()),
        target: Some(target.to_string()),
        typ: Some(MountType::BIND),
        ..Default::default()
    };
    let secrets = secrets
        .iter()
        .map(|s| TaskSpecContainerSpecSecrets {
            secret_id: Some(s.id.clone()),
            secret_name: Some(s.name.clone()),
            file: Some(TaskSpecContainerSpecFile {
                name: Some(s.file.to_string()),
                uid: Some("0".into()),
                gid: Some("0".into()),
                mode: Some(0o400),
            }),
        })
        .collect::<Vec<_>>();
    let secrets = (!secrets.is_empty()).then_some(secrets);
    let command = vec![
        AGENT_BINARY.to_string(),
        "agent".into(),
        "--work".into(),
        settings.node_work.clone(),
        "--node-socket".into(),
        settings.node_socket.clone(),
        "--reaper-image".into(),
        agent.to_string(),
        "--run-image".into(),
        names.image.clone(),
    ];
    let spec = ServiceSpec {
        name: Some(names.service.clone()),
        labels: Some(names.labels()),
        task_template: Some(TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(names.image.clone()),
                labels: Some(names.labels()),
                command: Some(command),
                mounts: Some(vec![
                    bind(&settings.node_socket, TASK_SOCKET),
                    // At the same path: the steps' binds name folders in it for the node's engine.
                    bind(&settings.node_work, &settings.node_work),
                ]),
                secrets,
                stop_grace_period: Some(STOP_GRACE.as_nanos() as i64),
                ..Default::default()
            }),
            resources: Some(TaskSpecResources {
                reservations: Some(ResourceObject {
                    nano_cpus: settings.reserve_nano_cpus,
                    memory_bytes: settings.reserve_memory,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            placement: (!settings.constraints.is_empty()).then(|| bollard::models::TaskSpecPlacement {
                constraints: Some(settings.constraints.clone()),
                ..Default::default()
            }),
            // A job retries for ever unless told not to.
            restart_policy: Some(TaskSpecRestartPolicy {
                condition: Some(TaskSpecRestartPolicyConditionEnum::NONE),
                ..Default::default()
            }),
            ..Default::default()
        }),
        mode: Some(ServiceSpecMode {
            replicated_job: Some(ServiceSpecModeReplicatedJob { max_concurrent: Some(1), total_completions: Some(1) }),
            ..Default::default()
        }),
        // No virtual IP: this kernel (and many) has no IPVS, and the agent serves nothing.
        endpoint_spec: Some(EndpointSpec { mode: Some(EndpointSpecModeEnum::DNSRR), ..Default::default() }),
        ..Default::default()
    };
    // The node pulls the run's image with the registry's login (`--with-registry-auth`): swarm
    // keeps it with the task, and `docker service inspect` does not show it.
    docker
        .create_service(spec, names.registry.docker_credentials())
        .await
        .with_context(|| format!("cannot create the swarm service {}", names.service))?;
    Ok(())
}

/// Remove the run's service (swarm stops its task: the agent cleans up on its node), its
/// secret and the run's image on the manager. Failures go to the server's log: the run's
/// result stands.
pub(super) async fn remove_all(docker: &bollard::Docker, names: &Names) {
    if let Err(e) = docker.delete_service(&names.service).await
        && !not_found(&e)
    {
        tracing::warn!(run = %names.run_id, "cannot remove the swarm service {}: {e}", names.service);
    }
    // A secret cannot go while a task still holds it: the service's removal takes a moment.
    for secret in [&names.secret, &names.registry_secret] {
        for attempt in 0..20 {
            match docker.delete_secret(secret).await {
                Ok(()) => break,
                Err(e) if not_found(&e) => break,
                Err(e) if attempt == 19 => {
                    tracing::warn!(run = %names.run_id, "cannot remove the swarm secret {secret}: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }
    // Not forced: when the run ran on the manager's own node, its agent's container still
    // uses the image until that node's reaper removes both; forcing would untag it and leave
    // it there, nameless, for good.
    for image in [super::tags::cancel_tag(&names.image)]
        .into_iter()
        .chain(approve_tags(docker, &names.image).await)
        .chain([names.image.clone()])
    {
        match docker.remove_image(&image, None::<bollard::query_parameters::RemoveImageOptions>, None).await {
            Ok(_) => {}
            Err(e) if not_found(&e) || in_use(&e) => {}
            Err(e) => tracing::warn!(run = %names.run_id, "cannot remove the run's image {image}: {e}"),
        }
    }
}

/// The approval tags the server gave the run's image (as many as its approvals).
async fn approve_tags(docker: &bollard::Docker, image: &str) -> Vec<String> {
    let pattern = super::tags::approve_prefix(image) + "*";
    let filters = std::collections::HashMap::from([("reference", vec![pattern.as_str()])]);
    let options = bollard::query_parameters::ListImagesOptionsBuilder::new().filters(&filters).build();
    let listed = docker.list_images(Some(options)).await.unwrap_or_default();
    let mut tags: Vec<String> = listed.into_iter().flat_map(|i| i.repo_tags).filter(|t| t.starts_with(image)).collect();
    tags.sort();
    tags.dedup();
    tags
}

pub fn not_found(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
}

fn in_use(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 409, .. })
}
