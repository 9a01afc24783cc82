//! Service images: built from their Dockerfile (once per run, however many steps use them)
//! or pulled when missing, with registry credentials where needed.

use super::Runner;
use anyhow::{Context, Result, anyhow, bail};
use bollard::auth::DockerCredentials;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateImageOptionsBuilder, PushImageOptionsBuilder, TagImageOptionsBuilder,
};
use futures_util::StreamExt;
use slipway_core::dockercfg::{Credential, DockerCfg};
use slipway_core::image_ref::ImageRef;
use slipway_core::model::Service;
use slipway_core::template::{BuildVars, Template};
use std::collections::HashMap;
use std::sync::Arc;

pub fn docker_credentials(c: &Credential) -> DockerCredentials {
    DockerCredentials {
        username: c.username.clone(),
        password: c.password.clone(),
        email: c.email.clone(),
        serveraddress: Some(c.registry.clone()),
        identitytoken: c.identity_token.clone(),
        ..Default::default()
    }
}

impl Runner {
    /// The image reference for a service, building or pulling it on first use.
    /// `step`/`cfg` say who asked: build output is shown under that step, and its dockercfg
    /// (if any) authenticates pulls of private images and base images.
    pub(super) async fn image_for(
        self: &Arc<Self>,
        service: &str,
        step: &str,
        cfg: Option<&DockerCfg>,
    ) -> Result<String> {
        let cell = {
            let mut map = self.images.lock().expect("images lock");
            map.entry(service.to_string()).or_default().clone()
        };
        let result = cell
            .get_or_init(|| async {
                let svc = self.spec.services.get(service).ok_or_else(|| format!("unknown service `{service}`"))?;
                let svc_cfg = self.service_dockercfg(svc).map_err(|e| format!("{e:#}"))?;
                let cfg = svc_cfg.as_ref().or(cfg);
                let r = if svc.build.is_some() {
                    self.build(svc, step, cfg).await
                } else {
                    self.pull(svc, step, cfg).await
                };
                r.map_err(|e| self.mask(&format!("{e:#}")))
            })
            .await;
        result.clone().map_err(|e| anyhow!(e))
    }

    fn service_dockercfg(&self, svc: &Service) -> Result<Option<DockerCfg>> {
        Ok(svc.encrypted_dockercfg_path.as_ref().and_then(|p| self.secrets.dockercfgs.get(&p.value).cloned()))
    }

    /// The name a built image gets: `build.image`, else one derived from project and service.
    pub(super) fn built_image_name(&self, svc: &Service) -> String {
        if let Some(img) = svc.build.as_ref().and_then(|b| b.image.as_ref()) {
            return img.value.clone();
        }
        format!("slipway/{}", crate::names::repo_component(&format!("{}-{}", self.spec.project, svc.name.value)))
    }

    async fn build(&self, svc: &Service, step: &str, cfg: Option<&DockerCfg>) -> Result<String> {
        let build = svc.build.as_ref().expect("checked by caller");
        let name = &svc.name.value;
        let dockerfile = build.dockerfile.as_ref().map_or("Dockerfile".to_string(), |d| d.value.clone());
        let tag = self.built_image_name(svc);
        // Build args are templates over the build values.
        let vars = BuildVars {
            service_name: name.clone(),
            step_name: self.label(step),
            image_name: tag.clone(),
            ..self.spec.vars.clone()
        };
        let mut args: HashMap<String, String> = HashMap::new();
        for (k, v) in &build.args {
            let value = Template::parse(&v.value)
                .and_then(|t| t.render(&vars))
                .map_err(|e| anyhow!("build arg `{}` of service `{name}`: {e}", k.value))?;
            args.insert(k.value.clone(), value);
        }
        for (k, v) in self.secrets.build_args.get(name).into_iter().flatten() {
            args.insert(k.clone(), v.clone());
        }
        self.info(format!("building image {tag} for service `{name}`"));
        // Read through descriptors, never through a link a step planted (see `context`).
        let (df, root, ctx) = (dockerfile.clone(), self.spec.dir.clone(), build.context.value.clone());
        let links = super::paths::Links::for_run(self.spec.options.confine);
        let tar = tokio::task::spawn_blocking(move || super::context::tar_context(&root, &ctx, links, &df))
            .await?
            .with_context(|| format!("building `{name}`"))?;
        let cache_from: Vec<String> = self.cache_source(svc, step, cfg).await.into_iter().collect();
        let options = BuildImageOptionsBuilder::default()
            .dockerfile(&dockerfile)
            .t(&tag)
            .buildargs(&args)
            .cachefrom(&cache_from)
            .rm(true)
            .forcerm(true)
            .build();
        // Credentials for every registry in the dockercfg: a private `FROM` image needs them.
        let creds: Option<HashMap<String, DockerCredentials>> =
            cfg.map(|c| c.entries.iter().map(|e| (e.registry.clone(), docker_credentials(e))).collect());
        let mut stream = self.docker.build_image(options, creds, Some(bollard::body_full(tar.into())));
        let mut buf = self.line_buffer();
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| anyhow!("building `{name}` failed: {e}"))?;
            if let Some(err) = info.error_detail.and_then(|d| d.message) {
                bail!("building `{name}` failed: {err}");
            }
            if let Some(s) = info.stream {
                for line in buf.push(s.as_bytes()) {
                    self.build_log(step, name, &line);
                }
            }
        }
        if let Some(line) = buf.finish() {
            self.build_log(step, name, &line);
        }
        self.push_cache(svc, &tag, step, cfg).await;
        Ok(tag)
    }

    /// `registry/prefix/project-service:branch` for a `cached: true` service.
    fn cache_ref(&self, svc: &Service, branch: &str) -> Option<String> {
        let prefix = self.spec.options.cache_registry.as_ref().filter(|_| svc.cached)?;
        let tag = slipway_core::template::sanitize_tag(branch).unwrap_or_else(|_| "default".into());
        let name = crate::names::repo_component(&format!("{}-{}", self.spec.project, svc.name.value));
        Some(format!("{}/{name}:{tag}", prefix.trim_end_matches('/')))
    }

    /// The cache image of `svc` for `branch`, parsed; a `--cache-registry` that makes no valid
    /// reference is reported once per use and the build goes on without a cache.
    fn cache_image(&self, svc: &Service, branch: &str) -> Option<ImageRef> {
        let reference = self.cache_ref(svc, branch)?;
        ImageRef::parse(&reference)
            .map_err(|e| self.info(format!("no build cache: `{reference}` is not a valid image reference: {e}")))
            .ok()
    }

    fn cache_credentials(&self, reference: &ImageRef, cfg: Option<&DockerCfg>) -> Option<DockerCredentials> {
        cfg.and_then(|c| c.lookup(reference.registry()).ok()).map(docker_credentials)
    }

    /// Pull the branch's cache image, else the default cache branch's; the build uses it as
    /// `cache-from`. A missing cache is normal (first build of a branch) and not an error.
    async fn cache_source(&self, svc: &Service, step: &str, cfg: Option<&DockerCfg>) -> Option<String> {
        let fallback = svc.default_cache_branch.as_ref().map_or("master".to_string(), |b| b.value.clone());
        for branch in [self.spec.vars.branch.clone(), fallback] {
            let reference = self.cache_image(svc, &branch)?;
            let repo = reference.repository();
            let opts = CreateImageOptionsBuilder::default().from_image(&repo).tag(reference.pull_tag()).build();
            let mut stream = self.docker.create_image(Some(opts), None, self.cache_credentials(&reference, cfg));
            let mut ok = true;
            while let Some(item) = stream.next().await {
                if item.is_err() {
                    ok = false;
                }
            }
            if ok {
                self.build_log(step, &svc.name.value, &format!("using cache image {reference}"));
                return Some(reference.to_string());
            }
        }
        self.build_log(step, &svc.name.value, "no cache image yet; building without one");
        None
    }

    /// After a successful build, push it as the branch's cache image.
    async fn push_cache(&self, svc: &Service, built: &str, step: &str, cfg: Option<&DockerCfg>) {
        let Some(reference) = self.cache_image(svc, &self.spec.vars.branch) else { return };
        let (repo, tag) = (reference.repository(), reference.pull_tag());
        let tagged =
            self.docker.tag_image(built, Some(TagImageOptionsBuilder::default().repo(&repo).tag(tag).build())).await;
        if let Err(e) = tagged {
            return self.info(format!("cannot tag the cache image {reference}: {e}"));
        }
        let opts = PushImageOptionsBuilder::default().tag(tag).build();
        let mut stream = self.docker.push_image(&repo, Some(opts), self.cache_credentials(&reference, cfg));
        while let Some(item) = stream.next().await {
            if let Err(e) = item {
                return self.info(format!("cannot push the cache image {reference}: {e} (the build itself succeeded)"));
            }
        }
        self.build_log(step, &svc.name.value, &format!("pushed cache image {reference}"));
    }

    async fn pull(&self, svc: &Service, step: &str, cfg: Option<&DockerCfg>) -> Result<String> {
        let image = svc
            .image
            .as_ref()
            .map(|i| i.value.clone())
            .ok_or_else(|| anyhow!("service `{}` has no image", svc.name.value))?;
        if self.docker.inspect_image(&image).await.is_ok() {
            return Ok(image);
        }
        let reference = ImageRef::parse(&image).map_err(|e| {
            anyhow!("`image: {image}` of service `{}` is not a valid image reference: {e}", svc.name.value)
        })?;
        let registry = reference.registry();
        let creds = cfg.and_then(|c| c.lookup(registry).ok()).map(docker_credentials);
        self.info(format!("pulling {image}"));
        // A digest is pulled as the `tag` parameter, as the Engine API takes it.
        let opts =
            CreateImageOptionsBuilder::default().from_image(&reference.repository()).tag(reference.pull_tag()).build();
        let mut stream = self.docker.create_image(Some(opts), None, creds);
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| anyhow!("pulling {image} from {registry} failed: {e} (check the image name and, for a private image, the dockercfg credentials)"))?;
            if let Some(s) = info.status.filter(|s| s.starts_with("Status") || s.starts_with("Digest")) {
                self.build_log(step, &svc.name.value, &s);
            }
        }
        Ok(image)
    }
}
