//! What an image name means in a run, pinned to an image id.
//!
//! - A name that is another service's `build.image` means this run's build of that service
//!   (for `image:`, `FROM` and `COPY --from` alike), built first if need be.
//! - Any other name is looked up on the engine, else pulled. A server run (confined) shares the
//!   engine with other projects' runs, so a local image that another project's run built or
//!   pushed (its [`IMAGE_PROJECT`] label says so) is not used: the name is pulled fresh and the
//!   pulled image is taken by its digest, which no tag can change; when the pull fails, the run
//!   fails and says why.
//! - In a server run, every image a Dockerfile names is written into it as an id before the
//!   build, so the engine never looks a name up on its own.

use super::DockerRun;
use super::images::docker_credentials;
use super::labels::IMAGE_PROJECT;
use crate::executor::context_dockerfile;
use crate::executor::dockerfile::{self, UseKind};
use anyhow::{Context, Result, anyhow, bail};
use bollard::models::ImageInspect;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;
use slipway_core::dockercfg::DockerCfg;
use slipway_core::image_ref::{DOCKER_HUB, ImageRef};
use slipway_core::model::Service;
use std::collections::HashMap;
use std::sync::Arc;

/// `reference` in one spelling per image: registry, `library/` for Docker Hub's official
/// images, `latest` when no tag or digest is given. `None` for what is not a reference.
pub fn canonical(reference: &str) -> Option<String> {
    let r = ImageRef::parse(reference).ok()?;
    let registry = match r.registry() {
        "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB,
        other => other,
    };
    let path =
        if registry == DOCKER_HUB && !r.path.contains('/') { format!("library/{}", r.path) } else { r.path.clone() };
    let mut out = format!("{registry}/{path}");
    match (&r.tag, &r.digest) {
        (Some(t), _) => out.push_str(&format!(":{t}")),
        (None, None) => out.push_str(":latest"),
        (None, Some(_)) => {}
    }
    if let Some(d) = &r.digest {
        out.push_str(&format!("@{d}"));
    }
    Some(out)
}

/// Is `name` one of the names `image` has on the engine (a RepoTag, or for a digest reference
/// a RepoDigest)? An image id or id prefix is none of them: the engine also looks names up as
/// id prefixes, and an unlabelled intermediate image of another project's build would answer.
fn named(image: &ImageInspect, name: &str) -> bool {
    let Ok(r) = ImageRef::parse(name) else { return false };
    let (want, have) = match &r.digest {
        Some(d) => (canonical(&format!("{}@{d}", r.repository())), image.repo_digests.as_ref()),
        None => (canonical(name), image.repo_tags.as_ref()),
    };
    want.is_some() && have.into_iter().flatten().any(|n| canonical(n) == want)
}

/// Does `name` look like an image id or a prefix of one (`fc3`, `sha256:fc3…`)?
fn id_like(name: &str) -> bool {
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Who made a local image, by its label: `None` for images no server run labelled (pulled by
/// hand, imported, built by `slipway steps`).
fn made_by(image: &ImageInspect) -> Option<&str> {
    image.config.as_ref()?.labels.as_ref()?.get(IMAGE_PROJECT).map(String::as_str)
}

impl DockerRun {
    /// The service of this run whose `build.image` is `reference`, other than `except`.
    pub(super) fn run_build_of(&self, reference: &str, except: &str) -> Option<&Service> {
        let want = canonical(reference)?;
        self.spec.services.services.iter().find(|s| {
            s.name.value != except
                && s.build.as_ref().and_then(|b| b.image.as_ref()).and_then(|i| canonical(&i.value))
                    == Some(want.clone())
        })
    }

    /// Is this local image one another project's server run made? Only server runs ask.
    fn foreign(&self, image: &ImageInspect) -> bool {
        self.spec.options.confine && made_by(image).is_some_and(|p| p != self.spec.project)
    }

    /// The id of the image `name` means outside this run's builds: the local one when this run
    /// may use it, else pulled (with `cfg`'s credentials for its registry). `service` and
    /// `step` say where output goes.
    pub(super) async fn external_image(
        &self,
        name: &str,
        service: &str,
        step: &str,
        cfg: Option<&DockerCfg>,
    ) -> Result<String> {
        let mut local = self.docker.inspect_image(name).await.ok();
        let confine = self.spec.options.confine;
        // A server run uses a local image by one of its names, or one its own project made;
        // never by an id (or prefix) that another project's unlabelled layers may answer to.
        if confine
            && let Some(image) = &local
            && !named(image, name)
            && made_by(image) != Some(self.spec.project.as_str())
        {
            if id_like(name) || name.starts_with("sha256:") {
                bail!(
                    "`{name}` (service `{service}`) names an image by its id; a server run uses images by name \
                     (`name:tag` or `name@sha256:…`), since an id may be another project's layer"
                );
            }
            local = None;
        }
        let digest_pinned = name.contains('@');
        match &local {
            Some(image) if (digest_pinned && (!confine || named(image, name))) || !self.foreign(image) => {
                return image.id.clone().ok_or_else(|| anyhow!("the engine gave no id for {name}"));
            }
            Some(_) => self.build_log(
                step,
                service,
                &format!(
                    "{name} on this engine was made by another project's run; pulling it from its registry instead"
                ),
            ),
            None => {}
        }
        let reference = ImageRef::parse(name)
            .map_err(|e| anyhow!("`{name}` (service `{service}`) is not a valid image reference: {e}"))?;
        let registry = reference.registry();
        let creds = cfg.and_then(|c| c.lookup(registry).ok()).map(docker_credentials);
        self.info(format!("pulling {name}"));
        // A digest is pulled as the `tag` parameter, as the Engine API takes it.
        let opts =
            CreateImageOptionsBuilder::default().from_image(&reference.repository()).tag(reference.pull_tag()).build();
        let mut stream = self.docker.create_image(Some(opts), None, creds);
        let mut digest = None;
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| {
                let why = if local.is_some() {
                    "; the copy on this engine came from another project's run and is not used"
                } else {
                    " (check the image name and, for a private image, the dockercfg credentials)"
                };
                anyhow!("pulling {name} from {registry} failed: {e}{why}")
            })?;
            if let Some(s) = info.status {
                if let Some(d) = s.strip_prefix("Digest: ") {
                    digest = Some(d.trim().to_string());
                }
                if s.starts_with("Status") || s.starts_with("Digest") {
                    self.build_log(step, service, &s);
                }
            }
        }
        // By digest: another run may tag `name` again before we look.
        let pulled = match &digest {
            Some(d) => format!("{}@{d}", reference.repository()),
            None => name.to_string(),
        };
        let image =
            self.docker.inspect_image(&pulled).await.with_context(|| format!("{name} was pulled but is gone"))?;
        if digest.is_none() && self.foreign(&image) {
            bail!("{name} on this engine was made by another project's run, and its registry named no digest to pull");
        }
        image.id.ok_or_else(|| anyhow!("the engine gave no id for {name}"))
    }

    /// Build first the images of this run that `svc`'s Dockerfile (inside `tar`) starts from.
    /// In a server run, also pin every image it names: each is replaced in the Dockerfile by
    /// its id, and a base image whose ONBUILD triggers copy from another image is refused.
    /// Elsewhere (`slipway steps`), a Dockerfile that cannot be read is left to the engine.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn pin_dockerfile(
        self: &Arc<Self>,
        svc: &Service,
        tar: &mut Vec<u8>,
        dockerfile: &str,
        args: &HashMap<String, String>,
        step: &str,
        cfg: Option<&DockerCfg>,
        held: &mut Option<tokio::sync::SemaphorePermit<'static>>,
    ) -> Result<()> {
        let name = &svc.name.value;
        let confine = self.spec.options.confine;
        let read = context_dockerfile::find(tar, dockerfile).and_then(|found| {
            let parsed = dockerfile::parse(&found.text, args)
                .map_err(|e| anyhow!("the Dockerfile `{dockerfile}` of service `{name}`, {e}"))?;
            Ok((found, parsed))
        });
        let (found, parsed) = match read {
            Ok(r) => r,
            Err(e) if confine => return Err(e),
            Err(_) => return Ok(()),
        };
        let mut ids = Vec::new();
        for u in &parsed.uses {
            let id = match self.run_build_of(&u.reference, name) {
                Some(sibling) => {
                    held.take();
                    self.sibling_build(name, &sibling.name.value.clone(), step, cfg).await?
                }
                None if confine => self.external_image(&u.reference, name, step, cfg).await.with_context(|| {
                    format!("line {} of the Dockerfile of service `{name}` names {}", u.line, u.reference)
                })?,
                None => continue,
            };
            if confine && u.kind == UseKind::From {
                self.refuse_onbuild_copies(&id, &u.reference, name).await?;
            }
            ids.push(id);
        }
        if confine {
            let pinned = dockerfile::pin(&found.text, &parsed, &ids);
            if pinned != found.text {
                context_dockerfile::replace(tar, &found, &pinned)?;
            }
        }
        Ok(())
    }

    /// ONBUILD triggers run in a build FROM the image; one that copies from an image would
    /// name it behind the pinned Dockerfile's back.
    async fn refuse_onbuild_copies(&self, id: &str, reference: &str, service: &str) -> Result<()> {
        let image = self.docker.inspect_image(id).await.with_context(|| format!("{reference} is gone"))?;
        let triggers = image.config.and_then(|c| c.on_build).unwrap_or_default();
        if let Some(t) = triggers.iter().find(|t| t.to_ascii_lowercase().contains("--from")) {
            bail!(
                "service `{service}` builds FROM {reference}, whose ONBUILD trigger `{t}` copies from another image; \
                 a server run cannot check which one"
            );
        }
        Ok(())
    }

    /// The image of `sibling`, which `service`'s Dockerfile starts from: built first. Two
    /// builds that each start from the other are an error, not a wait for ever.
    async fn sibling_build(
        self: &Arc<Self>,
        service: &str,
        sibling: &str,
        step: &str,
        cfg: Option<&DockerCfg>,
    ) -> Result<String> {
        {
            let mut waits = self.build_waits.lock().expect("build waits lock");
            let mut at = sibling.to_string();
            for _ in 0..=waits.len() {
                if at == service {
                    bail!(
                        "services `{service}` and `{sibling}` are built from each other's images (FROM a `build.image` \
                         name); one of them must start from an image that is not built in this run"
                    );
                }
                match waits.get(&at) {
                    Some(next) => at = next.clone(),
                    None => break,
                }
            }
            waits.insert(service.to_string(), sibling.to_string());
        }
        let id = self.image_for(sibling, step, cfg).await;
        self.build_waits.lock().expect("build waits lock").remove(service);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn one_spelling_per_image() {
        for (a, b) in [
            ("busybox", "docker.io/library/busybox:latest"),
            ("acme/app", "index.docker.io/acme/app:latest"),
            ("localhost:5000/a/b:1", "localhost:5000/a/b:1"),
        ] {
            assert_eq!(canonical(a), canonical(b), "{a} vs {b}");
        }
        assert_ne!(canonical("acme/app:1"), canonical("acme/app"));
        assert_ne!(canonical("quay.io/acme/app"), canonical("acme/app"));
        assert_eq!(canonical("Acme/app"), None);
    }
}
