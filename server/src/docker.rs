//! Connecting to the Docker engine: `DOCKER_HOST` (unix, tcp, https with `DOCKER_TLS_VERIFY`
//! and `DOCKER_CERT_PATH`), or the local socket; the API version is negotiated so older
//! engines work.

use anyhow::{Context, Result};
use bollard::Docker;

pub async fn connect() -> Result<Docker> {
    let host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let docker =
        Docker::connect_with_defaults().with_context(|| format!("cannot connect to the Docker engine at {host}"))?;
    let docker = docker.negotiate_version().await.with_context(|| {
        format!("the Docker engine at {host} does not answer; is dockerd running (and may this user use its socket)?")
    })?;
    docker.ping().await.with_context(|| format!("the Docker engine at {host} does not answer"))?;
    Ok(docker)
}
