//! Service images: built from their Dockerfile (once per run, however many steps use them)
//! or pulled when missing, with registry credentials where needed. Each is pinned by its id
//! once found (see `resolve`): containers, pushes and later builds use the id, so a name that
//! anyone tags afterwards changes nothing in this run.
//!
//! A server run shares the engine with other projects' runs: its builds are tagged in its
//! project's own namespace (`slipway/PROJECT-SERVICE-HASH`, never the `build.image` name, which
//! resolves inside the run) and labelled with the project, so that no run can replace the
//! image another project runs. `slipway steps` tags `build.image` as jet did.

use super::DockerRun;
use super::labels::IMAGE_PROJECT;
use anyhow::{Context, Result, anyhow, bail};
use bollard::auth::DockerCredentials;
use bollard::query_parameters::{BuildImageOptionsBuilder, CreateImageOptionsBuilder};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use slipway_core::dockercfg::{Credential, DockerCfg};
use slipway_core::image_ref::ImageRef;
use slipway_core::model::Service;
use slipway_core::template::{BuildVars, Template};
use std::collections::HashMap;
use std::sync::Arc;

const MIB: usize = 1024 * 1024;
const CONTEXT_PERMITS: u32 = (crate::executor::context::MAX_CONTEXT_BYTES / MIB as u64) as u32;

/// The server's budget for build contexts in memory, in MiB (see `build`).
static CONTEXT_MEMORY: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(CONTEXT_PERMITS as usize);

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

impl DockerRun {
    /// The id of a service's image, building or pulling it on first use.
    /// `step`/`cfg` say who asked: build output is shown under that step, and its dockercfg
    /// (if any) authenticates pulls of private images and base images. Boxed: a build may
    /// need a sibling's build first (see `resolve`).
    pub(super) fn image_for<'a>(
        self: &'a Arc<Self>,
        service: &'a str,
        step: &'a str,
        cfg: Option<&'a DockerCfg>,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(self.image_once(service, step, cfg))
    }

    async fn image_once(self: &Arc<Self>, service: &str, step: &str, cfg: Option<&DockerCfg>) -> Result<String> {
        let cell = {
            let mut map = self.images.lock().expect("images lock");
            map.entry(service.to_string()).or_default().clone()
        };
        // The image has its own clock (a step of its own): the step waiting for it pauses its
        // clock meanwhile (see `deadline`).
        let result = crate::executor::deadline::paused(cell.get_or_init(|| async {
            let svc = self.spec.services.get(service).ok_or_else(|| format!("unknown service `{service}`"))?;
            let svc_cfg = self.service_dockercfg(svc).map_err(|e| format!("{e:#}"))?;
            let cfg = svc_cfg.as_ref().or(cfg);
            let building = svc.build.is_some();
            let unit = crate::executor::deadline::Unit::Image { service, building };
            let r = if building {
                self.within(unit, self.build(svc, step, cfg)).await
            } else {
                self.within(unit, self.pull(svc, step, cfg)).await
            };
            r.map_err(|e| self.mask(&format!("{e:#}")))
        }))
        .await;
        result.clone().map_err(|e| anyhow!(e))
    }

    fn service_dockercfg(&self, svc: &Service) -> Result<Option<DockerCfg>> {
        Ok(svc.encrypted_dockercfg_path.as_ref().and_then(|p| self.secrets.dockercfgs.get(&p.value).cloned()))
    }

    /// The name of a service's image as the configuration says (`.ImageName`): `build.image`,
    /// else one derived from project and service.
    pub(super) fn built_image_name(&self, svc: &Service) -> String {
        if let Some(img) = svc.build.as_ref().and_then(|b| b.image.as_ref()) {
            return img.value.clone();
        }
        self.namespace_tag(svc)
    }

    /// `slipway/PROJECT-SERVICE-HASH`: the project's own namespace on the engine (see
    /// `names::build_repo`: no two projects' builds share a name).
    fn namespace_tag(&self, svc: &Service) -> String {
        format!("slipway/{}", crate::names::build_repo(&self.spec.project, &svc.name.value))
    }

    /// The name `slipway load` reports: the build's tag, or the image a service names.
    pub(super) fn loaded_name(&self, service: &str) -> Result<String> {
        let svc = self.spec.services.get(service).ok_or_else(|| anyhow!("unknown service `{service}`"))?;
        match &svc.image {
            Some(image) if svc.build.is_none() => Ok(image.value.clone()),
            _ => Ok(self.build_tag(svc)),
        }
    }

    /// The tag a build gets: in a server run always the namespace's (a `build.image` name may
    /// be another project's image), with `slipway steps` the configured name as in jet.
    fn build_tag(&self, svc: &Service) -> String {
        match self.spec.options.confine {
            true => self.namespace_tag(svc),
            false => self.built_image_name(svc),
        }
    }

    async fn build(self: &Arc<Self>, svc: &Service, step: &str, cfg: Option<&DockerCfg>) -> Result<String> {
        let build = svc.build.as_ref().expect("checked by caller");
        let name = &svc.name.value;
        let dockerfile = build.dockerfile.as_ref().map_or("Dockerfile".to_string(), |d| d.value.clone());
        let tag = self.build_tag(svc);
        // Build args are templates over the build values.
        let vars = BuildVars {
            service_name: name.clone(),
            step_name: self.label(step),
            image_name: self.built_image_name(svc),
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
        let links = crate::executor::paths::Links::for_run(self.spec.options.confine);
        // Build contexts are held whole in memory: across the server at most MAX_CONTEXT_BYTES
        // of them. Making one takes the whole budget (its size is known only at the end); then
        // it keeps what it holds until the engine has it.
        let mut held = Some(CONTEXT_MEMORY.acquire_many(CONTEXT_PERMITS).await?);
        let mut tar =
            tokio::task::spawn_blocking(move || crate::executor::context::tar_context(&root, &ctx, links, &df))
                .await?
                .with_context(|| format!("building `{name}`"))?;
        let keep = |tar: &Vec<u8>| (tar.len().div_ceil(MIB) as u32).clamp(1, CONTEXT_PERMITS);
        if let Some(p) = held.as_mut() {
            drop(p.split((CONTEXT_PERMITS - keep(&tar)) as usize));
        }
        // A build FROM a sibling's image lets go while the sibling builds (else a deadlock).
        self.pin_dockerfile(svc, &mut tar, &dockerfile, &args, step, cfg, &mut held).await?;
        let held = match held {
            Some(p) => p,
            None => CONTEXT_MEMORY.acquire_many(keep(&tar)).await?,
        };
        let cache_from: Vec<String> = self.cache_source(svc, step, cfg).await.into_iter().collect();
        // The label says which project made the image: other projects' server runs do not use it.
        let labels: HashMap<String, String> = match self.spec.options.confine {
            true => HashMap::from([(IMAGE_PROJECT.to_string(), self.spec.project.clone())]),
            false => HashMap::new(),
        };
        // `RUN` gets the limits the service's step containers get (the server's for a server
        // run, see `policy`). The classic builder has no option for a process limit: a `RUN`
        // is bounded in memory and CPU only. The Engine API's build options are 32-bit here
        // (bollard's `BuildImageOptions`): a memory limit above 2 GiB - 1 is lowered to that.
        let limits = crate::executor::policy::effective_limits(
            name,
            &svc.container.limits,
            self.spec.options.step_limits.as_ref(),
            self.spec.options.trusted,
        );
        let int = |v: i64| i32::try_from(v).unwrap_or(if v < 0 { -1 } else { i32::MAX });
        let (cpu_period, cpu_quota) = match (limits.nano_cpus, limits.cpu_period, limits.cpu_quota) {
            (Some(n), _, _) => (Some(100_000), Some((n / 10_000).max(1000))),
            (None, p, q) => (p, q),
        };
        let mut options = BuildImageOptionsBuilder::default();
        if let Some(m) = limits.memory {
            options = options.memory(int(m));
        }
        if let Some(m) = limits.memory_swap {
            options = options.memswap(int(m));
        }
        if let Some(p) = cpu_period {
            options = options.cpuperiod(int(p));
        }
        if let Some(q) = cpu_quota {
            options = options.cpuquota(int(q));
        }
        if let Some(c) = &limits.cpuset {
            options = options.cpusetcpus(c);
        }
        if let Some(c) = limits.cpu_shares {
            options = options.cpushares(int(c));
        }
        let options = options
            .dockerfile(&dockerfile)
            .t(&tag)
            .buildargs(&args)
            .cachefrom(&cache_from)
            .labels(&labels)
            .rm(true)
            .forcerm(true)
            .build();
        // Credentials for every registry in the dockercfg: a private `FROM` image needs them.
        let creds: Option<HashMap<String, DockerCredentials>> =
            cfg.map(|c| c.entries.iter().map(|e| (e.registry.clone(), docker_credentials(e))).collect());
        // Sent in slices of one buffer, freed (and the budget given back) when the body is dropped.
        let tar = bytes::Bytes::from(tar);
        let slices: Vec<bytes::Bytes> =
            (0..tar.len()).step_by(MIB).map(|at| tar.slice(at..(at + MIB).min(tar.len()))).collect();
        drop(tar);
        let body = futures_util::stream::iter(slices).map(move |b| {
            let _ = &held;
            b
        });
        let mut stream = self.docker.build_image(options, creds, Some(bollard::body_stream(body)));
        let mut buf = self.line_buffer();
        let mut built = None;
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| anyhow!("building `{name}` failed: {e}"))?;
            if let Some(err) = info.error_detail.and_then(|d| d.message) {
                bail!("building `{name}` failed: {err}");
            }
            // The engine names the image it built: the id, which no later tag changes.
            if let Some(id) = info.aux.and_then(|a| a.id) {
                built = Some(id);
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
        let id = match built {
            Some(id) => id,
            // Engines that do not say (none we know of): the tag, just made by this build.
            None => {
                self.docker.inspect_image(&tag).await?.id.ok_or_else(|| anyhow!("the engine gave no id for {tag}"))?
            }
        };
        self.push_cache(svc, &id, step, cfg).await;
        Ok(id)
    }

    /// `registry/prefix/project-service-hash:branch` for a `cached: true` service.
    fn cache_ref(&self, svc: &Service, branch: &str) -> Option<String> {
        let prefix = self.spec.options.cache_registry.as_ref().filter(|_| svc.cached)?;
        let tag = slipway_core::template::sanitize_tag(branch).unwrap_or_else(|_| "default".into());
        let name = crate::names::build_repo(&self.spec.project, &svc.name.value);
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
    /// `cache-from`, by id (what was pulled, whatever is tagged meanwhile). A missing cache is
    /// normal (first build of a branch) and not an error.
    async fn cache_source(&self, svc: &Service, step: &str, cfg: Option<&DockerCfg>) -> Option<String> {
        let fallback = svc.default_cache_branch.as_ref().map_or("master".to_string(), |b| b.value.clone());
        for branch in [self.spec.vars.branch.clone(), fallback] {
            let reference = self.cache_image(svc, &branch)?;
            let repo = reference.repository();
            let opts = CreateImageOptionsBuilder::default().from_image(&repo).tag(reference.pull_tag()).build();
            let mut stream = self.docker.create_image(Some(opts), None, self.cache_credentials(&reference, cfg));
            let (mut ok, mut digest) = (true, None);
            while let Some(item) = stream.next().await {
                match item {
                    Ok(info) => {
                        if let Some(d) = info.status.as_deref().and_then(|s| s.strip_prefix("Digest: ")) {
                            digest = Some(d.trim().to_string());
                        }
                    }
                    Err(_) => ok = false,
                }
            }
            if !ok {
                continue;
            }
            let pulled = digest.map_or_else(|| reference.to_string(), |d| format!("{repo}@{d}"));
            if let Some(id) = self.docker.inspect_image(&pulled).await.ok().and_then(|i| i.id) {
                self.build_log(step, &svc.name.value, &format!("using cache image {reference}"));
                return Some(id);
            }
        }
        self.build_log(step, &svc.name.value, "no cache image yet; building without one");
        None
    }

    /// After a successful build, push it as the branch's cache image.
    async fn push_cache(&self, svc: &Service, built: &str, step: &str, cfg: Option<&DockerCfg>) {
        let Some(reference) = self.cache_image(svc, &self.spec.vars.branch) else { return };
        let (repo, tag) = (reference.repository(), reference.pull_tag());
        let creds = self.cache_credentials(&reference, cfg);
        if let Err(e) = self.push_as(built, &repo, tag, creds, &|_| {}).await {
            return self.info(format!("cannot push the cache image {reference}: {e} (the build itself succeeded)"));
        }
        self.build_log(step, &svc.name.value, &format!("pushed cache image {reference}"));
    }

    /// A service without `build`: another service's build when `image:` is its `build.image`,
    /// else the image by that name (see `resolve`).
    async fn pull(self: &Arc<Self>, svc: &Service, step: &str, cfg: Option<&DockerCfg>) -> Result<String> {
        let name = &svc.name.value;
        let image =
            svc.image.as_ref().map(|i| i.value.clone()).ok_or_else(|| anyhow!("service `{name}` has no image"))?;
        if let Some(sibling) = self.run_build_of(&image, name) {
            let sibling = sibling.name.value.clone();
            return self.image_for(&sibling, step, cfg).await;
        }
        self.external_image(&image, name, step, cfg).await
    }
}
