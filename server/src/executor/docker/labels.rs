//! Labels on every container, network and volume we create, and cleanup by label.
//! Objects without our labels are never touched.

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveVolumeOptionsBuilder,
};
use std::collections::HashMap;

pub const RUN: &str = "io.slipway.run";
pub const PROJECT: &str = "io.slipway.project";
pub const STEP: &str = "io.slipway.step";
/// `host:pid` of the process running the run: cleanup leaves runs that are still alive alone.
pub const OWNER: &str = "io.slipway.owner";
/// On images a server run builds (or pushes): the project whose run made it. Another
/// project's server run does not use such an image by name (see `resolve`). A key of its own:
/// containers inherit their image's labels, and cleanup goes by the keys above.
pub const IMAGE_PROJECT: &str = "io.slipway.image.project";

fn hostname() -> String {
    // Linux's /proc; elsewhere the `hostname` command (macOS has no /proc).
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| {
            let out = std::process::Command::new("hostname").output().ok()?;
            out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        })
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

pub fn owner() -> String {
    format!("{}:{}", hostname(), std::process::id())
}

/// Is the run that owns an object still running on this machine? Where that cannot be told
/// (no /proc, as on macOS), the answer is yes: cleanup must never remove a live run's objects.
fn owner_alive(owner: Option<&String>) -> bool {
    let Some((host, pid)) = owner.and_then(|o| o.rsplit_once(':')) else { return false };
    if host.is_empty() || host != hostname() {
        return false;
    }
    let proc = std::path::Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    proc.join(pid).exists()
}

pub fn labels(run_id: &str, project: &str, step: Option<&str>) -> HashMap<String, String> {
    let mut l = HashMap::from([
        (RUN.to_string(), run_id.to_string()),
        (PROJECT.to_string(), project.to_string()),
        (OWNER.to_string(), owner()),
    ]);
    if let Some(s) = step {
        l.insert(STEP.to_string(), s.to_string());
    }
    l
}

/// What cleanup found (and removed unless it was a dry run). Listing errors are errors;
/// refusals to remove one object are in `failed`.
#[derive(Debug, Default)]
pub struct Leftovers {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
    /// Objects of runs whose process is still alive, left alone.
    pub in_use: usize,
    /// What Docker refused to remove (a volume another container uses, say); cleanup goes on
    /// past each, so the lists above still say what was removed.
    pub failed: Vec<Failure>,
}

/// One object cleanup could not remove.
#[derive(Debug)]
pub struct Failure {
    /// `container`, `network` or `volume`.
    pub kind: &'static str,
    pub name: String,
    pub error: bollard::errors::Error,
}

impl Failure {
    /// What the user can do about it, with Docker's own commands: `slipway cleanup` would
    /// skip the object while the run that made it is alive (a server's run, say).
    pub fn hint(&self) -> String {
        let name = &self.name;
        match self.kind {
            "volume" => format!(
                "`docker ps -a --filter volume={name}` lists what still uses it; then `docker volume rm {name}`"
            ),
            "network" => {
                format!("`docker network inspect {name}` lists what is still attached; then `docker network rm {name}`")
            }
            _ => format!("try again in a moment: `docker rm -f {name}`"),
        }
    }
}

impl Leftovers {
    /// Nothing was found to remove (what was refused counts as found).
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.networks.is_empty() && self.volumes.is_empty() && self.failed.is_empty()
    }
}

/// Remove everything labelled with `run_id`; with `None`, everything any run left behind,
/// except objects of runs whose process is still alive on this machine. An object Docker
/// refuses to remove (a removal already in progress after a crash, a network whose
/// container is still going, a volume another container uses) does not stop the rest: it is
/// listed in `failed`. Only failing to list the objects is an error.
pub async fn cleanup(
    docker: &super::Client,
    run_id: Option<&str>,
    dry_run: bool,
) -> Result<Leftovers, bollard::errors::Error> {
    let docker = &docker.0;
    let filter = match run_id {
        Some(id) => format!("{RUN}={id}"),
        None => RUN.to_string(),
    };
    let filters = HashMap::from([("label".to_string(), vec![filter])]);
    let mut found = Leftovers::default();
    let containers = docker
        .list_containers(Some(ListContainersOptionsBuilder::default().all(true).filters(&filters).build()))
        .await?;
    let spare =
        |labels: Option<&HashMap<String, String>>| run_id.is_none() && owner_alive(labels.and_then(|l| l.get(OWNER)));
    for c in containers {
        if spare(c.labels.as_ref()) {
            found.in_use += 1;
            continue;
        }
        let Some(id) = c.id else { continue };
        let name = c.names.and_then(|n| n.first().cloned()).unwrap_or_else(|| id.clone());
        let name = name.trim_start_matches('/').to_string();
        if !dry_run {
            let opts = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
            if let Err(error) = docker.remove_container(&id, Some(opts)).await
                && !is_not_found(&error)
            {
                found.failed.push(Failure { kind: "container", name, error });
                continue;
            }
        }
        found.containers.push(name);
    }
    let networks = docker.list_networks(Some(ListNetworksOptionsBuilder::default().filters(&filters).build())).await?;
    for n in networks {
        if spare(n.labels.as_ref()) {
            found.in_use += 1;
            continue;
        }
        let Some(id) = n.id else { continue };
        let name = n.name.unwrap_or_else(|| id.clone());
        if !dry_run
            && let Err(error) = docker.remove_network(&id).await
            && !is_not_found(&error)
        {
            found.failed.push(Failure { kind: "network", name, error });
            continue;
        }
        found.networks.push(name);
    }
    let volumes = docker.list_volumes(Some(ListVolumesOptionsBuilder::default().filters(&filters).build())).await?;
    for v in volumes.volumes.unwrap_or_default() {
        if spare(Some(&v.labels)) {
            found.in_use += 1;
            continue;
        }
        if !dry_run
            && let Err(error) =
                docker.remove_volume(&v.name, Some(RemoveVolumeOptionsBuilder::default().force(true).build())).await
            && !is_not_found(&error)
        {
            found.failed.push(Failure { kind: "volume", name: v.name, error });
            continue;
        }
        found.volumes.push(v.name);
    }
    Ok(found)
}

pub fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
}
