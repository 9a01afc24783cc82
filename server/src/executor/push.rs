//! Push steps: tag the service image as `image_name:tag` and push it with the dockercfg
//! entry for the registry, from an encrypted file or a `dockercfg_service` generator.

use super::Runner;
use super::images::docker_credentials;
use super::labels::labels;
use anyhow::{Context, Result, anyhow, bail};
use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::{PushImageOptionsBuilder, TagImageOptionsBuilder};
use futures_util::StreamExt;
use slipway_core::dockercfg::DockerCfg;
use slipway_core::image_ref::ImageRef;
use slipway_core::plan::PlannedStep;
use std::io::Read;
use std::sync::Arc;

/// Where a generator writes the dockercfg inside its temporary volume.
const GENERATOR_DIR: &str = "/opt/data";
const GENERATOR_FILE: &str = "/opt/data/dockercfg";

impl Runner {
    /// The step's registry credentials: the encrypted file wins over a generator.
    pub(super) async fn step_dockercfg(self: &Arc<Self>, step: &PlannedStep) -> Result<Option<DockerCfg>> {
        if let Some(p) = &step.encrypted_dockercfg_path {
            // Decrypted up front for every step that may run; a miss would silently drop the
            // step's credentials.
            let cfg = self.secrets.dockercfgs.get(p).cloned();
            return cfg.map(Some).ok_or_else(|| anyhow!("{p} was not decrypted before the run started"));
        }
        if let Some(generator) = &step.dockercfg_service {
            return Ok(Some(self.generate_dockercfg(&step.id, generator).await?));
        }
        Ok(None)
    }

    /// Run the generator with a fresh volume and the target path as its argument, read the
    /// file it wrote, then delete container and volume.
    async fn generate_dockercfg(self: &Arc<Self>, step: &str, generator: &str) -> Result<DockerCfg> {
        let gen_step = format!("{step}-dockercfg");
        let volume = self.object_name(&format!("dockercfg-{step}"));
        let request = VolumeCreateRequest {
            name: Some(volume.clone()),
            labels: Some(labels(&self.spec.run_id, &self.spec.project, Some(&gen_step))),
            ..Default::default()
        };
        let docker = self.docker.clone();
        self.creating(async move { docker.create_volume(request).await })
            .await
            .context("cannot create the generator's volume")?;
        let result = async {
            // Keep the container after it exits so we can copy the file out of it.
            let binds = [format!("{volume}:{GENERATOR_DIR}")];
            let code = self.run_generator(&gen_step, generator, &binds).await?;
            if code.0 != 0 {
                bail!("dockercfg generator `{generator}` exited with status {}", code.0);
            }
            let bytes = self.copy_file_out(&code.1, GENERATOR_FILE).await?;
            let cfg =
                DockerCfg::parse(&bytes).with_context(|| format!("the file written by generator `{generator}`"))?;
            self.add_secrets(cfg.secrets());
            Ok(cfg)
        }
        .await;
        let _ = self
            .docker
            .remove_container(
                &self.object_name(&format!("{gen_step}-{generator}")),
                Some(bollard::query_parameters::RemoveContainerOptionsBuilder::default().force(true).v(true).build()),
            )
            .await;
        let _ = self.docker.remove_volume(&volume, None::<bollard::query_parameters::RemoveVolumeOptions>).await;
        result
    }

    /// Like a run step, but the container is kept until we have read the file.
    async fn run_generator(self: &Arc<Self>, step: &str, generator: &str, binds: &[String]) -> Result<(i64, String)> {
        self.run_container(step, generator, Some(vec![GENERATOR_FILE.to_string()]), None, binds, true).await
    }

    async fn copy_file_out(&self, container: &str, path: &str) -> Result<Vec<u8>> {
        let opts = bollard::query_parameters::DownloadFromContainerOptionsBuilder::default().path(path).build();
        let mut stream = self.docker.download_from_container(container, Some(opts));
        let mut tar_bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            tar_bytes.extend_from_slice(&chunk.with_context(|| format!("the generator did not write {path}"))?);
        }
        let mut archive = tar::Archive::new(tar_bytes.as_slice());
        for entry in archive.entries()? {
            let mut e = entry?;
            if e.header().entry_type().is_file() {
                let mut out = Vec::new();
                e.read_to_end(&mut out)?;
                return Ok(out);
            }
        }
        bail!("the generator did not write {path}")
    }

    pub(super) async fn push_step(self: &Arc<Self>, step: &PlannedStep) -> Result<()> {
        let service = step.service.as_deref().ok_or_else(|| anyhow!("push step `{}` has no service", step.name))?;
        let image_name =
            step.image_name.as_deref().ok_or_else(|| anyhow!("push step `{}` has no image_name", step.name))?;
        let tag = match (&step.image_tag, &step.tag_error) {
            (Some(t), _) => t.clone(),
            (None, Some(e)) => bail!("{e}"),
            (None, None) => "latest".to_string(),
        };
        // Validation refuses such names; a plan made from an unchecked file must not push anyway.
        let target = ImageRef::parse(image_name)
            .ok()
            .filter(|r| r.tag.is_none() && r.digest.is_none())
            .ok_or_else(|| anyhow!("push step `{}`: `image_name: {image_name}` is not a repository name", step.name))?;
        let repo = target.repository();
        let registry = step.registry.clone().unwrap_or_else(|| target.registry().to_string());
        let cfg = self.step_dockercfg(step).await?;
        let source = self.image_for(service, &step.id, cfg.as_ref()).await?;
        let cfg = cfg.ok_or_else(|| {
            anyhow!("no credentials for registry {registry}: set `encrypted_dockercfg_path` or `dockercfg_service` on the push step")
        })?;
        let cred = cfg.lookup(&registry).map_err(|e| anyhow!("{e}; add an entry for {registry} to the dockercfg"))?;
        // The built image may have any name (or a generated one): tag it as the step says.
        self.docker
            .tag_image(&source, Some(TagImageOptionsBuilder::default().repo(&repo).tag(&tag).build()))
            .await
            .with_context(|| format!("cannot tag {source} as {repo}:{tag}"))?;
        self.log(&step.id, service, &format!("pushing {repo}:{tag} to {registry}"));
        let mut stream = self.docker.push_image(
            &repo,
            Some(PushImageOptionsBuilder::default().tag(&tag).build()),
            Some(docker_credentials(cred)),
        );
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(e) = info.error_detail.and_then(|d| d.message) {
                        return Err(push_error(&registry, &e));
                    }
                    if let Some(s) = info.status.filter(|s| s.contains("digest") || s.starts_with("Pushed")) {
                        self.log(&step.id, service, &s);
                    }
                }
                Err(e) => return Err(push_error(&registry, &e.to_string())),
            }
        }
        Ok(())
    }
}

fn push_error(registry: &str, detail: &str) -> anyhow::Error {
    let lower = detail.to_ascii_lowercase();
    let hint = if lower.contains("unauthorized") || lower.contains("authentication") || lower.contains("denied") {
        "check the username and password of its entry in the dockercfg, and that the account may push to this repository"
    } else if lower.contains("connection refused")
        || lower.contains("no such host")
        || lower.contains("timeout")
        || lower.contains("dial tcp")
    {
        "check that the registry address is right and reachable from the Docker engine"
    } else {
        "check the registry address and the dockercfg entry for it"
    };
    anyhow!("push to registry {registry} failed: {detail}; {hint}")
}
