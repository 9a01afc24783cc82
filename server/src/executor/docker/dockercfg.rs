//! A step's registry credentials: from an encrypted dockercfg, or from its
//! `dockercfg_service` generator. A generator is a container that writes the file into a
//! temporary volume, except CodeShip's standard ECR and GCR generators, which Slipway
//! replaces with built-ins (`crate::generators`): no image pulled, no container.
//!
//! A run whose secrets are withheld (a fork's pull request) never gets here with a
//! generator: `secrets::none_needed` fails such a run before any step starts, built-in or not.

use super::DockerRun;
use super::file_out::{self, ReadFileError};
use super::labels::labels;
use crate::executor::RunSpec;
use crate::executor::events::EventSender;
use crate::generators::endpoints::EndpointPolicy;
use crate::generators::{self, BuiltIn, Env};
use anyhow::{Context, Result, anyhow, bail};
use bollard::models::VolumeCreateRequest;
use slipway_core::dockercfg::{DockerCfg, MAX_DOCKERCFG_BYTES};
use slipway_core::plan::PlannedStep;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Where a generator writes the dockercfg inside its temporary volume.
const GENERATOR_DIR: &str = "/opt/data";
const GENERATOR_FILE: &str = "/opt/data/dockercfg";

/// The dockercfg the generator service `service` makes (`slipway dockercfg`): built-in, or
/// its image run as a push step would run it; what it created is removed before this returns.
pub async fn generate(
    docker: super::Client,
    spec: RunSpec,
    service: &str,
    events: EventSender,
    cancel: CancellationToken,
) -> Result<DockerCfg> {
    let run = crate::executor::run::Run::prepare(spec, events, cancel).await?;
    docker.engine(run).generate_dockercfg("generate", service, None).await
}

impl DockerRun {
    /// The step's registry credentials: the encrypted file wins over a generator.
    pub(super) async fn step_dockercfg(self: &Arc<Self>, step: &PlannedStep) -> Result<Option<DockerCfg>> {
        if let Some(p) = &step.encrypted_dockercfg_path {
            // Decrypted up front for every step that may run; a miss would silently drop the
            // step's credentials.
            let cfg = self.secrets.dockercfgs.get(p).cloned();
            return cfg.map(Some).ok_or_else(|| anyhow!("{p} was not decrypted before the run started"));
        }
        if let Some(generator) = &step.dockercfg_service {
            // The registry the step needs: a GCR key is also written for an Artifact Registry
            // host it names.
            let wanted = step
                .registry
                .clone()
                .or_else(|| step.image_name.as_deref().map(slipway_core::dockercfg::registry_of_image));
            return Ok(Some(self.generate_dockercfg(&step.id, generator, wanted.as_deref()).await?));
        }
        Ok(None)
    }

    /// The dockercfg `generator` makes, built-in or by running its image.
    pub(super) async fn generate_dockercfg(
        self: &Arc<Self>,
        step: &str,
        generator: &str,
        wanted: Option<&str>,
    ) -> Result<DockerCfg> {
        let gen_step = format!("{step}-dockercfg");
        let svc = self.spec.services.get(generator).ok_or_else(|| anyhow!("unknown service `{generator}`"))?;
        let cfg = match BuiltIn::of(svc) {
            Some(kind) => self.builtin_dockercfg(&gen_step, generator, kind, wanted).await?,
            None => self.image_dockercfg(&gen_step, generator).await?,
        };
        self.add_secrets(cfg.secrets());
        Ok(cfg)
    }

    /// A built-in generator, from the service's environment as its container would have had it.
    async fn builtin_dockercfg(
        self: &Arc<Self>,
        gen_step: &str,
        generator: &str,
        kind: BuiltIn,
        wanted: Option<&str>,
    ) -> Result<DockerCfg> {
        let svc = self.spec.services.get(generator).ok_or_else(|| anyhow!("unknown service `{generator}`"))?;
        let env = Env::from_docker(&self.service_env(svc)?);
        self.log(gen_step, generator, kind.describe());
        let wanted = wanted.map(str::to_string);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        // ECR's requests block (each bounded in time); they run off the async threads.
        // A project's endpoint variables may aim the server's own requests only where the
        // server allows, unless the run is trusted (the CLI's are).
        let endpoints = EndpointPolicy::for_run(self.spec.options.trusted, &self.spec.options.generator_endpoints);
        let made =
            tokio::task::spawn_blocking(move || generators::generate(kind, &env, wanted.as_deref(), now, &endpoints));
        let made = tokio::select! {
            made = made => made.context("the generator task ended")?,
            () = self.cancel.cancelled() => bail!("cancelled"),
        };
        let made = made.with_context(|| format!("dockercfg generator `{generator}`"))?;
        self.log(gen_step, generator, &made.summary);
        Ok(made.cfg)
    }

    /// Run the generator with a fresh volume and the target path as its argument, read the
    /// file it wrote, then delete container and volume.
    async fn image_dockercfg(self: &Arc<Self>, gen_step: &str, generator: &str) -> Result<DockerCfg> {
        let volume = self.object_name(gen_step);
        let request = VolumeCreateRequest {
            name: Some(volume.clone()),
            labels: Some(labels(&self.spec.run_id, &self.spec.project, Some(gen_step))),
            ..Default::default()
        };
        let docker = self.docker.clone();
        self.creating(async move { docker.create_volume(request).await })
            .await
            .context("cannot create the generator's volume")?;
        let result = async {
            // Keep the container after it exits so we can copy the file out of it.
            let binds = [format!("{volume}:{GENERATOR_DIR}")];
            let code = self
                .run_container(gen_step, generator, Some(vec![GENERATOR_FILE.to_string()]), None, &binds, true)
                .await?;
            if code.0 != 0 {
                bail!("dockercfg generator `{generator}` exited with status {}", code.0);
            }
            let bytes = file_out::read_file(&self.docker, &code.1, GENERATOR_FILE, MAX_DOCKERCFG_BYTES as u64)
                .await
                .map_err(|e| match e {
                    ReadFileError::TooBig { size, .. } => anyhow!(
                        "dockercfg generator `{generator}` wrote {size} bytes to {GENERATOR_FILE}; a dockercfg may be at most 1 MiB"
                    ),
                    e => anyhow!("dockercfg generator `{generator}` did not write {GENERATOR_FILE}: {e}"),
                })?;
            DockerCfg::parse(&bytes).with_context(|| format!("the file written by generator `{generator}`"))
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
}

#[cfg(test)]
mod tests {
    use crate::executor::secrets::none_needed;
    use slipway_core::SourceFile;
    use slipway_core::plan::{PlanOptions, plan};

    /// A fork's pull request (secrets withheld) gets no built-in generator's credentials
    /// either: the run fails before any step, naming the generator, as with an image one.
    #[test]
    fn a_forks_run_is_refused_a_built_in_generator_like_any_other() {
        let services = SourceFile::new(
            "codeship-services.yml",
            "app:\n  image: busybox\naws:\n  image: codeship/aws-ecr-dockercfg-generator\n  environment:\n    AWS_REGION: us-east-1\n",
        );
        let steps =
            SourceFile::new("codeship-steps.yml", "- service: app\n  command: 'true'\n  dockercfg_service: aws\n");
        let checked = slipway_core::check(&services, &steps);
        assert!(!checked.report.has_errors(), "{:?}", checked.report.diagnostics);
        assert!(crate::generators::BuiltIn::of(checked.services.get("aws").unwrap()).is_some());
        let p = plan(&checked.services, &checked.steps, &PlanOptions::default());
        let e = none_needed(&checked.services, &p, "a fork's pull request").unwrap_err().to_string();
        assert!(e.contains("registry credentials from the generator service `aws`"), "{e}");
    }
}
