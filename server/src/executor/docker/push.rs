//! Push steps: tag the service image as `image_name:tag` and push it with the dockercfg
//! entry for the registry, from an encrypted file or a `dockercfg_service` generator (see
//! `dockercfg.rs`).
//!
//! Docker pushes an image by a local name, so the remote name has to be tagged. In a server
//! run that tag lasts only as long as the push: the name is put back to the image it named
//! before (or removed when it named none), and what is tagged carries the run's project label,
//! so another project's run that finds the name meanwhile does not take it for its own (see
//! `resolve`). Pushes of one name by this server wait for each other, so each puts back what
//! was there before it. `slipway steps` leaves the tag, as jet did.

use super::DockerRun;
use super::images::docker_credentials;
use super::labels::IMAGE_PROJECT;
use super::push_tag::{NameLock, TemporaryTag};
use anyhow::{Result, anyhow, bail};
use bollard::auth::DockerCredentials;
use bollard::query_parameters::{BuildImageOptionsBuilder, PushImageOptionsBuilder, TagImageOptionsBuilder};
use futures_util::StreamExt;
use slipway_core::image_ref::ImageRef;
use slipway_core::plan::PlannedStep;
use std::collections::HashMap;
use std::sync::Arc;

impl DockerRun {
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
        self.log(&step.id, service, &format!("pushing {repo}:{tag} to {registry}"));
        let status = |s: &str| {
            if s.contains("digest") || s.starts_with("Pushed") {
                self.log(&step.id, service, s);
            }
        };
        self.push_as(&source, &repo, &tag, Some(docker_credentials(cred)), &status).await.map_err(|e| match e {
            PushFailure::Registry(detail) => push_error(&registry, &detail),
            PushFailure::Engine(e) => e,
        })
    }

    /// Push image `source` (an id) as `repo:tag`; `status` sees the registry's progress lines.
    /// In a server run, the name is tagged for the push only (see the module comment).
    pub(super) async fn push_as(
        &self,
        source: &str,
        repo: &str,
        tag: &str,
        creds: Option<DockerCredentials>,
        status: &(dyn Fn(&str) + Sync),
    ) -> Result<(), PushFailure> {
        let name = format!("{repo}:{tag}");
        if !self.spec.options.confine {
            self.tag(source, repo, tag).await?;
            return self.push_tagged(repo, tag, creds, status).await;
        }
        let lock = NameLock::acquire(&name).await;
        let before = self.docker.inspect_image(&name).await.ok().and_then(|i| i.id);
        let (pushed, copy) = self.labelled(source).await?;
        // From here on the name is put back, also when the step is cancelled.
        let tagged = TemporaryTag::new(&self.docker, lock, repo, tag, &pushed, before, copy);
        let result = match self.tag(&pushed, repo, tag).await {
            Ok(()) => self.push_tagged(repo, tag, creds, status).await,
            Err(e) => Err(e),
        };
        if let Err(e) = tagged.put_back().await {
            self.info(format!("cannot put the engine's {name} back as it was before the push: {e}"));
        }
        result
    }

    async fn tag(&self, source: &str, repo: &str, tag: &str) -> Result<(), PushFailure> {
        self.docker
            .tag_image(source, Some(TagImageOptionsBuilder::default().repo(repo).tag(tag).build()))
            .await
            .map_err(|e| PushFailure::Engine(anyhow!("cannot tag the image as {repo}:{tag}: {e}")))
    }

    async fn push_tagged(
        &self,
        repo: &str,
        tag: &str,
        creds: Option<DockerCredentials>,
        status: &(dyn Fn(&str) + Sync),
    ) -> Result<(), PushFailure> {
        let mut stream = self.docker.push_image(repo, Some(PushImageOptionsBuilder::default().tag(tag).build()), creds);
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| PushFailure::Registry(e.to_string()))?;
            if let Some(e) = info.error_detail.and_then(|d| d.message) {
                return Err(PushFailure::Registry(e));
            }
            if let Some(s) = info.status {
                status(&s);
            }
        }
        Ok(())
    }

    /// `source` if it carries this project's label (what this run built), else a copy of it
    /// that does (a pulled image pushed elsewhere; same layers): `(what to tag, the copy)`.
    async fn labelled(&self, source: &str) -> Result<(String, Option<String>), PushFailure> {
        let engine = |e: bollard::errors::Error| PushFailure::Engine(anyhow!("cannot label the image to push: {e}"));
        let image = self.docker.inspect_image(source).await.map_err(engine)?;
        let label = image.config.as_ref().and_then(|c| c.labels.as_ref()).and_then(|l| l.get(IMAGE_PROJECT));
        if label == Some(&self.spec.project) {
            return Ok((source.to_string(), None));
        }
        let dockerfile = format!("FROM {source}\n");
        let mut tar = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(dockerfile.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        let tar = tar
            .append_data(&mut header, "Dockerfile", dockerfile.as_bytes())
            .and_then(|()| tar.into_inner())
            .map_err(|e| PushFailure::Engine(anyhow!("cannot label the image to push: {e}")))?;
        let labels = HashMap::from([(IMAGE_PROJECT.to_string(), self.spec.project.clone())]);
        let opts = BuildImageOptionsBuilder::default().dockerfile("Dockerfile").labels(&labels).rm(true).build();
        let mut stream = self.docker.build_image(opts, None, Some(bollard::body_full(tar.into())));
        let mut copy = None;
        while let Some(item) = stream.next().await {
            let info = item.map_err(engine)?;
            if let Some(e) = info.error_detail.and_then(|d| d.message) {
                return Err(PushFailure::Engine(anyhow!("cannot label the image to push: {e}")));
            }
            copy = info.aux.and_then(|a| a.id).or(copy);
        }
        let copy = copy.ok_or_else(|| PushFailure::Engine(anyhow!("cannot label the image to push: no id")))?;
        Ok((copy.clone(), Some(copy)))
    }
}

/// Why a push failed: the engine (tagging, labelling) or the registry (its message).
pub(super) enum PushFailure {
    Engine(anyhow::Error),
    Registry(String),
}

impl std::fmt::Display for PushFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PushFailure::Engine(e) => write!(f, "{e:#}"),
            PushFailure::Registry(e) => f.write_str(e),
        }
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
