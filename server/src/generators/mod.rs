//! Built-in dockercfg generators. CodeShip's standard generator images,
//! `codeship/aws-ecr-dockercfg-generator` and `codeship/gcr-dockercfg-generator`, are
//! unmaintained, may disappear, and the ECR one needs the host's Docker socket. When a
//! `dockercfg_service` names one of them (any tag or digest, and no `build`), Slipway makes
//! the dockercfg itself from the service's environment: no image is pulled and no container
//! runs. The variables they took are documented in [`ecr`] and [`gcr`].

pub mod ecr;
pub mod endpoints;
pub mod gcr;
pub mod sigv4;

use slipway_core::dockercfg::DockerCfg;
use slipway_core::image_ref::ImageRef;
use slipway_core::model::Service;

/// A generator image Slipway replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuiltIn {
    Ecr,
    Gcr,
}

impl BuiltIn {
    /// The built-in that replaces `svc`, if any: a service with `image:` naming a generator
    /// image and no `build:` (a service that builds the image runs the project's own code).
    pub fn of(svc: &Service) -> Option<BuiltIn> {
        if svc.build.is_some() {
            return None;
        }
        BuiltIn::of_image(&svc.image.as_ref()?.value)
    }

    pub fn of_image(image: &str) -> Option<BuiltIn> {
        let r = ImageRef::parse(image).ok()?;
        // `codeship/x`, `docker.io/codeship/x` and `index.docker.io/codeship/x` are one image.
        if slipway_core::dockercfg::normalize_registry(r.registry()) != slipway_core::image_ref::DOCKER_HUB {
            return None;
        }
        match r.path.as_str() {
            "codeship/aws-ecr-dockercfg-generator" => Some(BuiltIn::Ecr),
            "codeship/gcr-dockercfg-generator" => Some(BuiltIn::Gcr),
            _ => None,
        }
    }

    /// For the log: what ran instead of which image.
    pub fn describe(self) -> &'static str {
        match self {
            BuiltIn::Ecr => {
                "built-in ECR generator (in place of codeship/aws-ecr-dockercfg-generator; no image, no container)"
            }
            BuiltIn::Gcr => {
                "built-in GCR generator (in place of codeship/gcr-dockercfg-generator; no image, no container)"
            }
        }
    }
}

/// A service's environment as a container would get it: the last value of a name wins.
/// An empty value counts as unset (the images' `${VAR:?}` checks), except for [`Env::is_set`].
pub struct Env(Vec<(String, String)>);

impl Env {
    pub fn new(vars: impl IntoIterator<Item = (String, String)>) -> Env {
        Env(vars.into_iter().collect())
    }

    /// From Docker's `KEY=VALUE` form.
    pub fn from_docker(vars: &[String]) -> Env {
        Env::new(vars.iter().filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    pub fn is_set(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }
}

/// What a built-in made: the dockercfg, and a line for the log saying for which registries
/// (never a credential).
pub struct Generated {
    pub cfg: DockerCfg,
    pub summary: String,
}

/// Run the built-in `kind` (blocking: ECR makes HTTPS requests, each bounded in time and
/// size). `wanted` is the registry the step needs credentials for, when known; `endpoints`
/// which hosts the service's endpoint variables may choose. Errors name the API and its
/// endpoint, never a credential.
pub fn generate(
    kind: BuiltIn,
    env: &Env,
    wanted: Option<&str>,
    now_unix: i64,
    endpoints: &endpoints::EndpointPolicy,
) -> anyhow::Result<Generated> {
    match kind {
        BuiltIn::Ecr => {
            let out = ecr::generate(env, now_unix, endpoints)?;
            Ok(Generated { cfg: out.cfg, summary: out.summary })
        }
        BuiltIn::Gcr => {
            let (cfg, summary) = gcr::generate(env, wanted).map_err(anyhow::Error::msg)?;
            Ok(Generated { cfg, summary })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_images_by_any_tag_or_digest() {
        for image in [
            "codeship/aws-ecr-dockercfg-generator",
            "codeship/aws-ecr-dockercfg-generator:latest",
            "docker.io/codeship/aws-ecr-dockercfg-generator:1.2",
            "index.docker.io/codeship/aws-ecr-dockercfg-generator",
            "codeship/aws-ecr-dockercfg-generator@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(BuiltIn::of_image(image), Some(BuiltIn::Ecr), "{image}");
        }
        assert_eq!(BuiltIn::of_image("codeship/gcr-dockercfg-generator:v2"), Some(BuiltIn::Gcr));
        for other in
            ["quay.io/codeship/aws-ecr-dockercfg-generator", "codeship/aws-ecr-dockercfg-generator-x", "busybox"]
        {
            assert_eq!(BuiltIn::of_image(other), None, "{other}");
        }
    }
}
